import Domain
import EventLog
import Foundation

/// A fresh directory under the system's temporary directory, removed (with everything in it) when
/// the last reference goes away. Each test makes its own, so tests never share files.
public final class TemporaryDirectory: Sendable {
    /// The directory's path.
    public let path: String

    /// Creates `<tmp>/ledgerflow-<label>-<uuid>`.
    public init(_ label: String = "test") {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("ledgerflow-\(label)-\(UUID().uuidString)")
        // A failure to create it shows up as a failure to use it, at the first write.
        try? FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The path of `name` inside the directory.
    public func sub(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
}

/// A fresh event log in its own temporary directory (at `dir.sub("store")`). The log is not durable
/// (tests do not need fsync unless they say so), has a 1 GiB map, trains no dictionary by itself,
/// and takes its time from `clock`. Keep the directory alive as long as the log is used.
public func makeLog(durable: Bool = false, training: EventLog.DictionaryTraining = .manual, upcasters: Upcasters = Upcasters(),
                    clock: any LogClock = SystemClock(), pollInterval: Duration? = nil) throws -> (EventLog, TemporaryDirectory) {
    let dir = TemporaryDirectory("store")
    var c = EventLog.Configuration()
    c.durable = durable
    c.dictionaryTraining = training
    c.upcasters = upcasters
    c.mapSize = 1 << 30
    c.clock = clock
    if let pollInterval { c.pollInterval = pollInterval }
    return (try EventLog.create(at: dir.sub("store"), configuration: c), dir)
}
