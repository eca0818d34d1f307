import Domain

/// The catalog's events: stored identifiers, never renamed (change goes through a new schema
/// version and an upcaster).
///
/// Each definition has its own stream, `definition/<kind>/<name>`; its stream version is the
/// definition's version (removal is a version too, so a re-created definition continues counting).
public enum CatalogEvents {
    /// A definition was created or changed. Payload (schema 1): `kind`, `name`, `version`, `spec`
    /// (canonical, as written), `spec_hash` (SHA-256 hex of the spec's canonical bytes), optional
    /// `message`, `file` (where it was read from).
    public static let applied = "DefinitionApplied"
    /// A definition was deleted (`apply --prune`). Payload (schema 1): `kind`, `name`, `version`,
    /// optional `message`.
    public static let removed = "DefinitionRemoved"
    /// Both types, for subscriptions.
    public static let types: Set<String> = [applied, removed]
    public static let schemaVersion: UInt32 = 1

    /// The stream prefix of definition streams.
    public static let streamPrefix = "definition/"

    static func appliedEvent(_ d: Definition, version: UInt64, message: String?) -> NewEvent {
        var p: [(String, Value)] = [("kind", .string(d.kind.name)), ("name", .string(d.name)), ("version", .int(Int64(version))),
                                    ("spec", d.spec), ("spec_hash", .string(d.specHash)), ("file", .string(d.location.description))]
        if let message { p.append(("message", .string(message))) }
        return NewEvent(type: applied, schemaVersion: schemaVersion, payload: .object(p))
    }

    static func removedEvent(_ key: DefinitionKey, version: UInt64, message: String?) -> NewEvent {
        var p: [(String, Value)] = [("kind", .string(key.kind.name)), ("name", .string(key.name)), ("version", .int(Int64(version)))]
        if let message { p.append(("message", .string(message))) }
        return NewEvent(type: removed, schemaVersion: schemaVersion, payload: .object(p))
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
    /// does not understand (an unknown kind), leave the state as it is.
    public mutating func evolve(_ e: RecordedEvent) {
        guard e.type == CatalogEvents.applied || e.type == CatalogEvents.removed,
              let kind = e.payload["kind"]?.stringValue.flatMap(DefinitionKind.init(rawValue:)),
              let name = e.payload["name"]?.stringValue else { return }
        let key = DefinitionKey(kind, name)
        let version = e.payload["version"]?.intValue.map(UInt64.init) ?? e.streamVersion
        if e.type == CatalogEvents.applied {
            let spec = e.payload["spec"] ?? .null
            entries[key] = CatalogEntry(key: key, version: version, spec: spec,
                                        specHash: e.payload["spec_hash"]?.stringValue ?? Definition.hash(spec), seq: e.seq,
                                        recordedAtMicros: e.recordedAtMicros, actor: e.actor, message: e.payload["message"]?.stringValue)
            removedVersions[key] = nil
        } else {
            entries[key] = nil
            removedVersions[key] = version
        }
        lastChangeSeq = e.seq
    }

    /// The stream version of a definition (live or deleted), 0 if it never existed.
    public func streamVersion(_ key: DefinitionKey) -> UInt64 { entries[key]?.version ?? removedVersions[key] ?? 0 }

    /// Specs by key.
    public var specs: [DefinitionKey: Value] { entries.mapValues(\.spec) }
}
