import Domain
import EventLog
import Runs

/// Runs as a projection: every run with its stages, attempts, durations, datasets written and
/// errors, and what the engine's reactors need.
public struct RunsProjection: Projection {
    public init() {}
    public var name: String { "runs" }
    public var summary: String { "runs, stages, attempts, durations, datasets written, errors" }
    public var version: UInt32 { 2 }
    public var eventTypes: Set<String>? { RunEvents.types }
    public var initial: RunsState { RunsState() }
    public func evolve(_ state: inout RunsState, _ event: RecordedEvent) { state.evolve(event) }
    public func count(_ state: RunsState) -> Int { state.runs.count }
    public func encode(_ state: RunsState) -> Value { state.value }
    public func decode(_ value: Value) throws -> RunsState { try RunsState(value: value) }
}
