/// Turns payloads written with an old schema version of an event type into the current version,
/// one version step at a time, when events are read. Stored bytes are never changed.
public struct Upcasters: Sendable {
    /// Upgrades a payload from version N to N + 1.
    public typealias Step = @Sendable (Value) throws -> Value

    private var steps: [String: [UInt32: Step]] = [:]

    /// Creates an empty registry.
    public init() {}

    /// Registers the step that turns `type` payloads of schema `version` into `version + 1`.
    public mutating func register(type: String, from version: UInt32, _ step: @escaping Step) {
        steps[type, default: [:]][version] = step
    }

    /// The newest schema version reachable for `type` from `version`.
    public func currentVersion(of type: String, from version: UInt32 = 1) -> UInt32 {
        var v = version
        while steps[type]?[v] != nil { v += 1 }
        return v
    }

    /// Whether any step is registered.
    public var isEmpty: Bool { steps.isEmpty }

    /// Applies every registered step from `version` upward.
    public func upcast(type: String, version: UInt32, payload: Value) throws -> (Value, UInt32) {
        guard let forType = steps[type] else { return (payload, version) }
        var v = version
        var p = payload
        while let step = forType[v] {
            p = try step(p)
            v += 1
        }
        return (p, v)
    }
}
