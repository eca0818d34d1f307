import Domain
import EventLog

/// A named, pure fold of the log: current state is `evolve` applied to every event in order.
///
/// `evolve` never fails (an event has already happened); events a projection does not know leave
/// its state unchanged. The name is a stored identifier (checkpoints and snapshots use it), and
/// `version` is bumped whenever the state's encoding or `evolve`'s meaning changes, so snapshots
/// of an older version are ignored and rebuilt instead of misread.
public protocol Projection: Sendable {
    associatedtype State: Sendable
    /// Stored identifier, e.g. `catalog`.
    var name: String { get }
    /// One line for `projection list`.
    var summary: String { get }
    /// Version of the state's meaning and encoding.
    var version: UInt32 { get }
    /// The event types folded (nil: every event). Lets runners read through the type index.
    var eventTypes: Set<String>? { get }
    /// The state before any event.
    var initial: State { get }
    /// Folds one event in.
    func evolve(_ state: inout State, _ event: RecordedEvent)
    /// The state as a value, for snapshots.
    func encode(_ state: State) -> Value
    /// The state from a snapshot value.
    func decode(_ value: Value) throws -> State
    /// The state for people and `--json` (defaults to `encode`).
    func render(_ state: State) -> Value
    /// Entries in the state, for `projection list` (definitions, runs, …).
    func count(_ state: State) -> Int
}

extension Projection {
    public func render(_ state: State) -> Value { encode(state) }
}

/// A projection whose state cannot be decoded from a snapshot.
public struct ProjectionError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
