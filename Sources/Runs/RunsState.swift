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
    /// A job stage's attempt: the child run it requested (its `StageStarted.child_run`).
    public var childRun: String?
    /// A for_each stage's attempt: its items (`StageStarted.items`) and, per item started, its
    /// child run or why it has none (`StageItemStarted`).
    public var items: [Value]?
    public var itemStarts: [Int: ItemStart] = [:]
}

/// A for_each item started: its child run, or why none could be requested.
public struct ItemStart: Sendable, Hashable {
    public var childRun: String?
    public var error: String?
    /// The child run is a rerun run's succeeded item run, taken over.
    public var reused = false

    public init(childRun: String? = nil, error: String? = nil, reused: Bool = false) {
        self.childRun = childRun
        self.error = error
        self.reused = reused
    }
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
    /// Skipped by its own condition (`when`, `on`): not a failure of the run.
    public var skippedByCondition = false
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
    public var trigger: RunTrigger
    public var maxParallel: Int?
    public var requestedSeq: UInt64
    public var requestedAtMicros: Int64
    /// The causal tree every event of the run belongs to.
    public var correlation: UInt64
    public var actor: String
    public var status: RunStatus = .running
    public var cancelRequested = false
    public var cancelRequestedBy: String?
    /// A team told when the run fails, besides the job's owners (`RunRequested.owner`).
    public var owner: String?
    /// A for_each item's inline stage as this run runs it (`RunRequested.inline_stage`).
    public var inlineStage: Value?
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

    public init(run: String, status: RunStatus, seq: UInt64, correlation: UInt64) {
        self.run = run
        self.status = status
        self.seq = seq
        self.correlation = correlation
    }
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
    /// Finished runs a working set has let go of (`forget`); 0 in a full state.
    public var forgotten = 0

    public init() {}

    /// The id the next requested run gets.
    public var nextRunID: String { String(lastRunNumber + 1) }

    /// Runs in request order (oldest first).
    public var ordered: [RunState] { runs.values.sorted { $0.number < $1.number } }

    /// Folds one event (events of other types are ignored). Never fails: the event happened; a
    /// run event whose payload does not decode is left out (`DecodingFailure` names it when the
    /// event is read with `RunEvent(_:)`).
    public mutating func evolve(_ e: RecordedEvent) {
        if e.seq > lastSeq { lastSeq = e.seq }
        guard RunEvents.types.contains(e.type), let event = try? RunEvent(e) else { return }
        evolve(e, event)
    }

    /// Folds one decoded run event with its envelope.
    public mutating func evolve(_ e: RecordedEvent, _ event: RunEvent) {
        if e.seq > lastSeq { lastSeq = e.seq }
        if case .datasetWritten(let d) = event {
            guard let name = RunEvents.dataset(ofStream: e.stream) else { return }
            datasetVersions[name] = e.streamVersion
            datasetLocations[name] = d.location
            guard var run = runs[d.run], let i = run.stageIndex[d.stage] else { return }
            run.stages[i].datasets.append(DatasetWrite(dataset: name, version: e.streamVersion, seq: e.seq, attempt: d.attempt,
                                                       location: d.location, rows: d.rows, contentHash: d.contentHash))
            runs[d.run] = run
            return
        }
        guard let id = RunEvents.run(ofStream: e.stream) else { return }
        if case .requested(let r) = event {
            var index: [String: Int] = [:]
            for (i, s) in r.stages.enumerated() { index[s.name] = i }
            var run = RunState(id: id, job: r.job, jobVersion: r.jobVersion, catalogSeq: r.catalogSeq, parameters: r.parameters,
                               trigger: r.trigger, maxParallel: r.maxParallel.map { Int($0) }, requestedSeq: e.seq,
                               requestedAtMicros: e.recordedAtMicros, correlation: e.correlation, actor: e.actor,
                               stages: r.stages.map { StageState(plan: $0) }, stageIndex: index, streamVersion: e.streamVersion,
                               lastEventSeq: e.seq)
            for (stage, ref) in r.reuse { run.reuseValue[stage] = RunState.ReuseRef(run: ref.run, attempt: ref.attempt) }
            run.owner = r.owner
            run.inlineStage = r.inlineStage
            runs[id] = run
            active.insert(id)
            lastRunNumber = max(lastRunNumber, Int(id) ?? 0)
            if r.trigger.kind == .dependency, let dep = r.trigger.dependency {
                for upstream in r.trigger.afterRuns ?? [] { consumed[dep, default: []].insert(upstream) }
            }
            return
        }
        guard var run = runs[id] else { return }
        run.streamVersion = e.streamVersion
        run.lastEventSeq = e.seq
        let si = event.stage.flatMap { run.stageIndex[$0] }
        switch event {
        case .queued(let q):
            if let si {
                run.stages[si].status = .queued
                run.stages[si].queuedAttempt = q.attempt
                run.stages[si].queuedSeq = e.seq
                run.stages[si].notBeforeMicros = q.notBefore
            }
        case .started(let s):
            if let si {
                run.stages[si].status = .running
                run.stages[si].attempts.append(Attempt(number: s.attempt, startedSeq: e.seq, startedAtMicros: e.recordedAtMicros, engine: s.engine,
                                                       childRun: s.childRun, items: s.items))
            }
        case .itemStarted(let s):
            if let si, let a = run.stages[si].attempts.lastIndex(where: { $0.number == s.attempt }) {
                run.stages[si].attempts[a].itemStarts[s.item] = ItemStart(childRun: s.childRun, error: s.error, reused: s.reused == true)
            }
        case .succeeded(let ok):
            if let si {
                Self.end(&run.stages[si], attempt: ok.attempt, outcome: .succeeded, at: e.recordedAtMicros, durationMs: ok.durationMs)
                run.stages[si].outputs = ok.outputs
                if let r = ok.reusedFrom { run.stages[si].reusedFrom = (r.run, r.attempt) }
                run.stages[si].status = .succeeded
            }
        case .failed(let f):
            if let si {
                Self.end(&run.stages[si], attempt: f.attempt, outcome: .failed, at: e.recordedAtMicros, reason: f.reason, error: f.error,
                    durationMs: f.durationMs)
                run.stages[si].error = f.error
                run.stages[si].reason = f.reason
                // A failure with a retry leaves the stage queued (the StageQueued that follows says when).
                if !f.retry { run.stages[si].status = .failed }
            }
        case .cancelled(let c):
            if let si {
                Self.end(&run.stages[si], attempt: c.attempt ?? 0, outcome: .cancelled, at: e.recordedAtMicros)
                run.stages[si].status = .cancelled
            }
        case .skipped(let s):
            if let si {
                run.stages[si].status = .skipped
                run.stages[si].reason = s.reason
                run.stages[si].skippedByCondition = s.byCondition == true
            }
        case .cancelRequested(let c):
            run.cancelRequested = true
            run.cancelRequestedBy = c.by
        case .runSucceeded, .runFailed, .runCancelled:
            if case .runSucceeded = event { run.status = .succeeded } else if case .runFailed = event { run.status = .failed } else { run.status = .cancelled }
            run.finishedSeq = e.seq
            run.finishedAtMicros = e.recordedAtMicros
            active.remove(id)
            finishedByJob[run.job, default: []].append(FinishedRun(run: id, status: run.status, seq: e.seq, correlation: run.correlation))
        case .requested, .datasetWritten:
            break
        }
        if let si { run.stages[si].lastSeq = e.seq }
        runs[id] = run
    }

    /// Records how attempt `attempt` of a stage ended (the first outcome recorded for it wins).
    private static func end(_ s: inout StageState, attempt: Int, outcome: StageStatus, at micros: Int64, reason: String? = nil,
                     error: String? = nil, durationMs: Int64? = nil) {
        guard let a = s.attempts.lastIndex(where: { $0.number == attempt }), s.attempts[a].outcome == nil else { return }
        s.attempts[a].outcome = outcome
        s.attempts[a].endedAtMicros = micros
        s.attempts[a].reason = reason
        s.attempts[a].error = error
        s.attempts[a].durationMs = durationMs
    }
}
