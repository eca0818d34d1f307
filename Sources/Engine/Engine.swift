import Catalog
import Domain
import EventLog
import Executors
import Foundation
import Lineage
import Models
import Projections
import Runs

/// The engine: the stage-scheduler and job-dependency reactors and a pool of workers over one
/// store. Hold the store's `EngineLock` while it runs.
///
/// One loop thread (the caller of `run(until:)`) owns the state: it folds new events into the
/// runs and catalog state, then decides, in one append (one LMDB transaction): the outcomes of
/// finished attempts (with the datasets they wrote), recovery of attempts a dead engine left
/// running, the scheduler's moves, the dependency reactor's new runs, and the StageStarted of
/// every attempt it is about to launch; both reactors' checkpoints move in that same
/// transaction. Attempts run on worker threads after their StageStarted is committed; their
/// outcomes come back to the loop. Decisions are level-triggered on the folded state and every
/// touched stream is appended at the version it was seen at, so a crash at any point neither
/// loses nor doubles a reaction: after a restart the same state gives the same decisions, minus
/// what was committed.
public final class Engine: @unchecked Sendable {
    // @unchecked Sendable: the loop's state is touched only by the loop thread; what other threads
    // touch (inbox, wake flag, stop request) is behind `cond`.

    public struct Options: Sendable {
        /// Stage attempts running at once in this engine (the store's limit).
        public var workers = 4
        /// How often to look for appends by other processes, in seconds.
        public var pollInterval = 0.05
        public var registry = ExecutorRegistry.builtIn
        /// On stop, how long running attempts may finish before they are killed (and recorded
        /// as interrupted).
        public var shutdownGrace = 10.0
        /// On recovery, how long the processes an interrupted attempt left running (its engine
        /// was killed) get to end after SIGTERM before SIGKILL; its retry waits for them.
        public var leftoverGrace = 5.0
        /// The time decisions are made at (retry backoffs, durations, `not_before`): the log's
        /// clock by default, so that both read the same time; tests drive a manual one.
        public var clock: (any LogClock)?
        /// Where the engine's log lines go (`report(_:_:component:run:)` sends one).
        public var log: @Sendable (LogLine) -> Void = { _ in }
        /// Which schedule ticks this engine decides (see `ScheduleTicks`).
        public var scheduleTicks = ScheduleTicks.whenDue
        /// Finished runs kept in memory, and how often snapshots are written (Engine+History).
        public var history = History()
        public init() {}
    }

    /// The checkpoints of the two reactors (stored identifiers).
    public static let schedulerCheckpoint = "reactor:stage-scheduler"
    public static let dependencyCheckpoint = "reactor:job-dependency"
    /// The checkpoint of the automation reactor (triggers, monitors, retraining policies).
    public static let automationCheckpoint = "reactor:automation"
    static let checkpointNames = [schedulerCheckpoint, dependencyCheckpoint, automationCheckpoint, notificationsCheckpoint]

    public let log: EventLog
    public let store: String
    /// Relative paths in definitions resolve against this folder (the store's parent).
    public let root: String
    public let options: Options
    /// The time decisions are made at (`options.clock`, else the log's).
    let clock: any LogClock
    /// This engine instance, recorded in each StageStarted.
    public let engineID: String
    var actor: String { "engine:\(engineID)" }

    // Loop-thread state.
    /// The seq the lineage table was last brought up to by this engine.
    var lineageIndexedThrough: UInt64 = 0
    var lineageFailures = 0
    var lineageRetryAt = Date.distantPast
    /// The runs the engine holds: its working set (Engine+History: finished runs go once decided).
    var runs = RunsState()
    var catalog = CatalogState()
    var catalogAt: [UInt64: CatalogState] = [:]
    var inFlight: [AttemptKey: InFlight] = [:]
    var recovered = false
    /// What recovery stopped, per attempt folder (kept until the interruption is committed).
    var leftoverNotes: [String: String] = [:]
    var stopping = false
    var stopDeadline: Date?
    var checkpointValues: [String: UInt64] = [:]
    // The model registry, the automation state and the rules in force (loop thread only).
    var models = ModelsState()
    var automation = AutomationState()
    var rules = AutomationRules()
    var rulesAt: UInt64 = .max
    /// Where reactors without a stored checkpoint start (see `load()`), for `decidedThrough`.
    var startFloors: [String: UInt64] = [:]
    /// Finished runs' statuses read from their streams (`finishedStatus(ofRun:)`), bounded.
    var finishedStatuses: [String: RunStatus] = [:]
    /// Finished child runs read from their streams (a loop's ended items are looked at every
    /// step while the loop runs; the working set may have let them go).
    var finishedChildren: [String: RunState] = [:]
    /// Events the automation reactor has not decided on yet (after its checkpoint).
    var automationInbox: [RecordedEvent] = []
    /// The notification reactor's outbox, inbox and deliveries (Engine+Notifications).
    let notifications = NotificationReactor()
    /// The schedule reactor's state (see Engine+Schedules).
    var scheduling = SchedulingState()
    /// The file sensors (`Engine+Sensors`).
    let sensorReactor = SensorReactor()
    /// Snapshots due and runs forgotten (Engine+History).
    var history = HistoryState()

    // Shared with other threads, behind `cond`.
    let cond = NSCondition()
    var inbox: [Completion] = []
    private var woken = false
    private var stopRequested = false
    /// Consecutive failed steps (the retry backoff grows with them), and the last one's reason.
    var failedSteps = 0
    var lastFailure: String?
    /// When this engine started, and when it last wrote `<store>/status/engine.json`.
    let startedAt = Date()
    var statusWrittenAt = Date.distantPast
    /// Failures injected by tests (loop thread only; set before `run`).
    var faults = Faults()

    struct AttemptKey: Hashable { var run: String; var stage: String; var attempt: Int }
    struct InFlight { var cancellation: Cancellation; var deadline: Date? }
    struct Completion { var key: AttemptKey; var result: Result<StageResult, StageError> }

    public init(log: EventLog, store: String, options: Options = Options()) {
        self.log = log
        let absolute = URL(fileURLWithPath: store).standardizedFileURL.path
        self.store = absolute
        self.root = (absolute as NSString).deletingLastPathComponent
        self.options = options
        self.clock = options.clock ?? log.clock
        self.engineID = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(Int64(Date().timeIntervalSince1970 * 1000))"
    }

    /// Asks the loop to stop: no new attempts; running ones get `shutdownGrace` to finish.
    public func stop() {
        cond.lock()
        stopRequested = true
        woken = true
        cond.signal()
        cond.unlock()
    }

    func wake() {
        cond.lock()
        woken = true
        cond.signal()
        cond.unlock()
    }

    /// Runs the loop on the calling thread until `until` holds for the runs state and the engine
    /// is idle (no attempt running, and a step that decided nothing: the reactors have reacted to
    /// everything so far, so a run that others depend on has started them), or `stop()` is
    /// called. Returns the final runs state.
    @discardableResult
    public func run(until: @escaping (RunsState) -> Bool = { _ in false }) throws -> RunsState {
        let observer = log.addAppendObserver { [weak self] _ in self?.wake() }
        defer { log.removeAppendObserver(observer) }
        try load()
        defer { writeStatus(force: true, stopped: true) }
        while true {
            if cond.withLock({ stopRequested }) && !stopping {
                stopping = true
                stopDeadline = Date().addingTimeInterval(options.shutdownGrace)
                if !inFlight.isEmpty { options.report("stopping: waiting for \(inFlight.count) running attempt(s) (up to \(Int(options.shutdownGrace)) s)", .info) }
            }
            if stopping, let d = stopDeadline, Date() >= d {
                for f in inFlight.values { f.cancellation.cancel("interrupted") }
                stopDeadline = .distantFuture
            }
            let progressed: Bool
            do {
                progressed = try step()
                failedSteps = 0
                lastFailure = nil
                writeStatus()
            } catch let failure as StepFailure {
                // Nothing of the step was appended and no checkpoint moved: decide again after a
                // backoff — or, asked to stop with nothing running, stop (the next engine decides).
                if stopping && inFlight.isEmpty {
                    options.report("stopping with a step that failed: \(failure)", .error)
                    return runs
                }
                failedSteps += 1
                lastFailure = failure.description
                writeStatus(force: true)
                let delay = Engine.retryDelay(afterFailures: failedSteps)
                options.report("step failed (\(failedSteps) in a row; retrying in \(String(format: "%.2f", delay)) s): \(failure)", .error)
                waitForWork(atMost: delay)
                continue
            }
            // Stop once nothing runs and a step decided nothing more (so that the reactors have
            // reacted to everything up to here, e.g. requested the runs that depend on a finish).
            if inFlight.isEmpty && cond.withLock({ inbox.isEmpty }) && notificationsIdle() && (stopping || (!progressed && until(runs))) {
                idleWork()
                return runs
            }
            if !progressed {
                idleWork()
                waitForWork()
            }
        }
    }

    /// Folds the log as it is now, each state from its newest snapshot (see Engine+History).
    func load() throws {
        let started = Date()
        let head = try log.lastSeq()
        let stored = try log.checkpoints()
        for name in Engine.checkpointNames { checkpointValues[name] = stored[name] ?? 0 }
        // A reactor added after this store's last engine has no checkpoint yet: it starts where
        // the stage scheduler is (as Engine+Notifications does), so runs decided before that need
        // not be held for it.
        startFloors = [:]
        for name in Engine.checkpointNames where stored[name] == nil { startFloors[name] = stored[Engine.schedulerCheckpoint] ?? 0 }
        // The registry and automation state fold on a thread of their own meanwhile.
        let log = self.log
        let automationFold = BackgroundWork { try Engine.foldAutomation(log, head: head) }
        try loadCatalogAndRuns(head: head)
        try loadAutomation(head: head, automationFold.result())
        try loadSchedules(head: head)
        reportLoaded(head: head, since: started)
    }

    /// Writes `<store>/status/engine.json` (at most once a second unless forced). A failure to
    /// write is reported once per minute at most; it never stops the engine.
    func writeStatus(force: Bool = false, stopped: Bool = false) {
        let now = Date()
        guard force || now.timeIntervalSince(statusWrittenAt) >= 1 else { return }
        let status = EngineStatus(engine: engineID, pid: ProcessInfo.processInfo.processIdentifier,
                                  startedMicros: Int64(startedAt.timeIntervalSince1970 * 1e6), lastStepMicros: Int64(now.timeIntervalSince1970 * 1e6),
                                  throughSeq: runs.lastSeq, running: inFlight.count, failedSteps: failedSteps, lastFailure: lastFailure,
                                  stopped: stopped)
        do {
            try StatusFile.write(status.value, store: store, name: "engine")
            statusWrittenAt = now
        } catch {
            statusWrittenAt = now.addingTimeInterval(59)
            options.report("could not write the engine status for `ledgerflow health`: \(error)", .warning)
        }
    }

    func catchUp() throws {
        while true {
            let events = try log.read(from: runs.lastSeq + 1, limit: 4096)
            if events.isEmpty { return }
            for e in events {
                runs.evolve(e)
                if CatalogEvents.types.contains(e.type) { catalog.evolve(e) }
                observe(e)
                observeNotification(e)
                observeSchedule(e)
                countForSnapshots(e)
            }
        }
    }

    /// Folds the events since the lineage table's and the prediction index's checkpoints into them
    /// (when idle: queries fold any tail themselves, so this only keeps their work small), one
    /// chunk each (50,000 events; 100,000 predictions) per idle moment, so a long history (a store
    /// from before the tables) never holds up the loop for long. A failure is reported, not fatal.
    func indexLineage() {
        guard lineageIndexedThrough < runs.lastSeq, Date() >= lineageRetryAt else { return }
        do {
            try faults.lineageIndex?()
            try LineageIndex.catchUp(log, through: runs.lastSeq, maxChunks: 1)
            try PredictionIndex.catchUp(log, through: runs.lastSeq, maxChunks: 1)
            lineageIndexedThrough = min(try log.checkpoint(LineageIndex.checkpoint), try log.checkpoint(PredictionIndex.checkpoint))
            lineageFailures = 0
        } catch {
            // The table is a cache (queries fold what it lacks): report, and try again later
            // rather than treating the events as indexed.
            lineageFailures += 1
            lineageRetryAt = Date().addingTimeInterval(Engine.retryDelay(afterFailures: lineageFailures))
            options.report("could not bring the lineage table up to seq \(runs.lastSeq) (\(lineageFailures) in a row): \(error); lineage queries fold the rest themselves; retrying later", .warning, component: "lineage")
        }
    }

    func waitForWork(atMost limit: Double? = nil) {
        var timeout = limit ?? options.pollInterval
        let now = clock.nowMicros()
        for id in runs.active {
            if let r = runs.runs[id], let w = Scheduler.nextWake(r) { timeout = min(timeout, max(0.001, Double(w - now) / 1e6)) }
        }
        for f in inFlight.values { if let d = f.deadline { timeout = min(timeout, max(0.001, d.timeIntervalSinceNow)) } }
        if let w = notificationWait() { timeout = min(timeout, w) }
        if let w = nextScheduleWake() { timeout = min(timeout, max(0.001, Double(w - now) / 1e6)) }
        if let w = nextSensorPoll(now: now) { timeout = min(timeout, w) }
        cond.lock()
        if !woken && inbox.isEmpty { _ = cond.wait(until: Date().addingTimeInterval(timeout)) }
        woken = false
        cond.unlock()
    }

    /// Starts an attempt on a worker thread (its StageStarted is committed).
    func launch(_ key: AttemptKey, run: RunState) {
        let cancellation = Cancellation()
        let stage = run.stage(key.stage)
        let deadline = stage?.plan.timeoutSeconds.map { Date().addingTimeInterval($0) }
        inFlight[key] = InFlight(cancellation: cancellation, deadline: deadline)
        let cat: CatalogState
        do {
            cat = try catalog(at: run.catalogSeq)
        } catch {
            // Its StageStarted is committed: the attempt fails on record (retried per its policy).
            options.report("stage \(key.stage) attempt \(key.attempt): could not read the catalog as of seq \(run.catalogSeq): \(error)", .error, run: key.run)
            post(Completion(key: key, result: .failure(StageError("could not read the catalog as of seq \(run.catalogSeq) (the version run \(key.run) runs under): \(error)"))))
            return
        }
        // A for_each item's inline stage is in its run's request; other stages in the job's definition.
        let spec = run.inlineStage ?? cat.entries[DefinitionKey(.job, run.job)].flatMap { try? JobSpec.storedStage(key.stage, of: $0.spec) } ?? .null
        var context = StageContext(run: key.run, job: run.job, stage: key.stage, attempt: key.attempt, spec: spec,
                                   parameters: run.parameters, catalog: cat, store: store, root: root, cancellation: cancellation)
        context.models = models
        context.rules = AutomationRules(catalog: cat)
        for s in run.stages where s.status == .succeeded { if let o = s.outputs { context.upstreamOutputs[s.name] = o } }
        context.datasetVersions = runs.datasetVersions
        context.datasetLocations = runs.datasetLocations
        context.recorder = LogRecorder(log: log, actor: actor)
        let log = self.log, through = runs.lastSeq
        context.datasetVersion = { name, version in
            guard let e = try log.read(stream: "dataset/\(name)", fromVersion: version, limit: 1).first, e.streamVersion == version else { return nil }
            return try e.decode(DatasetVersionWritten.self)
        }
        context.predictions = { model, entities in
            try PredictionIndex.latest(log, model: model, entities: entities, through: through).mapValues {
                RecordedPrediction(seq: $0.seq, modelVersion: $0.event.modelVersion ?? 0, outputs: $0.event.outputs)
            }
        }
        context.startedSeq = runs.runs[key.run]?.stage(key.stage)?.attempts.last?.startedSeq
        context.correlation = run.correlation
        let attempt = context
        let executor = options.registry.executors[stage?.plan.type ?? ""]
        DispatchQueue.global().async { [weak self] in
            let result: Result<StageResult, StageError>
            if let executor {
                do throws(StageError) { result = .success(try executor.run(attempt)) } catch { result = .failure(error) }
            } else {
                result = .failure(StageError("no executor for stage type '\(stage?.plan.type ?? "?")'"))
            }
            self?.post(Completion(key: key, result: result))
        }
    }

    func post(_ c: Completion) {
        cond.lock()
        inbox.append(c)
        woken = true
        cond.signal()
        cond.unlock()
    }

    /// The catalog as it was at `seq` (a run's catalog version). Fails when it cannot be read:
    /// a run never executes under another catalog than the one it recorded.
    func catalog(at seq: UInt64) throws -> CatalogState {
        try faults.catalogRead?(seq)
        if seq == catalog.lastChangeSeq { return catalog }
        if let c = catalogAt[seq] { return c }
        let c = try ProjectionRunner(log: log, projection: CatalogProjection()).state(at: seq).state
        if catalogAt.count > 16 { catalogAt.removeAll() }
        catalogAt[seq] = c
        return c
    }
}


/// The events one step appends, by stream, with the run states they lead to (so that later
/// decisions in the same step see the earlier ones).
struct Batch {
    let base: RunsState
    let now: Int64
    let actor: String
    var order: [String] = []
    var events: [String: [NewEvent]] = [:]
    var expected: [String: ExpectedVersion] = [:]
    var copies: [String: RunState] = [:]
    var datasetNext: [String: UInt64] = [:]
    /// Runs requested in this step, and model versions registered per model.
    private(set) var newRuns = 0
    private var registered: [String: Int] = [:]

    init(base: RunsState, now: Int64, actor: String) {
        self.base = base
        self.now = now
        self.actor = actor
    }

    var isEmpty: Bool { order.isEmpty }

    func run(_ id: String) -> RunState? { copies[id] ?? base.runs[id] }

    mutating func touch(_ stream: String, expected v: ExpectedVersion) {
        if events[stream] == nil {
            order.append(stream)
            events[stream] = []
            expected[stream] = v
        }
    }

    /// Adds a run's events and folds them into its working copy.
    mutating func apply(run id: String, _ new: [NewEvent]) {
        guard !new.isEmpty, var r = run(id) else { return }
        let stream = RunEvents.stream(run: id)
        touch(stream, expected: .exact(base.runs[id]?.streamVersion ?? 0))
        events[stream]! += new
        var tmp = RunsState()
        tmp.runs[id] = r
        var v = r.streamVersion
        for e in new {
            v += 1
            // Seqs are not known before the commit: the working copy keeps the run's last real seq.
            tmp.evolve(RecordedEvent(seq: r.lastEventSeq, recordedAtMicros: now, stream: stream, streamVersion: v, type: e.type,
                                     causation: e.causation, correlation: e.correlation, actor: actor, payload: e.payload))
        }
        r = tmp.runs[id] ?? r
        copies[id] = r
    }

    /// A new run (its stream must not exist yet). It is scheduled in a later step.
    mutating func newRun(_ id: String, _ e: NewEvent) {
        let stream = RunEvents.stream(run: id)
        touch(stream, expected: .noStream)
        events[stream, default: []] += [e]
        newRuns += 1
    }

    /// Versions of `model` registered earlier in this step.
    func pendingVersions(_ model: String) -> Int { registered[model] ?? 0 }
    mutating func registerVersion(_ model: String) { registered[model, default: 0] += 1 }

    mutating func nextDatasetVersion(_ name: String) -> UInt64 {
        let v = (datasetNext[name] ?? base.datasetVersions[name] ?? 0) + 1
        datasetNext[name] = v
        return v
    }

    /// Adds events to any other stream (model, metrics, predictions, rules), at `expected` when
    /// the stream is first touched in this step.
    mutating func add(_ stream: String, _ new: [NewEvent], expected v: ExpectedVersion) {
        guard !new.isEmpty else { return }
        touch(stream, expected: v)
        events[stream, default: []] += new
    }

    /// Events this step adds to `stream` so far.
    func added(_ stream: String) -> Int { events[stream]?.count ?? 0 }

    mutating func addDataset(_ name: String, _ e: NewEvent, version: UInt64) {
        let stream = RunEvents.stream(dataset: name)
        touch(stream, expected: .exact(version - 1))
        events[stream]! += [e]
    }

    var appends: [StreamAppend] { order.map { StreamAppend(stream: $0, expectedVersion: expected[$0]!, events: events[$0]!) } }
}

extension NSCondition {
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
