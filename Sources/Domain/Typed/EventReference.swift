/// Every event type the project writes, by family, and the reference generated from their
/// documentation (`ledgerflow events schema`; `docs/events.md` holds the Markdown form, kept
/// equal by a test).
public enum EventReference {
    /// The families in the order of the reference.
    public static let families: [(name: String, types: [any DomainEvent.Type])] = [
        ("Catalog", CatalogEvents.all),
        ("Runs", RunEvents.all),
        ("Models and automation", MLEvents.all),
        ("Schedules", ScheduleEvents.all),
        ("Sensors", SensorEvents.all),
        ("Notifications", NotificationEvents.all),
        ("Remote applications", ApplicationEvents.all),
    ]

    /// Every event type.
    public static var all: [any DomainEvent.Type] { families.flatMap(\.types) }

    /// The type named `name`, if it is one of ours.
    public static func type(named name: String) -> (any DomainEvent.Type)? { all.first { $0.type == name } }

    /// The reference as Markdown (all types, or those given).
    public static func markdown(_ only: [any DomainEvent.Type]? = nil) -> String {
        var out = ""
        let wanted = only.map { Set($0.map { $0.type }) }
        for family in families {
            let types = family.types.filter { wanted?.contains($0.type) ?? true }
            if types.isEmpty { continue }
            if wanted == nil { out += "## \(family.name)\n\n" }
            for t in types {
                let d = t.documentation
                out += "### `\(t.type)` (schema \(t.schema))\n\n\(d.summary)\n\nStream: `\(d.stream)`.\n\n"
                out += "| field | type | required | meaning |\n|---|---|---|---|\n"
                for row in rows(d.fields, prefix: "") {
                    out += "| `\(row.path)` | \(row.field.type) | \(row.field.required ? "yes" : "no") | \(escape(row.field.summary)) |\n"
                }
                out += "\n"
            }
        }
        return out
    }

    /// The reference as plain text for a terminal.
    public static func text(_ only: [any DomainEvent.Type]? = nil) -> String {
        var out: [String] = []
        for t in only ?? all {
            let d = t.documentation
            out.append("\(t.type) (schema \(t.schema)), stream \(d.stream)")
            out.append("  \(d.summary)")
            let rs = rows(d.fields, prefix: "")
            let width = rs.map { $0.path.count }.max() ?? 0
            for r in rs {
                let pad = String(repeating: " ", count: width - r.path.count)
                out.append("  \(r.path)\(pad)  \(r.field.type)\(r.field.required ? "" : ", optional"): \(r.field.summary)")
            }
            out.append("")
        }
        return out.joined(separator: "\n")
    }

    /// The reference as a value (`--json`): one object per type with its fields (paths flattened).
    public static func value(_ only: [any DomainEvent.Type]? = nil) -> Value {
        .array((only ?? all).map { t in
            let d = t.documentation
            return .object([("type", .string(t.type)), ("schema", .int(Int64(t.schema))), ("stream", .string(d.stream)),
                            ("summary", .string(d.summary)),
                            ("fields", .array(rows(d.fields, prefix: "").map { r in
                                .object([("field", .string(r.path)), ("type", .string(r.field.type)), ("required", .bool(r.field.required)),
                                         ("summary", .string(r.field.summary))])
                            }))])
        })
    }

    /// Fields with their nested fields, as dotted paths (`trigger.type`, `stages[].name`).
    static func rows(_ fields: [FieldDocumentation], prefix: String) -> [(path: String, field: FieldDocumentation)] {
        var out: [(path: String, field: FieldDocumentation)] = []
        for f in fields {
            let path = prefix + f.name
            out.append((path, f))
            if !f.fields.isEmpty {
                let list = f.type.hasPrefix("list")
                let map = f.type == "object" && f.summary.contains("→")
                out += rows(f.fields, prefix: path + (list ? "[]." : map ? ".*." : "."))
            }
        }
        return out
    }

    private static func escape(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
}
