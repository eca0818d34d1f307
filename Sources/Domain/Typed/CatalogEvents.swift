/// The catalog's events: stored identifiers, never renamed. Each definition has its own stream,
/// `definition/<kind>/<name>`; its stream version is the definition's version (a removal is a
/// version too, so a re-created definition continues counting).
public enum CatalogEvents {
    public static let applied = DefinitionApplied.type
    public static let removed = DefinitionRemoved.type
    /// Both types, for subscriptions.
    public static let types: Set<String> = [applied, removed]
    public static let all: [any DomainEvent.Type] = [DefinitionApplied.self, DefinitionRemoved.self]
    /// The stream prefix of definition streams.
    public static let streamPrefix = "definition/"
    /// The stream of definition `kind`/`name`.
    public static func stream(kind: String, name: String) -> String { "\(streamPrefix)\(kind)/\(name)" }
}

/// A definition was created or changed.
public struct DefinitionApplied: DomainEvent {
    public static let type = "DefinitionApplied"
    /// The kind's stored name (job, model, trigger, …).
    public var kind: String
    public var name: String
    public var version: UInt64
    /// The spec, canonical, as written.
    public var spec: Value
    /// SHA-256 (hex) of the spec's canonical bytes.
    public var specHash: String
    /// Where it was read from (`file:line:column`).
    public var file: String?
    public var message: String?

    public init(kind: String, name: String, version: UInt64, spec: Value, specHash: String, file: String?, message: String? = nil) {
        self.kind = kind
        self.name = name
        self.version = version
        self.spec = spec
        self.specHash = specHash
        self.file = file
        self.message = message
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(kind: try f.string("kind"), name: try f.string("name"), version: try f.uint("version"), spec: try f.objectValue("spec"),
                  specHash: try f.string("spec_hash"), file: try f.string(opt: "file"), message: try f.string(opt: "message"))
    }

    public var payload: Value {
        var b = PayloadBuilder([("kind", .string(kind)), ("name", .string(name)), ("version", .int(Int64(version))), ("spec", spec),
                                ("spec_hash", .string(specHash))])
        b.set("file", file)
        b.set("message", message)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A definition was created or changed by `ledgerflow apply`.",
        stream: "definition/<kind>/<name>",
        fields: [
            FieldDocumentation("kind", "text", "the definition's kind (job, model, features, trigger, …)"),
            FieldDocumentation("name", "text", "its name"),
            FieldDocumentation("version", "integer", "its version (= the stream version; a removal counts too)"),
            FieldDocumentation("spec", "object", "the spec, as written (canonical); see docs/metadata.md"),
            FieldDocumentation("spec_hash", "text", "SHA-256 (hex) of the spec's canonical bytes"),
            .optional("file", "text", "where it was read from (file:line:column)"),
            .optional("message", "text", "the apply's message"),
        ])
    public static let example = DefinitionApplied(kind: "job", name: "churn_scoring", version: 3, spec: ["stages": [["name": "extract", "type": "etl"]]],
                                                  specHash: String(repeating: "0f", count: 32), file: "jobs/churn.yaml:1:1", message: "nightly scoring")
}

/// A definition was deleted (`apply --prune`).
public struct DefinitionRemoved: DomainEvent {
    public static let type = "DefinitionRemoved"
    public var kind: String
    public var name: String
    public var version: UInt64
    public var message: String?

    public init(kind: String, name: String, version: UInt64, message: String? = nil) {
        self.kind = kind
        self.name = name
        self.version = version
        self.message = message
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(kind: try f.string("kind"), name: try f.string("name"), version: try f.uint("version"), message: try f.string(opt: "message"))
    }

    public var payload: Value {
        var b = PayloadBuilder([("kind", .string(kind)), ("name", .string(name)), ("version", .int(Int64(version)))])
        b.set("message", message)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A definition was deleted (`ledgerflow apply --prune`); its stream keeps counting if it is created again.",
        stream: "definition/<kind>/<name>",
        fields: [
            FieldDocumentation("kind", "text", "the definition's kind"),
            FieldDocumentation("name", "text", "its name"),
            FieldDocumentation("version", "integer", "the version the removal takes"),
            .optional("message", "text", "the apply's message"),
        ])
    public static let example = DefinitionRemoved(kind: "trigger", name: "high_churn", version: 4, message: "retired")
}
