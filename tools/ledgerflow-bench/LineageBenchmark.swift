import Catalog
import Domain
import EventLog
import Foundation
import Lineage
import Models
import Projections
import Runs

/// `ledgerflow-bench lineage`: `why`, `lineage --depth 5` and `replay --at-seq` (the middle) on a
/// generated store of N events (default 10,000,000) with the payloads the engine writes: the churn
/// definitions applied for real, training runs registering model versions, scoring runs recording
/// every prediction, threshold crossings and the follow-up runs they trigger, each event with its
/// causation and correlation.
///
/// Measured in one run, against raw baselines on the same store: a point read of one event (for
/// the queries) and decoding every event up to the middle without folding (for the replay).
enum LineageBenchmark {
    static func run(_ o: Options) throws {
        let target = try o.int("events", default: 10_000_000)
        let predictions = max(1, try o.int("predictions", default: 500))
        let queries = max(3, try o.int("queries", default: 41))
        let base = o.string("dir") ?? FileManager.default.temporaryDirectory.path
        let path = (base as NSString).appendingPathComponent("ledgerflow-bench-lineage-\(UUID().uuidString)")
        defer { if ProcessInfo.processInfo.environment["LEDGERFLOW_BENCH_KEEP"] == nil { try? FileManager.default.removeItem(atPath: path) } }
        let quiet = o.flag("json")
        func say(_ s: String) { if !quiet { print(s); fflush(nil) } }

        var c = EventLog.Configuration()
        c.durable = false
        RunEvents.register(&c.upcasters)
        let log = try EventLog.create(at: path, configuration: c)

        // 1. The store.
        let started = Date()
        var g = try LineageGenerator(log: log, templates: o.string("templates") ?? "fixtures/demo/churn", predictionsPerRun: predictions)
        while g.next <= UInt64(target) { try g.cycle(limit: UInt64(target)) }
        let generated = Date().timeIntervalSince(started)
        let stats = try log.stats()
        say(String(format: "store: %d events (%d runs: %d scoring, %d follow-ups; %d model versions; %d predictions) generated in %.1f s, %.0f B/event",
                   stats.events, g.runs, g.scoringRuns, g.followups.count, g.modelVersion, g.predictionCount, generated, stats.bytesPerEvent))

        // 2. The lineage table, as the engine keeps it (here in one go).
        var t = Date()
        let edges = try LineageIndex.rebuild(log)
        let indexSeconds = Date().timeIntervalSince(t)
        say(String(format: "lineage table: %d edges indexed in %.1f s", edges, indexSeconds))

        // 3. Queries, median of warm runs (one untimed pass first), each on a freshly opened
        // graph and rendered as the CLI would (JSON and text).
        let head = try log.lastSeq()
        let mid = head / 2
        let spread = { (n: Int, count: Int) -> [Int] in (0 ..< count).map { max(1, min(n, ($0 * n) / max(1, count - 1) + 1)) } }
        let whyRuns = spread(g.followups.count, queries).map { g.followups[$0 - 1] }
        let models = spread(Int(g.modelVersion), queries).map { "model:churn@\($0)" }
        let datasets = spread(Int(g.predictionsVersion), queries).map { "dataset:churn_predictions@\($0)" }
        func time(_ body: () throws -> Void) rethrows -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        }
        var whySteps = 0, lineageNodes = 0
        func why(_ run: String) throws {
            let steps = try Why(log: log).explain(run: run)
            whySteps = max(whySteps, steps.count)
            _ = Value.object([("run", .string(run)), ("chain", .array(steps.map(\.value)))]).jsonString
        }
        func lineage(_ node: String) throws {
            let q = LineageQuery(graph: try LineageGraph(log: log))
            let a = try q.answer(root: try q.resolve(node), upstream: true, downstream: true, depth: 5)
            lineageNodes = max(lineageNodes, a.nodes.count)
            _ = a.value.jsonString
            _ = a.text
        }
        for r in whyRuns { try why(r) }
        for n in models + datasets { try lineage(n) }
        let whyTimes = try whyRuns.map { r in try time { try why(r) } }
        let modelTimes = try models.map { n in try time { try lineage(n) } }
        let datasetTimes = try datasets.map { n in try time { try lineage(n) } }
        // Baseline: one event by seq, decoded (warm, like the queries: one untimed pass first).
        let pointSeqs = whyRuns.indices.map { i in UInt64(1 + (i * Int(head - 1)) / max(1, whyRuns.count - 1)) }
        for s in pointSeqs { _ = try log.event(at: s) }
        let pointTimes = try pointSeqs.map { s in try time { _ = try log.event(at: s) } }
        let whyMs = ProjectionBenchmark.median(whyTimes)
        let lineageMs = ProjectionBenchmark.median(modelTimes + datasetTimes)
        let pointMs = ProjectionBenchmark.median(pointTimes)
        say(String(format: "why (follow-up run → rule → prediction → model → training run → …, %d steps): median %.2f ms, max %.2f ms over %d runs",
                   whySteps, whyMs, whyTimes.max() ?? 0, whyTimes.count))
        say(String(format: "lineage --depth 5 (both ways, up to %d nodes): median %.2f ms (models %.2f, datasets %.2f), max %.2f ms over %d nodes",
                   lineageNodes, lineageMs, ProjectionBenchmark.median(modelTimes), ProjectionBenchmark.median(datasetTimes),
                   (modelTimes + datasetTimes).max() ?? 0, modelTimes.count + datasetTimes.count))
        say(String(format: "baseline: one event read by seq: median %.3f ms (why = %.0fx, lineage = %.0fx)", pointMs, whyMs / pointMs, lineageMs / pointMs))

        // 4. Replay at the middle: every projection folded from seq 1 (no snapshots exist) and
        // rendered as JSON, as `replay --at-seq MID --json` does; against decoding every event up
        // to the middle.
        t = Date()
        var scanned = 0
        try log.scan(from: 1, through: mid) { _ in scanned += 1; return true }
        let scanSeconds = Date().timeIntervalSince(t)
        t = Date()
        var states: [(String, Value)] = []
        for r in ProjectionRegistry.all(log) { states.append((r.name, try r.state(at: mid).rendered)) }
        let json = Value.object([("seq", .int(Int64(mid))), ("projections", .object(states))]).jsonString
        let replaySeconds = Date().timeIntervalSince(t)
        say(String(format: "replay --at-seq %d (all %d projections, %.1f MB of JSON): %.2f s; baseline: decoding the %d events up to it: %.2f s (%.2fx)",
                   mid, states.count, Double(json.utf8.count) / 1e6, replaySeconds, scanned, scanSeconds, replaySeconds / scanSeconds))
        say("targets: why ≤ 50 ms, lineage ≤ 50 ms (median, warm), replay at the middle ≤ 10 s")

        if quiet {
            print(Value.object([
                ("why_ms", .double(ProjectionBenchmark.round3(whyMs))), ("lineage_ms", .double(ProjectionBenchmark.round3(lineageMs))),
                ("replay_mid_s", .double(ProjectionBenchmark.round3(replaySeconds))),
                ("lineage_model_ms", .double(ProjectionBenchmark.round3(ProjectionBenchmark.median(modelTimes)))),
                ("lineage_dataset_ms", .double(ProjectionBenchmark.round3(ProjectionBenchmark.median(datasetTimes)))),
                ("why_max_ms", .double(ProjectionBenchmark.round3(whyTimes.max() ?? 0))),
                ("lineage_max_ms", .double(ProjectionBenchmark.round3((modelTimes + datasetTimes).max() ?? 0))),
                ("point_read_ms", .double(ProjectionBenchmark.round3(pointMs))), ("scan_mid_s", .double(ProjectionBenchmark.round3(scanSeconds))),
                ("replay_vs_scan", .double(ProjectionBenchmark.round3(replaySeconds / scanSeconds))),
                ("events", .int(Int64(stats.events))), ("edges", .int(Int64(edges))), ("index_s", .double(ProjectionBenchmark.round3(indexSeconds))),
                ("generate_s", .double(ProjectionBenchmark.round3(generated))), ("runs", .int(Int64(g.runs))),
                ("model_versions", .int(Int64(g.modelVersion))), ("predictions", .int(Int64(g.predictionCount))),
            ]).jsonString)
        }
    }
}

/// Appends the churn scenario's history with the engine's payloads, cycle by cycle: a training run
/// every `scoringPerModel` scoring runs, each scoring run recording its predictions, and a few
/// crossings per scoring run, each starting a follow-up run. Seqs are known in advance (the
/// generator is the only writer), so every event carries its real causation and correlation.
struct LineageGenerator {
    let log: EventLog
    let predictionsPerRun: Int
    let scoringPerModel = 25
    let crossingsPerRun = 5
    var next: UInt64
    let catalogSeq: UInt64
    var runs = 0, scoringRuns = 0, predictionCount = 0
    var followups: [String] = []
    var modelVersion: Int64 = 0
    var featuresVersion: Int64 = 0, scoresVersion: Int64 = 0, predictionsVersion: Int64 = 0
    var rng = SplitMix64(seed: 2026)
    var pending: [(stream: String, event: NewEvent)] = []
    var versions: [String: UInt64] = [:]
    /// Whether each crossing's follow-up run is recorded with its `TriggerFired`, as the engine
    /// records it (`service`); `lineage` leaves it out, so that its store is the one its figures
    /// were measured on.
    let recordFirings: Bool
    /// The customers scored: nil, each scoring run scores customers 1…P; N, scoring runs score
    /// consecutive windows of P customers out of N (so labels can name N different ones).
    let entities: Int?
    /// The artifact every model version names (nil: a random hash, no file).
    let artifact: String?
    /// With `entities`: per customer (1…N), the seq of its newest prediction (0: never scored).
    var newestPrediction: [UInt64] = []

    static let crm = "/srv/data/sql_server.sqlite#crm_customers"
    static let features = "/srv/data/lake/customer_features"
    static let scores = "/srv/data/lake/churn_scores"
    static let warehouse = "/srv/data/azure_sql.sqlite#churn_predictions"
    static let columns: [(String, String)] = [("customer_id", "int"), ("client_code", "string"), ("plan", "string"), ("tenure_months", "int"),
                                               ("monthly_charges", "double"), ("support_calls", "int"), ("transactions", "int"), ("spend", "double"),
                                               ("churned", "int")]
    static let scored: [(String, String)] = columns + [("churn_probability", "double"), ("churn_label", "int"), ("model_version", "int")]
    static let stored: [(String, String)] = [("customer_id", "int"), ("client_code", "string"), ("plan", "string"), ("churn_probability", "double"),
                                              ("churn_label", "int"), ("model_version", "int")]
    static let modelInputs = ["tenure_months", "monthly_charges", "support_calls", "transactions", "spend", "plan"]

    init(log: EventLog, templates: String, predictionsPerRun: Int, recordFirings: Bool = false, entities: Int? = nil, artifact: String? = nil) throws {
        self.log = log
        self.predictionsPerRun = predictionsPerRun
        self.recordFirings = recordFirings
        self.entities = entities
        self.artifact = artifact
        newestPrediction = Array(repeating: 0, count: entities ?? 0)
        let defs = try ProjectionBenchmark.loadTemplates(templates)
        let plan = ApplyPlan.decide(catalog: CatalogState(), definitions: defs, prune: false, message: "churn scenario")
        let r = try log.append(plan.appends, actor: "cli:bench", correlation: .shared)
        catalogSeq = r.lastSeq ?? 0
        next = catalogSeq + 1
    }

    /// Queues an event; returns its seq.
    @discardableResult
    mutating func add(_ stream: String, _ type: String, _ payload: Value, cause: UInt64?, correlation: UInt64?, schema: UInt32 = 1) -> UInt64 {
        let seq = next
        next += 1
        pending.append((stream, NewEvent(type: type, schemaVersion: schema, payload: payload, causation: cause, correlation: correlation ?? seq)))
        return seq
    }

    mutating func flush() throws {
        var appends: [StreamAppend] = []
        for p in pending {
            if let last = appends.last, last.stream == p.stream {
                appends[appends.count - 1].events.append(p.event)
            } else {
                appends.append(StreamAppend(stream: p.stream, events: [p.event]))
            }
        }
        let expected = pending.first.map { _ in next - UInt64(pending.count) }
        pending.removeAll(keepingCapacity: true)
        guard !appends.isEmpty else { return }
        let r = try log.append(appends, actor: "engine:bench")
        guard r.firstSeq == expected else { throw BenchError("the store moved under the generator (first seq \(r.firstSeq ?? 0), expected \(expected ?? 0))") }
    }

    static func schema(_ cols: [(String, String)]) -> Value { .array(cols.map { .object([("name", .string($0.0)), ("type", .string($0.1))]) }) }

    static func identity(_ dataset: String, _ cols: [(String, String)]) -> Value {
        .object([("fields", .object(cols.map { ($0.0, .array([.object([("dataset", .string(dataset)), ("field", .string($0.0)), ("subtype", "IDENTITY"), ("type", "DIRECT")])])) }))])
    }

    mutating func hash() -> Value { .string(String(format: "%016llx%016llx%016llx%016llx", rng.next(), rng.next(), rng.next(), rng.next())) }

    /// A written dataset version: DatasetVersionWritten, and the entry for `datasets`.
    mutating func write(_ dataset: String, _ counter: WritableKeyPath<LineageGenerator, Int64>, location: String, format: String, cols: [(String, String)], run: String, stage: String,
                        cause: UInt64, correlation: UInt64) -> Value {
        self[keyPath: counter] += 1
        let version = self[keyPath: counter]
        add("dataset/\(dataset)", RunEvents.datasetVersionWritten, .object([
            ("attempt", 1), ("content_hash", hash()), ("dataset", .string(dataset)), ("format", .string(format)), ("location", .string(location)),
            ("mode", "replace"), ("rows", .int(Int64(predictionsPerRun))), ("run", .string(run)), ("schema", Self.schema(cols)), ("stage", .string(stage)),
        ]), cause: cause, correlation: correlation)
        return .object([("dataset", .string(dataset)), ("version", .int(version))])
    }

    mutating func input(_ dataset: String, version: Int64?, location: String, format: String, cols: [(String, String)]) -> Value {
        .object([("content_hash", hash()), ("dataset", .string(dataset)), ("format", .string(format)), ("location", .string(location)),
                 ("rows", .int(Int64(predictionsPerRun))), ("schema", Self.schema(cols)), ("version", version.map { .int($0) } ?? .null)])
    }

    mutating func request(_ job: String, stages: [(String, String)], trigger: Value, parameters: Value = .object([]), cause: UInt64?, correlation: UInt64?) -> (String, UInt64) {
        runs += 1
        let id = String(runs)
        var after: [Value] = []
        let plan: [Value] = stages.map { s in
            defer { after = [.string(s.0)] }
            return .object([("after", .array(after)), ("name", .string(s.0)), ("type", .string(s.1))])
        }
        let seq = add("run/\(id)", RunEvents.runRequested, .object([
            ("catalog_seq", .int(Int64(catalogSeq))), ("job", .string(job)), ("job_version", 1), ("parameters", parameters), ("run", .string(id)),
            ("stages", .array(plan)), ("trigger", trigger),
        ]), cause: cause, correlation: correlation)
        return (id, seq)
    }

    mutating func start(_ run: String, _ stage: String, cause: UInt64, correlation: UInt64) -> UInt64 {
        add("run/\(run)", RunEvents.stageQueued, .object([("attempt", 1), ("stage", .string(stage))]), cause: cause, correlation: correlation)
        return add("run/\(run)", RunEvents.stageStarted, .object([("attempt", 1), ("engine", "bench/1"), ("stage", .string(stage))]), cause: cause, correlation: correlation)
    }

    mutating func succeed(_ run: String, _ stage: String, inputs: [Value], datasets: [Value], outputs: Value, lineage: Value?, cause: UInt64, correlation: UInt64) -> UInt64 {
        var p: [(String, Value)] = [("attempt", 1), ("datasets", .array(datasets)), ("duration_ms", .int(Int64(20 + rng.next() % 200))),
                                    ("inputs", .array(inputs)), ("outputs", outputs), ("stage", .string(stage))]
        if let lineage { p.append(("column_lineage", lineage)) }
        return add("run/\(run)", RunEvents.stageSucceeded, .object(p), cause: cause, correlation: correlation, schema: StageSucceeded.schema)
    }

    /// One extract stage: CRM → customer_features.
    mutating func extract(_ run: String, cause: UInt64, correlation: UInt64) -> UInt64 {
        let s = start(run, "extract", cause: cause, correlation: correlation)
        let inp = input("crm_customers", version: nil, location: Self.crm, format: "sqlite", cols: Self.columns)
        let w = write("customer_features", \.featuresVersion, location: Self.features, format: "jsonl", cols: Self.columns, run: run, stage: "extract", cause: s, correlation: correlation)
        return succeed(run, "extract", inputs: [inp], datasets: [w], outputs: .object([("rows_read", .int(Int64(predictionsPerRun))), ("rows_written", .int(Int64(predictionsPerRun)))]),
                       lineage: .object([("customer_features", Self.identity("crm_customers", Self.columns))]), cause: s, correlation: correlation)
    }

    mutating func cycle(limit: UInt64) throws {
        if scoringRuns % scoringPerModel == 0 { try train() }
        try score()
        try flush()
    }

    mutating func train() throws {
        let (run, req) = request("churn_training", stages: [("extract", "etl"), ("train", "train")], trigger: .object([("by", "schedule:nightly"), ("type", "manual")]),
                                 cause: nil, correlation: nil)
        let done = extract(run, cause: req, correlation: req)
        let s = start(run, "train", cause: done, correlation: req)
        modelVersion += 1
        let random = hash()
        let artifact = self.artifact.map { Value.string($0) } ?? random
        let metrics: Value = .object([("accuracy", .double(0.8 + Double(rng.next() % 100) / 1000)), ("converged", true), ("log_loss", .double(0.3)),
                                      ("training_rows", .int(Int64(predictionsPerRun * 3 / 4)))])
        add("model/churn", MLEvents.modelVersionRegistered, .object([
            ("artifact", .object([("bytes", 2167), ("sha256", artifact)])), ("attempt", 1), ("catalog_seq", .int(Int64(catalogSeq))),
            ("columns", .array(Self.modelInputs.map { .string($0) })), ("feature_spec", .object([("name", "churn_features"), ("version", 1)])),
            ("hyperparameters", .object([("C", 1.0), ("max_iter", 100)])), ("metrics", metrics), ("model", "churn"), ("model_definition_version", 1),
            ("outputs", ["churn_probability", "churn_label"]), ("run", .string(run)), ("stage", "train"), ("target", "churned"),
            ("training_dataset", .object([("name", "customer_features"), ("version", .int(featuresVersion))])), ("type", "logistic_regression"),
            ("version", .int(modelVersion)),
        ]), cause: s, correlation: req)
        let inp = input("customer_features", version: featuresVersion, location: Self.features, format: "jsonl", cols: Self.columns)
        let ok = succeed(run, "train", inputs: [inp], datasets: [], outputs: .object([("artifact", artifact), ("metrics", metrics), ("model", "churn"), ("model_version", .int(modelVersion))]),
                         lineage: nil, cause: s, correlation: req)
        add("run/\(run)", RunEvents.runSucceeded, .object([("duration_ms", 180)]), cause: ok, correlation: req)
    }

    mutating func score() throws {
        scoringRuns += 1
        let (run, req) = request("churn_scoring", stages: [("extract", "etl"), ("score", "inference"), ("store", "storage")],
                                 trigger: .object([("by", "cli:bench"), ("type", "manual")]), cause: nil, correlation: nil)
        let extracted = extract(run, cause: req, correlation: req)
        let s = start(run, "score", cause: extracted, correlation: req)
        var risky: [(seq: UInt64, entity: String, p: Double)] = []
        for i in 0 ..< predictionsPerRun {
            let p = Double(rng.next() % 10_000) / 10_000
            let tenure = Int64(rng.next() % 72)
            let customer = entities.map { ((scoringRuns - 1) * predictionsPerRun + i) % $0 + 1 } ?? i + 1
            let seq = add("predictions/\(run)", MLEvents.predictionRecorded, .object([
                ("attempt", 1), ("entity", .string(String(customer))), ("inputs", .object([("tenure_months", .int(tenure))])), ("model", "churn"),
                ("model_version", .int(modelVersion)), ("outputs", .object([("churn_label", .int(p > 0.5 ? 1 : 0)), ("churn_probability", .double(p))])),
                ("run", .string(run)), ("stage", "score"),
            ]), cause: s, correlation: req)
            if entities != nil { newestPrediction[customer - 1] = seq }
            if risky.count < crossingsPerRun && i % (predictionsPerRun / crossingsPerRun + 1) == 0 { risky.append((seq, String(customer), 0.9 + p / 10)) }
        }
        predictionCount += predictionsPerRun
        let modelFlow: Value = .object(Self.scored.map { c in
            let sources: [Value] = ["churn_probability", "churn_label"].contains(c.0)
                ? Self.modelInputs.map { .object([("dataset", "customer_features"), ("description", .string("model churn v\(modelVersion)")), ("field", .string($0)), ("subtype", "TRANSFORMATION"), ("type", "DIRECT")]) }
                : c.0 == "model_version" ? [] : [.object([("dataset", "customer_features"), ("field", .string(c.0)), ("subtype", "IDENTITY"), ("type", "DIRECT")])]
            return (c.0, .array(sources))
        })
        let inFeatures = input("customer_features", version: featuresVersion, location: Self.features, format: "jsonl", cols: Self.columns)
        let wScores = write("churn_scores", \.scoresVersion, location: Self.scores, format: "jsonl", cols: Self.scored, run: run, stage: "score", cause: s, correlation: req)
        let scored = succeed(run, "score", inputs: [inFeatures], datasets: [wScores],
                             outputs: .object([("model", "churn"), ("model_ref", "churn@production"), ("model_version", .int(modelVersion)),
                                               ("predictions_recorded", .int(Int64(predictionsPerRun))), ("rows_scored", .int(Int64(predictionsPerRun)))]),
                             lineage: .object([("churn_scores", .object([("fields", modelFlow)]))]), cause: s, correlation: req)
        let st = start(run, "store", cause: scored, correlation: req)
        let inScores = input("churn_scores", version: scoresVersion, location: Self.scores, format: "jsonl", cols: Self.scored)
        let wStored = write("churn_predictions", \.predictionsVersion, location: Self.warehouse, format: "sqlite", cols: Self.stored, run: run, stage: "store", cause: st, correlation: req)
        let stored = succeed(run, "store", inputs: [inScores], datasets: [wStored], outputs: .object([("rows_read", .int(Int64(predictionsPerRun))), ("rows_written", .int(Int64(predictionsPerRun)))]),
                             lineage: .object([("churn_predictions", Self.identity("churn_scores", Self.stored))]), cause: st, correlation: req)
        add("run/\(run)", RunEvents.runSucceeded, .object([("duration_ms", 420)]), cause: stored, correlation: req)
        // The trigger: a crossing per risky customer, each starting the follow-up.
        for r in risky {
            let crossing = add("trigger/high_churn", MLEvents.thresholdCrossed, .object([
                ("action", .object([("parameters", .object([("churn_probability", .double(r.p)), ("customer_id", .string(r.entity))])), ("run", "retention_followup")])),
                ("dedupe_key", .string("\(run)/\(r.entity)")), ("message", .string("trigger high_churn: churn_probability > 0.9 held for \(r.entity)")),
                ("observed", .object([("churn_probability", .double(r.p)), ("tenure_months", 3)])),
                ("rule", .object([("kind", "trigger"), ("name", "high_churn"), ("version", 1)])), ("source_event", .int(Int64(r.seq))),
                ("source_run", .string(run)), ("subject", .string(r.entity)), ("threshold", "churn_probability > 0.9 and tenure_months < 6"),
            ]), cause: r.seq, correlation: req)
            let (f, freq) = request("retention_followup", stages: [("offer", "script")],
                                    trigger: .object([("by", "trigger:high_churn"), ("crossing", .int(Int64(crossing))),
                                                      ("rule", .object([("kind", "trigger"), ("name", "high_churn"), ("version", 1)])), ("type", "trigger")]),
                                    parameters: .object([("churn_probability", .double(r.p)), ("customer_id", .string(r.entity))]), cause: crossing, correlation: req)
            followups.append(f)
            if recordFirings {
                let fired = TriggerFired(rule: RuleRef(kind: "trigger", name: "high_churn", version: 1), crossing: crossing, job: "retention_followup", run: f)
                add("trigger/high_churn", MLEvents.triggerFired, fired.payload, cause: crossing, correlation: req)
            }
            let os = start(f, "offer", cause: freq, correlation: req)
            let ok = succeed(f, "offer", inputs: [], datasets: [], outputs: .object([("customer_id", .string(r.entity)), ("offer", "loyalty_discount")]),
                             lineage: nil, cause: os, correlation: req)
            add("run/\(f)", RunEvents.runSucceeded, .object([("duration_ms", 200)]), cause: ok, correlation: req)
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
