import Catalog
import Domain
import EventLog
import Executors
import Runs

/// Job stages: a stage that runs another job as a child run and waits for it (see `ChildRuns`).
/// The child is requested in the same append as the stage's `StageStarted`, which names it, so a
/// crash can neither lose nor double it: after a restart the parent's stage is found running with
/// its `child_run`, and recovery leaves it to wait for that run.
extension Engine {
    /// Starts queued job stage `name` of `run`: its StageStarted with the child run's request,
    /// or, when the child cannot be requested (a reference without a value, a refused parameter,
    /// nesting too deep), StageStarted and StageFailed saying why (retried per its policy).
    func startJobStage(_ run: RunState, stage name: String, now: Int64, into batch: inout Batch) throws {
        guard let stage = run.stage(name) else { return }
        let attempt = stage.queuedAttempt
        let requested: Result<String, EngineError>
        do throws(EngineError) {
            let (job, parameters, cat) = try childRequest(run, stage: name, attempt: attempt, batch: batch)
            requested = requestRun(job: job, parameters: parameters, trigger: .parent(run: run.id, stage: name, attempt: attempt),
                                   causation: stage.queuedSeq, correlation: run.correlation, catalog: cat, batch: &batch)
        } catch {
            requested = .failure(error)
        }
        do throws(RunCommandError) {
            switch requested {
            case .success(let child):
                batch.apply(run: run.id, [try StageDecider.start(run, stage: name, engine: engineID, childRun: child)])
            case .failure(let why):
                options.report("stage \(name): no child run: \(why.description)", .warning, run: run.id)
                try startAndFail(run, stage: name, attempt: attempt, why: why.description, now: now, into: &batch)
            }
        } catch {
            throw StepFailure("starting run \(run.id) job stage \(name)", error)
        }
    }

    /// Starts queued stage `name` of `run` and fails it at once with `why` (retried per its
    /// policy): a job or for_each stage whose runs cannot be requested.
    func startAndFail(_ run: RunState, stage name: String, attempt: Int, why: String, now: Int64, into batch: inout Batch) throws(RunCommandError) {
        batch.apply(run: run.id, [try StageDecider.start(run, stage: name, engine: engineID)])
        guard let started = batch.run(run.id) else { return }
        batch.apply(run: run.id, try StageDecider.complete(started, stage: name, attempt: attempt, outcome: .failed(reason: "error", error: why), nowMicros: now))
    }

    /// The child job, its parameters (placeholders replaced from the parent run) and the catalog
    /// it runs under (the parent's version), or why there is none.
    func childRequest(_ run: RunState, stage name: String, attempt: Int, batch: Batch) throws(EngineError) -> (String, [(String, Value)], CatalogState) {
        let (spec, stored, cat) = try stageAsRun(run, stage: name)
        guard case .job(let child) = spec.variant else {
            throw EngineError("stage '\(name)' of job '\(run.job)' does not read as a job stage in the catalog as of seq \(run.catalogSeq)")
        }
        try checkDepth(below: run, job: child.job, batch)
        let context = parentContext(run, stage: name, attempt: attempt, spec: stored, catalog: cat)
        var parameters: [(String, Value)] = []
        for p in child.parameters {
            do throws(StageError) { parameters.append((p.key, try context.substitute(value: p.value))) } catch {
                throw EngineError("parameter \(p.key) for job '\(child.job)': \(error.message)")
            }
        }
        return (child.job, parameters, cat)
    }

    /// Stage `name` of `run` as the catalog `run` runs under holds it (typed and stored), with that catalog.
    func stageAsRun(_ run: RunState, stage name: String) throws(EngineError) -> (StageSpec, Value, CatalogState) {
        let cat: CatalogState
        do { cat = try catalog(at: run.catalogSeq) } catch {
            throw EngineError("could not read the catalog as of seq \(run.catalogSeq) (the version run \(run.id) runs under): \(error)")
        }
        guard let jobSpec = cat.entries[DefinitionKey(.job, run.job)]?.spec, let stored = try? JobSpec.storedStage(name, of: jobSpec),
              let spec = try? StageSpec(stored) else {
            throw EngineError("stage '\(name)' of job '\(run.job)' does not read in the catalog as of seq \(run.catalogSeq)")
        }
        return (spec, stored, cat)
    }

    /// A child of job `job` below `run` would not nest deeper than `ChildJobs.maxDepth`.
    func checkDepth(below run: RunState, job: String, _ batch: Batch) throws(EngineError) {
        let depth = ChildRuns.depth(of: run) { batch.run($0) } + 1
        guard depth <= ChildJobs.maxDepth else {
            throw EngineError("run \(run.id) is \(depth - 1) levels of child runs deep; a child of job '\(job)' would pass the limit of \(ChildJobs.maxDepth)")
        }
    }

    /// Phase 4b: job stages whose child run has ended end with it (in the step that sees the
    /// end: the scheduler's finish of the child is in this batch); a parent being cancelled asks
    /// its running children to stop.
    func followChildRuns(_ active: [String], into batch: inout Batch, now: Int64) throws {
        for id in active {
            guard let parent = batch.run(id) else { continue }
            for w in ChildRuns.waiting(parent) {
                guard let child = try childRun(w.child, batch) else { continue }
                if let cancel = ChildRuns.cancel(child, parent: parent) {
                    batch.apply(run: child.id, [cancel])
                    continue
                }
                guard let outcome = ChildRuns.outcome(of: child, parent: parent), let current = batch.run(id) else { continue }
                do throws(RunCommandError) {
                    batch.apply(run: id, try StageDecider.complete(current, stage: w.stage, attempt: w.attempt, outcome: outcome, nowMicros: now))
                } catch {
                    throw StepFailure("ending run \(id) job stage \(w.stage) with its child run \(w.child)", error)
                }
            }
        }
    }

    /// Child run `id` as `batch` (this step) or the engine holds it (active children always are),
    /// else folded from its stream (finished ones kept, bounded); nil when the log has no such run.
    func childRun(_ id: String, _ batch: Batch? = nil) throws -> RunState? {
        if let r = batch?.run(id) ?? runs.runs[id] { return r }
        if let known = finishedChildren[id] { return known }
        var one = RunsState()
        do {
            for e in try log.read(stream: RunEvents.stream(run: id)) { one.evolve(e) }
        } catch {
            throw StepFailure("reading child run \(id)", error)
        }
        guard let run = one.runs[id] else { return nil }
        if run.status.isFinished {
            if finishedChildren.count >= 4096 { finishedChildren.removeAll() }
            finishedChildren[id] = run
        }
        return run
    }
}
