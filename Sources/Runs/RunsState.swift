import Domain

/// Where a run is.
public enum RunStatus: String, Sendable, Hashable, CaseIterable {
    case running, succeeded, failed, cancelled
    public var isFinished: Bool { self != .running }
}

/// Where a stage of a run is.
public enum StageStatus: String, Sendable, Hashable {
    case pending, queued, running, succeeded, failed, skipped, cancelled
    /// Nothing more will happen to it in this run.
    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .skipped || self == .cancelled }
}

/// One attempt at a stage.
public struct Attempt: Sendable, Hashable {
    public var number: Int
    public var startedSeq: UInt64
    public var startedAtMicros: Int64
    public var engine: String
    public var endedAtMicros: Int64?
    /// succeeded, failed or cancelled; nil while it runs.
    public var outcome: StageStatus?
    public var reason: String?
    public var error: String?
    public var durationMs: Int64?
}

/// A dataset version a stage wrote.
public struct DatasetWrite: Sendable, Hashable {
    public var dataset: String
    public var version: UInt64
    public var seq: UInt64
    public var attempt: Int
    public var location: String
    public var rows: Int64
    public var contentHash: String
}

/// A stage of a run.
public struct StageState: Sendable, Hashable {
    public var plan: PlannedStage
    public var status: StageStatus = .pending
    public var attempts: [Attempt] = []
    /// The attempt queued next (status queued) and when it may start.
    public var queuedAttempt: Int = 0
    public var queuedSeq: UInt64 = 0
    public var notBeforeMicros: Int64?
    public var reason: String?
    public var error: String?
    public var datasets: [DatasetWrite] = []
    public var outputs: Value?
    /// The run and attempt whose outputs a rerun took over.
    public var reusedFrom: (run: String, attempt: Int)? {
        get { reusedRun.map { ($0, reusedAttempt) } }
        set { reusedRun = newValue?.run; reusedAttempt = newValue?.attempt ?? 0 }
    }
    var reusedRun: String?
    var reusedAttempt = 0
    /// Seq of the event that last changed it.
    public var lastSeq: UInt64 = 0

    public var name: String { plan.name }
    /// The attempt that is running, if any.
    public var running: Attempt? { status == .running ? attempts.last : nil }
}

/// One run of a job, folded from its stream.
public struct RunState: Sendable, Hashable {
    public var id: String
    public var job: String
    public var jobVersion: UInt64
    public var catalogSeq: UInt64
    public var parameters: Value
    public var trigger: Value
    public var maxParallel: Int?
    public var requestedSeq: UInt64
    public var requestedAtMicros: Int64
    /// The causal tree every event of the run belongs to.
    public var correlation: UInt64
    public var actor: String
    public var status: RunStatus = .running
    public var cancelRequested = false
    public var cancelRequestedBy: String?
    public var stages: [StageState]
    /// Stage name → index in `stages`.
    public var stageIndex: [String: Int]
    /// Stage → the run and attempt whose outputs are reused (reruns).
    var reuseValue: [String: ReuseRef] = [:]
    public var streamVersion: UInt64
    public var finishedSeq: UInt64?
    public var finishedAtMicros: Int64?
    /// Seq of the run's newest event.
    public var lastEventSeq: UInt64

    struct ReuseRef: Sendable, Hashable { var run: String; var attempt: Int }

    public func stage(_ name: String) -> StageState? { stageIndex[name].map { stages[$0] } }
    /// Stage attempts running now.
    public var runningCount: Int { stages.reduce(0) { $0 + ($1.status == .running ? 1 : 0) } }
    /// The run's number, for ordering (ids are decimal numbers).
    public var number: Int { Int(id) ?? 0 }
}

/// A finished run, as the job-dependency reactor sees it.
public struct FinishedRun: Sendable, Hashable {
    public var run: String
    public var status: RunStatus
    public var seq: UInt64
    public var correlation: UInt64
}

/// The runs projection's state: every run, its stages and attempts, the datasets they wrote, and
/// what the reactors need (finished runs per job, runs a dependency has already consumed).
public struct RunsState: Sendable, Hashable {
    public var runs: [String: RunState] = [:]
    /// Runs not finished yet.
    public var active: Set<String> = []
    /// Per job, its finished runs in order.
    public var finishedByJob: [String: [FinishedRun]] = [:]
    /// Per dependency definition, the upstream runs that already started its job.
    public var consumed: [String: Set<String>] = [:]
    /// The highest run number requested.
    public var lastRunNumber = 0
    /// Per dataset, its newest version.
    public var datasetVersions: [String: UInt64] = [:]
    /// Per dataset, where its newest version was written.
    public var datasetLocations: [String: String] = [:]
    /// The state covers the log through this seq.
    public var lastSeq: UInt64 = 0

    public init() {}

    /// The id the next requested run gets.
    public var nextRunID: String { String(lastRunNumber + 1) }

    /// Runs in request order (oldest first).
    public var ordered: [RunState] { runs.values.sorted { $0.number < $1.number } }

    /// Folds one event (events of other types are ignored). Never fails: the event happened.
    public mutating func evolve(_ e: RecordedEvent) {
        if e.seq > lastSeq { lastSeq = e.seq }
        guard RunEvents.types.contains(e.type) else { return }
        let p = e.payload
        if e.type == RunEvents.datasetVersionWritten {
            guard e.stream.hasPrefix(RunEvents.datasetStreamPrefix) else { return }
            let name = p["dataset"]?.stringValue ?? String(e.stream.dropFirst(RunEvents.datasetStreamPrefix.count))
            datasetVersions[name] = e.streamVersion
            if let l = p["location"]?.stringValue { datasetLocations[name] = l }
            guard let runID = p["run"]?.stringValue, let stageName = p["stage"]?.stringValue,
                  var run = runs[runID], let i = run.stageIndex[stageName] else { return }
            run.stages[i].datasets.append(DatasetWrite(dataset: name, version: e.streamVersion, seq: e.seq,
                                                       attempt: Int(p["attempt"]?.intValue ?? 0),
                                                       location: p["location"]?.stringValue ?? "", rows: p["rows"]?.intValue ?? 0,
                                                       contentHash: p["content_hash"]?.stringValue ?? ""))
            runs[runID] = run
            return
        }
        guard e.stream.hasPrefix(RunEvents.runStreamPrefix) else { return }
        let id = String(e.stream.dropFirst(RunEvents.runStreamPrefix.count))
        if e.type == RunEvents.runRequested {
            // A run request without a plan is not one of ours (e.g. the benchmark generator's
            // synthetic history); it and the rest of its stream are ignored.
            guard let stagesValue = p["stages"], stagesValue.arrayValue != nil else { return }
            let plan = (p["stages"]?.arrayValue ?? []).map(PlannedStage.init(value:))
            var index: [String: Int] = [:]
            for (i, s) in plan.enumerated() { index[s.name] = i }
            var run = RunState(id: id, job: p["job"]?.stringValue ?? "?", jobVersion: UInt64(p["job_version"]?.intValue ?? 0),
                               catalogSeq: UInt64(p["catalog_seq"]?.intValue ?? 0), parameters: p["parameters"] ?? .object([]),
                               trigger: p["trigger"] ?? .null, maxParallel: p["max_parallel"]?.intValue.map { Int($0) },
                               requestedSeq: e.seq, requestedAtMicros: e.recordedAtMicros, correlation: e.correlation, actor: e.actor,
                               stages: plan.map { StageState(plan: $0) }, stageIndex: index, streamVersion: e.streamVersion,
                               lastEventSeq: e.seq)
            for m in p["reuse"]?.objectMembers ?? [] {
                run.reuseValue[m.key] = RunState.ReuseRef(run: m.value["run"]?.stringValue ?? "", attempt: Int(m.value["attempt"]?.intValue ?? 0))
            }
            runs[id] = run
            active.insert(id)
            lastRunNumber = max(lastRunNumber, Int(id) ?? 0)
            let trigger = p["trigger"]
            if trigger?["type"]?.stringValue == "dependency", let dep = trigger?["dependency"]?.stringValue {
                for r in trigger?["after_runs"]?.arrayValue ?? [] { if let r = r.stringValue { consumed[dep, default: []].insert(r) } }
            }
            return
        }
        guard var run = runs[id] else { return }
        run.streamVersion = e.streamVersion
        run.lastEventSeq = e.seq
        let stageName = p["stage"]?.stringValue
        let si = stageName.flatMap { run.stageIndex[$0] }
        let attempt = Int(p["attempt"]?.intValue ?? 0)
        switch e.type {
        case RunEvents.stageQueued:
            if let si {
                run.stages[si].status = .queued
                run.stages[si].queuedAttempt = attempt
                run.stages[si].queuedSeq = e.seq
                run.stages[si].notBeforeMicros = p["not_before"]?.intValue
            }
        case RunEvents.stageStarted:
            if let si {
                run.stages[si].status = .running
                run.stages[si].attempts.append(Attempt(number: attempt, startedSeq: e.seq, startedAtMicros: e.recordedAtMicros,
                                                       engine: p["engine"]?.stringValue ?? ""))
            }
        case RunEvents.stageSucceeded, RunEvents.stageFailed, RunEvents.stageCancelled:
            if let si {
                let outcome: StageStatus = e.type == RunEvents.stageSucceeded ? .succeeded : e.type == RunEvents.stageFailed ? .failed : .cancelled
                var s = run.stages[si]
                if let a = s.attempts.lastIndex(where: { $0.number == attempt }), s.attempts[a].outcome == nil {
                    s.attempts[a].outcome = outcome
                    s.attempts[a].endedAtMicros = e.recordedAtMicros
                    s.attempts[a].reason = p["reason"]?.stringValue
                    s.attempts[a].error = p["error"]?.stringValue
                    s.attempts[a].durationMs = p["duration_ms"]?.intValue
                }
                if outcome == .succeeded {
                    s.outputs = p["outputs"]
                    if let r = p["reused_from"], let rr = r["run"]?.stringValue {
                        s.reusedFrom = (rr, Int(r["attempt"]?.intValue ?? 0))
                    }
                }
                if outcome == .failed {
                    s.error = p["error"]?.stringValue
                    s.reason = p["reason"]?.stringValue
                }
                // A failure with a retry leaves the stage queued (the StageQueued that follows says when).
                if !(outcome == .failed && p["retry"]?.boolValue == true) { s.status = outcome }
                run.stages[si] = s
            }
        case RunEvents.stageSkipped:
            if let si {
                run.stages[si].status = .skipped
                run.stages[si].reason = p["reason"]?.stringValue
            }
        case RunEvents.runCancelRequested:
            run.cancelRequested = true
            run.cancelRequestedBy = p["by"]?.stringValue ?? e.actor
        case RunEvents.runSucceeded, RunEvents.runFailed, RunEvents.runCancelled:
            run.status = e.type == RunEvents.runSucceeded ? .succeeded : e.type == RunEvents.runFailed ? .failed : .cancelled
            run.finishedSeq = e.seq
            run.finishedAtMicros = e.recordedAtMicros
            active.remove(id)
            finishedByJob[run.job, default: []].append(FinishedRun(run: id, status: run.status, seq: e.seq, correlation: run.correlation))
        default:
            break
        }
        if let si { run.stages[si].lastSeq = e.seq }
        runs[id] = run
    }
}
