import Catalog
import Domain
import EventLog
import Runs

extension Engine {
    /// Requests a run of `job` in this step, numbered after the runs the log and this step hold;
    /// its id, or why not. `provided` parameters are set whether or not the job declares them.
    /// The run executes under the current catalog, or under `catalog` when given (a child run
    /// under its parent's version).
    func requestRun(job: String, parameters: [(String, Value)], provided: [(String, Value)] = [], trigger: RunTrigger, causation: UInt64?,
                    correlation: UInt64?, catalog given: CatalogState? = nil, owner: String? = nil, batch: inout Batch) -> Result<String, EngineError> {
        let catalog = given ?? self.catalog
        guard let def = catalog.entries[DefinitionKey(.job, job)] else { return .failure(EngineError("job '\(job)' is not in the catalog")) }
        var request = RunDecider.Request(job: job, jobVersion: def.version, jobSpec: def.spec, catalogSeq: catalog.lastChangeSeq,
                                         parameters: parameters, trigger: trigger, causation: causation, correlation: correlation)
        request.provided = provided
        request.owner = owner
        return decideRun(request, batch: &batch)
    }

    /// Requests a run of a for_each item's inline `stage` (the item's fields in place): a run of
    /// job `JOB/STAGE` (no definition holds it) whose one stage is `stage`, recorded in its
    /// `RunRequested.inline_stage`, taking `parameters` as they are.
    func requestInlineRun(job: String, jobVersion: UInt64, stage: Value, parameters: [(String, Value)], trigger: RunTrigger,
                          causation: UInt64?, correlation: UInt64?, catalogSeq: UInt64, owner: String?, batch: inout Batch) -> Result<String, EngineError> {
        let spec = Value.object([("parameters", .object(parameters.map { ($0.0, Value.null) })), ("stages", .array([stage]))])
        var request = RunDecider.Request(job: job, jobVersion: jobVersion, jobSpec: spec, catalogSeq: catalogSeq, parameters: parameters,
                                         trigger: trigger, causation: causation, correlation: correlation)
        request.owner = owner
        request.inlineStage = stage
        return decideRun(request, batch: &batch)
    }

    /// Decides `request` on the runs this step knows (their numbers) and adds it to `batch`.
    func decideRun(_ request: RunDecider.Request, batch: inout Batch) -> Result<String, EngineError> {
        var numbers = RunsState()
        numbers.lastRunNumber = runs.lastRunNumber + batch.newRuns
        do throws(RunCommandError) {
            let (id, e) = try RunDecider.request(numbers, request)
            batch.newRun(id, e)
            return .success(id)
        } catch {
            return .failure(EngineError(error.description))
        }
    }
}

extension Engine {
    /// The status of run `id` once it has finished, nil while it runs or when there is no such run.
    /// The engine's memory first; a run not held there (the engine keeps only the runs reactors
    /// still need) is read from its own stream — a reactor waiting on a run's end, such as a
    /// sensor's after_run, never waits forever on a run it no longer holds.
    func finishedStatus(ofRun id: String) throws -> RunStatus? {
        if let r = runs.runs[id] { return r.status.isFinished ? r.status : nil }
        if let known = finishedStatuses[id] { return known }
        var one = RunsState()
        for e in try log.read(stream: RunEvents.stream(run: id)) { one.evolve(e) }
        guard let status = one.runs[id]?.status, status.isFinished else { return nil }
        if finishedStatuses.count >= 4096 { finishedStatuses.removeAll() }
        finishedStatuses[id] = status
        return status
    }
}
