/// The reference of every definition kind, generated from `KindSchemas` (so the docs cannot drift
/// from what validation accepts).
public enum SchemaDocs {
    /// Markdown: one section per kind with its fields, and the fields each variant adds.
    public static func markdown(_ kinds: [DefinitionKind] = DefinitionKind.allCases) -> String {
        var out: [String] = []
        out.append("Every definition has `kind` (required), `name` (required: letters, digits, `_`, `-`, `.`; unique per kind) and `description` (optional).")
        for kind in kinds {
            out.append("")
            out.append("### `\(kind.name)`")
            out.append("")
            out.append(KindSchemas.summary(kind))
            out.append("")
            out += table(KindSchemas.schema(kind))
            for nested in nestedObjects(KindSchemas.schema(kind)) {
                out.append("")
                out.append("**\(nested.noun)**:")
                out.append("")
                out += table(nested)
            }
            if kind == .model {
                out.append("")
                out.append("Hyperparameters and prediction outputs by type:")
                out.append("")
                out.append("| type | hyperparameters | outputs |")
                out.append("|---|---|---|")
                for t in KindSchemas.modelTypes {
                    let hp = (KindSchemas.hyperparameters[t] ?? []).map { "`\($0.name)`\($0.required ? " (required)" : ""): \($0.doc)" }
                    out.append("| `\(t)` | \(hp.isEmpty ? "—" : hp.joined(separator: " ")) | \((KindSchemas.modelOutputs[t] ?? ["as `prediction_fields` says"]).joined(separator: ", ")) |")
                }
            }
        }
        return out.joined(separator: "\n")
    }

    static func table(_ schema: ObjectSchema) -> [String] {
        var out = ["| field | type | required | meaning |", "|---|---|---|---|"]
        for f in schema.fields { out.append(row(f)) }
        if let v = schema.variants {
            for c in v.cases where !c.fields.isEmpty {
                out.append("| *with `\(v.field): \(c.value)`* | | | |")
                for f in c.fields { out.append(row(f)) }
            }
        }
        return out
    }

    static func row(_ f: Field) -> String {
        "| `\(f.name)` | \(f.type.phrase.replacingOccurrences(of: "|", with: "\\|")) | \(f.required ? "yes" : "") | \(f.doc.replacingOccurrences(of: "|", with: "\\|")) |"
    }

    /// Object schemas used inside `schema` (stages, retry policies, steps, rows), once each.
    static func nestedObjects(_ schema: ObjectSchema) -> [ObjectSchema] {
        var out: [ObjectSchema] = []
        func visit(_ t: FieldType) {
            switch t {
            case .object(let o):
                guard !out.contains(where: { $0.noun == o.noun }) else { return }
                out.append(o)
                fieldsOf(o).forEach { visit($0.type) }
            case .list(let e, _), .map(let e), .oneOrMany(let e): visit(e)
            case .scalarOrObject(let e, let o): visit(e); visit(.object(o))
            default: break
            }
        }
        fieldsOf(schema).forEach { visit($0.type) }
        return out
    }

    static func fieldsOf(_ o: ObjectSchema) -> [Field] { o.fields + (o.variants?.cases.flatMap(\.fields) ?? []) }

    /// Plain text for the terminal.
    public static func text(_ kinds: [DefinitionKind] = DefinitionKind.allCases) -> String {
        var out: [String] = []
        func fields(_ schema: ObjectSchema, indent: String) {
            for f in schema.fields { out.append("\(indent)\(f.name)\(f.required ? " (required)" : ""): \(f.type.phrase) — \(f.doc)") }
            if let v = schema.variants {
                for c in v.cases where !c.fields.isEmpty {
                    out.append("\(indent)with \(v.field): \(c.value)")
                    for f in c.fields { out.append("\(indent)  \(f.name)\(f.required ? " (required)" : ""): \(f.type.phrase) — \(f.doc)") }
                }
            }
        }
        for kind in kinds {
            out.append("\(kind.name): \(KindSchemas.summary(kind))")
            fields(KindSchemas.schema(kind), indent: "  ")
            for nested in nestedObjects(KindSchemas.schema(kind)) {
                out.append("  \(nested.noun):")
                fields(nested, indent: "    ")
            }
            out.append("")
        }
        return out.joined(separator: "\n")
    }
}
