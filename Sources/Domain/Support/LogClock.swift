import Foundation

/// Where the event log (and later the engine) gets the current time: injectable so that tests can
/// drive time instead of sleeping.
public protocol LogClock: Sendable {
    /// Microseconds since 1970-01-01 UTC, now.
    func nowMicros() -> Int64
}

/// The system's real-time clock (`CLOCK_REALTIME`).
public struct SystemClock: LogClock {
    /// The system clock.
    public init() {}

    /// Microseconds since 1970-01-01 UTC, now.
    public func nowMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}
