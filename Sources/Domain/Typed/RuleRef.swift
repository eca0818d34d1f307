/// A reference to the rule behind an automation event or a triggered run: its kind (trigger,
/// monitor, retrain_policy, …), name and, for definitions, the version that applied.
public struct RuleRef: Sendable, Hashable, CustomStringConvertible {
    public var kind: String
    public var name: String
    /// The definition version (absent for a model's retraining policy, which has none of its own).
    public var version: UInt64?

    public init(kind: String, name: String, version: UInt64? = nil) {
        self.kind = kind
        self.name = name
        self.version = version
    }

    /// Decodes `{kind, name, version?}`.
    public init(_ f: Fields) throws(DecodingFailure) {
        self.init(kind: try f.string("kind"), name: try f.string("name"), version: try f.uint(opt: "version"))
    }

    public var value: Value {
        var b = PayloadBuilder()
        b.set("kind", .string(kind))
        b.set("name", .string(name))
        b.set("version", version)
        return b.value
    }

    /// `kind:name`, as a run's `trigger.by` names it.
    public var description: String { "\(kind):\(name)" }

    static let documentation: [FieldDocumentation] = [
        FieldDocumentation("kind", "text", "trigger, monitor or retrain_policy"),
        FieldDocumentation("name", "text", "the rule's name"),
        .optional("version", "integer", "the version of its definition that applied"),
    ]
}
