import Domain

/// Reads the typed spec of a definition that had field errors, as far as its fields allow, so that
/// validation can still report its other problems.
///
/// The loader leaves out a value that does not convert (and reports it), so such a spec may lack
/// a required field: a retry policy without `attempts`, a trigger without `source.type`. Reading
/// fails there; the optional field that holds the failure (`stages[0].retry`) is then left out
/// too, by the kind's schema, and the spec read again. A failure at a field that is required all
/// the way up (a stage's `type`) leaves the spec unreadable: nil.
enum PartialSpec {
    /// The typed spec of `spec`, leaving out optional parts that do not read; nil when a required
    /// part does not.
    static func read(_ kind: DefinitionKind, _ spec: Value) -> DefinitionSpec? {
        var value = spec
        // Each retry leaves out one more field, so this ends; the bound is a guard.
        for _ in 0 ..< 64 {
            do throws(DecodingFailure) {
                return try DefinitionSpec(kind, value)
            } catch {
                guard let pruned = leavingOut(error.field, of: value, schema: KindSchemas.schema(kind)), pruned != value else { return nil }
                value = pruned
            }
        }
        return nil
    }

    /// One step of a field path: a member's key or a list item's index.
    enum Step: Hashable {
        case key(String)
        case index(Int)
    }

    /// `stages[0].retry.attempts` as steps.
    static func steps(_ path: String) -> [Step] {
        var out: [Step] = []
        var key = ""
        var index: String?
        for c in path {
            if var i = index {
                if c == "]" {
                    out.append(.index(Int(i) ?? 0))
                    index = nil
                } else {
                    i.append(c)
                    index = i
                }
            } else if c == "." || c == "[" {
                if !key.isEmpty { out.append(.key(key)) }
                key = ""
                if c == "[" { index = "" }
            } else {
                key.append(c)
            }
        }
        if !key.isEmpty { out.append(.key(key)) }
        return out
    }

    /// `spec` without the deepest optional field on the way to `path`, or nil when every field on
    /// the way is required.
    static func leavingOut(_ path: String, of spec: Value, schema: ObjectSchema) -> Value? {
        let steps = steps(path)
        var type = FieldType.object(schema)
        var value: Value? = spec
        var cut: Int?
        for (n, step) in steps.enumerated() {
            switch (type, step) {
            case (.object(let o), .key(let k)):
                var fields = o.fields
                if let v = o.variants, let chosen = value?[v.field]?.stringValue, let extra = v.fields(for: chosen) { fields += extra }
                guard let f = fields.first(where: { $0.name == k }) else { return cut.map { remove(steps[...$0], from: spec) } }
                if !f.required { cut = n }
                type = f.type
            case (.map(let t), .key):
                type = t
            case (.list(let t, _), .index), (.oneOrMany(let t), .index):
                type = t
            default:
                return cut.map { remove(steps[...$0], from: spec) }
            }
            switch step {
            case .key(let k): value = value?[k]
            case .index(let i): value = value?[i]
            }
        }
        return cut.map { remove(steps[...$0], from: spec) }
    }

    /// `value` without the member at `path` (its last step a key).
    static func remove(_ path: ArraySlice<Step>, from value: Value) -> Value {
        guard let first = path.first else { return value }
        let rest = path.dropFirst()
        switch (first, value) {
        case (.key(let k), .members):
            guard !rest.isEmpty else { return value.removing(k) }
            guard let inner = value[k] else { return value }
            return value.setting(k, to: remove(rest, from: inner))
        case (.index(let i), .array(var items)) where items.indices.contains(i):
            items[i] = remove(rest, from: items[i])
            return .array(items)
        default:
            return value
        }
    }
}
