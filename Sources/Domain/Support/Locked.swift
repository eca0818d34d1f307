import Foundation

/// A value behind a lock: every read and write goes through `withLock`.
public final class Locked<State: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `state` is only ever touched inside `withLock`, which holds `lock` for the
    // whole access, so no two threads see it at once; and `State` is itself Sendable, so values
    // moved in and out of the box may cross threads.
    @usableFromInline let lock = NSLock()
    @usableFromInline var state: State

    /// A box holding `state`.
    public init(_ state: State) { self.state = state }

    /// Runs `body` with exclusive access to the value and returns what it returns.
    @inlinable
    public func withLock<T>(_ body: (inout State) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&state)
    }
}
