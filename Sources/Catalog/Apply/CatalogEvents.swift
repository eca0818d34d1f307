import Domain

extension DefinitionApplied {
    /// The event that applies definition `d` at `version`.
    init(_ d: Definition, version: UInt64, message: String?) {
        self.init(kind: d.kind.name, name: d.name, version: version, spec: d.spec, specHash: d.specHash,
                  file: d.location.description, message: message)
    }
}

/// One definition as the catalog holds it.
public struct CatalogEntry: Sendable, Hashable {
    public let key: DefinitionKey
    /// The definition's version (its stream version).
    public let version: UInt64
    public let spec: Value
    public let specHash: String
    /// The event that set this version.
    public let seq: UInt64
    public let recordedAtMicros: Int64
    public let actor: String
    public let message: String?

    public init(key: DefinitionKey, version: UInt64, spec: Value, specHash: String, seq: UInt64, recordedAtMicros: Int64,
                actor: String, message: String?) {
        self.key = key
        self.version = version
        self.spec = spec
        self.specHash = specHash
        self.seq = seq
        self.recordedAtMicros = recordedAtMicros
        self.actor = actor
        self.message = message
    }
}

/// The catalog: every definition in force, as a pure fold of the catalog events.
public struct CatalogState: Sendable, Hashable {
    public var entries: [DefinitionKey: CatalogEntry] = [:]
    /// Last version of each deleted definition (a re-created one continues from there).
    public var removedVersions: [DefinitionKey: UInt64] = [:]
    /// Seq of the last catalog event folded in (the catalog's version; 0 when empty).
    public var lastChangeSeq: UInt64 = 0

    public init() {}

    /// Folds one event in. Never fails: events that are not the catalog's, or that this version
    /// does not understand (an unknown kind, a payload that does not decode), leave the state as
    /// it is.
    public mutating func evolve(_ e: RecordedEvent) {
        switch e.type {
        case DefinitionApplied.type:
            guard let a = try? DefinitionApplied(e.payload), let kind = DefinitionKind(rawValue: a.kind) else { return }
            let key = DefinitionKey(kind, a.name)
            entries[key] = CatalogEntry(key: key, version: a.version, spec: a.spec, specHash: a.specHash, seq: e.seq,
                                        recordedAtMicros: e.recordedAtMicros, actor: e.actor, message: a.message)
            removedVersions[key] = nil
        case DefinitionRemoved.type:
            guard let r = try? DefinitionRemoved(e.payload), let kind = DefinitionKind(rawValue: r.kind) else { return }
            let key = DefinitionKey(kind, r.name)
            entries[key] = nil
            removedVersions[key] = r.version
        default:
            return
        }
        lastChangeSeq = e.seq
    }

    /// The stream version of a definition (live or deleted), 0 if it never existed.
    public func streamVersion(_ key: DefinitionKey) -> UInt64 { entries[key]?.version ?? removedVersions[key] ?? 0 }

    /// Specs by key.
    public var specs: [DefinitionKey: Value] { entries.mapValues(\.spec) }
}
