import Domain

/// The typed spec of one definition kind, read from the stored spec (`Definition.spec`,
/// `CatalogEntry.spec`, which stay the stored form). A spec that converted by its kind's schema
/// without errors always reads; a failure names the kind (`job spec`), the field's path
/// (`stages[1].type`) and what was expected there.
public protocol KindSpec: Sendable, Hashable {
    /// The definition kind this spec belongs to.
    static var kind: DefinitionKind { get }
    /// Reads a stored spec of this kind.
    init(_ spec: Value) throws(DecodingFailure)
}

extension KindSpec {
    /// The owner named by failures: `job spec`, `config_table spec`.
    public static var owner: String { "\(kind.name) spec" }
}

/// The typed spec of a definition of any kind.
public enum DefinitionSpec: Sendable, Hashable {
    case job(JobSpec)
    case model(ModelSpec)
    case features(FeaturesSpec)
    case dependency(DependencySpec)
    case trigger(TriggerSpec)
    case output(OutputSpec)
    case source(SourceSpec)
    case configTable(ConfigTableSpec)
    case columnMapping(ColumnMappingSpec)
    case monitor(MonitorSpec)
    case schedule(ScheduleSpec)
    case sensor(SensorSpec)
    case team(TeamSpec)
    case secret(SecretSpec)
    case notifier(NotifierSpec)

    /// Reads a stored spec of `kind`.
    public init(_ kind: DefinitionKind, _ spec: Value) throws(DecodingFailure) {
        switch kind {
        case .job: self = .job(try JobSpec(spec))
        case .model: self = .model(try ModelSpec(spec))
        case .features: self = .features(try FeaturesSpec(spec))
        case .dependency: self = .dependency(try DependencySpec(spec))
        case .trigger: self = .trigger(try TriggerSpec(spec))
        case .output: self = .output(try OutputSpec(spec))
        case .source: self = .source(try SourceSpec(spec))
        case .configTable: self = .configTable(try ConfigTableSpec(spec))
        case .columnMapping: self = .columnMapping(try ColumnMappingSpec(spec))
        case .monitor: self = .monitor(try MonitorSpec(spec))
        case .schedule: self = .schedule(try ScheduleSpec(spec))
        case .sensor: self = .sensor(try SensorSpec(spec))
        case .team: self = .team(try TeamSpec(spec))
        case .secret: self = .secret(try SecretSpec(spec))
        case .notifier: self = .notifier(try NotifierSpec(spec))
        }
    }

    /// The kind of definition this is the spec of.
    public var kind: DefinitionKind {
        switch self {
        case .job: return .job
        case .model: return .model
        case .features: return .features
        case .dependency: return .dependency
        case .trigger: return .trigger
        case .output: return .output
        case .source: return .source
        case .configTable: return .configTable
        case .columnMapping: return .columnMapping
        case .monitor: return .monitor
        case .schedule: return .schedule
        case .sensor: return .sensor
        case .team: return .team
        case .secret: return .secret
        case .notifier: return .notifier
        }
    }

    /// The spec as `S`, or nil when it is of another kind.
    public func `as`<S: KindSpec>(_: S.Type) -> S? {
        switch self {
        case .job(let s): return s as? S
        case .model(let s): return s as? S
        case .features(let s): return s as? S
        case .dependency(let s): return s as? S
        case .trigger(let s): return s as? S
        case .output(let s): return s as? S
        case .source(let s): return s as? S
        case .configTable(let s): return s as? S
        case .columnMapping(let s): return s as? S
        case .monitor(let s): return s as? S
        case .schedule(let s): return s as? S
        case .sensor(let s): return s as? S
        case .team(let s): return s as? S
        case .secret(let s): return s as? S
        case .notifier(let s): return s as? S
        }
    }

    /// Reads `spec` as `S` when `kind` is `S`'s kind; a failure names the kind expected.
    static func read<S: KindSpec>(_: S.Type, kind: DefinitionKind, _ spec: Value) throws(DecodingFailure) -> S {
        guard kind == S.kind else {
            throw DecodingFailure(eventType: S.owner, field: "", expected: "a \(S.kind.name) definition", found: "a \(kind.name) definition")
        }
        return try S(spec)
    }
}

extension CatalogEntry {
    /// The entry's typed spec, read on each use (the catalog fold keeps only the stored `spec`;
    /// consumers that read it often keep what they read).
    public var typedSpec: DefinitionSpec {
        get throws(DecodingFailure) { try DefinitionSpec(key.kind, spec) }
    }

    /// The entry's spec as `S` (a failure when the entry is of another kind or does not read).
    public func spec<S: KindSpec>(as type: S.Type) throws(DecodingFailure) -> S {
        try DefinitionSpec.read(type, kind: key.kind, spec)
    }
}

extension Definition {
    /// The definition's spec as `S` (a failure when the definition is of another kind or its spec
    /// does not read).
    public func spec<S: KindSpec>(as type: S.Type) throws(DecodingFailure) -> S {
        guard let s = try typedSpec.as(type) else { return try DefinitionSpec.read(type, kind: kind, spec) }
        return s
    }
}

extension CatalogState {
    /// The spec of the `S` definition `name`, nil when the catalog has none (a failure when its
    /// spec does not read).
    public func spec<S: KindSpec>(_ type: S.Type, _ name: String) throws(DecodingFailure) -> S? {
        guard let entry = entries[DefinitionKey(S.kind, name)] else { return nil }
        return try entry.spec(as: type)
    }
}
