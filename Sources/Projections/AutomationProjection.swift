import Domain
import EventLog
import Models

/// The automation state as a projection: each rule's dedupe keys, its stream's version, the
/// crossings whose run or alert is still to be recorded, and the dataset versions retraining
/// policies acted on. The engine starts from its newest snapshot and writes them (it is not in
/// `ProjectionRegistry`: nothing but the engine reads it).
public struct AutomationProjection: Projection {
    public init() {}
    public var name: String { "automation" }
    public var summary: String { "triggers' and monitors' dedupe keys, crossings awaiting their run or alert" }
    public var version: UInt32 { 1 }
    public var eventTypes: Set<String>? { MLEvents.automationTypes }
    public var initial: AutomationState { AutomationState() }
    public func evolve(_ state: inout AutomationState, _ event: RecordedEvent) { state.evolve(event) }
    public func count(_ state: AutomationState) -> Int { state.keys.values.reduce(0) { $0 + $1.count } }
    public func encode(_ state: AutomationState) -> Value { state.value }
    public func decode(_ value: Value) throws -> AutomationState { try AutomationState(value: value) }
}
