/// The file sensors' events, in one stream per sensor (`sensor/<name>`): arrivals (each appended in
/// the transaction of the run it requests), what became of each marker once its run finished, and
/// the changes of a sensor's error state.
public enum SensorEvents {
    /// The event types, in the order of the reference.
    public static let all: [any DomainEvent.Type] = [FileArrived.self, MarkerHandled.self, SensorFailed.self, SensorRecovered.self]
    /// Their stored names.
    public static let types: Set<String> = Set(all.map { $0.type })

    /// The prefix of every sensor stream.
    public static let streamPrefix = "sensor/"
    /// The stream of sensor `name`.
    public static func stream(sensor name: String) -> String { streamPrefix + name }
    /// The sensor whose stream `stream` is, nil for another stream.
    public static func sensor(ofStream stream: String) -> String? {
        stream.hasPrefix(streamPrefix) ? String(stream.dropFirst(streamPrefix.count)) : nil
    }
}

/// What is done with a marker once the run it started has finished (a sensor's `after_run`).
public enum MarkerAction: String, Sendable, Hashable, CaseIterable {
    case keep, delete, move
}

/// A file matching a sensor's pattern arrived (or was rewritten: another size or mtime is another
/// arrival): recorded once per (sensor, file, size, mtime), in the same transaction as the run it
/// requests, at the sensor stream's expected version.
public struct FileArrived: DomainEvent {
    public static let type = "FileArrived"
    /// The sensor.
    public var sensor: String
    /// Its definition version.
    public var sensorVersion: UInt64
    /// The file's path relative to the watched folder.
    public var file: String
    /// The watched folder (absolute).
    public var folder: String
    /// Bytes.
    public var size: Int64
    /// Last modification, microseconds since 1970-01-01 UTC.
    public var mtimeMicros: Int64
    /// The run requested (nil when none could be: see `error`).
    public var run: String?
    /// Why no run was requested.
    public var error: String?
    /// What to do with the marker once the run has finished.
    public var afterRun: MarkerAction
    /// With `move`: the folder (absolute) the marker goes to, keeping its relative path.
    public var moveTo: String?

    public init(sensor: String, sensorVersion: UInt64, file: String, folder: String, size: Int64, mtimeMicros: Int64, run: String?,
                error: String? = nil, afterRun: MarkerAction = .keep, moveTo: String? = nil) {
        self.sensor = sensor
        self.sensorVersion = sensorVersion
        self.file = file
        self.folder = folder
        self.size = size
        self.mtimeMicros = mtimeMicros
        self.run = run
        self.error = error
        self.afterRun = afterRun
        self.moveTo = moveTo
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        sensor = try f.string("sensor")
        sensorVersion = try f.uint("sensor_version")
        file = try f.string("file")
        folder = try f.string("folder")
        size = try f.int("size")
        mtimeMicros = try f.int("mtime_us")
        run = try f.string(opt: "run")
        error = try f.string(opt: "error")
        let action = try f.string("after_run")
        guard let a = MarkerAction(rawValue: action) else {
            throw f.failure("after_run", expected: "one of keep, delete, move", found: .string(action))
        }
        afterRun = a
        moveTo = try f.string(opt: "move_to")
    }

    public var payload: Value {
        var b = PayloadBuilder([("sensor", .string(sensor)), ("sensor_version", .int(Int64(sensorVersion))), ("file", .string(file)),
                                ("folder", .string(folder)), ("size", .int(size)), ("mtime_us", .int(mtimeMicros)),
                                ("after_run", .string(afterRun.rawValue))])
        b.set("run", run)
        b.set("error", error)
        b.set("move_to", moveTo)
        return b.value
    }

    /// The absolute path of the file.
    public var path: String { folder.hasSuffix("/") ? folder + file : folder + "/" + file }

    public static let documentation = EventDocumentation(
        "A file matching a sensor's pattern arrived: recorded once per (sensor, file, size, mtime) — a rewritten file is a new arrival — in the same transaction as the run it requests.",
        stream: "sensor/<name>",
        fields: [
            FieldDocumentation("sensor", "text", "the sensor"),
            FieldDocumentation("sensor_version", "integer", "its definition version"),
            FieldDocumentation("file", "text", "the file's path relative to the watched folder"),
            FieldDocumentation("folder", "text", "the watched folder (absolute)"),
            FieldDocumentation("size", "integer", "bytes"),
            FieldDocumentation("mtime_us", "integer", "last modification, microseconds since 1970-01-01 UTC"),
            .optional("run", "text", "the run requested (absent when none could be)"),
            .optional("error", "text", "why no run was requested"),
            FieldDocumentation("after_run", "text", "keep, delete or move: what becomes of the marker once the run has finished"),
            .optional("move_to", "text", "move: the folder (absolute) the marker goes to, keeping its relative path"),
        ])
    public static let example = FileArrived(sensor: "daily_drop", sensorVersion: 2, file: "2026-12-01/sales.done", folder: "/data/incoming",
                                            size: 0, mtimeMicros: 1_796_083_200_000_000, run: "42", error: "job 'x' is not in the catalog",
                                            afterRun: .move, moveTo: "/data/processed")
}

/// What became of a marker once the run its arrival requested had finished: kept, deleted or
/// moved as the arrival said — or why not. Recorded once per arrival.
public struct MarkerHandled: DomainEvent {
    public static let type = "MarkerHandled"

    /// What was done.
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        case kept, deleted, moved, failed
    }

    public var sensor: String
    /// The marker's path relative to the watched folder.
    public var file: String
    /// The seq of its FileArrived.
    public var arrival: UInt64
    /// The run it started.
    public var run: String
    /// How that run ended (succeeded, failed, cancelled).
    public var runStatus: String
    public var outcome: Outcome
    /// moved: where to (absolute path of the marker).
    public var to: String?
    /// failed: why; otherwise an optional remark (e.g. the marker was already gone).
    public var error: String?
    public var note: String?

    public init(sensor: String, file: String, arrival: UInt64, run: String, runStatus: String, outcome: Outcome, to: String? = nil,
                error: String? = nil, note: String? = nil) {
        self.sensor = sensor
        self.file = file
        self.arrival = arrival
        self.run = run
        self.runStatus = runStatus
        self.outcome = outcome
        self.to = to
        self.error = error
        self.note = note
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        sensor = try f.string("sensor")
        file = try f.string("file")
        arrival = try f.uint("arrival")
        run = try f.string("run")
        runStatus = try f.string("run_status")
        let o = try f.string("outcome")
        guard let outcome = Outcome(rawValue: o) else {
            throw f.failure("outcome", expected: "one of kept, deleted, moved, failed", found: .string(o))
        }
        self.outcome = outcome
        to = try f.string(opt: "to")
        error = try f.string(opt: "error")
        note = try f.string(opt: "note")
    }

    public var payload: Value {
        var b = PayloadBuilder([("sensor", .string(sensor)), ("file", .string(file)), ("arrival", .int(Int64(arrival))), ("run", .string(run)),
                                ("run_status", .string(runStatus)), ("outcome", .string(outcome.rawValue))])
        b.set("to", to)
        b.set("error", error)
        b.set("note", note)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "What became of a marker once the run its arrival requested had finished (the sensor's after_run), or why it could not be done; once per arrival.",
        stream: "sensor/<name>",
        fields: [
            FieldDocumentation("sensor", "text", "the sensor"),
            FieldDocumentation("file", "text", "the marker's path relative to the watched folder"),
            FieldDocumentation("arrival", "integer", "the seq of its FileArrived"),
            FieldDocumentation("run", "text", "the run it started"),
            FieldDocumentation("run_status", "text", "how that run ended: succeeded, failed or cancelled"),
            FieldDocumentation("outcome", "text", "kept, deleted, moved, or failed (see error)"),
            .optional("to", "text", "moved: the marker's new path (absolute)"),
            .optional("error", "text", "failed: why the marker could not be deleted or moved"),
            .optional("note", "text", "a remark, e.g. the marker was already gone or was rewritten since (then it is kept for its own arrival)"),
        ])
    public static let example = MarkerHandled(sensor: "daily_drop", file: "2026-12-01/sales.done", arrival: 1_204, run: "42", runStatus: "succeeded",
                                              outcome: .moved, to: "/data/processed/2026-12-01/sales.done", error: "permission denied",
                                              note: "the marker was already there")
}

/// A sensor's folder could not be listed (missing, not a folder, unreadable): the sensor entered
/// its error state. Recorded when the state changes, not at every poll; the sensor keeps trying.
public struct SensorFailed: DomainEvent {
    public static let type = "SensorFailed"
    public var sensor: String
    public var sensorVersion: UInt64
    /// The watched folder (absolute).
    public var folder: String
    public var error: String

    public init(sensor: String, sensorVersion: UInt64, folder: String, error: String) {
        self.sensor = sensor
        self.sensorVersion = sensorVersion
        self.folder = folder
        self.error = error
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(sensor: try f.string("sensor"), sensorVersion: try f.uint("sensor_version"), folder: try f.string("folder"), error: try f.string("error"))
    }

    public var payload: Value {
        PayloadBuilder([("sensor", .string(sensor)), ("sensor_version", .int(Int64(sensorVersion))), ("folder", .string(folder)),
                        ("error", .string(error))]).value
    }

    public static let documentation = EventDocumentation(
        "A sensor's folder could not be listed (missing, not a folder, unreadable): the sensor entered its error state. Recorded on the change only; the sensor keeps looking at every poll.",
        stream: "sensor/<name>",
        fields: [
            FieldDocumentation("sensor", "text", "the sensor"),
            FieldDocumentation("sensor_version", "integer", "its definition version"),
            FieldDocumentation("folder", "text", "the watched folder (absolute)"),
            FieldDocumentation("error", "text", "what went wrong"),
        ])
    public static let example = SensorFailed(sensor: "daily_drop", sensorVersion: 2, folder: "/data/incoming",
                                             error: "folder /data/incoming does not exist")
}

/// A sensor in its error state listed its folder again: it left the error state.
public struct SensorRecovered: DomainEvent {
    public static let type = "SensorRecovered"
    public var sensor: String
    public var sensorVersion: UInt64
    /// The watched folder (absolute).
    public var folder: String
    /// The seq of the SensorFailed this ends.
    public var failed: UInt64

    public init(sensor: String, sensorVersion: UInt64, folder: String, failed: UInt64) {
        self.sensor = sensor
        self.sensorVersion = sensorVersion
        self.folder = folder
        self.failed = failed
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(sensor: try f.string("sensor"), sensorVersion: try f.uint("sensor_version"), folder: try f.string("folder"), failed: try f.uint("failed"))
    }

    public var payload: Value {
        PayloadBuilder([("sensor", .string(sensor)), ("sensor_version", .int(Int64(sensorVersion))), ("folder", .string(folder)),
                        ("failed", .int(Int64(failed)))]).value
    }

    public static let documentation = EventDocumentation(
        "A sensor in its error state listed its folder again and left the error state.",
        stream: "sensor/<name>",
        fields: [
            FieldDocumentation("sensor", "text", "the sensor"),
            FieldDocumentation("sensor_version", "integer", "its definition version"),
            FieldDocumentation("folder", "text", "the watched folder (absolute)"),
            FieldDocumentation("failed", "integer", "the seq of the SensorFailed this ends"),
        ])
    public static let example = SensorRecovered(sensor: "daily_drop", sensorVersion: 2, folder: "/data/incoming", failed: 1_180)
}
