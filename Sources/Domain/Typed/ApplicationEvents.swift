/// Work submitted to a remote engine (Apache Spark): one stream per attempt,
/// `application/<key>`, where the key is the attempt's idempotency key (`run<R>-<stage>-a<N>`).
/// The submission is appended with `expectedVersion: .noStream` before the application can start,
/// so an attempt is submitted at most once; after an engine restart the stream says whether it
/// was, and recovery asks the cluster about it instead of submitting again.
public enum ApplicationEvents {
    public static let streamPrefix = "application/"

    /// The stream of the attempt with idempotency key `key`.
    public static func stream(key: String) -> String { streamPrefix + key }

    /// The idempotency key of an attempt: unique per run, stage and attempt.
    public static func key(run: String, stage: String, attempt: Int) -> String { "run\(run)-\(stage)-a\(attempt)" }

    public static let all: [any DomainEvent.Type] = [ApplicationSubmitted.self, ApplicationOutputRecorded.self, ApplicationEnded.self]
    public static let types: Set<String> = Set(all.map { $0.type })
}

/// An attempt is about to submit its application: appended before spark-submit starts, as the
/// first event of the attempt's application stream (so never twice for one key).
public struct ApplicationSubmitted: DomainEvent {
    public static let type = "ApplicationSubmitted"
    public var run: String
    public var stage: String
    public var attempt: Int
    /// The idempotency key (also the stream's name and the application's name on the cluster).
    public var key: String
    /// `spark`.
    public var engine: String
    /// The master URL (`local[2]`, `spark://host:7077`).
    public var master: String
    /// The standalone master's web UI asked after a restart, when there is one.
    public var masterUI: String?
    /// The application run: a PySpark file, a jar, or `ledgerflow_spark.py` for engine spark.
    public var application: String
    /// The spark-submit command (arguments as given to the application).
    public var command: [String]

    public init(run: String, stage: String, attempt: Int, key: String, engine: String, master: String, masterUI: String? = nil,
                application: String, command: [String]) {
        self.run = run
        self.stage = stage
        self.attempt = attempt
        self.key = key
        self.engine = engine
        self.master = master
        self.masterUI = masterUI
        self.application = application
        self.command = command
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(run: try f.string("run"), stage: try f.string("stage"), attempt: Int(try f.int("attempt")), key: try f.string("key"),
                  engine: try f.string("engine"), master: try f.string("master"), masterUI: try f.string(opt: "master_ui"),
                  application: try f.string("application"), command: try f.strings("command"))
    }

    public var payload: Value {
        var b = PayloadBuilder([("application", .string(application)), ("attempt", .int(Int64(attempt))), ("command", .array(command.map(Value.string))),
                                ("engine", .string(engine)), ("key", .string(key)), ("master", .string(master)), ("run", .string(run)),
                                ("stage", .string(stage))])
        b.set("master_ui", masterUI)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "An attempt submits its application to Spark: appended (as the stream's first event) before spark-submit starts, so an attempt is submitted once; recovery reads it to ask the cluster instead of submitting again.",
        stream: "application/<key>",
        fields: [
            FieldDocumentation("run", "text", "the run"),
            FieldDocumentation("stage", "text", "the stage"),
            FieldDocumentation("attempt", "integer", "the attempt"),
            FieldDocumentation("key", "text", "the idempotency key, run<R>-<stage>-a<N>: the stream's name and the application's name on the cluster"),
            FieldDocumentation("engine", "text", "spark"),
            FieldDocumentation("master", "text", "the master URL"),
            .optional("master_ui", "text", "the standalone master's web UI, whose JSON status recovery asks"),
            FieldDocumentation("application", "text", "the application file (a PySpark file or a jar)"),
            FieldDocumentation("command", "list of text", "the spark-submit command line"),
        ])
    public static let example = ApplicationSubmitted(run: "12", stage: "score", attempt: 1, key: "run12-score-a1", engine: "spark",
                                                     master: "spark://10.0.0.5:7077", masterUI: "http://10.0.0.5:8080",
                                                     application: "/srv/project/jobs/score.py",
                                                     command: ["spark-submit", "--master", "spark://10.0.0.5:7077", "--name", "run12-score-a1", "/srv/project/jobs/score.py"])
}

/// A file of predictions an application wrote was recorded: its `PredictionRecorded` events were
/// appended in the same transaction, so a file is recorded once even across engine restarts.
public struct ApplicationOutputRecorded: DomainEvent {
    public static let type = "ApplicationOutputRecorded"
    public var key: String
    /// The file, relative to the attempt's folder (`predictions/part-00003-….txt`).
    public var file: String
    /// Predictions recorded from it.
    public var predictions: Int

    public init(key: String, file: String, predictions: Int) {
        self.key = key
        self.file = file
        self.predictions = predictions
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(key: try f.string("key"), file: try f.string("file"), predictions: Int(try f.int("predictions")))
    }

    public var payload: Value {
        .object([("file", .string(file)), ("key", .string(key)), ("predictions", .int(Int64(predictions)))])
    }

    public static let documentation = EventDocumentation(
        "A predictions file the application wrote was recorded, its PredictionRecorded events in the same transaction (while the application runs, a file at a time).",
        stream: "application/<key>",
        fields: [
            FieldDocumentation("key", "text", "the attempt's idempotency key"),
            FieldDocumentation("file", "text", "the file, relative to the attempt's folder"),
            FieldDocumentation("predictions", "integer", "PredictionRecorded events appended from it"),
        ])
    public static let example = ApplicationOutputRecorded(key: "run12-score-a1", file: "predictions/part-00003-5c1f.c000.txt", predictions: 65_536)
}

/// The application ended: how, as the engine saw it (spark-submit's exit code, the cluster's
/// state for the application), and whether the engine that saw it had reattached after a restart.
public struct ApplicationEnded: DomainEvent {
    public static let type = "ApplicationEnded"
    public var key: String
    /// FINISHED, FAILED, KILLED (stopped by a cancel or timeout), or LOST (it ended while no
    /// engine watched, without an exit code).
    public var state: String
    public var exitCode: Int?
    /// The application's id on the cluster (`app-20261205…`, `local-…`), when known.
    public var appID: String?
    /// True when an engine that restarted followed it to its end.
    public var reattached: Bool?
    public var error: String?

    public init(key: String, state: String, exitCode: Int? = nil, appID: String? = nil, reattached: Bool? = nil, error: String? = nil) {
        self.key = key
        self.state = state
        self.exitCode = exitCode
        self.appID = appID
        self.reattached = reattached
        self.error = error
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(key: try f.string("key"), state: try f.string("state"), exitCode: try f.int(opt: "exit_code").map { Int($0) },
                  appID: try f.string(opt: "app_id"), reattached: try f.bool(opt: "reattached"), error: try f.string(opt: "error"))
    }

    public var payload: Value {
        var b = PayloadBuilder([("key", .string(key)), ("state", .string(state))])
        b.set("exit_code", exitCode)
        b.set("app_id", appID)
        b.set("reattached", reattached)
        b.set("error", error)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "The application ended, as the engine saw it; the stage's own outcome follows in the run's stream.",
        stream: "application/<key>",
        fields: [
            FieldDocumentation("key", "text", "the attempt's idempotency key"),
            FieldDocumentation("state", "text", "FINISHED, FAILED, KILLED (stopped by a cancel or timeout) or LOST (ended unwatched, no exit code)"),
            .optional("exit_code", "integer", "spark-submit's exit code"),
            .optional("app_id", "text", "the application's id on the cluster"),
            .optional("reattached", "boolean", "true when an engine that restarted followed the application to its end"),
            .optional("error", "text", "why it failed"),
        ])
    public static let example = ApplicationEnded(key: "run12-score-a1", state: "FINISHED", exitCode: 0, appID: "app-20261205001500-0000",
                                                 reattached: true, error: "the application reported: ValueError: …")
}
