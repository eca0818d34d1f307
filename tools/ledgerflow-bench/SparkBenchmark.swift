import Domain
import EventLog
import Executors
import Foundation
import ML
#if canImport(Glibc)
import Glibc
#endif

/// `ledgerflow-bench spark`: score N rows (default 10,000,000) with the logistic churn model
/// (standard-scaled features, trained in process on 50,000 rows), every prediction recorded as a
/// `PredictionRecorded` event, three ways through the release `ledgerflow` binary: in process,
/// with `engine: spark` on `local[2]`, and on a two-process standalone cluster (a master and one
/// worker with both cores) started on 127.0.0.1. Each run's time is its duration in the log
/// (RunRequested to its end). Also: the submission overhead (the `ApplicationSubmitted` event to
/// the first task's launch in Spark's event log), and the log's share: how long the log alone
/// takes to append the same number of already-built prediction events, against each run's time.
enum SparkBenchmark {
    struct Figure {
        var name: String
        var seconds: Double
        var predictions: Int64
        var submissionSeconds: Double?
        var rowsPerSecond: Double { Double(predictions) / seconds }
    }

    static func run(_ o: Options) throws {
        let rows = max(1_000, try o.int("rows", default: 10_000_000))
        let base = o.string("dir") ?? FileManager.default.temporaryDirectory.path
        let binary = try o.string("ledgerflow") ?? ServiceBenchmark.ledgerflowNextToBench()
        guard let submit = SparkTools.sparkSubmit() else { throw BenchError("spark-submit is not on PATH; run `make test-deps` (pyspark and a Java runtime)") }
        let sparkBin = (submit as NSString).deletingLastPathComponent
        let project = base + "/lf-bench-spark-\(UUID().uuidString)"
        defer { if ProcessInfo.processInfo.environment["LEDGERFLOW_BENCH_KEEP"] == nil { try? FileManager.default.removeItem(atPath: project) } }
        try FileManager.default.createDirectory(atPath: project + "/data", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: project + "/eventlog", withIntermediateDirectories: true)
        let t0 = Date()
        try writeRows(project + "/data/train.csv", count: 50_000, seed: 7)
        try writeRows(project + "/data/customers.csv", count: rows, seed: 11)
        let generated = Date().timeIntervalSince(t0)

        let cluster = o.flag("no-cluster") ? nil : try StandaloneCluster(sparkBin: sparkBin, work: project + "/cluster")
        defer { cluster?.stop() }
        try definitions(cluster, project: project).write(toFile: project + "/defs.yaml", atomically: true, encoding: .utf8)
        let cli = CLI(binary: binary, store: project + "/.ledgerflow", work: project)
        try cli.check(["init"])
        try cli.check(["apply", project + "/defs.yaml"])
        try cli.check(["run", "train"])

        var figures: [Figure] = []
        var run = 1
        for (job, name) in [("score_in_process", "in process"), ("score_local", "spark local[2]"), ("score_cluster", "spark standalone (master + 1 worker, 2 cores)")] {
            if job == "score_cluster" && cluster == nil { continue }
            run += 1
            _ = try cli.time(["run", job])
            let status = try json(cli, ["status", String(run), "--json"])
            let stage = status["stages"]?[0]
            let seconds = Double(status["duration_ms"]?.intValue ?? 0) / 1000
            let predictions = stage?["outputs"]?["predictions_recorded"]?.intValue ?? 0
            guard predictions == Int64(rows) else { throw BenchError("\(job) recorded \(predictions) predictions, expected \(rows)") }
            var submission: Double?
            if job != "score_in_process" { submission = try submissionOverhead(cli, run: run, eventlog: project + "/eventlog") }
            figures.append(Figure(name: name, seconds: seconds, predictions: predictions, submissionSeconds: submission))
        }
        let logAlone = try appendAlone(count: rows, base: project)
        report(o, rows: rows, generated: generated, figures: figures, logAlone: logAlone)
    }

    /// The churn rows: id, tenure (months), monthly charges, support calls, and a label drawn from
    /// a known logistic rule.
    static func writeRows(_ path: String, count: Int, seed: UInt64) throws {
        guard let out = FileHandle(forWritingAtPath: path) ?? { FileManager.default.createFile(atPath: path, contents: nil); return FileHandle(forWritingAtPath: path) }() else {
            throw BenchError("cannot write \(path)")
        }
        defer { try? out.close() }
        var rng = ML.SplitMix64(seed: seed)
        var buffer = Array("customer_id,tenure_months,monthly_charges,support_calls,churned\n".utf8)
        buffer.reserveCapacity(1 << 23)
        for i in 1 ... count {
            let tenure = 1 + Int(rng.next() % 72)
            let cents = 2_000 + Int(rng.next() % 10_000)
            let calls = Int(rng.next() % 10)
            let z = -1.0 - 0.04 * Double(tenure) + 0.02 * Double(cents) / 100 + 0.3 * Double(calls)
            let churned = rng.nextUnit() < 1 / (1 + exp(-z)) ? 1 : 0
            buffer += Array("\(i),\(tenure),\(cents / 100).\(String(format: "%02d", cents % 100)),\(calls),\(churned)\n".utf8)
            if buffer.count > 1 << 23 {
                try out.write(contentsOf: buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try out.write(contentsOf: buffer)
    }

    static func definitions(_ cluster: StandaloneCluster?, project: String) -> String {
        let eventLog = "{spark.eventLog.enabled: \"true\", spark.eventLog.dir: \"file://\(project)/eventlog\"}"
        func sparkStage(_ settings: String) -> String {
            "[{name: score, type: inference, model: churn@production, entity_key: customer_id, inputs: [customers], engine: spark, spark: \(settings)}]"
        }
        var text = """
        kind: source
        name: train_rows
        type: csv
        path: data/train.csv
        ---
        kind: source
        name: customers
        type: csv
        path: data/customers.csv
        ---
        kind: features
        name: churn_features
        steps:
          - {op: standard_scale, columns: [tenure_months, monthly_charges, support_calls]}
        ---
        kind: model
        name: churn
        type: logistic_regression
        target: churned
        features: churn_features
        training_dataset: train_rows
        feature_columns: [tenure_months, monthly_charges, support_calls]
        aliases: [production]
        ---
        kind: job
        name: train
        stages: [{name: train, type: train, model: churn}]
        ---
        kind: job
        name: score_in_process
        stages: [{name: score, type: inference, model: churn@production, entity_key: customer_id, inputs: [customers]}]
        ---
        kind: job
        name: score_local
        stages: \(sparkStage("{master: \"local[2]\", driver_memory: 2g, conf: \(eventLog)}"))

        """
        if let cluster {
            text += """
            ---
            kind: job
            name: score_cluster
            stages: \(sparkStage("{master: \"\(cluster.masterURL)\", master_ui: \"\(cluster.webURL)\", driver_memory: 2g, executor_memory: 2g, conf: \(eventLog)}"))

            """
        }
        return text
    }

    static func json(_ cli: CLI, _ args: [String]) throws -> Value {
        let out = (cli.work as NSString).appendingPathComponent("json.log")
        try? FileManager.default.removeItem(atPath: out)
        let c = try cli.spawn(args, output: "json")
        guard c.wait() == 0 else { throw BenchError("ledgerflow \(args.joined(separator: " ")) failed: \(cli.tail("json"))") }
        let text = cli.lines("json").joined(separator: "\n")
        guard let start = text.firstIndex(where: { $0 == "{" || $0 == "[" }) else { throw BenchError("ledgerflow \(args.joined(separator: " ")) printed no JSON") }
        return try Value(json: String(text[start...]))
    }

    /// From the attempt's `ApplicationSubmitted` (recorded just before spark-submit starts) to the
    /// first task's launch in the application's Spark event log.
    static func submissionOverhead(_ cli: CLI, run: Int, eventlog: String) throws -> Double? {
        let key = ApplicationEvents.key(run: String(run), stage: "score", attempt: 1)
        let c = try cli.spawn(["events", "--stream", ApplicationEvents.stream(key: key), "--json"], output: "events-\(run)")
        _ = c.wait()
        guard let first = cli.lines("events-\(run)").first(where: { $0.contains("ApplicationSubmitted") }),
              let recorded = try Value(json: first)["recordedAt"]?.stringValue else { return nil }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let submitted = f.date(from: recorded) else { return nil }
        // The event log of the application named by the key (Spark names the file by the app id).
        let logs = (try? FileManager.default.contentsOfDirectory(atPath: eventlog)) ?? []
        for name in logs {
            guard let data = FileManager.default.contents(atPath: eventlog + "/" + name) else { continue }
            let text = String(decoding: data, as: UTF8.self)
            guard text.contains("\"App Name\":\"\(key)\"") else { continue }
            for line in text.split(separator: "\n") where line.contains("\"Event\":\"SparkListenerTaskStart\"") {
                if let launch = try Value(json: String(line))["Task Info"]?["Launch Time"]?.intValue {
                    return Double(launch) / 1000 - submitted.timeIntervalSince1970
                }
            }
        }
        return nil
    }

    /// The log alone: `count` prediction events, built beforehand, appended to a fresh durable
    /// store in the inference stage's batches.
    static func appendAlone(count: Int, base: String) throws -> Double {
        let dir = base + "/append-alone"
        let log = try EventLog.create(at: dir)
        defer {
            log.close()
            try? FileManager.default.removeItem(atPath: dir)
        }
        var elapsed = 0.0
        var i = 0
        while i < count {
            let end = min(count, i + InferenceExecutor.batchSize)
            var events: [NewEvent] = []
            events.reserveCapacity(end - i)
            for n in i ..< end {
                let label = Value.int(Int64(n % 2)), probability = Value.double(Double(n % 997) / 997)
                let outputs = Value.object([("churn_label", label), ("churn_probability", probability)])
                let p = PredictionRecorded(run: "2", stage: "score", attempt: 1, model: "churn", modelVersion: 1, entity: String(n + 1), outputs: outputs)
                events.append(p.event())
            }
            let t = Date()
            try log.append(events, to: "predictions/2", actor: "bench")
            elapsed += Date().timeIntervalSince(t)
            i = end
        }
        return elapsed
    }

    static func report(_ o: Options, rows: Int, generated: Double, figures: [Figure], logAlone: Double) {
        let inProcess = figures.first
        if o.flag("json") {
            print(Value.object([
                ("rows", .int(Int64(rows))), ("log_alone_s", .double(logAlone)),
                ("runs", .array(figures.map { f in
                    .object([("engine", .string(f.name)), ("seconds", .double(f.seconds)), ("rows_per_s", .double(f.rowsPerSecond.rounded())),
                             ("vs_in_process", .double(inProcess.map { f.rowsPerSecond / $0.rowsPerSecond } ?? 1)),
                             ("submission_to_first_task_s", f.submissionSeconds.map(Value.double) ?? .null),
                             ("log_share", .double(logAlone / f.seconds))])
                })),
            ]).jsonString)
            return
        }
        print("spark benchmark: \(rows) rows scored with the logistic churn model, every prediction recorded (durable store, release build)")
        print(String(format: "  data generated in %.1f s; the log alone appends %d prediction events in %.1f s (%.0f/s)", generated, rows, logAlone, Double(rows) / logAlone))
        for f in figures {
            let ratio = inProcess.map { f.rowsPerSecond / $0.rowsPerSecond } ?? 1
            let submit = f.submissionSeconds.map { String(format: "; spark-submit to first task %.1f s", $0) } ?? ""
            let name = f.name.padding(toLength: 46, withPad: " ", startingAt: 0)
            print("  \(name)" + String(format: " %7.1f s  %10.0f rows/s (%.2f× in process); log's share %.0f%%", f.seconds, f.rowsPerSecond, ratio,
                                               100 * logAlone / f.seconds) + submit)
        }
    }
}

/// A standalone cluster for the benchmark: a master and one worker (both cores) on 127.0.0.1,
/// started with pyspark's `spark-class`, stopped with their process groups.
final class StandaloneCluster {
    let masterURL: String
    let webURL: String
    private var pids: [pid_t] = []

    init(sparkBin: String, work: String) throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let port = try Self.freePort(), web = try Self.freePort(), workerWeb = try Self.freePort()
        masterURL = "spark://127.0.0.1:\(port)"
        webURL = "http://127.0.0.1:\(web)"
        let sparkClass = (sparkBin as NSString).appendingPathComponent("spark-class")
        pids.append(try Self.start([sparkClass, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", String(port), "--webui-port", String(web)],
                                   log: work + "/master.log"))
        pids.append(try Self.start([sparkClass, "org.apache.spark.deploy.worker.Worker", masterURL, "--host", "127.0.0.1", "--cores", "2", "--memory", "4g",
                                    "--webui-port", String(workerWeb), "--work-dir", work + "/worker"], log: work + "/worker.log"))
        let master = SparkMaster(webURL: URL(string: webURL)!)
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if let s = try? master.status(), !s.aliveWorkers.isEmpty { return }
            usleep(200_000)
        }
        stop()
        throw BenchError("the standalone cluster did not come up within 120 s; see \(work)/master.log and worker.log")
    }

    func stop() {
        for p in pids { kill(-p, SIGTERM) }
        usleep(500_000)
        for p in pids { kill(-p, SIGKILL) }
        pids = []
    }

    static func start(_ argv: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attr, 0)
        var env = ProcessInfo.processInfo.environment
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
        let cargs = argv.map { strdup($0) } + [nil]
        let cenv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for a in cargs + cenv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attr, cargs, cenv)
        guard rc == 0 else { throw BenchError("could not start \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 } }
        guard bound else { throw BenchError("no free port on 127.0.0.1") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
