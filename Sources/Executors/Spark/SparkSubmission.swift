import Catalog
import Domain
import EventLog
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One attempt's Spark application (docs/spark.md): submitted at most once — its
/// `ApplicationSubmitted` is appended to stream `application/<key>` with `.noStream` before
/// spark-submit starts —, followed to its end by the engine that submitted it or, after a
/// restart, by the one that reattached to it; what it wrote and reported becomes the attempt's
/// result, its predictions events while it runs.
///
/// spark-submit runs under a small shell wrapper in its own process group, its output going
/// straight to the attempt's `stdout.log` and `stderr.log` (not through the engine, so that it
/// survives an engine restart) and its exit code to `exit-code` (so that an engine that did not
/// start it can read how it ended). The logs are masked in place when the attempt ends; `ledgerflow
/// logs` and the console mask what they show while it runs.
struct SparkSubmission {
    let ctx: StageContext
    let stage: StageSpec
    let settings: StageSpec.SparkSettings
    /// The application file (absolute), its main class for a jar, and its arguments.
    let application: String
    let mainClass: String?
    let args: [String]
    /// For `engine: spark` train and inference stages: what `ledgerflow_spark.py` does.
    var task: Value?
    /// The model and version predictions are recorded under when a line names none.
    var predictionModel: (name: String, version: UInt64)?
    /// What the application reads, when not the stage's inputs (a train stage's training dataset).
    var inputs: [Endpoint]?

    var key: String { ApplicationEvents.key(run: ctx.run, stage: ctx.stage, attempt: ctx.attempt) }
    var stream: String { ApplicationEvents.stream(key: key) }
    var folder: String { ctx.attemptFolder }
    func file(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }

    /// How long the driver gets to stop after SIGTERM (its shutdown hook stops the SparkContext,
    /// which ends the application on the cluster) before SIGKILL.
    static let stopGrace = 10.0

    /// Submits (or reattaches to) the application and waits for it to end.
    func run() throws(StageError) -> SparkOutcome {
        let secrets = Secrets.mask(catalog: ctx.catalog, root: ctx.root)
        do throws(StageError) {
            return try attempt(secrets)
        } catch {
            throw StageError(secrets.mask(error.message), reason: error.reason)
        }
    }

    private func attempt(_ secrets: SecretMask) throws(StageError) -> SparkOutcome {
        guard let recorder = ctx.recorder else { throw StageError("spark stage '\(ctx.stage)' needs the event log (its submission is an event)") }
        let history: [RecordedEvent]
        do { history = try recorder.events(of: stream) } catch { throw StageError("reading \(stream): \(error)") }
        var tracker = PredictionFiles(submission: self, recorder: recorder, recorded: history)
        if let ended = try history.last(where: { $0.type == ApplicationEnded.type }).map({ e throws(StageError) in try decode(e, ApplicationEnded.self) }) {
            // It ended, and a restart lost the stage's outcome: take it from the record and the files.
            try tracker.ingest()
            return try finish(SparkExit(code: ended.exitCode.map(Int32.init), signal: nil), tracker, secrets, reattached: true, endRecorded: true)
        }
        if history.contains(where: { $0.type == ApplicationSubmitted.type }) {
            return try reattach(tracker, secrets)
        }
        try ctx.cancellation.check("the Spark application")
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw StageError("cannot create \(folder): \(error.localizedDescription)")
        }
        let (argv, env) = try prepare(secrets)
        // The submission is on record before the application can start; `.noStream` makes it once per key.
        let submitted = ApplicationSubmitted(run: ctx.run, stage: ctx.stage, attempt: ctx.attempt, key: key, engine: "spark",
                                             master: settings.masterURL, masterUI: settings.webUI, application: application,
                                             command: argv.map { secrets.mask($0) })
        do {
            try recorder.record([StreamAppend(stream: stream, expectedVersion: .noStream,
                                              events: [submitted.event(causation: ctx.startedSeq, correlation: ctx.correlation)])])
        } catch {
            throw StageError("could not record the submission of \(key) (nothing was submitted): \(error)")
        }
        tracker.version = 1
        let out = open(file("stdout.log"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        let err = open(file("stderr.log"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        defer { if out >= 0 { close(out) }; if err >= 0 { close(err) } }
        guard out >= 0, err >= 0 else { throw StageError("cannot open the logs in \(folder): \(String(cString: strerror(errno)))") }
        let wrapper = ["/bin/sh", "-c", Self.wrapperScript, "ledgerflow-spark-submit"] + argv
        let child = try ChildProcess.spawn(argv: wrapper, workdir: ctx.root, environment: env, output: (out, err))
        AttemptProcesses.record(child.pid, in: folder)
        let exit = try follow(tracker: &tracker, alive: {
            if let s = child.tryWait() { return .ended(s) }
            return .running
        }, group: child.pid)
        return try finish(exit, tracker, secrets, reattached: false, endRecorded: false)
    }

    /// The shell around spark-submit: runs it, then writes its exit code to `exit-code` (through a
    /// temporary name, so a reader never sees half of it). SIGHUP is ignored: the application
    /// outlives the engine's terminal.
    static let wrapperScript = """
    trap '' HUP
    "$@"
    code=$?
    printf '%s\\n' "$code" > "$LEDGERFLOW_ATTEMPT_FOLDER/exit-code.tmp" && mv "$LEDGERFLOW_ATTEMPT_FOLDER/exit-code.tmp" "$LEDGERFLOW_ATTEMPT_FOLDER/exit-code"
    exit $code
    """

    /// After a restart: the application was submitted by an engine that is gone. Its wrapper
    /// process still running, or its exit code written, is the application still running or
    /// ended: follow it to its end (no second submission). Otherwise it was lost with the engine.
    private func reattach(_ tracker: PredictionFiles, _ secrets: SecretMask) throws(StageError) -> SparkOutcome {
        var tracker = tracker
        if let code = exitCode() {
            try tracker.ingest()
            return try finish(SparkExit(code: code, signal: nil), tracker, secrets, reattached: true, endRecorded: false)
        }
        guard let group = SparkProcesses.running(in: folder) else {
            throw StageError("the Spark application \(key) was submitted by an engine that stopped, and it is no longer running (no exit code was recorded); it is retried per the stage's policy",
                             reason: "interrupted")
        }
        let exit = try follow(tracker: &tracker, alive: {
            if SparkProcesses.isRunning(group: group) { return .running }
            return .ended(nil)
        }, group: group)
        return try finish(exit, tracker, secrets, reattached: true, endRecorded: false)
    }

    enum Liveness { case running, ended(Int32?) }

    /// Waits for the application's end, recording prediction files as they appear, and stops it
    /// when the attempt is cancelled or times out (SIGTERM to its process group, SIGKILL after
    /// `stopGrace`; on a standalone cluster, the application is then killed through the master if
    /// it still runs).
    private func follow(tracker: inout PredictionFiles, alive: () -> Liveness, group: pid_t) throws(StageError) -> SparkExit {
        let stopped = Locked(false)
        let token = ctx.cancellation.onCancel {
            kill(-group, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + Self.stopGrace) { if !stopped.withLock({ $0 }) { kill(-group, SIGKILL) } }
        }
        defer {
            stopped.withLock { $0 = true }
            ctx.cancellation.remove(token)
        }
        var status: Int32?
        // A predictions file that cannot be recorded fails the attempt: the application is then
        // stopped (SIGTERM, SIGKILL after the grace) before the attempt ends, so no retry runs beside it.
        var failure: StageError?
        var killAt: Date?
        while true {
            if case .ended(let s) = alive() {
                status = s
                break
            }
            if failure == nil {
                do throws(StageError) { try tracker.ingest() } catch {
                    failure = error
                    kill(-group, SIGTERM)
                    killAt = Date().addingTimeInterval(Self.stopGrace)
                }
            } else if let k = killAt, Date() >= k {
                kill(-group, SIGKILL)
                killAt = nil
            }
            usleep(100_000)
        }
        if let failure {
            Self.awaitGroupEnd(group)
            stopOnMaster()
            throw failure
        }
        if ctx.cancellation.reason != nil {
            // Stopped by a cancel or timeout: the wrapper may end before the driver it was running
            // (a JVM shuts down slowly): every process of the group is gone before the attempt
            // ends — SIGKILL once the grace is over.
            Self.awaitGroupEnd(group)
            stopOnMaster()
        }
        // What its tasks committed before the end is complete now.
        try tracker.ingest()
        let code = exitCode() ?? status.flatMap { $0 >= 0 ? $0 : nil }
        return SparkExit(code: code, signal: status.flatMap { $0 < 0 ? -$0 : nil })
    }

    /// Waits until no process of `group` (signalled to stop) is left: SIGKILL after `stopGrace`,
    /// then at most 5 s more.
    static func awaitGroupEnd(_ group: pid_t) {
        let deadline = Date().addingTimeInterval(stopGrace)
        while SparkProcesses.isRunning(group: group) && Date() < deadline { usleep(50_000) }
        if SparkProcesses.isRunning(group: group) { kill(-group, SIGKILL) }
        let killed = Date().addingTimeInterval(5)
        while SparkProcesses.isRunning(group: group) && Date() < killed { usleep(50_000) }
    }

    /// The exit code the wrapper wrote, if it has.
    func exitCode() -> Int32? {
        guard let text = try? String(contentsOfFile: file("exit-code"), encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The command line and environment (docs/spark.md), with the context written.
    private func prepare(_ secrets: SecretMask) throws(StageError) -> (argv: [String], env: [String: String]) {
        guard let module = SparkModule.path else {
            throw StageError("ledgerflow_spark.py is missing next to the ledgerflow binary (the Executors resources); reinstall ledgerflow, or set LEDGERFLOW_SPARK_MODULE to its path")
        }
        let submit = SparkTools.sparkSubmit()
        guard let submit else {
            throw StageError("spark-submit was not found (looked in $SPARK_HOME/bin and PATH); install Spark or pyspark (pip install pyspark), or set SPARK_HOME")
        }
        guard FileManager.default.fileExists(atPath: application) else {
            throw StageError("spark stage '\(ctx.stage)': application \(application) does not exist; check the stage's application path (relative to the project folder)")
        }
        let context = try SparkContextFile(submission: self).write()
        var argv = [submit, "--master", settings.masterURL, "--name", key, "--deploy-mode", "client"]
        if let c = mainClass { argv += ["--class", c] }
        var pyFiles = [module] + settings.pyFiles.map { ctx.resolve(ctx.substitute($0)) }
        for p in pyFiles.dropFirst() where !FileManager.default.fileExists(atPath: p) {
            throw StageError("spark stage '\(ctx.stage)': py_files entry \(p) does not exist; check the path (relative to the project folder)")
        }
        pyFiles = pyFiles.filter { $0 != application }
        if !application.hasSuffix(".jar") { argv += ["--py-files", pyFiles.joined(separator: ",")] }
        if let m = settings.driverMemory { argv += ["--driver-memory", m] }
        if let m = settings.executorMemory { argv += ["--executor-memory", m] }
        // A prediction file appears whole when its task commits (not when the job does).
        var conf: [(String, String)] = [("spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version", "2")]
        // A local master's driver serves its tasks on this machine only: it listens on loopback.
        if settings.masterURL.hasPrefix("local") { conf += [("spark.driver.host", "127.0.0.1"), ("spark.driver.bindAddress", "127.0.0.1")] }
        for c in settings.conf { conf.append((c.key, ctx.substitute(c.value.stringValue ?? Table.text(c.value)))) }
        // The stage's own setting wins over ours.
        let last = Dictionary(conf.map { ($0.0, $0.1) }, uniquingKeysWith: { _, new in new })
        var seen = Set<String>()
        for (k, _) in conf where seen.insert(k).inserted { argv += ["--conf", "\(k)=\(last[k]!)"] }
        argv.append(application)
        argv += args

        var env = try ScriptExecutor.environment(ctx, settings.env, inputs: stage.inputs, report: file("report.json"))
        env["LEDGERFLOW_PROJECT"] = ctx.root
        env["LEDGERFLOW_CONTEXT"] = context.context
        env["DAGSTER_PIPES_CONTEXT"] = PipesBootstrap.encode(path: context.pipes)
        env["DAGSTER_PIPES_MESSAGES"] = PipesBootstrap.encode(path: file("messages.jsonl"))
        let moduleFolder = (module as NSString).deletingLastPathComponent
        env["PYTHONPATH"] = [moduleFolder, env["PYTHONPATH"]].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ":")
        if env["PYSPARK_PYTHON"] == nil { env["PYSPARK_PYTHON"] = "python3" }
        if settings.masterURL.hasPrefix("local") && env["SPARK_LOCAL_IP"] == nil { env["SPARK_LOCAL_IP"] = "127.0.0.1" }
        // No __pycache__ beside the shipped module (it lives next to the binary).
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return (argv, env)
    }

    /// The attempt's result from its exit, its messages and its report.
    private func finish(_ exit: SparkExit, _ tracker: PredictionFiles, _ secrets: SecretMask, reattached: Bool, endRecorded: Bool) throws(StageError) -> SparkOutcome {
        for log in ["stdout.log", "stderr.log"] { SparkLogs.mask(file(log), secrets) }
        var outcome = SparkOutcome()
        outcome.reattached = reattached
        outcome.predictions = tracker.total
        let messages = PipesMessages.read(file("messages.jsonl"))
        SparkLogs.append(messages.logs, to: file("stdout.log"), secrets)
        outcome.appID = messages.appID ?? SparkLogs.applicationID(in: file("stderr.log")) ?? (try? masterClient()?.app(named: key))??.id
        let cancelled = ctx.cancellation.reason
        var failure: String?
        if cancelled == nil {
            if let e = messages.exception {
                failure = "the Spark application \(key) failed: \(e)"
            } else if exit.code != 0 || exit.signal != nil {
                let what = exit.code.map { "exited with code \($0)" } ?? exit.signal.map { "was killed by signal \($0)" } ?? "ended without an exit code"
                let last = SparkLogs.lastError(in: file("stderr.log")).map { "; \($0)" } ?? ""
                failure = "spark-submit of \(key) \(what)\(last)"
            }
        }
        let state = cancelled != nil ? "KILLED" : failure == nil ? "FINISHED" : exit.code == nil ? "LOST" : "FAILED"
        if !endRecorded, let recorder = ctx.recorder {
            let ended = ApplicationEnded(key: key, state: state, exitCode: exit.code.map(Int.init), appID: outcome.appID,
                                         reattached: reattached ? true : nil, error: failure.map { secrets.mask($0) } ?? cancelled)
            // Best effort: the stage's outcome is what counts; this says how the application ended.
            try? recorder.record([StreamAppend(stream: stream, expectedVersion: .any, events: [ended.event(causation: ctx.startedSeq, correlation: ctx.correlation)])])
        }
        if let cancelled { throw StageError.stopped(cancelled, "the Spark application \(key)") }
        if let failure { throw StageError(failure) }
        outcome.datasets = try messages.datasets.map { d throws(StageError) in try d.written(ctx) }
        outcome.metrics = messages.metrics
        outcome.outputs = messages.outputs
        if FileManager.default.fileExists(atPath: file("report.json")) {
            let report = try ScriptExecutor.parseReport(file("report.json"), ctx: ctx, secrets: secrets)
            outcome.datasets += report.datasets
            outcome.reportPredictions = report.predictions
            for m in report.outputs?.objectMembers ?? [] where m.key != "predictions" {
                if m.key == "metrics" { outcome.metrics = outcome.metrics.map { $0.merging(m.value) } ?? m.value } else { outcome.outputs.append((m.key, m.value)) }
            }
        }
        return outcome
    }

    /// On a standalone cluster, a stopped application goes too should the master still run it
    /// (its driver ended without telling it).
    func stopOnMaster() {
        if let master = masterClient(), let app = try? master.app(named: key), !app.state.hasEnded {
            _ = try? master.kill(appID: app.id)
        }
    }

    /// The standalone master's client, when the stage runs on one.
    func masterClient() -> SparkMaster? {
        settings.webUI.flatMap(URL.init(string:)).map { SparkMaster(webURL: $0, timeout: 5) }
    }

    func decode<E: DomainEvent>(_ e: RecordedEvent, _ type: E.Type) throws(StageError) -> E {
        do throws(DecodingFailure) { return try e.decode(type) } catch { throw StageError("\(stream): \(error)") }
    }
}

/// How spark-submit ended: its exit code (from the wrapper, or from waiting for it), or the signal
/// that killed the wrapper.
struct SparkExit {
    var code: Int32?
    var signal: Int32?
}

/// What an application reported, once it ended well.
struct SparkOutcome {
    var datasets: [WrittenDataset] = []
    var metrics: Value?
    var outputs: [(String, Value)] = []
    /// Predictions recorded from its files while it ran (and at its end).
    var predictions = 0
    /// Small predictions given inline in `report.json` (the script contract): recorded with the outcome.
    var reportPredictions: [Value] = []
    var appID: String?
    var reattached = false

    /// The outputs a spark stage records: the application (key, id, whether reattached), what it
    /// reported, and how many predictions it recorded.
    func stageOutputs(key: String, master: String) -> Value {
        var app: [(String, Value)] = [("key", .string(key)), ("master", .string(master))]
        if let appID { app.append(("id", .string(appID))) }
        if reattached { app.append(("reattached", .bool(true))) }
        var o: [(String, Value)] = [("application", .object(app))]
        if let metrics { o.append(("metrics", metrics)) }
        o += outputs
        if predictions > 0 || !reportPredictions.isEmpty { o.append(("predictions", .int(Int64(predictions + reportPredictions.count)))) }
        return .object(o)
    }
}

extension Value {
    /// An object with `other`'s members added (other's win).
    func merging(_ other: Value) -> Value {
        var members = (objectMembers ?? []).map { ($0.key, $0.value) }
        for m in other.objectMembers ?? [] {
            if let i = members.firstIndex(where: { $0.0 == m.key }) { members[i].1 = m.value } else { members.append((m.key, m.value)) }
        }
        return .object(members)
    }
}
