import Catalog
import Domain
import EventLog
import Executors
import Runs

/// for_each stages (issue 18, loops): a child run per item, at most `max_parallel` at once.
///
/// - When an attempt starts, its items are resolved (a config table's active rows as of the run's
///   catalog version, a source's rows, or a list; filtered by `where`) and recorded in its
///   `StageStarted.items`, so that every later decision, and a restart, sees the same items.
/// - Each item starts with a `StageItemStarted` naming its child run, requested in the same
///   append; a crash can neither lose nor double it, and `Loops.decide` (level-triggered) never
///   starts an item whose start is recorded.
/// - The stage ends when no item runs and none will start: succeeded when every item's run
///   succeeded, with outputs `{items, succeeded, failed, runs}`; else failed, naming the items.
extension Engine {
    /// Starts queued for_each stage `name` of `run`: its StageStarted with the resolved items and
    /// the first items' child runs, or, when the items cannot be resolved, StageStarted and
    /// StageFailed saying why (retried per its policy).
    func startForEachStage(_ run: RunState, stage name: String, now: Int64, into batch: inout Batch) throws {
        guard let stage = run.stage(name) else { return }
        let attempt = stage.queuedAttempt
        let resolved: Result<[Value], EngineError>
        do throws(EngineError) { resolved = .success(try loopItems(run, stage: name, attempt: attempt)) } catch { resolved = .failure(error) }
        do throws(RunCommandError) {
            switch resolved {
            case .success(let items):
                batch.apply(run: run.id, [try StageDecider.start(run, stage: name, engine: engineID, items: items)])
                options.report("stage \(name): \(items.count) item\(items.count == 1 ? "" : "s")", run: run.id)
            case .failure(let why):
                options.report("stage \(name): no items: \(why.description)", .warning, run: run.id)
                try startAndFail(run, stage: name, attempt: attempt, why: why.description, now: now, into: &batch)
                return
            }
        } catch {
            throw StepFailure("starting run \(run.id) for_each stage \(name)", error)
        }
        if case .success(let items) = resolved { try reuseItems(run, stage: name, attempt: attempt, items: items, into: &batch) }
        try followLoops([run.id], into: &batch, now: now)
    }

    /// A rerun from failure: items that succeeded in the rerun run's loop take over that run
    /// (`StageItemStarted` with `reused`), in the append that starts the stage.
    func reuseItems(_ run: RunState, stage name: String, attempt: Int, items: [Value], into batch: inout Batch) throws {
        guard run.trigger.kind == .rerun, let of = run.trigger.rerunOf else { return }
        let reuse: [Int: String]
        do {
            let previous = try childRun(of, batch)?.stage(name)?.attempts.last
            reuse = try Loops.reusable(items, previous: previous) { try childRun($0, batch) }
        } catch {
            throw StepFailure("reading the loop of run \(of) that run \(run.id) reruns", error)
        }
        guard !reuse.isEmpty, let current = batch.run(run.id), let cause = current.stage(name)?.attempts.last?.startedSeq else { return }
        batch.apply(run: run.id, reuse.keys.sorted().map { i in
            StageItemStarted(stage: name, attempt: attempt, item: i, childRun: reuse[i], reused: true).event(causation: cause, correlation: run.correlation)
        })
        options.report("stage \(name): \(reuse.count) item\(reuse.count == 1 ? "" : "s") reused from run \(of)", run: run.id)
    }

    /// The for_each spec of stage `name` in the catalog run `run` runs under, with that catalog.
    func loopSpec(_ run: RunState, stage name: String) throws(EngineError) -> (StageSpec.ForEach, Value, CatalogState) {
        let (spec, stored, cat) = try stageAsRun(run, stage: name)
        guard case .forEach(let loop) = spec.variant else {
            throw EngineError("stage '\(name)' of job '\(run.job)' does not read as a for_each stage in the catalog as of seq \(run.catalogSeq)")
        }
        return (loop, stored, cat)
    }

    /// The items of attempt `attempt` of for_each stage `name`, in order.
    func loopItems(_ run: RunState, stage name: String, attempt: Int) throws(EngineError) -> [Value] {
        let (loop, stored, cat) = try loopSpec(run, stage: name)
        var table: ConfigTableSpec?
        var rows: [Value] = []
        switch loop.items {
        case .list:
            break
        case .configTable(let name, _):
            guard let entry = cat.entries[DefinitionKey(.configTable, name)], let spec = try? entry.spec(as: ConfigTableSpec.self) else {
                throw EngineError("config table '\(name)' is not in the catalog as of seq \(run.catalogSeq)")
            }
            table = spec
        case .source(let text, _):
            let ctx = parentContext(run, stage: name, attempt: attempt, spec: stored, catalog: cat)
            do throws(StageError) { rows = try ETLExecutor().rows(of: text, ctx) } catch {
                throw EngineError("reading the items from '\(text)': \(error.message)")
            }
        }
        let items: [Value]
        do throws(ExpressionError) { items = try loop.resolve(table: table, rows: rows) } catch {
            throw EngineError("the items' where '\(loop.items.condition ?? "")' does not evaluate: \(error)")
        }
        guard items.count <= StageSpec.ForEach.maxItems else {
            throw EngineError("\(items.count) items, over the limit of \(StageSpec.ForEach.maxItems) a for_each takes; filter them (`where`, or a query)")
        }
        return items
    }

    /// A context to substitute the parent run's placeholders in (`${params.…}`, `${run.…}`,
    /// `${stages.S.outputs.…}` of its succeeded stages) and read its sources.
    func parentContext(_ run: RunState, stage name: String, attempt: Int, spec: Value, catalog cat: CatalogState) -> StageContext {
        var context = StageContext(run: run.id, job: run.job, stage: name, attempt: attempt, spec: spec, parameters: run.parameters,
                                   catalog: cat, store: store, root: root, cancellation: Cancellation())
        for s in run.stages where s.status == .succeeded { if let o = s.outputs { context.upstreamOutputs[s.name] = o } }
        context.datasetVersions = runs.datasetVersions
        context.datasetLocations = runs.datasetLocations
        let log = self.log
        context.datasetVersion = { name, version in
            guard let e = try log.read(stream: RunEvents.stream(dataset: name), fromVersion: version, limit: 1).first, e.streamVersion == version else { return nil }
            return try e.decode(DatasetVersionWritten.self)
        }
        return context
    }

    /// Phase 4b (with the job stages): each running for_each attempt of `active` runs starts its
    /// next items or ends; a parent being cancelled asks its items' running children to stop and
    /// ends cancelled once none runs.
    func followLoops(_ active: [String], into batch: inout Batch, now: Int64) throws {
        for id in active {
            guard let parent = batch.run(id) else { continue }
            for l in Loops.looping(parent) {
                let states: [Loops.ItemState]
                do { states = try Loops.states(l) { try childRun($0, batch) } } catch {
                    throw StepFailure("reading the item runs of run \(id) stage \(l.stage)", error)
                }
                if parent.cancelRequested {
                    try cancelItems(parent, l, states, into: &batch, now: now)
                    continue
                }
                let (loop, stored, cat): (StageSpec.ForEach, Value, CatalogState)
                do throws(EngineError) { (loop, stored, cat) = try loopSpec(parent, stage: l.stage) } catch {
                    throw StepFailure("reading for_each stage \(l.stage) of run \(id)", error)
                }
                let decision = Loops.decide(states, values: l.items, maxParallel: loop.maxParallel, continueOnError: loop.continueOnError)
                for i in decision.start {
                    guard let current = batch.run(id) else { continue }
                    let event = startItem(current, l, item: i, loop: loop, spec: stored, catalog: cat, batch: &batch)
                    batch.apply(run: id, [event.event(causation: current.stage(l.stage)?.attempts.last?.startedSeq ?? current.lastEventSeq,
                                                      correlation: current.correlation)])
                }
                guard let end = decision.end, let current = batch.run(id) else { continue }
                let outcome: StageOutcome = end.succeeded ? .succeeded(outputs: end.outputs, datasets: [])
                                                          : .failed(reason: "error", error: end.error ?? "an item failed")
                do throws(RunCommandError) {
                    batch.apply(run: id, try StageDecider.complete(current, stage: l.stage, attempt: l.attempt, outcome: outcome, nowMicros: now))
                } catch {
                    throw StepFailure("ending run \(id) for_each stage \(l.stage)", error)
                }
            }
        }
    }

    /// Item `i`'s start: its child run requested in `batch` (parameters from the item, then the
    /// parent run's placeholders; its owner from `item_owner`), or why it cannot be.
    func startItem(_ run: RunState, _ l: Loops.Looping, item i: Int, loop: StageSpec.ForEach, spec: Value, catalog cat: CatalogState,
                   batch: inout Batch) -> StageItemStarted {
        let item = l.items[i]
        let refused = { (why: String) -> StageItemStarted in
            self.options.report("stage \(l.stage) item \(i): no child run: \(why)", .warning, run: run.id)
            return StageItemStarted(stage: l.stage, attempt: l.attempt, item: i, error: why)
        }
        do throws(EngineError) { try checkDepth(below: run, job: loop.job ?? "\(run.job)/\(l.stage)", batch) } catch { return refused(error.description) }
        let context = parentContext(run, stage: l.stage, attempt: l.attempt, spec: spec, catalog: cat)
        var parameters: [(String, Value)] = []
        let owner: String?
        let inline: Value?
        do throws(StageSpec.ItemError) {
            for p in try loop.parameters(for: item) {
                do throws(StageError) { parameters.append((p.key, try context.substitute(value: p.value))) } catch {
                    return refused("parameter \(p.key) for the item's run: \(error.message)")
                }
            }
            owner = try loop.owner(for: item)
            inline = try loop.stage(for: item)
        } catch {
            return refused(error.description)
        }
        let trigger = RunTrigger.parent(run: run.id, stage: l.stage, attempt: l.attempt, item: i)
        let requested: Result<String, EngineError>
        let job: String
        if let inline {
            job = "\(run.job)/\(l.stage)"
            requested = requestInlineRun(job: job, jobVersion: run.jobVersion, stage: inline, parameters: parameters, trigger: trigger,
                                         causation: run.lastEventSeq, correlation: run.correlation, catalogSeq: run.catalogSeq, owner: owner, batch: &batch)
        } else {
            job = loop.job ?? ""
            requested = requestRun(job: job, parameters: parameters, trigger: trigger, causation: run.lastEventSeq, correlation: run.correlation,
                                   catalog: cat, owner: owner, batch: &batch)
        }
        switch requested {
        case .success(let child):
            options.report("stage \(l.stage) item \(i): run \(child) of job \(job)", run: run.id)
            return StageItemStarted(stage: l.stage, attempt: l.attempt, item: i, childRun: child)
        case .failure(let why):
            return refused(why.description)
        }
    }

    /// A parent being cancelled: its items' running children are asked to stop; once none runs,
    /// the stage ends cancelled.
    func cancelItems(_ parent: RunState, _ l: Loops.Looping, _ states: [Loops.ItemState], into batch: inout Batch, now: Int64) throws {
        var running = false
        for case .running(let childID) in states {
            running = true
            guard let child = try childRun(childID, batch), let cancel = ChildRuns.cancel(child, parent: parent) else { continue }
            batch.apply(run: child.id, [cancel])
        }
        guard !running, let current = batch.run(parent.id) else { return }
        do throws(RunCommandError) {
            batch.apply(run: parent.id, try StageDecider.complete(current, stage: l.stage, attempt: l.attempt, outcome: .cancelled, nowMicros: now))
        } catch {
            throw StepFailure("cancelling run \(parent.id) for_each stage \(l.stage)", error)
        }
    }
}
