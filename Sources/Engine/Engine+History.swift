import Catalog
import Domain
import EventLog
import Foundation
import Models
import Projections
import Runs

/// What the engine holds in memory and how it starts, independent of how long the history is.
///
/// **Start.** The engine's state starts from snapshots and folds only the events after them:
/// the catalog, the model registry and the automation state from their projections' newest
/// snapshots (`ProjectionRunner`), and the runs from the engine's own snapshot of its working set
/// (`engine-runs`). A snapshot is a cache: one that does not read or decode is passed over with
/// its reason (a warning, component `snapshots`) and the log is folded instead.
///
/// **Snapshots.** The engine writes them itself, never in a step: at an idle moment (and when it
/// stops), each state that has folded `History.snapshotEvery` events of its types since its
/// newest snapshot gets a new one at the seq the engine has folded through — so after a long fold
/// at start, the next start does not fold it again.
///
/// **Only active runs in memory.** `RunsState.forget` drops, once every reactor's checkpoint has
/// passed a run's end, the finished run (but the `History.keepFinishedRuns` most recent ones)
/// and whatever of it no dependency rule can still consume (see `RunsState+WorkingSet`).
/// The rule reactors may rely on: **a run whose end is above the lowest checkpoint of
/// `Engine.checkpointNames` is held** — so a reactor that reads runs of the events in its inbox
/// (events after its checkpoint) finds them, provided its checkpoint is in `checkpointNames`
/// (all of them move together in a step's append). Use `runs.hasFinished(id)`, not
/// `runs.runs[id]?.status`, to ask whether a run of any age has finished.
extension Engine {
    /// How much of the history the engine keeps, and how often it writes snapshots.
    public struct History: Sendable {
        /// Finished runs kept in memory after every reactor has decided on their end (the most
        /// recent ones): what `run(until:)`'s condition and its result show of finished runs.
        public var keepFinishedRuns = 100
        /// A state gets a new snapshot at an idle moment once this many events of its types were
        /// folded since its newest one.
        public var snapshotEvery = 5_000
        public init() {}
    }

    /// The engine's snapshot of its working set of runs (a stored identifier).
    public static let runsSnapshotName = "engine-runs"
    /// Its format, which follows the runs projection's (a change to how a run is encoded bumps both).
    public static var runsSnapshotVersion: UInt32 { RunsProjection().version * 100 + 1 }
    /// The reactors' checkpoints (an engine that has decided on every event has them all at the head).
    public static var reactorCheckpoints: [String] { checkpointNames }

    /// The seq every reactor has decided through: the lowest of their checkpoints.
    var decidedThrough: UInt64 { Engine.checkpointNames.map { max(checkpointValues[$0] ?? 0, startFloors[$0] ?? 0) }.min() ?? 0 }

    /// The dependency rules of the current catalog.
    func dependencyRules() -> [DependencyRule] {
        catalog.entries.values.filter { $0.key.kind == .dependency }.map { DependencyRule(name: $0.key.name, appliedSeq: $0.seq, spec: $0.spec) }
    }

    /// Loads the catalog from its newest snapshot, then the working set of runs from the engine's
    /// newest snapshot, each with the events after it, up to `head`. The checkpoints must be read
    /// already: what is let go of while folding depends on them.
    func loadCatalogAndRuns(head: UInt64) throws {
        var started = Date()
        let c = try ProjectionRunner(log: log, projection: CatalogProjection()).state(at: head)
        catalog = c.state
        history.debt.catalog = c.folded
        noteLoaded("catalog", fromSnapshot: c.fromSnapshot, folded: c.folded, seconds: Date().timeIntervalSince(started))
        if let why = c.rejectedSnapshot { options.report(why, .warning, component: "snapshots") }

        started = Date()
        let rules = dependencyRules(), decided = decidedThrough, keep = options.history.keepFinishedRuns
        // A long fold (a first start on a long history) lets go as it goes, so that memory stays
        // bounded during the fold too.
        let fold = try Engine.workingSet(log, through: head, report: { options.report($0, .warning, component: "snapshots") }, cold: (decided, rules, keep)) {
            $0.forget(decidedThrough: decided, rules: rules, keepFinished: keep)
        }
        runs = fold.state
        runs.forget(decidedThrough: decided, rules: rules, keepFinished: keep)
        history.forgotThrough = decided
        history.debt.runs = fold.folded
        noteLoaded("runs", fromSnapshot: fold.fromSnapshot, folded: fold.folded, seconds: Date().timeIntervalSince(started))
    }

    /// The working set of runs as of `head`: the engine's newest snapshot of it (when one reads;
    /// else `report` says why not), then the run events after it, `forgetting` applied every
    /// 16,384 of them. Its `lastRunNumber`, dataset versions and active runs are the full
    /// state's (`RunCommands.request` numbers a run from it).
    ///
    /// With `cold` (what the caller will forget: the seq decided through, the dependency rules,
    /// the finished runs to keep), a fold from seq 1 skips the runs that would be forgotten at
    /// once: see `coldWorkingSet`.
    static func workingSet(_ log: EventLog, through head: UInt64, report: (String) -> Void,
                           cold: (decided: UInt64, rules: [DependencyRule], keep: Int)? = nil,
                           forgetting: ((inout RunsState) -> Void)? = nil) throws -> (state: RunsState, fromSnapshot: UInt64?, folded: Int) {
        var state = RunsState()
        var from: UInt64 = 1
        var snapshot: UInt64?
        do {
            if let (info, value) = try log.snapshot(runsSnapshotName, atOrBefore: head, version: runsSnapshotVersion) {
                do throws(DecodingFailure) {
                    state = try RunsState(workingSet: value)
                    from = info.seq + 1
                    snapshot = info.seq
                } catch {
                    report("the \(runsSnapshotName) snapshot at seq \(info.seq) does not decode (\(error)); folded the runs from the log instead")
                }
            }
        } catch {
            report("the newest \(runsSnapshotName) snapshot does not read (\(error)); folded the runs from the log instead")
        }
        if from == 1, let cold {
            let (state, folded) = try coldWorkingSet(log, through: head, decided: cold.decided, rules: cold.rules, keep: cold.keep)
            return (state, nil, folded)
        }
        var folded = 0
        try ProjectionRunner(log: log, projection: RunsProjection()).forEachEvent(from: from, through: head) { e in
            state.evolve(e)
            folded += 1
            if folded % 16_384 == 0 { forgetting?(&state) }
        }
        state.lastSeq = head
        return (state, snapshot, folded)
    }

    /// The working set as of `head` folded from seq 1, without folding the runs it would let go of
    /// at once — on a long history, nearly all of them: their `RunState` is never built. It reads
    /// every decodable `RunRequested` (number, job, trigger, correlation) and run end, and every
    /// dataset version; the runs that stay (active, ended after `decided`, or among the `keep`
    /// most recently ended) are folded from their own streams and the dataset versions they wrote;
    /// of the others, it records what `evolve` would have (the number, the runs a dependency
    /// consumed, each end in `finishedByJob`), then `forget` prunes as usual. The result equals
    /// folding every event then forgetting (`EngineHistoryTests` checks it); how many events it
    /// read is returned with it.
    static func coldWorkingSet(_ log: EventLog, through head: UInt64, decided: UInt64, rules: [DependencyRule],
                               keep: Int) throws -> (state: RunsState, read: Int) {
        // What is kept of each requested run until it is known whether it stays: little, since
        // a long history has a great many.
        struct Requested {
            var seq: UInt64
            var job: String
            var correlation: UInt64
            /// A dependency's run: the rule and the upstream runs it consumed.
            var consumed: (rule: String, runs: [String])?
        }
        struct End {
            var seq: UInt64
            var status: RunStatus
            /// Earlier ends of the same run (none in a log the engine wrote; evolve records each).
            var earlier: [(seq: UInt64, status: RunStatus)] = []
        }
        var requested: [String: Requested] = [:]
        var ends: [String: End] = [:]
        var newest: [String: (version: UInt64, location: String)] = [:]
        var written: [String: [UInt64]] = [:]
        var jobs: [String: String] = [:]
        var read = 0
        let types: Set<String> = [RunEvents.runRequested, RunEvents.runSucceeded, RunEvents.runFailed, RunEvents.runCancelled, RunEvents.datasetVersionWritten]
        try log.forEachEvent(ofTypes: types, from: 1, through: head, prepare: { try? RunEvent($0) }) { e, decoded in
            read += 1
            guard let event = decoded else { return }
            switch event {
            case .requested(let r):
                guard let id = RunEvents.run(ofStream: e.stream) else { return }
                let job = jobs[r.job] ?? r.job
                jobs[job] = job
                var consumed: (String, [String])?
                if r.trigger.kind == .dependency, let dep = r.trigger.dependency { consumed = (dep, r.trigger.afterRuns ?? []) }
                requested[id] = Requested(seq: e.seq, job: job, correlation: e.correlation, consumed: consumed)
            case .runSucceeded, .runFailed, .runCancelled:
                guard let id = RunEvents.run(ofStream: e.stream), requested[id] != nil else { return }
                let status: RunStatus
                if case .runSucceeded = event { status = .succeeded } else if case .runFailed = event { status = .failed } else { status = .cancelled }
                if var end = ends[id] {
                    end.earlier.append((end.seq, end.status))
                    (end.seq, end.status) = (e.seq, status)
                    ends[id] = end
                } else {
                    ends[id] = End(seq: e.seq, status: status)
                }
            case .datasetWritten(let d):
                guard let name = RunEvents.dataset(ofStream: e.stream) else { return }
                newest[name] = (e.streamVersion, d.location)
                written[d.run, default: []].append(e.seq)
            default:
                break
            }
        }
        let byEnd = ends.map { ($0.key, $0.value.seq) }.sorted { $0.1 > $1.1 }
        let light = Set(byEnd.dropFirst(max(0, keep)).filter { $0.1 <= decided }.map(\.0))

        // The runs that stay, folded from their streams and the dataset versions they wrote.
        var state = RunsState()
        var events: [RecordedEvent] = []
        for (id, r) in requested where !light.contains(id) {
            for e in try log.read(stream: RunEvents.stream(run: id)) where e.seq <= head && RunEvents.types.contains(e.type) { events.append(e) }
            for seq in written[id] ?? [] where seq > r.seq {
                if let e = try log.event(at: seq) { events.append(e) }
            }
        }
        read += events.count
        for e in events.sorted(by: { $0.seq < $1.seq }) { state.evolve(e) }
        for (name, v) in newest {
            state.datasetVersions[name] = v.version
            state.datasetLocations[name] = v.location
        }
        // Of the runs let go of: what evolve would have recorded of them.
        for (id, r) in requested {
            state.lastRunNumber = max(state.lastRunNumber, Int(id) ?? 0)
            if let c = r.consumed { state.consumed[c.rule, default: []].formUnion(c.runs) }
            guard light.contains(id), let end = ends[id] else { continue }
            for x in end.earlier + [(end.seq, end.status)] {
                state.finishedByJob[r.job, default: []].append(FinishedRun(run: id, status: x.status, seq: x.seq, correlation: r.correlation))
            }
        }
        state.forgotten = light.count
        for job in state.finishedByJob.keys { state.finishedByJob[job]?.sort { $0.seq < $1.seq } }
        state.lastSeq = head
        state.forget(decidedThrough: decided, rules: rules, keepFinished: keep)
        return (state, read)
    }

    /// Notes where a state started from, for the line `reportLoaded` writes.
    func noteLoaded(_ name: String, fromSnapshot: UInt64?, folded: Int, seconds: Double) {
        let from = fromSnapshot.map { "from its snapshot at seq \($0) + \(folded) events" } ?? "from seq 1 (\(folded) events)"
        history.loaded.append("\(name) " + from + String(format: ", %.3f s", seconds))
    }

    /// One line saying how the engine's state was loaded and how long it took.
    func reportLoaded(head: UInt64, since start: Date) {
        options.report(String(format: "state loaded through seq %llu in %.3f s: ", head, Date().timeIntervalSince(start))
                       + history.loaded.joined(separator: "; ") + "; holding \(runs.runs.count) runs (\(runs.active.count) active)")
        history.loaded.removeAll()
    }

    /// Counts a folded event towards the snapshot of its state.
    func countForSnapshots(_ e: RecordedEvent) {
        if RunEvents.types.contains(e.type) { history.debt.runs += 1 }
        if CatalogEvents.types.contains(e.type) { history.debt.catalog += 1 }
        if MLEvents.registryTypes.contains(e.type) { history.debt.models += 1 }
        if MLEvents.automationTypes.contains(e.type) { history.debt.automation += 1 }
        if ScheduleEvents.types.contains(e.type) || SensorEvents.types.contains(e.type) || NotificationEvents.types.contains(e.type) { history.debt.streams += 1 }
    }

    /// Drops from the runs what every reactor has decided on (see the type's documentation);
    /// nothing when the checkpoints have not moved since the last time.
    func forgetDecidedRuns() {
        let decided = decidedThrough
        guard decided > history.forgotThrough else { return }
        history.forgotThrough = decided
        runs.forget(decidedThrough: decided, rules: dependencyRules(), keepFinished: options.history.keepFinishedRuns)
    }

    /// What the engine does when idle: brings the lineage table and prediction index up, and
    /// writes the snapshots that are due.
    func idleWork() {
        indexLineage()
        writeSnapshotsIfDue()
    }

    /// Writes a snapshot of each state that has folded `snapshotEvery` events since its newest one,
    /// at the seq the engine has folded through. A failure is reported and retried later (a
    /// snapshot is a cache: without it the next start folds more).
    func writeSnapshotsIfDue() {
        let every = options.history.snapshotEvery
        let debt = history.debt
        guard !log.isReadOnly, Date() >= history.snapshotRetryAt,
              debt.runs >= every || debt.catalog >= every || debt.models >= every || debt.automation >= every || debt.streams >= every else { return }
        let seq = runs.lastSeq
        do {
            if debt.runs >= every {
                forgetDecidedRuns()
                try log.writeSnapshot(Engine.runsSnapshotName, seq: seq, version: Engine.runsSnapshotVersion, state: runs.workingSetValue, keep: 2)
                history.debt.runs = 0
            }
            if debt.automation >= every {
                let p = AutomationProjection()
                try log.writeSnapshot(p.name, seq: seq, version: p.version, state: p.encode(automation), keep: 2,
                                      checkpoint: ProjectionRunner(log: log, projection: p).checkpointName)
                history.debt.automation = 0
            }
            if debt.streams >= every {
                // The schedule and sensor streams and the pending messages; settled messages are let go of.
                let n = notifications
                if n.loaded { n.outbox.dropSettled(keeping: Set(n.inFlight.keys)) }
                if !n.loaded || n.observedThrough == seq {
                    let pending = n.loaded ? Array(n.outbox.pending) : try AutomationFolds.pendingOutbox(log, through: seq, from: AutomationFolds.streamsSnapshot(log, atOrBefore: seq).snapshot).state.pending.map { $0 }
                    let sensors = sensorReactor.sensors.filter { $0.value.unreadable == nil }.mapValues(\.state)
                    let snapshot = AutomationFolds.StreamsSnapshot(seq: seq, schedules: scheduling.streams, sensors: sensors, pendingNotifications: pending)
                    try log.writeSnapshot(AutomationFolds.streamsSnapshotName, seq: seq, version: AutomationFolds.streamsSnapshotVersion, state: snapshot.value, keep: 2)
                    history.debt.streams = 0
                }
            }
            if debt.catalog >= every {
                try ProjectionRunner(log: log, projection: CatalogProjection()).writeSnapshot(catalog, at: seq)
                history.debt.catalog = 0
            }
            if debt.models >= every {
                try ProjectionRunner(log: log, projection: ModelsProjection()).writeSnapshot(models, at: seq)
                history.debt.models = 0
            }
            history.snapshotFailures = 0
        } catch {
            history.snapshotFailures += 1
            history.snapshotRetryAt = Date().addingTimeInterval(Engine.retryDelay(afterFailures: history.snapshotFailures))
            options.report("could not write a snapshot at seq \(seq) (\(history.snapshotFailures) in a row): \(error); the next start folds more of the log; retrying later",
                           .warning, component: "snapshots")
        }
    }
}

/// The engine's bookkeeping of snapshots and forgetting (loop thread only).
struct HistoryState {
    /// Events folded since each state's newest snapshot.
    struct Debt { var runs = 0, catalog = 0, models = 0, automation = 0, streams = 0 }
    var debt = Debt()
    /// `decidedThrough` when runs were last forgotten.
    var forgotThrough: UInt64 = 0
    var snapshotFailures = 0
    var snapshotRetryAt = Date.distantPast
    /// Where each state started from at load (for one log line).
    var loaded: [String] = []
    /// The `engine-streams` snapshot the last load read (`.some(nil)`: there was none); nil: not read.
    var streamsSnapshot: AutomationFolds.StreamsSnapshot??
}

/// Work started on a thread of its own, its result waited for later (`result()`, once).
final class BackgroundWork<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `outcome` is written once by the worker before it signals `done`, and
    // read only after `result()` has waited for that signal.
    private var outcome: Result<T, any Error>?
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () throws -> T) {
        let thread = Thread { [self] in
            outcome = Result { try work() }
            done.signal()
        }
        thread.start()
    }

    /// Waits for the work to finish; its value, or what it threw.
    func result() throws -> T {
        done.wait()
        return try outcome!.get()
    }
}
