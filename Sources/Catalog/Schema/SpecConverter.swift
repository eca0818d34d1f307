import Domain
import Foundation

/// Converts located nodes to a definition's spec (`Value`) by its schema, collecting every problem
/// as a diagnostic (conversion goes on after an error so that all errors are reported together)
/// and remembering where each converted value came from.
struct SpecConverter {
    /// What the definition is, for messages: `job 'daily_churn'`.
    let subject: String
    var diagnostics: [Diagnostic] = []
    /// Path (`stages[1].retry.attempts`) → where its value was written.
    var locations: [String: SourceLocation] = [:]

    init(subject: String) { self.subject = subject }

    func place(_ path: String) -> String { path.isEmpty ? subject : "\(path) of \(subject)" }

    mutating func error(_ at: SourceLocation, _ message: String, fix: String = "") {
        diagnostics.append(Diagnostic(at, message, fix: fix))
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Converts a mapping by `schema` (plus `extra` fields allowed), skipping keys in `skip`.
    mutating func object(_ node: SourceNode, _ schema: ObjectSchema, path: String, extra: [Field] = [], skip: Set<String> = []) -> Value? {
        locations[path] = node.location
        guard case .mapping(let pairs) = node.content else {
            error(node.location, "\(place(path)) must be a mapping (\(schema.noun)), got \(node.shapeDescription)",
                  fix: "write it as `key: value` lines")
            return nil
        }
        var fields = extra + schema.fields
        var otherVariantFields: [String: String] = [:] // field → the variant value it belongs to
        var variantKnown = true
        if let variants = schema.variants {
            let chosen = node[variants.field]?.text
            if let chosen, let add = variants.fields(for: chosen) {
                fields += add
            } else {
                variantKnown = false
            }
            for c in variants.cases {
                for f in c.fields where !fields.contains(where: { $0.name == f.name }) && otherVariantFields[f.name] == nil {
                    otherVariantFields[f.name] = c.value
                }
            }
        }
        var members: [(String, Value)] = []
        var seen: Set<String> = []
        var suggested: Set<String> = [] // fields a misspelt key was taken for (not reported missing too)
        for (k, v) in pairs {
            guard let key = k.text else {
                error(k.location, "a key in \(place(path)) is empty or not text", fix: "give it a name")
                continue
            }
            if skip.contains(key) { continue }
            guard let field = fields.first(where: { $0.name == key }) else {
                if let owner = otherVariantFields[key] {
                    if variantKnown, let vf = schema.variants?.field {
                        error(k.location, "field '\(key)' in \(place(path)) applies only when \(vf) is \(owner)",
                              fix: "remove it, or set \(vf): \(owner)")
                    }
                    continue
                }
                let fix = Suggest.fix(for: key, in: fields.map(\.name), noun: "one of the fields")
                if let meant = Suggest.closest(to: key, in: fields.map(\.name)) { suggested.insert(meant) }
                error(k.location, "unknown field '\(key)' in \(place(path))", fix: fix)
                continue
            }
            seen.insert(key)
            if let value = convert(v, field.type, path: SpecConverter.join(path, key)) {
                members.append((key, value))
            }
        }
        for f in fields where f.required && !seen.contains(f.name) && !skip.contains(f.name) && !suggested.contains(f.name) {
            error(node.location, "\(place(path)) is missing required field '\(f.name)'", fix: "add `\(f.name):` (\(f.type.phrase))")
        }
        return .object(members)
    }

    /// Converts one value by `type`; nil (with a diagnostic) if it does not fit.
    mutating func convert(_ node: SourceNode, _ type: FieldType, path: String) -> Value? {
        locations[path] = node.location
        func wrong(_ fix: String = "") -> Value? {
            error(node.location, "\(place(path)) must be \(type.phrase), got \(node.shapeDescription)", fix: fix)
            return nil
        }
        switch type {
        case .any:
            return node.value
        case .text:
            guard let t = node.text, node.scalar != nil else { return wrong() }
            return .string(t)
        case .identifier:
            guard let t = node.text, node.scalar != nil else { return wrong() }
            guard SpecConverter.isIdentifier(t) else {
                error(node.location, "\(place(path)) is '\(Diagnostic.excerpt(t))', which is not a valid name",
                      fix: "use letters, digits, _, - and . (starting with a letter, digit or _), at most 128 characters")
                return nil
            }
            return .string(t)
        case .integer(let min):
            guard case .int(let i)? = node.scalar else {
                if case .double(let d)? = node.scalar, d == d.rounded(), abs(d) < 9e15 { return checkMin(Int64(d), min, node, path, type) }
                return wrong()
            }
            return checkMin(i, min, node, path, type)
        case .number(let min):
            let d: Double
            switch node.scalar {
            case .int(let i)?: d = Double(i)
            case .double(let x)?: d = x
            default: return wrong()
            }
            guard d.isFinite else { return wrong() }
            if let min, d < min { return wrong() }
            if case .int(let i)? = node.scalar { return .int(i) }
            return .double(d)
        case .boolean:
            guard case .bool(let b)? = node.scalar else { return wrong("write true or false") }
            return .bool(b)
        case .choice(let words):
            guard let t = node.text, node.scalar != nil else { return wrong() }
            guard words.contains(t) else {
                error(node.location, "\(place(path)) is '\(Diagnostic.excerpt(t))', which is not one of \(words.joined(separator: ", "))",
                      fix: Suggest.closest(to: t, in: words).map { "did you mean '\($0)'?" } ?? "use one of them")
                return nil
            }
            return .string(t)
        case .list(let element, let min):
            guard case .sequence(let items) = node.content else {
                return wrong(node.scalar != nil ? "write it as a list: [\(node.text ?? "")]" : "")
            }
            if items.count < min {
                error(node.location, "\(place(path)) needs at least \(min) item\(min == 1 ? "" : "s")", fix: "add \(element.nounPhrase)")
                return nil
            }
            var out: [Value] = []
            var ok = true
            for (i, item) in items.enumerated() {
                if let v = convert(item, element, path: "\(path)[\(i)]") { out.append(v) } else { ok = false }
            }
            return ok ? .array(out) : nil
        case .oneOrMany(let element):
            if case .sequence = node.content { return convert(node, .list(element, min: 1), path: path) }
            return convert(node, element, path: path).map { .array([$0]) }
        case .map(let element):
            guard case .mapping(let pairs) = node.content else { return wrong("write it as `name: value` lines") }
            var out: [(String, Value)] = []
            var ok = true
            for (k, v) in pairs {
                guard let key = k.text, !key.isEmpty else {
                    error(k.location, "a key in \(place(path)) is empty", fix: "give it a name")
                    ok = false
                    continue
                }
                if let value = convert(v, element, path: SpecConverter.join(path, key)) { out.append((key, value)) } else { ok = false }
            }
            return ok ? .object(out) : nil
        case .object(let schema):
            return object(node, schema, path: path)
        case .scalarOrObject(let scalar, let schema):
            if case .mapping = node.content { return object(node, schema, path: path) }
            return convert(node, scalar, path: path)
        case .reference(.source):
            // A stage's `source: NAME@N` reads version N (`DatasetReference`; the version is checked with the job).
            guard let t = node.text, node.scalar != nil, t.contains("@"), SpecConverter.isIdentifier(DatasetReference.nameBeforeVersion(t)) else {
                return convert(node, .identifier, path: path)
            }
            return .string(t)
        case .reference:
            return convert(node, .identifier, path: path)
        case .duration:
            let text: String
            switch node.scalar {
            case .int(let i)?: text = String(i)
            case .double(let d)?: text = String(d)
            case .string(let s)?: text = s
            default: return wrong()
            }
            guard DurationText.seconds(text) != nil else {
                error(node.location, "\(place(path)) is '\(text)', which is not a duration", fix: "write e.g. 500ms, 30s, 5m, 1h30m or 2d")
                return nil
            }
            return node.value
        case .expression:
            guard let t = node.text, node.scalar != nil else { return wrong() }
            do {
                // A `${…}` placeholder becomes one literal when the stage runs (see
                // Substitution.expressionText); here it stands as `null`, a literal of any place.
                _ = try Expression.parse(SpecConverter.placeholdersAsLiterals(t))
            } catch {
                self.error(node.location, "\(place(path)) does not parse: \(error.message) at character \(error.offset) of '\(Diagnostic.excerpt(t))'",
                           fix: "fix the expression (compare with == != < <= > >=, join with and / or)")
                return nil
            }
            return .string(t)
        case .cron:
            guard let t = node.text, node.scalar != nil else { return wrong() }
            do {
                _ = try CronSchedule(t)
            } catch {
                self.error(node.location, "\(place(path)) is '\(Diagnostic.excerpt(t))', which is not a valid cron expression: \(error)",
                           fix: "write 5 fields: minute hour day-of-month month day-of-week, e.g. '0 6 * * 1-5'")
                return nil
            }
            return .string(t)
        case .time:
            guard let t = node.text, node.scalar != nil else { return wrong() }
            guard Timestamp.parse(t) != nil else {
                error(node.location, "\(place(path)) is '\(Diagnostic.excerpt(t))', which is not an RFC 3339 time",
                      fix: "write e.g. 2026-11-22T06:00:00Z or 2026-11-22T07:00:00+01:00")
                return nil
            }
            return .string(t)
        case .timeZone:
            guard let t = node.text, node.scalar != nil else { return wrong() }
            guard (try? ScheduleTimeZone.named(t)) != nil else {
                error(node.location, "\(place(path)) is '\(Diagnostic.excerpt(t))', which is not a known time zone",
                      fix: "use an IANA name such as UTC, Europe/Amsterdam or America/New_York")
                return nil
            }
            return .string(t)
        case .email:
            guard let t = node.text, node.scalar != nil else { return wrong() }
            guard SpecConverter.isEmail(t) else {
                error(node.location, "\(place(path)) is '\(Diagnostic.excerpt(t))', which is not an e-mail address", fix: "write it as name@example.com")
                return nil
            }
            return .string(t)
        }
    }

    private mutating func checkMin(_ i: Int64, _ min: Int64?, _ node: SourceNode, _ path: String, _ type: FieldType) -> Value? {
        if let min, i < min {
            error(node.location, "\(place(path)) must be \(type.phrase), got \(i)")
            return nil
        }
        return .int(i)
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 128, let first = s.unicodeScalars.first else { return false }
        func ok(_ c: Unicode.Scalar) -> Bool { c.isASCII && (CharacterSet.alphanumerics.contains(c) || c == "_" || c == "-" || c == ".") }
        return (first.isASCII && (CharacterSet.alphanumerics.contains(first) || first == "_")) && s.unicodeScalars.allSatisfy(ok)
    }

    static func isEmail(_ s: String) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !s.contains(where: { $0.isWhitespace }) else { return false }
        return true
    }
}

extension SpecConverter {
    /// `text` with each `${…}` replaced by `null` (inside quotes it stays text either way).
    static func placeholdersAsLiterals(_ text: String) -> String {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${"), let close = rest[open.upperBound...].firstIndex(of: "}") {
            out += rest[..<open.lowerBound]
            out += "null"
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}
