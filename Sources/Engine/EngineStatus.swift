import Domain
import Foundation

/// What a running engine says about itself, written to `<store>/status/engine.json` at most once a
/// second while it runs (and when it stops): operational telemetry for `ledgerflow health`, never a
/// source of truth (the log is). Written atomically (a temporary file renamed over the old one), so
/// a reader sees one whole status or the previous one.
public struct EngineStatus: Sendable, Equatable {
    /// The engine instance (`host/pid/start-ms`) and its process.
    public var engine: String
    public var pid: Int32
    /// When this engine started, and when its loop last finished a step (microseconds since 1970).
    public var startedMicros: Int64
    public var lastStepMicros: Int64
    /// The seq up to which its state is folded and decided on.
    public var throughSeq: UInt64
    /// Attempts running now.
    public var running: Int
    /// Steps that failed in a row, and the last failure (empty when the last step succeeded).
    public var failedSteps: Int
    public var lastFailure: String?
    /// Whether it has stopped (cleanly, or asked to) — a status left by a killed engine says false.
    public var stopped: Bool

    public init(engine: String, pid: Int32, startedMicros: Int64, lastStepMicros: Int64, throughSeq: UInt64, running: Int,
                failedSteps: Int, lastFailure: String?, stopped: Bool) {
        self.engine = engine
        self.pid = pid
        self.startedMicros = startedMicros
        self.lastStepMicros = lastStepMicros
        self.throughSeq = throughSeq
        self.running = running
        self.failedSteps = failedSteps
        self.lastFailure = lastFailure
        self.stopped = stopped
    }

    /// The file under `store`.
    public static func path(store: String) -> String { StatusFile.path(store: store, name: "engine") }

    public var value: Value {
        .object([("engine", .string(engine)), ("pid", .int(Int64(pid))), ("started_micros", .int(startedMicros)),
                 ("last_step_micros", .int(lastStepMicros)), ("through_seq", .int(Int64(throughSeq))), ("running", .int(Int64(running))),
                 ("failed_steps", .int(Int64(failedSteps))), ("last_failure", lastFailure.map(Value.string) ?? .null),
                 ("stopped", .bool(stopped))])
    }

    public init(_ v: Value) throws(DecodingFailure) {
        let f = try Fields("engine status", v)
        engine = try f.string("engine")
        pid = Int32(truncatingIfNeeded: try f.int("pid"))
        startedMicros = try f.int("started_micros")
        lastStepMicros = try f.int("last_step_micros")
        throughSeq = try f.uint("through_seq")
        running = Int(try f.int("running"))
        failedSteps = Int(try f.int("failed_steps"))
        lastFailure = try f.string(opt: "last_failure")
        stopped = try f.bool("stopped")
    }

    /// The status the store's engine last wrote, or nil when there is none (no engine ever ran
    /// here); a file that does not read is an error naming it.
    public static func read(store: String) throws -> EngineStatus? {
        guard let v = try StatusFile.read(store: store, name: "engine") else { return nil }
        do throws(DecodingFailure) { return try EngineStatus(v) } catch {
            throw EngineError("\(path(store: store)) does not read (\(error)); it is rewritten by the next engine — remove it if none runs")
        }
    }
}

/// Telemetry files under `<store>/status/`: JSON, replaced whole with a rename.
public enum StatusFile {
    public static func path(store: String, name: String) -> String {
        ((store as NSString).appendingPathComponent("status") as NSString).appendingPathComponent(name + ".json")
    }

    /// Writes `value` as `<store>/status/<name>.json` (temporary file + rename).
    public static func write(_ value: Value, store: String, name: String) throws {
        let file = path(store: store, name: name)
        let folder = (file as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let tmp = file + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        try Data((value.jsonString + "\n").utf8).write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, file) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(tmp)
            throw EngineError("cannot replace \(file): \(why)")
        }
    }

    /// The value in `<store>/status/<name>.json`, or nil when the file does not exist.
    public static func read(store: String, name: String) throws -> Value? {
        let file = path(store: store, name: name)
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        do { return try Value(jsonBytes: [UInt8](data)) } catch { throw EngineError("\(file) is not JSON (\(error))") }
    }
}
