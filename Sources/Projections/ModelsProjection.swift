import Domain
import EventLog
import Models

/// The model registry as a projection: models, versions (metrics, artifact, training data,
/// feature spec), aliases and their history, the newest value of each observed metric.
public struct ModelsProjection: Projection {
    public init() {}
    public var name: String { "models" }
    public var summary: String { "models, versions, metrics, artifacts, aliases and their moves" }
    /// 2: events are decoded typed, and one that does not decode is ignored (version 1 folded
    /// its members with defaults), so version 1 snapshots are rebuilt from the log.
    public var version: UInt32 { 2 }
    public var eventTypes: Set<String>? { MLEvents.registryTypes }
    public var initial: ModelsState { ModelsState() }
    public func evolve(_ state: inout ModelsState, _ event: RecordedEvent) { state.evolve(event) }
    public func count(_ state: ModelsState) -> Int { state.models.values.reduce(0) { $0 + $1.versions.count } }
    public func encode(_ state: ModelsState) -> Value { state.value }
    public func decode(_ value: Value) throws -> ModelsState { try ModelsState(value: value) }
}
