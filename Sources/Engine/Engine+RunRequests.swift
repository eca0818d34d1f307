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
        var numbers = RunsState()
        numbers.lastRunNumber = runs.lastRunNumber + batch.newRuns
        do throws(RunCommandError) {
            var request = RunDecider.Request(job: job, jobVersion: def.version, jobSpec: def.spec, catalogSeq: catalog.lastChangeSeq,
                                             parameters: parameters, trigger: trigger, causation: causation, correlation: correlation)
            request.provided = provided
            request.owner = owner
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
