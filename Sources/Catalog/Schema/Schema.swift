/// The kinds of definition in the catalog (the seeds' control tables).
public enum DefinitionKind: String, CaseIterable, Sendable, Hashable, Comparable {
    case job, model, features, dependency, trigger, output, source
    case configTable = "config_table"
    case columnMapping = "column_mapping"
    case monitor, schedule, sensor, team, secret, notifier

    public static func < (a: DefinitionKind, b: DefinitionKind) -> Bool { a.order < b.order }
    /// Position in alphabetical order of the names (compared without string comparisons).
    private var order: Int { DefinitionKind.alphabetical[self] ?? 0 }
    private static let alphabetical: [DefinitionKind: Int] = Dictionary(uniqueKeysWithValues:
        allCases.sorted { $0.rawValue.utf8.lexicographicallyPrecedes($1.rawValue.utf8) }.enumerated().map { ($1, $0) })
    /// The kind's name in text ("config_table").
    public var name: String { rawValue }
}

/// The type of a field in a definition schema; drives conversion, messages and the docs.
public indirect enum FieldType: Sendable {
    /// Any scalar, taken as written (`101`, `NO` and `1.10` stay text).
    case text
    /// A name: letters, digits, `_`, `-`, `.`; starts with a letter, digit or `_`.
    case identifier
    case integer(min: Int64? = nil)
    case number(min: Double? = nil)
    case boolean
    /// One of the listed words.
    case choice([String])
    case list(FieldType, min: Int = 0)
    /// A mapping from names (text keys) to values of one type.
    case map(FieldType)
    case object(ObjectSchema)
    /// The name of a definition of that kind (checked across all definitions).
    case reference(DefinitionKind)
    /// `500ms`, `30s`, `5m`, `1h30m`, `2d`, or a number of seconds.
    case duration
    /// An expression (see `Expression`); its field names are checked where the context is known.
    case expression
    /// A 5-field cron expression (local time in the definition's time zone).
    case cron
    /// An RFC 3339 time (`2026-11-22T06:00:00Z`, `2026-11-22T07:00:00+01:00`).
    case time
    /// An IANA time zone name (`UTC`, `Europe/Amsterdam`).
    case timeZone
    case email
    /// A single value or a list of them; stored as a list.
    case oneOrMany(FieldType)
    /// A scalar of the first type, or a mapping of the schema (a sensor's `after_run`: `keep`,
    /// `delete` or `{move: DIR}`); stored as written.
    case scalarOrObject(FieldType, ObjectSchema)
    /// Any JSON-shaped value.
    case any

    /// How the type reads in messages and docs.
    public var phrase: String {
        switch self {
        case .text: return "text"
        case .identifier: return "a name (letters, digits, _ - .)"
        case .integer(let min?): return "a whole number ≥ \(min)"
        case .integer: return "a whole number"
        case .number(let min?): return "a number ≥ \(formatNumber(min))"
        case .number: return "a number"
        case .boolean: return "true or false"
        case .choice(let words): return "one of " + words.joined(separator: ", ")
        case .list(let t, let min): return min > 0 ? "a list (at least \(min)) of \(t.nounPhrase)" : "a list of \(t.nounPhrase)"
        case .map(let t): return "a mapping of names to \(t.nounPhrase)"
        case .object(let o): return "a mapping (\(o.noun))"
        case .reference(let k): return "the name of a \(k.name) definition"
        case .duration: return "a duration such as 30s, 5m or 1h30m"
        case .expression: return "an expression"
        case .cron: return "a 5-field cron expression (minute hour day-of-month month day-of-week)"
        case .time: return "an RFC 3339 time such as 2026-11-22T06:00:00Z"
        case .timeZone: return "an IANA time zone such as UTC or Europe/Amsterdam"
        case .email: return "an e-mail address"
        case .oneOrMany(let t): return "\(t.phrase), or a list of them"
        case .scalarOrObject(let t, let o): return "\(t.phrase), or a mapping (\(o.noun))"
        case .any: return "any value"
        }
    }

    var nounPhrase: String {
        switch self {
        case .text: return "texts"
        case .identifier: return "names"
        case .object(let o): return o.noun + "s"
        case .reference(let k): return "\(k.name) names"
        case .email: return "e-mail addresses"
        default: return phrase
        }
    }
}

func formatNumber(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d) }

/// One field of a mapping.
public struct Field: Sendable {
    public let name: String
    public let type: FieldType
    public let required: Bool
    /// One line for the docs.
    public let doc: String

    public init(_ name: String, _ type: FieldType, required: Bool = false, _ doc: String) {
        self.name = name
        self.type = type
        self.required = required
        self.doc = doc
    }
}

/// The schema of a mapping: its fields, and optionally more fields chosen by one field's value
/// (a stage's `type`, a source's `type`, a feature step's `op`).
public struct ObjectSchema: Sendable {
    /// What one is called in messages ("stage", "retry policy").
    public let noun: String
    public let fields: [Field]
    public let variants: Variants?

    public struct Variants: Sendable {
        /// The field whose value selects the extra fields (itself listed in `fields` as a choice).
        public let field: String
        /// Extra fields per value, in value order.
        public let cases: [(value: String, fields: [Field])]
        public init(field: String, cases: [(value: String, fields: [Field])]) {
            self.field = field
            self.cases = cases
        }
        func fields(for value: String) -> [Field]? { cases.first { $0.value == value }?.fields }
    }

    public init(_ noun: String, _ fields: [Field], variants: Variants? = nil) {
        self.noun = noun
        self.fields = fields
        self.variants = variants
    }
}
