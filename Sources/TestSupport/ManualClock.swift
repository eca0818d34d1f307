import Domain
import Foundation

/// A clock that only moves when told to: tests set or advance it to get distinct, known times
/// without sleeping. Safe to read and move from any thread.
public final class ManualClock: LogClock {
    private let micros: Locked<Int64>

    /// 2026-01-01T00:00:00Z, a fixed starting time.
    public static let defaultStart: Int64 = 1_767_225_600_000_000

    /// A clock reading `micros` (µs since 1970) until it is moved.
    public init(micros: Int64 = ManualClock.defaultStart) { self.micros = Locked(micros) }

    /// The current reading, µs since 1970.
    public func nowMicros() -> Int64 { micros.withLock { $0 } }

    /// Moves the clock forward by `delta` microseconds (backwards with a negative delta); returns the new reading.
    @discardableResult
    public func advance(byMicros delta: Int64) -> Int64 { micros.withLock { $0 += delta; return $0 } }

    /// Moves the clock forward by `seconds`; returns the new reading.
    @discardableResult
    public func advance(bySeconds seconds: Double) -> Int64 { advance(byMicros: Int64((seconds * 1_000_000).rounded())) }

    /// Sets the reading to `micros` (µs since 1970).
    public func set(micros new: Int64) { micros.withLock { $0 = new } }

    /// The current reading as a `Date`.
    public var date: Date { Date(timeIntervalSince1970: Double(nowMicros()) / 1_000_000) }
}
