import Catalog
import Domain
import EventLog
import Executors
import Foundation
import Models
import Runs

/// One step of the loop, as named phases that add to one `Batch` appended in one transaction.
///
/// Failure policy: a phase that cannot decide (a decider refuses what the folded state says it
/// should accept, a recorded event does not decode, a read fails) throws `StepFailure`. The step
/// then appends nothing and moves no checkpoint, the attempts' outcomes it had taken go back to
/// the inbox, and `run(until:)` logs the failure and decides again after a growing backoff.
extension Engine {
    /// Decides once: returns whether anything was appended or collected.
    func step() throws -> Bool {
        forgetDecidedRuns()
        try catchUp()
        let now = clock.nowMicros()
        var batch = Batch(base: runs, now: now, actor: actor)
        let done: [Completion] = cond.withLock { let d = inbox; inbox.removeAll(); return d }
        do {
            try recordOutcomes(done, into: &batch, now: now)
            let reattached = try recoverInterruptedAttempts(into: &batch, now: now)
            stopCancelledAndLateAttempts(batch)
            let active = runs.active.sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }
            scheduleStages(active, into: &batch, now: now)
            try followChildRuns(active, into: &batch, now: now)
            try followLoops(active, into: &batch, now: now)
            startDependentRuns(into: &batch)
            do { try automate(&batch) } catch let f as StepFailure { throw f } catch { throw StepFailure("the automation reactor", error) }
            decideSchedules(into: &batch, now: now)
            try senseFiles(into: &batch, now: now)
            try notify(&batch, now: now)
            let launches = try claimQueuedStages(active, into: &batch, now: now) + reattached
            return try commit(batch, done: done, launches: launches)
        } catch {
            cond.withLock { inbox.insert(contentsOf: done, at: 0) }
            throw error
        }
    }

    /// Phase 1: the outcomes of finished attempts, with the datasets they wrote and the model
    /// versions and metrics they produced.
    func recordOutcomes(_ done: [Completion], into batch: inout Batch, now: Int64) throws {
        for c in done {
            inFlight[c.key] = nil
            guard let run = batch.run(c.key.run) else { continue }
            do { try faults.outcome?(c.key) } catch { throw StepFailure("recording the outcome of run \(c.key.run) stage \(c.key.stage)", error) }
            var datasetEvents: [(String, NewEvent, UInt64)] = []
            let outcome: StageOutcome
            switch c.result {
            case .success(var r):
                recordModelResults(&r, key: c.key, run: run, batch: &batch)
                var refs: [DatasetRef] = []
                let started = run.stage(c.key.stage)?.attempts.last?.startedSeq
                for d in r.datasets {
                    let version = batch.nextDatasetVersion(d.dataset)
                    refs.append(DatasetRef(dataset: d.dataset, version: version))
                    datasetEvents.append((d.dataset, d.event(run: c.key.run, stage: c.key.stage, attempt: c.key.attempt)
                        .event(causation: started, correlation: run.correlation), version))
                }
                outcome = .succeeded(outputs: r.outputs, datasets: refs, inputs: r.inputs, columnLineage: r.columnLineage)
            case .failure(let e):
                outcome = e.reason == "cancelled" ? .cancelled : .failed(reason: e.reason, error: e.message)
            }
            let events: [NewEvent]
            do throws(RunCommandError) {
                events = try StageDecider.complete(run, stage: c.key.stage, attempt: c.key.attempt, outcome: outcome, nowMicros: now)
            } catch {
                throw StepFailure("recording the outcome of run \(c.key.run) stage \(c.key.stage) attempt \(c.key.attempt)", error)
            }
            for (name, e, version) in datasetEvents { batch.addDataset(name, e, version: version) }
            batch.apply(run: c.key.run, events)
        }
    }

    /// Phase 2 (until its decisions are committed, before anything is launched): attempts started
    /// by an engine that is gone (we hold the lock)
    /// are recorded as interrupted and retried per their policy. What such an attempt still has
    /// running (a script's process group, which outlives a killed engine) is stopped first, so
    /// that a retry never runs beside it; what was stopped is said in the StageFailed's error.
    ///
    /// An attempt that submitted a Spark application (its `application/<key>` stream exists) is
    /// asked about instead (`SparkRecovery`): an application still running, or that ended while no
    /// engine watched, is reattached to — returned, to be launched after the commit, where its
    /// executor follows it rather than submitting again —; one that is gone is interrupted like
    /// any attempt, after the cluster has been told to kill it should it still run there.
    func recoverInterruptedAttempts(into batch: inout Batch, now: Int64) throws -> [(AttemptKey, RunState)] {
        guard !recovered else { return [] }
        var interrupted: [(run: String, stage: String, attempt: Attempt)] = []
        var reattached: [(AttemptKey, RunState)] = []
        for id in runs.active.sorted(by: { (Int($0) ?? 0) < (Int($1) ?? 0) }) {
            guard let r = batch.run(id) else { continue }
            for s in r.stages where s.status == .running {
                guard let a = s.running, inFlight[AttemptKey(run: id, stage: s.name, attempt: a.number)] == nil else { continue }
                // A job stage runs nothing itself: it waits for its child run, which the log holds.
                if s.plan.type == ChildRuns.stageType && a.childRun != nil { continue }
                // Nor does a for_each stage whose items are recorded: its items' runs are in the log.
                if s.plan.type == Loops.stageType && a.items != nil { continue }
                let key = AttemptKey(run: id, stage: s.name, attempt: a.number)
                if try reattachSparkApplication(key) {
                    reattached.append((key, r))
                    continue
                }
                interrupted.append((id, s.name, a))
            }
        }
        let folders = interrupted.map { StageContext.attemptFolder(store: store, run: $0.run, stage: $0.stage, attempt: $0.attempt.number) }
        let leftovers = AttemptProcesses.leftovers(in: folders)
        for l in leftovers {
            options.report("\(l.processes) process(es) of an interrupted attempt still run (process group \(l.group), \(l.folder)): stopping them before its retry", .warning, component: "recovery")
        }
        for (folder, what) in AttemptProcesses.stop(leftovers, grace: options.leftoverGrace) { leftoverNotes[folder] = what }
        for (i, (id, stage, a)) in interrupted.enumerated() {
            guard let current = batch.run(id) else { continue }
            let note = leftoverNotes[folders[i]]
            do throws(RunCommandError) {
                let events = try StageDecider.interrupt(current, stage: stage, note: note, nowMicros: now)
                options.report("stage \(stage): attempt \(a.number) was interrupted (engine \(a.engine) is gone)\(note.map { "; \($0)" } ?? "")", .warning, component: "recovery", run: id)
                batch.apply(run: id, events)
            } catch {
                throw StepFailure("recovering run \(id) stage \(stage) attempt \(a.number)", error)
            }
        }
        return reattached
    }

    /// Whether the attempt `key` of a gone engine submitted a Spark application that is to be
    /// followed (reattached) rather than interrupted; reports what recovery found either way.
    func reattachSparkApplication(_ key: AttemptKey) throws -> Bool {
        let appKey = ApplicationEvents.key(run: key.run, stage: key.stage, attempt: key.attempt)
        let events: [RecordedEvent]
        do { events = try log.read(stream: ApplicationEvents.stream(key: appKey)) } catch { throw StepFailure("reading the application stream of \(appKey)", error) }
        guard let first = events.first else { return false }
        let submitted: ApplicationSubmitted
        do { submitted = try first.decode(ApplicationSubmitted.self) } catch { throw StepFailure("recovering \(appKey)", error) }
        let folder = StageContext.attemptFolder(store: store, run: key.run, stage: key.stage, attempt: key.attempt)
        let found = SparkRecovery.inspect(submitted, folder: folder, ended: events.contains { $0.type == ApplicationEnded.type })
        options.report("stage \(key.stage) attempt \(key.attempt): Spark application \(appKey) \(found.phrase)", found.reattach ? .info : .warning,
                       component: "recovery", run: key.run)
        return found.reattach
    }

    /// Phase 3: running attempts of cancelled runs, and attempts past their timeout, are stopped
    /// (their outcomes arrive in a later step).
    func stopCancelledAndLateAttempts(_ batch: Batch) {
        for (key, f) in inFlight {
            if batch.run(key.run)?.cancelRequested == true { f.cancellation.cancel("cancelled") }
            if let d = f.deadline, Date() >= d { f.cancellation.cancel("timeout") }
        }
    }

    /// Phase 4: the stage scheduler.
    func scheduleStages(_ active: [String], into batch: inout Batch, now: Int64) {
        for id in active {
            guard let r = batch.run(id) else { continue }
            batch.apply(run: id, Scheduler.advance(r, nowMicros: now))
        }
    }

    /// Phase 5: the job-dependency reactor.
    func startDependentRuns(into batch: inout Batch) {
        let rules = catalog.entries.values.filter { $0.key.kind == .dependency }
            .map { DependencyRule(name: $0.key.name, appliedSeq: $0.seq, spec: $0.spec) }
        guard !rules.isEmpty else { return }
        for f in DependencyReactor.due(runs, rules: rules) {
            let params = (f.rule.parameters.objectMembers ?? []).map { ($0.key, $0.value) }
            let last = f.upstream.max { $0.seq < $1.seq }
            if case .failure(let why) = requestRun(job: f.rule.run, parameters: params, trigger: DependencyReactor.trigger(f),
                                                   causation: last?.seq, correlation: last?.correlation, batch: &batch) {
                options.report("dependency '\(f.rule.name)': \(why); nothing started", .warning, component: "dependencies")
            }
        }
    }

    /// Phase 7: queued stages start while there is room (their StageStarted goes in this
    /// step's append; the attempts are launched after the commit).
    func claimQueuedStages(_ active: [String], into batch: inout Batch, now: Int64) throws -> [(AttemptKey, RunState)] {
        var launches: [(AttemptKey, RunState)] = []
        guard !stopping else { return launches }
        var room = options.workers - inFlight.count
        for id in active where room > 0 {
            guard let r = batch.run(id) else { continue }
            for name in Scheduler.startable(r, nowMicros: now, limit: room) {
                guard let current = batch.run(id), let stage = current.stage(name) else { continue }
                if stage.plan.type == ChildRuns.stageType {
                    // Runs no attempt here: its child run is requested with its StageStarted.
                    try startJobStage(current, stage: name, now: now, into: &batch)
                    continue
                }
                if stage.plan.type == Loops.stageType {
                    // Runs no attempt here: its items' child runs are requested by the engine.
                    try startForEachStage(current, stage: name, now: now, into: &batch)
                    continue
                }
                do throws(RunCommandError) {
                    if let why = options.registry.rejection(for: stage.plan.type) {
                        batch.apply(run: id, [try StageDecider.reject(current, stage: name, error: why)])
                        continue
                    }
                    batch.apply(run: id, [try StageDecider.start(current, stage: name, engine: engineID)])
                } catch {
                    throw StepFailure("starting run \(id) stage \(name)", error)
                }
                launches.append((AttemptKey(run: id, stage: name, attempt: stage.queuedAttempt), current))
                room -= 1
            }
            // The scheduler may finish a run right after the outcomes above.
            if let after = batch.run(id), after.stages.allSatisfy({ $0.status.isTerminal }) {
                batch.apply(run: id, Scheduler.advance(after, nowMicros: now))
            }
        }
        return launches
    }

    /// Phase 8: one append for the whole step, moving every reactor's checkpoint with it; then
    /// the claimed attempts are launched.
    func commit(_ batch: Batch, done: [Completion], launches: [(AttemptKey, RunState)]) throws -> Bool {
        guard !batch.isEmpty else {
            // Nothing to append: the automation reactor decided nothing on these events either.
            automationInbox.removeAll()
            recovered = true
            try moveIdleCheckpoints()
            // Attempts recovery reattached to (Spark applications still running) start following.
            for (key, run) in launches { launch(key, run: run) }
            return !done.isEmpty || !launches.isEmpty
        }
        do { try faults.commit?() } catch { throw StepFailure("committing the step", error) }
        let cps = Engine.checkpointNames.map { CheckpointUpdate(name: $0, expected: checkpointValues[$0], seq: runs.lastSeq) }
        do {
            try log.append(batch.appends, actor: actor, checkpoints: cps)
            for c in cps { checkpointValues[c.name] = c.seq }
            automationInbox.removeAll()
            // Recovery is done once its decisions are committed (a step that failed, or lost a
            // race for a stream, recovers again; nothing has been launched before).
            recovered = true
            leftoverNotes.removeAll()
        } catch let e as WrongExpectedVersion {
            // Someone else appended to a stream we decided on: decide again on the new state.
            cond.withLock { inbox.insert(contentsOf: done, at: 0) }
            options.report("retrying a decision: \(e)", .debug)
            return true
        } catch let e as CheckpointConflict {
            throw EngineError("another engine moved \(e.name) (\(e)); stopping this one")
        }
        // Fold what was just committed, so that attempts start with the registry, dataset versions
        // and their own StageStarted as the log now has them.
        if !launches.isEmpty { try catchUp() }
        for (key, run) in launches { launch(key, run: run) }
        return true
    }

    /// After a step that decided nothing on new events (appended by others: an apply, a run
    /// request that waits for room, …), the reactors' checkpoints move up to them on their own, so
    /// that a checkpoint always says how far the reactors have decided (what `ledgerflow health`
    /// reports as lag) and a restart does not decide on them again. One small transaction per
    /// batch of such events; none while nothing new arrives.
    func moveIdleCheckpoints() throws {
        guard Engine.checkpointNames.contains(where: { (checkpointValues[$0] ?? 0) < runs.lastSeq }) else { return }
        let cps = Engine.checkpointNames.map { CheckpointUpdate(name: $0, expected: checkpointValues[$0], seq: runs.lastSeq) }
        do {
            try log.append([], actor: actor, checkpoints: cps)
        } catch let e as CheckpointConflict {
            throw EngineError("another engine moved \(e.name) (\(e)); stopping this one")
        } catch {
            throw StepFailure("moving the reactors' checkpoints to seq \(runs.lastSeq)", error)
        }
        for c in cps { checkpointValues[c.name] = c.seq }
    }

    /// The wait before deciding again after `n` failures in a row: 50 ms doubling, at most 30 s.
    static func retryDelay(afterFailures n: Int) -> Double {
        min(30, 0.05 * pow(2, Double(min(max(n, 1), 20) - 1)))
    }
}

/// A step that could not decide: what it was doing and why. Nothing of the step was appended.
struct StepFailure: Error, CustomStringConvertible {
    let what: String
    let cause: any Error
    init(_ what: String, _ cause: any Error) {
        self.what = what
        self.cause = cause
    }
    var description: String { "\(what): \(cause)" }
}

/// Failures tests inject into the loop (each called where the real operation would fail).
struct Faults {
    /// Before reading the catalog as of a run's seq.
    var catalogRead: (@Sendable (UInt64) throws -> Void)?
    /// Before deciding the outcome of an attempt.
    var outcome: (@Sendable (Engine.AttemptKey) throws -> Void)?
    /// Before a step's append.
    var commit: (@Sendable () throws -> Void)?
    /// Before folding events into the lineage table.
    var lineageIndex: (@Sendable () throws -> Void)?
}
