import Catalog
import Domain
import Engine
import EventLog
import Executors
import Foundation
import Lineage
import Projections
import Runs
#if canImport(Glibc)
import Glibc
#endif

/// `ledgerflow-bench service`: the engine as a service on a long history — how long `ledgerflow
/// work` takes from its start to its first committed step, how much memory it holds, and how long
/// an `evaluate` stage over 10,000 labels takes — on a generated churn history of N events
/// (default 10,000,000; `LineageGenerator`, as `lineage` uses), measured with the release
/// `ledgerflow` binary as a real process.
///
/// The store is left as a service that has run this history would leave it: every reactor's
/// checkpoint at the head, the lineage table and the prediction index built, a crossing's run
/// recorded with its `TriggerFired`, the model versions' artifact in the store. No engine has
/// written snapshots yet, so the first start ("cold") folds the whole history and the second
/// ("warm") starts from what the first one wrote.
///
/// Baselines, in the same run on the same store: a `ledgerflow events --from HEAD --limit 1`
/// process (open the store, read its last event) for start time and peak RSS; 10,000 point
/// reads of the labelled entities' newest predictions for `evaluate`.
///
/// Extension points: schedules, sensors and the tick are built in other branches; their figures
/// (`tick_latency_ms`, `sensor_latency_ms`, `schedules_1k_p99_ms`) are measured in
/// `measureLater(_:)` on the same store and engine, and reported as null until then.
enum ServiceBenchmark {
    static func run(_ o: Options) throws {
        let quiet = o.flag("json")
        func say(_ s: String) { if !quiet { print(s); fflush(nil) } }
        let binary = try o.string("ledgerflow") ?? ledgerflowNextToBench()
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw UsageError("no ledgerflow binary at \(binary): build it (swift build -c release --product ledgerflow) or pass --ledgerflow PATH")
        }
        let base = o.string("dir") ?? FileManager.default.temporaryDirectory.path
        let work = (base as NSString).appendingPathComponent("ledgerflow-bench-service-\(UUID().uuidString)")
        let prepareOnly = o.flag("prepare-only")
        defer {
            if !prepareOnly && ProcessInfo.processInfo.environment["LEDGERFLOW_BENCH_KEEP"] == nil { try? FileManager.default.removeItem(atPath: work) }
        }
        let prepared: Prepared
        if let from = o.string("from") {
            // A store prepared earlier (`--prepare-only`), copied: every measurement starts from the same bytes.
            try FileManager.default.copyItem(atPath: from, toPath: work)
            prepared = try Prepared(work: work)
            say("store: a copy of \(from) (\(prepared.events) events, \(prepared.runs) runs, \(prepared.predictions) predictions)")
        } else {
            prepared = try prepare(o, work: work, say: say)
            if prepareOnly {
                print(work)
                return
            }
        }
        try measure(prepared, cli: CLI(binary: binary, store: prepared.store, work: work), quiet: quiet, say: say)
    }

    /// What `prepare` leaves in the work folder (`prepared.json`, `labels.csv`, `evaluate.yaml`, the store).
    struct Prepared {
        var work: String
        var store: String { (work as NSString).appendingPathComponent("store") }
        var events: Int
        var runs: Int
        var predictions: Int
        var labels: Int
        var generateSeconds: Double
        /// The seq of each labelled customer's newest prediction.
        var newest: [UInt64]

        var value: Value {
            .object([("events", .int(Int64(events))), ("runs", .int(Int64(runs))), ("predictions", .int(Int64(predictions))), ("labels", .int(Int64(labels))),
                     ("generate_s", .double(generateSeconds)), ("newest", .array(newest.map { .int(Int64($0)) }))])
        }

        init(work: String, events: Int, runs: Int, predictions: Int, labels: Int, generateSeconds: Double, newest: [UInt64]) {
            (self.work, self.events, self.runs, self.predictions, self.labels, self.generateSeconds, self.newest) = (work, events, runs, predictions, labels, generateSeconds, newest)
        }

        init(work: String) throws {
            let text = try String(contentsOfFile: (work as NSString).appendingPathComponent("prepared.json"), encoding: .utf8)
            let f = try Fields("prepared.json", try Value(json: text))
            self.init(work: work, events: Int(try f.int("events")), runs: Int(try f.int("runs")), predictions: Int(try f.int("predictions")),
                      labels: Int(try f.int("labels")), generateSeconds: try f.double("generate_s"),
                      newest: try f.array("newest").map { UInt64($0.intValue ?? 0) })
        }
    }

    /// Generates the history and leaves the store as a service that has run it leaves it.
    static func prepare(_ o: Options, work: String, say: (String) -> Void) throws -> Prepared {
        let target = try o.int("events", default: 10_000_000)
        let labelCount = max(1, try o.int("labels", default: 10_000))
        let population = max(labelCount, try o.int("entities", default: 100_000))
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let store = (work as NSString).appendingPathComponent("store")
        var c = EventLog.Configuration()
        c.durable = false
        RunEvents.register(&c.upcasters)
        let log = try EventLog.create(at: store, configuration: c)
        defer { log.close() }
        let artifact = try churnArtifact(store: store)
        let started = Date()
        var g = try LineageGenerator(log: log, templates: o.string("templates") ?? "fixtures/demo/churn", predictionsPerRun: 500,
                                     recordFirings: true, entities: population, artifact: artifact)
        while g.next <= UInt64(target) { try g.cycle(limit: UInt64(target)) }
        let generated = Date().timeIntervalSince(started)
        let t = Date()
        let edges = try LineageIndex.rebuild(log)
        let predictionsIndexed = try PredictionIndex.rebuild(log)
        let tables = Date().timeIntervalSince(t)
        let head = try log.lastSeq()
        for name in Engine.reactorCheckpoints { try log.setCheckpoint(name, to: head) }
        let stats = try log.stats()
        say(String(format: "store: %d events (%d runs; %d model versions; %d predictions over %d customers) generated in %.1f s, %.0f B/event; lineage table (%d edges) and prediction index (%d) built in %.1f s",
                   stats.events, g.runs, g.modelVersion, g.predictionCount, population, generated, stats.bytesPerEvent, edges, predictionsIndexed, tables))

        // The labels: `labelCount` customers spread over the population.
        var rng = SplitMix64(seed: 7)
        var csv = "customer_id,churned\n"
        var newest: [UInt64] = []
        for i in 0 ..< labelCount {
            let customer = 1 + i * population / labelCount
            csv += "\(customer),\(rng.next() % 2)\n"
            newest.append(g.newestPrediction[customer - 1])
        }
        guard !newest.contains(0) else { throw BenchError("some labelled customers were never scored: generate more events or fewer --entities") }
        try csv.write(toFile: (work as NSString).appendingPathComponent("labels.csv"), atomically: true, encoding: .utf8)
        try """
        kind: source
        name: churn_labels
        type: csv
        path: labels.csv
        ---
        kind: job
        name: churn_evaluation
        stages:
          - {name: evaluate, type: evaluate, model: churn, entity_key: customer_id, label: churned, inputs: [churn_labels]}
        """.write(toFile: (work as NSString).appendingPathComponent("evaluate.yaml"), atomically: true, encoding: .utf8)
        let prepared = Prepared(work: work, events: Int(stats.events), runs: g.runs, predictions: g.predictionCount, labels: labelCount,
                                generateSeconds: generated, newest: newest)
        try prepared.value.jsonString.write(toFile: (work as NSString).appendingPathComponent("prepared.json"), atomically: true, encoding: .utf8)
        return prepared
    }

    /// Baselines, then a cold and a warm engine on the prepared store.
    static func measure(_ prepared: Prepared, cli: CLI, quiet: Bool, say: (String) -> Void) throws {
        let labelCount = prepared.labels
        var ro = EventLog.Configuration()
        ro.readOnly = true
        RunEvents.register(&ro.upcasters)
        let log = try EventLog.open(at: prepared.store, configuration: ro)
        defer { log.close() }
        if try log.read(type: DefinitionApplied.type).allSatisfy({ (try? $0.decode(DefinitionApplied.self))?.name != "churn_evaluation" }) {
            try cli.check(["apply", (prepared.work as NSString).appendingPathComponent("evaluate.yaml"), "--message", "service benchmark"])
        }

        // 1. Baselines: a trivial command on the same store (median of 3), and the point reads
        // `evaluate` needs at the least (warm: one untimed pass first).
        let lastSeq = try log.lastSeq()
        var trivial: [(seconds: Double, rssMB: Double)] = []
        for _ in 0 ..< 3 { trivial.append(try cli.time(["events", "--from", String(lastSeq), "--limit", "1"])) }
        let baselineStart = ProjectionBenchmark.median(trivial.map(\.seconds))
        let baselineRSS = ProjectionBenchmark.median(trivial.map(\.rssMB))
        func pointReads() throws -> Double {
            let t0 = Date()
            for s in prepared.newest {
                guard let e = try log.event(at: s) else { throw BenchError("prediction event \(s) is missing") }
                _ = try e.decode(PredictionRecorded.self)
            }
            return Date().timeIntervalSince(t0)
        }
        _ = try pointReads()
        let baselineEvaluate = ProjectionBenchmark.median([try pointReads(), try pointReads(), try pointReads()])
        say(String(format: "baseline: `ledgerflow events --from HEAD --limit 1`: %.3f s, %.1f MB peak RSS; %d point reads of predictions: %.3f s",
                   baselineStart, baselineRSS, prepared.newest.count, baselineEvaluate))

        // 2. The engine: a cold start (no snapshot yet; it writes them when idle), then a warm one.
        var engines: [EngineRun] = []
        for which in ["cold", "warm"] {
            let r = try engineRun(cli, log: log, labels: labelCount, waitForSnapshots: which == "cold")
            engines.append(r)
            say(String(format: "%@ start: first step committed %.3f s after `ledgerflow work` started (%.1fx the baseline); peak RSS %.1f MB (%.1fx; private memory at most %.1f MB, pages of the store's map %.1f MB at the end); evaluate over %d labels: %.3f s (%.1fx the point reads)%@",
                       which, r.startSeconds, r.startSeconds / baselineStart, r.rssMB, r.rssMB / baselineRSS, r.privateMB, r.mappedMB, labelCount,
                       r.evaluateSeconds, r.evaluateSeconds / baselineEvaluate, r.snapshotNote))
            for line in r.loadLines { say("  engine: \(line)") }
        }
        let cold = engines[0], warm = engines[1]
        let later = try measureLater(cli, log: log, work: prepared.work, say: say)
        say("targets: engine_start_s ≤ 2, engine_rss_mb ≤ 300, evaluate_s ≤ 1 (the warm start's; the cold one writes the snapshots); tick_latency_ms median ≤ 50, sensor_latency_ms ≤ poll interval + 50, schedules_1k_p99_ms ≤ 500")

        if quiet {
            var m: [(String, Value)] = [
                ("engine_start_s", .double(ProjectionBenchmark.round3(warm.startSeconds))),
                ("engine_start_cold_s", .double(ProjectionBenchmark.round3(cold.startSeconds))),
                ("engine_rss_mb", .double(ProjectionBenchmark.round3(warm.rssMB))),
                ("engine_rss_cold_mb", .double(ProjectionBenchmark.round3(cold.rssMB))),
                ("engine_private_mb", .double(ProjectionBenchmark.round3(warm.privateMB))),
                ("engine_private_cold_mb", .double(ProjectionBenchmark.round3(cold.privateMB))),
                ("engine_mapped_mb", .double(ProjectionBenchmark.round3(warm.mappedMB))),
                ("evaluate_s", .double(ProjectionBenchmark.round3(warm.evaluateSeconds))),
                ("evaluate_cold_s", .double(ProjectionBenchmark.round3(cold.evaluateSeconds))),
                ("baseline_start_s", .double(ProjectionBenchmark.round3(baselineStart))),
                ("baseline_rss_mb", .double(ProjectionBenchmark.round3(baselineRSS))),
                ("baseline_evaluate_s", .double(ProjectionBenchmark.round3(baselineEvaluate))),
                ("engine_start_vs_baseline", .double(ProjectionBenchmark.round3(warm.startSeconds / baselineStart))),
                ("engine_rss_vs_baseline", .double(ProjectionBenchmark.round3(warm.rssMB / baselineRSS))),
                ("evaluate_vs_baseline", .double(ProjectionBenchmark.round3(warm.evaluateSeconds / baselineEvaluate))),
                ("events", .int(Int64(prepared.events))), ("runs", .int(Int64(prepared.runs))), ("predictions", .int(Int64(prepared.predictions))),
                ("labels", .int(Int64(labelCount))), ("generate_s", .double(ProjectionBenchmark.round3(prepared.generateSeconds))),
            ]
            m += later.sorted { $0.key < $1.key }.map { ($0.key, $0.value.map { .double(ProjectionBenchmark.round3($0)) } ?? .null) }
            print(Value.object(m).jsonString)
        }
    }

    /// The automation reactors' latencies, on the same store with one `ledgerflow work` running:
    ///
    /// - `tick_latency_ms`: a schedule `every: 1s`; for each of 10 ticks, its `ScheduleTicked`'s
    ///   commit time (the same transaction as its `RunRequested`) minus its nominal time; median.
    /// - `sensor_latency_ms`: a sensor polling every second; 5 markers written (renamed into
    ///   place) at random moments; each `FileArrived`'s commit time (with its `RunRequested`) minus
    ///   the moment the marker appeared; the largest (target: the poll interval + 50 ms).
    /// - `schedules_1k_p99_ms`: 1,000 schedules `* * * * *` applied together; at the next minute,
    ///   each tick's commit time minus the minute; the last one's (and the 99th percentile's).
    ///
    /// Baseline: one durable append of one small event to a fresh store (median of 50), the least
    /// a recorded tick costs.
    static func measureLater(_ cli: CLI, log: EventLog, work: String, say: (String) -> Void) throws -> [String: Double?] {
        let drops = (work as NSString).appendingPathComponent("drops")
        try FileManager.default.createDirectory(atPath: drops, withIntermediateDirectories: true)
        let defs = (work as NSString).appendingPathComponent("automation.yaml")
        try """
        kind: job
        name: bench_noop
        stages:
          - {name: a, type: script, command: ["true"]}
        ---
        kind: schedule
        name: bench_tick
        every: 1s
        job: bench_noop
        overlap: allow
        ---
        kind: sensor
        name: bench_drop
        path: \(drops)
        job: bench_noop
        poll_interval: 1s
        """.write(toFile: defs, atomically: true, encoding: .utf8)

        // Baseline: durable appends of one small event.
        let baseDir = (work as NSString).appendingPathComponent("baseline-store")
        let baseLog = try EventLog.create(at: baseDir, configuration: EventLog.Configuration())
        var appends: [Double] = []
        for i in 0 ..< 50 {
            let t0 = Date()
            try baseLog.append([NewEvent(type: "Tick", payload: ["n": .int(Int64(i))])], to: "baseline")
            appends.append(Date().timeIntervalSince(t0) * 1000)
        }
        baseLog.close()
        let baseline = ProjectionBenchmark.median(appends)

        try cli.check(["apply", defs, "--message", "service benchmark: automation"])
        let engine = try cli.spawn(["work", "--log-format", "json"], output: "work-automation")
        defer { engine.stop() }
        func commitMicros(_ type: String, stream: String, from: UInt64) throws -> [RecordedEvent] {
            try log.read(stream: stream).filter { $0.type == type && $0.seq > from }
        }

        // 1. Ticks.
        let tickStream = ScheduleEvents.stream(schedule: "bench_tick")
        var ticks: [RecordedEvent] = []
        let tickDeadline = Date().addingTimeInterval(60)
        while ticks.count < 11 {
            guard Date() < tickDeadline, engine.isRunning else { throw BenchError("the schedule did not tick (\(cli.tail("work-automation")))") }
            usleep(50_000)
            ticks = try commitMicros(ScheduleTicked.type, stream: tickStream, from: 0)
        }
        // The first tick may be the engine's start catching up; the next ten are steady state.
        let tickLatencies = try ticks.dropFirst().prefix(10).map { e in Double(e.recordedAtMicros - (try e.decode(ScheduleTicked.self)).nominal) / 1000 }
        let tick = ProjectionBenchmark.median(tickLatencies)
        say(String(format: "tick_latency_ms: median %.1f ms over %d ticks (max %.1f; due → ScheduleTicked and its RunRequested committed); baseline one durable append %.3f ms (%.1fx)",
                   tick, tickLatencies.count, tickLatencies.max() ?? 0, baseline, tick / baseline))

        // 2. Markers.
        var rng = SplitMix64(seed: 17)
        let sensorStream = SensorEvents.stream(sensor: "bench_drop")
        var sensorLatencies: [Double] = []
        for i in 0 ..< 5 {
            usleep(UInt32(rng.next() % 1_000_000))
            let name = "batch-\(i).done"
            let hidden = (drops as NSString).appendingPathComponent(".\(name).tmp")
            try Data("\(i)\n".utf8).write(to: URL(fileURLWithPath: hidden))
            let before = try log.lastSeq()
            let written = Int64(Date().timeIntervalSince1970 * 1e6)
            guard rename(hidden, (drops as NSString).appendingPathComponent(name)) == 0 else { throw BenchError("could not write marker \(name)") }
            let deadline = Date().addingTimeInterval(30)
            while true {
                guard Date() < deadline, engine.isRunning else { throw BenchError("marker \(name) was not picked up (\(cli.tail("work-automation")))") }
                if let e = try commitMicros(FileArrived.type, stream: sensorStream, from: before).first(where: { (try? $0.decode(FileArrived.self))?.file == name }) {
                    sensorLatencies.append(Double(e.recordedAtMicros - written) / 1000)
                    break
                }
                usleep(5_000)
            }
        }
        let sensor = sensorLatencies.max() ?? 0
        say(String(format: "sensor_latency_ms: at most %.1f ms over %d markers (median %.1f; marker renamed into place → FileArrived and its RunRequested committed; poll interval 1000 ms); baseline one durable append %.3f ms",
                   sensor, sensorLatencies.count, ProjectionBenchmark.median(sensorLatencies), baseline))

        // 3. A thousand schedules due in the same minute (applied at least 5 s before it).
        var nowMicros = Int64(Date().timeIntervalSince1970 * 1e6)
        if 60_000_000 - nowMicros % 60_000_000 < 5_000_000 {
            usleep(UInt32(60_000_000 - nowMicros % 60_000_000 + 200_000))
            nowMicros = Int64(Date().timeIntervalSince1970 * 1e6)
        }
        let minute = nowMicros - nowMicros % 60_000_000 + 60_000_000
        let many = (work as NSString).appendingPathComponent("schedules-1k.yaml")
        try (0 ..< 1000).map { "kind: schedule\nname: every_minute_\($0)\ncron: \"* * * * *\"\njob: bench_noop\n" }.joined(separator: "---\n")
            .write(toFile: many, atomically: true, encoding: .utf8)
        let applyFrom = try log.lastSeq()
        try cli.check(["apply", many, "--message", "service benchmark: 1,000 schedules"])
        var fired: [Double] = []
        let deadline = Date().addingTimeInterval(Double(minute - nowMicros) / 1e6 + 120)
        while fired.count < 1000 {
            guard Date() < deadline, engine.isRunning else { throw BenchError("only \(fired.count) of 1,000 schedules ticked at \(ScheduleEvents.timeText(minute)) (\(cli.tail("work-automation")))") }
            usleep(200_000)
            fired = []
            for e in try log.read(type: ScheduleTicked.type, from: applyFrom + 1) where e.recordedAtMicros >= minute {
                let t = try e.decode(ScheduleTicked.self)
                if t.nominal == minute && t.schedule.hasPrefix("every_minute_") { fired.append(Double(e.recordedAtMicros - minute) / 1000) }
            }
        }
        fired.sort()
        let last = fired.last ?? 0, p99 = fired[Int(Double(fired.count - 1) * 0.99)]
        say(String(format: "schedules_1k_p99_ms: the last of 1,000 schedules due at %@ committed %.1f ms after it (p99 %.1f, median %.1f); baseline one durable append %.3f ms",
                   ScheduleEvents.timeText(minute), last, p99, ProjectionBenchmark.median(fired), baseline))
        engine.stop()
        return ["tick_latency_ms": tick, "sensor_latency_ms": sensor, "schedules_1k_p99_ms": last, "schedules_1k_p99th_ms": p99,
                "baseline_append_ms": baseline]
    }

    struct EngineRun {
        var startSeconds: Double
        /// VmHWM: the peak resident set, which counts the pages of the store's memory map the
        /// process touched (shared page cache, reclaimable) as well as its private memory.
        var rssMB: Double
        /// The highest private (anonymous) resident memory sampled every ~2 ms.
        var privateMB: Double
        /// File-backed resident pages at the end (mostly the store's map).
        var mappedMB: Double
        var evaluateSeconds: Double
        var snapshotNote: String
        var loadLines: [String]
    }

    /// Requests an evaluation run, starts `ledgerflow work`, and measures: from the process's start
    /// to the run's StageStarted (the first step commits it), the stage's duration from its
    /// StageSucceeded, and the process's peak RSS once the run has finished (and, when asked, the
    /// engine has written its snapshots).
    static func engineRun(_ cli: CLI, log: EventLog, labels: Int, waitForSnapshots: Bool) throws -> EngineRun {
        let before = try log.lastSeq()
        try cli.check(["run", "churn_evaluation", "--detach"])
        guard let requested = try log.read(from: before + 1, filter: EventFilter(type: RunEvents.runRequested)).last,
              let run = RunEvents.run(ofStream: requested.stream) else { throw BenchError("the evaluation run was not requested") }
        let snapshotsBefore = try log.snapshots(Engine.runsSnapshotName).count
        let spawnedAt = Date()
        let engine = try cli.spawn(["work", "--log-format", "json"], output: "work-\(run)")
        defer { engine.stop() }
        var startedAt: Int64?
        var succeeded: StageSucceeded?
        var finished = false
        let deadline = Date().addingTimeInterval(600)
        while !finished {
            guard Date() < deadline, engine.isRunning else { throw BenchError("run \(run) did not finish (engine output: \(cli.tail("work-\(run)")))") }
            usleep(2_000)
            engine.sample()
            for e in try log.read(stream: RunEvents.stream(run: run)) {
                switch e.type {
                case StageStarted.type: startedAt = startedAt ?? e.recordedAtMicros
                case StageSucceeded.type: succeeded = try e.decode(StageSucceeded.self)
                case RunSucceeded.type: finished = true
                case RunFailed.type, RunCancelled.type: throw BenchError("run \(run) did not succeed: \(try log.read(stream: RunEvents.stream(run: run)).map(\.payload.jsonString))")
                default: break
                }
            }
        }
        guard let startedAt, let succeeded else { throw BenchError("run \(run) has no StageStarted or StageSucceeded") }
        guard let matched = succeeded.outputs?["matched"]?.intValue, matched == Int64(labels) else {
            throw BenchError("the evaluation matched \(succeeded.outputs?["matched"]?.jsonString ?? "nothing") of \(labels) labels")
        }
        var note = ""
        if waitForSnapshots {
            let until = Date().addingTimeInterval(60)
            while try log.snapshots(Engine.runsSnapshotName).count == snapshotsBefore && Date() < until {
                usleep(20_000)
                engine.sample()
            }
            note = try log.snapshots(Engine.runsSnapshotName).count > snapshotsBefore ? "; it wrote its snapshots" : "; no snapshot written in 60 s"
        }
        engine.sample()
        let rss = engine.peakRSSMB()
        let mapped = (engine.status("RssFile:") ?? 0) / 1024
        let privateMB = Double(engine.peakAnonKB) / 1024
        engine.stop()
        let lines = cli.lines("work-\(run)").filter { $0.contains("\"component\":\"snapshots\"") || $0.contains("state loaded") }
        return EngineRun(startSeconds: Double(startedAt) / 1e6 - spawnedAt.timeIntervalSince1970, rssMB: rss, privateMB: privateMB, mappedMB: mapped,
                         evaluateSeconds: Double(succeeded.durationMs) / 1000, snapshotNote: note, loadLines: lines)
    }

    /// The release `ledgerflow` next to this binary.
    static func ledgerflowNextToBench() throws -> String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return ((me as NSString).deletingLastPathComponent as NSString).appendingPathComponent("ledgerflow")
    }

    /// A logistic-regression artifact for the generated model versions (evaluate reads its classes).
    static func churnArtifact(store: String) throws -> String {
        var a = ModelArtifact(model: "churn", type: "logistic_regression", target: "churned", featureColumns: LineageGenerator.modelInputs,
                              outputs: ["churn_probability", "churn_label"])
        a.classes = ["0", "1"]
        a.threshold = 0.5
        do { return try ArtifactStore(store: store).put(try a.encoded()).sha256 } catch { throw BenchError("could not store the model artifact: \(error)") }
    }
}

/// The `ledgerflow` binary as processes on one store: output to files in the work folder, peak
/// RSS from `/proc/PID/status` (VmHWM) while it runs and from `wait4` once it has exited.
struct CLI {
    let binary: String
    let store: String
    let work: String

    final class Child {
        let pid: pid_t
        private var exited = false
        private(set) var maxRSSKB = 0
        /// The highest anonymous (private) resident memory seen by `sample()`, in kB.
        private(set) var peakAnonKB = 0
        init(pid: pid_t) { self.pid = pid }
        /// Reads the process's private resident memory now (RssAnon), keeping the highest seen.
        func sample() {
            guard !exited, let kb = status("RssAnon:") else { return }
            peakAnonKB = max(peakAnonKB, Int(kb))
        }
        /// A `kB` line of `/proc/PID/status`.
        func status(_ field: String) -> Double? {
            guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                  let line = s.split(separator: "\n").first(where: { $0.hasPrefix(field) }) else { return nil }
            return Double(line.split(separator: " ").dropFirst().first ?? "")
        }
        var isRunning: Bool {
            if exited { return false }
            var status: Int32 = 0
            var usage = rusage()
            if wait4(pid, &status, WNOHANG, &usage) == pid { exited = true; maxRSSKB = usage.ru_maxrss; return false }
            return true
        }
        /// VmHWM while it runs (the kernel's peak resident set), else what wait4 said.
        func peakRSSMB() -> Double {
            if isRunning, let kb = status("VmHWM:") { return kb / 1024 }
            return Double(maxRSSKB) / 1024
        }
        /// SIGTERM, and waits for the exit.
        func stop() {
            guard !exited else { return }
            kill(pid, SIGTERM)
            var status: Int32 = 0
            var usage = rusage()
            if wait4(pid, &status, 0, &usage) == pid { maxRSSKB = usage.ru_maxrss }
            exited = true
        }
        func wait() -> Int32 {
            var status: Int32 = 0
            var usage = rusage()
            if !exited, wait4(pid, &status, 0, &usage) == pid { maxRSSKB = usage.ru_maxrss }
            exited = true
            return (status >> 8) & 0xff
        }
    }

    func path(_ output: String) -> String { (work as NSString).appendingPathComponent(output + ".log") }

    func spawn(_ args: [String], output: String) throws -> Child {
        let argv = [binary] + args + ["--store", store]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, path(output), O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, binary, &actions, nil, &cargs, environ)
        guard rc == 0 else { throw BenchError("could not start \(binary): \(String(cString: strerror(rc)))") }
        return Child(pid: pid)
    }

    /// Runs a command to its end; fails on a non-zero exit.
    func check(_ args: [String]) throws {
        let c = try spawn(args, output: "cli")
        let code = c.wait()
        guard code == 0 else { throw BenchError("ledgerflow \(args.joined(separator: " ")) exited with \(code): \(tail("cli"))") }
    }

    /// Runs a command to its end: its wall time and peak RSS.
    func time(_ args: [String]) throws -> (seconds: Double, rssMB: Double) {
        let t0 = Date()
        let c = try spawn(args, output: "cli")
        let code = c.wait()
        let seconds = Date().timeIntervalSince(t0)
        guard code == 0 else { throw BenchError("ledgerflow \(args.joined(separator: " ")) exited with \(code): \(tail("cli"))") }
        return (seconds, Double(c.maxRSSKB) / 1024)
    }

    func lines(_ output: String) -> [String] {
        ((try? String(contentsOfFile: path(output), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func tail(_ output: String) -> String { lines(output).suffix(5).joined(separator: " | ") }
}
