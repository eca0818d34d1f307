import Domain
import EventLog

/// SplitMix64: a small, fast, seedable generator (deterministic event histories).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Generates a realistic pipeline history: several jobs run concurrently (interleaved), each run
/// requested by a schedule, a file sensor, a dependency or a person; its stages are queued,
/// started, write dataset versions, sometimes fail and retry, and succeed; scoring stages record
/// one prediction event per scored entity (in chunks, as an inference stage does); models
/// publish metrics; high scores cross thresholds and fire triggers.
///
/// Causation links to the previous event of the same run, so every run is one correlation.
/// The generator learns the seqs its events got from each append's result (`committed`), so it
/// also works when other writers append to the same store at the same time.
struct PipelineGenerator {
    struct Job {
        let name: String
        let stages: [(name: String, kind: String)]
        let model: (name: String, output: String)?
        let population: ClosedRange<Int>
    }

    static let jobs: [Job] = [
        Job(name: "customer-etl", stages: [("extract", "etl"), ("clean", "etl"), ("load", "storage")], model: nil, population: 0 ... 0),
        Job(name: "churn-scoring", stages: [("extract", "etl"), ("features", "features"), ("score", "inference"), ("publish", "storage")],
            model: ("churn", "churn_probability"), population: 400 ... 2500),
        Job(name: "fraud-scoring", stages: [("extract", "etl"), ("features", "features"), ("score", "inference"), ("publish", "storage")],
            model: ("fraud", "fraud_score"), population: 300 ... 1800),
        Job(name: "sensor-anomaly", stages: [("ingest", "etl"), ("score", "inference"), ("store", "storage")],
            model: ("sensor-anomaly", "anomaly_score"), population: 500 ... 3000),
        Job(name: "churn-retrain", stages: [("extract", "etl"), ("features", "features"), ("train", "train")], model: nil, population: 0 ... 0),
        Job(name: "daily-report", stages: [("aggregate", "etl"), ("render", "script"), ("mail", "script")], model: nil, population: 0 ... 0),
    ]

    enum Phase { case request, start, score, finish, complete }

    /// A run in progress.
    struct Run {
        let id: String
        let job: Job
        var phase = Phase.request
        var stage = 0
        var attempt = 1
        var scored = 0
        var population: Int
        var lastSeq: UInt64 = 0
        var requestedSeq: UInt64 = 0
        let modelVersion: Int
        let client: String
    }

    private var rng: SplitMix64
    private let prefix: String
    private var runNumber = 0
    private var active: [Run] = []
    private let concurrentRuns: Int
    /// Pending (run index, offset in the batch) of the last batch handed out.
    private var pending: [(run: String, offsetOfLast: Int, isRequest: Bool)] = []
    private var finished: [String] = []
    private(set) var day = 0

    init(seed: UInt64, prefix: String = "", concurrentRuns: Int = 6) {
        rng = SplitMix64(seed: seed)
        self.prefix = prefix
        self.concurrentRuns = concurrentRuns
    }

    private mutating func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
    private mutating func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
    private mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(rng.next() % UInt64(r.count)) }

    private mutating func startRun() -> Run {
        runNumber += 1
        let job = pick(PipelineGenerator.jobs)
        return Run(id: "\(prefix)r\(String(runNumber, radix: 36))", job: job, population: int(job.population),
                   modelVersion: int(1 ... 4), client: "C\(int(100 ... 140))")
    }

    /// The next batch: one step of each active run (a run's step is one to a few hundred events).
    mutating func nextBatch() -> [StreamAppend] {
        while active.count < concurrentRuns { active.append(startRun()) }
        var parts: [StreamAppend] = []
        var offset = 0
        pending.removeAll(keepingCapacity: true)
        for i in active.indices {
            var run = active[i]
            let (stream, events, isRequest) = step(&run)
            active[i] = run
            guard !events.isEmpty else { continue }
            parts.append(StreamAppend(stream: stream, events: events))
            offset += events.count
            pending.append((active[i].id, offset - 1, isRequest))
        }
        let done = Set(finished)
        active.removeAll { done.contains($0.id) }
        finished.removeAll()
        return parts
    }

    /// Records the seq the batch's first event got, so later events can name their causes.
    mutating func committed(firstSeq: UInt64) {
        for p in pending {
            guard let i = active.firstIndex(where: { $0.id == p.run }) else { continue }
            active[i].lastSeq = firstSeq + UInt64(p.offsetOfLast)
            if p.isRequest { active[i].requestedSeq = active[i].lastSeq }
        }
    }

    private mutating func step(_ run: inout Run) -> (String, [NewEvent], Bool) {
        let stream = "run/\(run.id)"
        let cause: UInt64? = run.lastSeq == 0 ? nil : run.lastSeq
        switch run.phase {
        case .request:
            let trigger: Value
            switch int(0 ... 9) {
            case 0 ... 5: trigger = ["kind": "schedule", "schedule": .string("\(run.job.name)-nightly"), "tick": .string("2026-11-\(10 + day % 19)T02:00:00Z")]
            case 6 ... 7: trigger = ["kind": "sensor", "sensor": "landing-zone", "file": .string("/data/landing/\(run.client)/batch-\(int(1000 ... 9999)).done")]
            case 8: trigger = ["kind": "dependency", "after": "customer-etl", "outcome": "succeeded"]
            default: trigger = ["kind": "manual", "user": .string(pick(["ana", "bo", "chen", "dara"]))]
            }
            run.phase = .start
            return (stream, [NewEvent(type: "RunRequested", payload: [
                "run": .string(run.id), "job": .string(run.job.name), "jobVersion": .int(Int64(int(1 ... 6))),
                "catalogSeq": .int(Int64(int(10 ... 400))), "trigger": trigger,
                "parameters": ["client": .string(run.client), "date": .string("2026-11-\(10 + day % 19)")],
            ])], true)
        case .complete:
            finished.append(run.id)
            day += 1
            return (stream, [NewEvent(type: "RunSucceeded", payload: [
                "run": .string(run.id), "job": .string(run.job.name), "durationMs": .int(Int64(int(4_000 ... 900_000))),
                "stages": .int(Int64(run.job.stages.count)),
            ], causation: cause)], false)
        case .start:
            let (stageName, kind) = run.job.stages[run.stage]
            var events: [NewEvent] = []
            if run.attempt == 1 {
                events.append(NewEvent(type: "StageQueued", payload: ["run": .string(run.id), "stage": .string(stageName), "type": .string(kind)], causation: cause))
            }
            events.append(NewEvent(type: "StageStarted", payload: [
                "run": .string(run.id), "stage": .string(stageName), "attempt": .int(Int64(run.attempt)),
                "worker": .string("worker-\(int(1 ... 4))"),
            ], causation: cause))
            run.phase = kind == "inference" && run.job.model != nil && run.scored < run.population ? .score : .finish
            return (stream, events, false)
        case .score:
            // Predictions, a chunk at a time (an inference stage records them in batches).
            let (stageName, _) = run.job.stages[run.stage]
            let model = run.job.model!
            let n = min(500, run.population - run.scored)
            var events: [NewEvent] = []
            events.reserveCapacity(n + 8)
            for _ in 0 ..< n {
                run.scored += 1
                let score = (uniform() * uniform() * 10_000).rounded() / 10_000
                var outputs: [String: Value] = [model.output: .double(score)]
                if model.output == "anomaly_score" { outputs["is_anomaly"] = .bool(score > 0.9) }
                events.append(NewEvent(type: "PredictionRecorded", payload: [
                    "run": .string(run.id), "stage": .string(stageName), "model": .string(model.name),
                    "modelVersion": .int(Int64(run.modelVersion)),
                    "entity": .string("\(run.client)-\(String(int(1 ... 999_999), radix: 10))"),
                    "outputs": .object(outputs),
                ], causation: cause))
                if score > 0.97 {
                    events.append(NewEvent(type: "ThresholdCrossed", payload: [
                        "rule": .string("high-\(model.output)"), "ruleVersion": 2, "observed": .double(score), "threshold": 0.97,
                        "subject": .string(run.client),
                    ], causation: cause))
                }
            }
            if run.scored >= run.population { run.phase = .finish }
            return ("predictions/\(run.id)", events, false)
        case .finish:
            // A dataset version (for data stages), then success, or a failure and a retry.
            let (stageName, kind) = run.job.stages[run.stage]
            var events: [NewEvent] = []
            if run.attempt < 3 && int(0 ... 24) == 0 {
                events.append(NewEvent(type: "StageFailed", payload: [
                    "run": .string(run.id), "stage": .string(stageName), "attempt": .int(Int64(run.attempt)),
                    "error": .string(pick(["connection reset by peer", "timeout after 300s", "exit status 1: out of memory", "SQLITE_BUSY: database is locked"])),
                    "retry": true,
                ], causation: cause))
                run.attempt += 1
                run.phase = .start
                return (stream, events, false)
            }
            if kind != "script" && kind != "train" {
                events.append(NewEvent(type: "DatasetVersionWritten", payload: [
                    "run": .string(run.id), "stage": .string(stageName), "dataset": .string("\(run.job.name).\(stageName)"),
                    "version": .int(Int64(int(1 ... 900))), "location": .string("sqlite:warehouse.db#\(stageName)_\(run.client)"),
                    "rows": .int(Int64(int(1_000 ... 2_000_000))), "contentHash": .string(String(rng.next(), radix: 16)),
                    "schema": ["customer_id:int", "amount:double", "ts:timestamp", "client_code:string"],
                ], causation: cause))
            }
            if kind == "train" {
                events.append(NewEvent(type: "ModelVersionRegistered", payload: [
                    "model": "churn", "version": .int(Int64(int(2 ... 40))),
                    "metrics": ["accuracy": .double(0.9 + uniform() * 0.05), "log_loss": .double(0.1 + uniform() * 0.1)],
                    "artifact": .string(String(rng.next(), radix: 16)), "run": .string(run.id),
                ], causation: cause))
            }
            if let model = run.job.model, kind == "inference" {
                events.append(NewEvent(type: "MetricObserved", payload: [
                    "model": .string(model.name), "modelVersion": .int(Int64(run.modelVersion)), "metric": "psi_drift",
                    "value": .double((uniform() * 0.3 * 1000).rounded() / 1000), "run": .string(run.id),
                ], causation: cause))
            }
            events.append(NewEvent(type: "StageSucceeded", payload: [
                "run": .string(run.id), "stage": .string(stageName), "attempt": .int(Int64(run.attempt)),
                "durationMs": .int(Int64(int(200 ... 120_000))),
            ], causation: cause))
            run.stage += 1
            run.attempt = 1
            run.phase = run.stage < run.job.stages.count ? .start : .complete
            return (stream, events, false)
        }
    }
}
