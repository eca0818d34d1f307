import Domain
import Executors
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// spark stages through the binary, on a real `spark-submit` (`local[2]`): the submission is an
/// event before the application starts, an engine killed during a Spark attempt is followed by
/// one that reattaches (no second application, the outcome recorded once), and a timeout stops
/// the driver's whole process group.
/// The suites that run Spark applications, one at a time (each starts JVMs: on a 2-core machine
/// several at once starve the other tests).
@Suite(.serialized) enum SparkEndToEnd {}

extension SparkEndToEnd {
@Suite(.serialized) struct SparkCLITests {
    /// spark-submit, or a failure saying how to install it.
    static func requireSpark() throws {
        _ = try SparkInstall.sparkSubmit()
    }

    /// An application that notes each driver start in `starts.txt` (its pid), runs a small job,
    /// then waits until `release` exists (or `limit` seconds), and reports a metric.
    static let waitingApp = """
    import json, os, sys, time
    from pyspark.sql import SparkSession
    with open("starts.txt", "a") as f:
        f.write("%d %s\\n" % (os.getpid(), os.environ["LEDGERFLOW_ATTEMPT"]))
    spark = SparkSession.builder.getOrCreate()
    n = spark.range(1000).count()
    limit = float(sys.argv[1]) if len(sys.argv) > 1 else 120
    t0 = time.time()
    while not os.path.exists("release") and time.time() - t0 < limit:
        time.sleep(0.1)
    json.dump({"metrics": {"rows": n}}, open(os.environ["LEDGERFLOW_REPORT"], "w"))
    spark.stop()
    """

    /// Job `wait`: one spark stage running `waitingApp` on `local[2]`, with `settings` (retry, timeout).
    static func waitingJob(_ settings: String) throws -> RunCLITests.Project {
        try RunCLITests.Project("""
        kind: job
        name: wait
        stages:
          - {name: app, type: spark, application: jobs/wait.py, master: "local[2]", \(settings)}
        """, files: ["jobs/wait.py": waitingApp])
    }

    static func events(_ p: RunCLITests.Project, stream: String) throws -> [Value] {
        try p.lf(["events", "--stream", stream, "--json"]).stdout.split(separator: "\n").map { try Value(json: String($0)) }
    }

    @Test(.timeLimit(.minutes(3))) func aSparkStageRunsItsApplicationAndRecordsTheSubmissionFirst() throws {
        try Self.requireSpark()
        let p = try RunCLITests.Project("""
        kind: job
        name: spark
        parameters: {day: {type: date, default: "2026-01-01"}}
        stages:
          - name: count
            type: spark
            application: jobs/count.py
            args: ["--day", "${params.day}", "${run.id}"]
            master: local[2]
            conf: {spark.sql.shuffle.partitions: 2}
            driver_memory: 512m
        """, files: ["jobs/count.py": """
        import json, os, sys
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.getOrCreate()
        ctx = json.load(open(os.environ["LEDGERFLOW_CONTEXT"]))
        n = spark.range(100000).selectExpr("sum(id) as s").collect()[0]["s"]
        print("args", sys.argv[1:], "partitions", spark.conf.get("spark.sql.shuffle.partitions"), flush=True)
        json.dump({"metrics": {"sum": n}, "outputs": {"day": sys.argv[2], "run": sys.argv[3], "key": ctx["idempotency_key"],
                   "param": ctx["parameters"]["day"]}}, open(os.environ["LEDGERFLOW_REPORT"], "w"))
        spark.stop()
        """])
        let ran = try p.lf(["run", "spark", "--param", "day=2026-02-28"])
        #expect(ran.status == 0, "\(ran.stdout) \(ran.stderr)")
        let status = try p.status("1")
        let outputs = try #require(status["stages"]?.arrayValue?.first?["outputs"])
        #expect(outputs["metrics"]?["sum"] == .int(4_999_950_000))
        #expect(outputs["day"] == "2026-02-28" && outputs["run"] == "1" && outputs["key"] == "run1-count-a1" && outputs["param"] == "2026-02-28", "\(outputs)")
        #expect(outputs["application"]?["key"] == "run1-count-a1" && outputs["application"]?["master"] == "local[2]")
        let logs = try p.lf(["logs", "1", "count"])
        #expect(logs.stdout.contains("args ['--day', '2026-02-28', '1'] partitions 2"), "\(logs.stdout)")
        // The submission is on record before the application could start, and how it ended after.
        let app = try Self.events(p, stream: "application/run1-count-a1")
        #expect(app.map { $0["type"]?.stringValue } == ["ApplicationSubmitted", "ApplicationEnded"])
        let command = app.first?["payload"]?["command"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(command.contains("--driver-memory") && command.contains("spark.sql.shuffle.partitions=2") && command.contains("run1-count-a1"), "\(command)")
        #expect(app.last?["payload"]?["state"] == "FINISHED" && app.last?["payload"]?["exit_code"] == .int(0))
        let run = try Self.events(p, stream: "run/1")
        let started = try #require(run.first { $0["type"] == "StageStarted" }?["seq"]?.intValue)
        let succeeded = try #require(run.first { $0["type"] == "StageSucceeded" }?["seq"]?.intValue)
        let submitted = try #require(app.first?["seq"]?.intValue)
        #expect(started < submitted && submitted < succeeded)
    }

    /// An application on `ledgerflow_spark`: it reads its input (CSV, partitioned folders) by
    /// name, writes JSON Lines partitioned by region and Parquet in the lake layout, records a
    /// prediction per customer — in the log while the application still runs — and reports
    /// metrics; an etl stage in process reads the JSON Lines it wrote, and a second spark stage the
    /// Parquet.
    @Test(.timeLimit(.minutes(4))) func theModuleReadsWritesAndRecordsPredictionsWhileTheApplicationRuns() throws {
        try Self.requireSpark()
        var rows = ["customer_id,amount"]
        for i in 0 ..< 400 { rows.append("C\(i % 100),\(Double(i % 37) + 0.5)") }
        let p = try RunCLITests.Project("""
        kind: source
        name: transactions
        type: csv
        path: lake/transactions
        ---
        kind: output
        name: spend
        type: jsonl
        path: out/spend
        partition_by: [region]
        ---
        kind: output
        name: spend_parquet
        type: parquet
        path: out/spend_parquet
        ---
        kind: output
        name: spend_copy
        type: sqlite
        database: out/copy.sqlite
        table: spend
        mode: replace
        ---
        kind: job
        name: spend
        stages:
          - {name: aggregate, type: spark, application: jobs/spend.py, master: "local[2]", inputs: [transactions], outputs: [spend, spend_parquet],
             conf: {spark.sql.shuffle.partitions: 4}}
          - {name: copy, type: etl, after: [aggregate], inputs: [spend], destination: spend_copy}
          - {name: count, type: spark, after: [aggregate], application: jobs/count.py, master: "local[1]", inputs: [spend_parquet]}
        """, files: [
            "lake/transactions/day=1/part-0.csv": rows.prefix(201).joined(separator: "\n") + "\n",
            "lake/transactions/day=2/part-0.csv": ([rows[0]] + rows.suffix(200)).joined(separator: "\n") + "\n",
            "jobs/spend.py": """
            import os, time
            import ledgerflow_spark as lf
            from pyspark.sql import SparkSession, functions as F
            spark = SparkSession.builder.getOrCreate()
            tx = lf.read(spark, "transactions")
            spend = tx.groupBy("customer_id").agg(F.sum("amount").alias("spend"), F.count("*").alias("n"))
            spend = spend.withColumn("region", F.when(F.substring("customer_id", 2, 1) < "5", "north").otherwise("south"))
            lf.write(spend, "spend")
            lf.write(spend, "spend_parquet")
            scored = spend.withColumn("risk", (F.col("spend") > 70).cast("int"))
            lf.record_predictions(scored.repartition(3), entity="customer_id", outputs=["risk"], inputs=["spend"], model="spend_rule", model_version=1)
            while not os.path.exists("release"):
                time.sleep(0.1)
            lf.report_metrics({"customers": spend.count(), "transactions": tx.count()})
            spark.stop()
            """,
            "jobs/count.py": """
            import ledgerflow_spark as lf
            from pyspark.sql import SparkSession
            spark = SparkSession.builder.getOrCreate()
            lf.report_outputs({"parquet_rows": lf.read(spark, "spend_parquet").count()})
            spark.stop()
            """,
        ])
        let engine = try p.startEngine()
        defer { engine.stop() }
        #expect(try p.lf(["run", "spend", "--detach"]).status == 0)
        // The predictions are events while the application still runs (it waits for `release`).
        var recorded = 0
        try waitFor("the predictions to be recorded while the application runs (\(recorded) so far)", timeout: 180) {
            recorded = try Self.events(p, stream: "predictions/1").count
            return recorded == 100
        }
        #expect(try p.status("1")["stages"]?.arrayValue?.first?["status"] == "running")
        let parts = try Self.events(p, stream: "application/run1-aggregate-a1").filter { $0["type"] == "ApplicationOutputRecorded" }
        #expect(!parts.isEmpty && parts.compactMap { $0["payload"]?["predictions"]?.intValue }.reduce(0, +) == 100, "\(parts)")
        FileManager.default.createFile(atPath: p.root + "/release", contents: Data())
        try waitFor("run 1 to end", timeout: 180) { ["succeeded", "failed"].contains(try p.status("1")["status"]?.stringValue ?? "") }
        let stages = try #require(try p.status("1")["stages"]?.arrayValue)
        #expect(stages.map { $0["status"] } == ["succeeded", "succeeded", "succeeded"], "\(stages)")
        let aggregate = stages[0]
        #expect(aggregate["outputs"]?["metrics"]?["customers"] == .int(100) && aggregate["outputs"]?["metrics"]?["transactions"] == .int(400), "\(aggregate)")
        #expect(aggregate["outputs"]?["predictions"] == .int(100))
        let written = aggregate["datasets"]?.arrayValue ?? []
        #expect(Set(written.compactMap { $0["dataset"]?.stringValue }) == ["spend", "spend_parquet"], "\(written)")
        #expect(written.allSatisfy { $0["rows"] == .int(100) }, "\(written)")
        #expect(stages[1]["datasets"]?.arrayValue?.first?["rows"] == .int(100), "the etl stage read what Spark wrote: \(stages[1])")
        #expect(stages[2]["outputs"]?["parquet_rows"] == .int(100), "\(stages[2])")
        let regions = (try? FileManager.default.contentsOfDirectory(atPath: p.root + "/out/spend"))?.filter { !$0.hasPrefix(".") }.sorted()
        #expect(regions == ["region=north", "region=south"], "\(String(describing: regions))")
        let prediction = try #require(try Self.events(p, stream: "predictions/1").first?["payload"])
        #expect(prediction["model"] == "spend_rule" && prediction["model_version"] == .int(1) && prediction["outputs"]?["risk"] != nil && prediction["inputs"]?["spend"] != nil, "\(prediction)")
    }

    /// An application written for Dagster Pipes (the real `dagster-pipes` package) reports
    /// through the channel ledgerflow opens: its materialization is a dataset version, its log
    /// line is kept, its custom message a metric.
    @Test(.timeLimit(.minutes(3))) func aDagsterPipesApplicationReportsThroughThePipesChannel() throws {
        try Self.requireSpark()
        guard (try? run("/usr/bin/env", ["python3", "-c", "import dagster_pipes"]))?.status == 0 else {
            Issue.record("the dagster-pipes package is missing: run `make test-deps`")
            return
        }
        let p = try RunCLITests.Project("""
        kind: output
        name: pipes_rows
        type: jsonl
        path: out/pipes_rows
        ---
        kind: job
        name: pipes
        stages:
          - {name: p, type: spark, application: jobs/pipes_app.py, master: "local[1]", outputs: [pipes_rows]}
        """, files: ["jobs/pipes_app.py": """
        import os
        from dagster_pipes import open_dagster_pipes
        from pyspark.sql import SparkSession
        with open_dagster_pipes() as pipes:
            spark = SparkSession.builder.getOrCreate()
            df = spark.createDataFrame([(1, "a"), (2, "b"), (3, "c")], ["id", "name"])
            path = os.path.join(os.environ["LEDGERFLOW_PROJECT"], "out", "pipes_rows")
            df.coalesce(1).write.mode("overwrite").json(path)
            pipes.log.info("wrote %d rows for run %s" % (df.count(), pipes.run_id))
            pipes.report_asset_materialization(asset_key="pipes_rows", metadata={"location": {"raw_value": path, "type": "path"}, "format": "json", "rows": df.count()})
            pipes.report_custom_message({"ledgerflow": "metrics", "values": {"rows": 3}})
            spark.stop()
        """])
        let ran = try p.lf(["run", "pipes"])
        #expect(ran.status == 0, "\(ran.stdout) \(ran.stderr)")
        let stage = try #require(try p.status("1")["stages"]?.arrayValue?.first)
        #expect(stage["outputs"]?["metrics"]?["rows"] == .int(3), "\(stage)")
        let dataset = stage["datasets"]?.arrayValue?.first
        #expect(dataset?["dataset"] == "pipes_rows" && dataset?["rows"] == .int(3), "\(stage)")
        #expect(try p.lf(["logs", "1", "p"]).stdout.contains("[pipes INFO] wrote 3 rows for run 1"))
    }

    /// The engine is killed (SIGKILL) while its Spark application runs. The next engine finds the
    /// submission in the log and the driver still running: it reattaches instead of submitting
    /// again, and records the outcome once — one driver start in all, one attempt.
    @Test(.timeLimit(.minutes(4))) func anEngineKilledDuringASparkAttemptIsFollowedWithoutASecondApplication() throws {
        try Self.requireSpark()
        let p = try Self.waitingJob("retry: {attempts: 3}")
        let requested = try p.lf(["run", "wait", "--detach"])
        #expect(requested.status == 0, "\(requested.stderr)")
        let engine = try p.startEngine()
        defer { engine.stop() }
        try waitFor("the driver to start", timeout: 120) { (try? String(contentsOfFile: p.root + "/starts.txt", encoding: .utf8))?.isEmpty == false }
        engine.signal(SIGKILL)
        _ = try engine.finish()
        // The driver outlives the engine: release it once a new engine has reattached.
        let second = try p.startEngine()
        defer { second.stop() }
        try waitFor("the new engine to reattach", timeout: 60) { second.stderr.contains("reattached, not submitted again") }
        FileManager.default.createFile(atPath: p.root + "/release", contents: Data())
        try waitFor("run 1 to succeed", timeout: 120) { try p.status("1")["status"] == "succeeded" }
        let starts = (try String(contentsOfFile: p.root + "/starts.txt", encoding: .utf8)).split(separator: "\n")
        #expect(starts.count == 1, "the application ran once: \(starts)")
        let stage = try #require(try p.status("1")["stages"]?.arrayValue?.first)
        #expect(stage["attempts"]?.arrayValue?.count == 1, "\(stage)")
        #expect(stage["outputs"]?["metrics"]?["rows"] == .int(1000))
        #expect(stage["outputs"]?["application"]?["reattached"] == .bool(true))
        let app = try Self.events(p, stream: "application/run1-app-a1")
        #expect(app.map { $0["type"]?.stringValue } == ["ApplicationSubmitted", "ApplicationEnded"])
        #expect(app.last?["payload"]?["reattached"] == .bool(true))
    }

    /// The engine and the driver are both killed: the next engine finds the submission but no
    /// application — the attempt is recorded as interrupted and the retry runs a new one, never
    /// beside the old.
    @Test(.timeLimit(.minutes(4))) func aLostApplicationIsInterruptedAndRetriedOnce() throws {
        try Self.requireSpark()
        let p = try Self.waitingJob("retry: {attempts: 2, backoff: 0s}")
        let engine = try p.startEngine()
        #expect(try p.lf(["run", "wait", "--detach"]).status == 0)
        try waitFor("the driver to start", timeout: 120) { (try? String(contentsOfFile: p.root + "/starts.txt", encoding: .utf8))?.isEmpty == false }
        engine.signal(SIGKILL)
        _ = try engine.finish()
        let folder = p.store + "/runs/1/app/1"
        let group = try #require(pidOf(recordIn: folder))
        kill(-group, SIGKILL)
        try waitFor("the driver to be gone", timeout: 30) { liveProcesses(inGroup: group).isEmpty }
        // The retry's driver may finish at once.
        FileManager.default.createFile(atPath: p.root + "/release", contents: Data())
        let once = try p.lf(["work", "--once"])
        #expect(once.stderr.contains("is gone (no driver process, no exit code): the attempt is interrupted"), "\(once.stderr)")
        let status = try p.status("1")
        #expect(status["status"] == "succeeded", "\(status)")
        let attempts = status["stages"]?.arrayValue?.first?["attempts"]?.arrayValue ?? []
        #expect(attempts.count == 2, "\(attempts)")
        #expect(attempts.first?["reason"] == "interrupted", "\(attempts)")
        let starts = (try String(contentsOfFile: p.root + "/starts.txt", encoding: .utf8)).split(separator: "\n").map { $0.split(separator: " ").last.map(String.init) }
        #expect(starts == ["1", "2"], "one driver per attempt: \(starts)")
        #expect(try Self.events(p, stream: "application/run1-app-a1").map { $0["type"]?.stringValue } == ["ApplicationSubmitted"])
        #expect(try Self.events(p, stream: "application/run1-app-a2").map { $0["type"]?.stringValue } == ["ApplicationSubmitted", "ApplicationEnded"])
    }

    /// A timeout stops the driver's whole process group (the JVM and the Python driver): no
    /// process of the attempt is left, and the application's end is recorded as KILLED.
    @Test(.timeLimit(.minutes(3))) func aTimeoutKillsTheDriverAndRecordsTheApplicationKilled() throws {
        try Self.requireSpark()
        let p = try Self.waitingJob("timeout: 20s")
        let ran = try p.lf(["run", "wait"])
        #expect(ran.status == 1, "\(ran.stdout) \(ran.stderr)")
        let stage = try #require(try p.status("1")["stages"]?.arrayValue?.first)
        let attempt = stage["attempts"]?.arrayValue?.last
        #expect(attempt?["reason"] == "timeout", "\(stage)")
        #expect(AttemptProcesses.leftovers(in: [p.store + "/runs/1/app/1"]).isEmpty, "no process of the attempt is left")
        let app = try Self.events(p, stream: "application/run1-app-a1")
        #expect(app.last?["payload"]?["state"] == "KILLED", "\(app)")
    }

    /// On a standalone cluster started by the test (a master and a worker on 127.0.0.1): the
    /// application runs under its idempotency key as its name, its id on the cluster is recorded,
    /// and cancelling a run ends its application on the master too.
    @Test(.timeLimit(.minutes(6))) func onAStandaloneClusterTheApplicationIsNamedByItsKeyAndCancelEndsIt() throws {
        try Self.requireSpark()
        let folder = TemporaryDirectory()
        let cluster = try SparkCluster(folder: folder.path)
        defer { cluster.stop() }
        let p = try RunCLITests.Project("""
        kind: job
        name: wait
        stages:
          - name: app
            type: spark
            application: jobs/wait.py
            master: \(cluster.masterURL)
            master_ui: \(cluster.webURL.absoluteString)
            executor_memory: 512m
            env: {SPARK_LOCAL_IP: 127.0.0.1}
        """, files: ["jobs/wait.py": Self.waitingApp])
        let engine = try p.startEngine()
        defer { engine.stop() }
        // Run 1 runs to its end on the cluster.
        #expect(try p.lf(["run", "wait", "--detach"]).status == 0)
        try waitFor("the first driver to start", timeout: 120) { (try? String(contentsOfFile: p.root + "/starts.txt", encoding: .utf8))?.isEmpty == false }
        var running: SparkMaster.Application?
        try waitFor("the master to run run1-app-a1", timeout: 120) {
            running = try? cluster.master.app(named: "run1-app-a1")
            return running?.state == .running
        }
        FileManager.default.createFile(atPath: p.root + "/release", contents: Data())
        try waitFor("run 1 to succeed", timeout: 120) { try p.status("1")["status"] == "succeeded" }
        let ended = try Self.events(p, stream: "application/run1-app-a1").last?["payload"]
        #expect(ended?["state"] == "FINISHED" && ended?["app_id"]?.stringValue == running?.id, "\(String(describing: ended)) \(String(describing: running))")
        try waitFor("the master to list run1-app-a1 finished", timeout: 60) { try cluster.master.app(named: "run1-app-a1")?.state == .finished }
        // Run 2 is cancelled while its application runs: the driver stops and the master ends the application.
        try FileManager.default.removeItem(atPath: p.root + "/release")
        #expect(try p.lf(["run", "wait", "--detach"]).status == 0)
        try waitFor("the master to run run2-app-a1", timeout: 120) { try cluster.master.app(named: "run2-app-a1")?.state == .running }
        let cancelled = try p.lf(["cancel", "2"])
        #expect(cancelled.status == 0, "\(cancelled.stderr)")
        try waitFor("run 2 to be cancelled", timeout: 120) { try p.status("2")["status"] == "cancelled" }
        try waitFor("the master to end run2-app-a1", timeout: 60) { try cluster.master.app(named: "run2-app-a1")?.state.hasEnded == true }
        #expect(AttemptProcesses.leftovers(in: [p.store + "/runs/2/app/1"]).isEmpty, "no process of the attempt is left")
        #expect(try Self.events(p, stream: "application/run2-app-a1").last?["payload"]?["state"] == "KILLED")
    }

    /// A predictions file that cannot be recorded fails the attempt at once, naming the file and
    /// line, and the application still running is stopped first (nothing of it is left).
    @Test(.timeLimit(.minutes(3))) func aPredictionsFileThatDoesNotReadStopsTheApplicationAndFailsTheAttempt() throws {
        try Self.requireSpark()
        let p = try RunCLITests.Project("""
        kind: job
        name: bad
        stages:
          - {name: app, type: spark, application: jobs/bad.py, master: "local[1]"}
        """, files: ["jobs/bad.py": """
        import json, os, time
        folder = json.load(open(os.environ["LEDGERFLOW_CONTEXT"]))["predictions"]
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, ".part-0.tmp"), "w") as f:
            f.write('{"entity": "a", "outputs": {"p": 1}}\\nnot json\\n')
        os.rename(os.path.join(folder, ".part-0.tmp"), os.path.join(folder, "part-0.txt"))
        time.sleep(300)
        """])
        let ran = try p.lf(["run", "bad"])
        #expect(ran.status == 1, "\(ran.stdout) \(ran.stderr)")
        let stage = try #require(try p.status("1")["stages"]?.arrayValue?.first)
        #expect(stage["error"]?.stringValue?.contains("predictions/part-0.txt line 2 is not a JSON object") == true, "\(stage)")
        #expect(AttemptProcesses.leftovers(in: [p.store + "/runs/1/app/1"]).isEmpty, "the application was stopped")
        #expect(try Self.events(p, stream: "predictions/1").isEmpty, "nothing of the file was recorded")
    }

    /// The pid recorded in an attempt's `process` file.
    func pidOf(recordIn folder: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: folder + "/process", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("pid ") }.flatMap { pid_t($0.dropFirst(4)) }
    }
}
}
