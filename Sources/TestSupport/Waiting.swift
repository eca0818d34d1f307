import Foundation

/// A wait that ran out of time: the condition it waited for never held.
public struct WaitTimedOut: Error, CustomStringConvertible {
    /// What was awaited.
    public let what: String
    /// How long the wait lasted, in seconds.
    public let seconds: Double
    /// "timed out after N s waiting for WHAT".
    public var description: String { "timed out after \(seconds) s waiting for \(what)" }
}

/// Polls `condition` (every `interval` seconds) until it holds; throws `WaitTimedOut` naming `what`
/// once `timeout` seconds pass, or when the surrounding task is cancelled (e.g. by a test's time
/// limit), so a wait never hangs a test.
public func waitFor(_ what: @autoclosure () -> String, timeout: Double = 20, interval: Double = 0.01,
                    _ condition: () throws -> Bool) throws {
    let deadline = DispatchTime.now() + timeout
    while true {
        if try condition() { return }
        if DispatchTime.now() >= deadline || Task.isCancelled { throw WaitTimedOut(what: what(), seconds: timeout) }
        Thread.sleep(forTimeInterval: interval)
    }
}

/// `waitFor` for async callers: polls without blocking a thread.
public func waitUntil(_ what: @autoclosure () -> String, timeout: Double = 20, interval: Duration = .milliseconds(10),
                      _ condition: () throws -> Bool) async throws {
    let deadline = DispatchTime.now() + timeout
    while true {
        if try condition() { return }
        if DispatchTime.now() >= deadline || Task.isCancelled { throw WaitTimedOut(what: what(), seconds: timeout) }
        try await Task.sleep(for: interval)
    }
}

/// Whether process `pid` has ended (gone, or a zombie that nobody has reaped yet).
public func processHasEnded(_ pid: pid_t) -> Bool {
    if kill(pid, 0) != 0 { return errno == ESRCH }
    #if os(Linux)
    // /proc/PID/stat: "pid (comm) STATE …"; comm may hold spaces and parentheses, so split after the last ')'.
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return true }
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
    return state == "Z" || state == "X"
    #else
    return false
    #endif
}

/// The process id a script wrote to `path` (e.g. `echo $! > child.pid`), once a whole line is there.
public func pidWritten(to path: String) -> pid_t? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n") else { return nil }
    return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
}
