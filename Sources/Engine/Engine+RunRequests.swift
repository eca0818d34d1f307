import Catalog
import Domain
import Runs

extension Engine {
    /// Requests a run of `job` in this step, numbered after the runs the log and this step hold;
    /// its id, or why not. `provided` parameters are set whether or not the job declares them.
    func requestRun(job: String, parameters: [(String, Value)], provided: [(String, Value)] = [], trigger: RunTrigger, causation: UInt64?,
                    correlation: UInt64?, batch: inout Batch) -> Result<String, EngineError> {
        guard let def = catalog.entries[DefinitionKey(.job, job)] else { return .failure(EngineError("job '\(job)' is not in the catalog")) }
        var numbers = RunsState()
        numbers.lastRunNumber = runs.lastRunNumber + batch.newRuns
        do throws(RunCommandError) {
            var request = RunDecider.Request(job: job, jobVersion: def.version, jobSpec: def.spec, catalogSeq: catalog.lastChangeSeq,
                                             parameters: parameters, trigger: trigger, causation: causation, correlation: correlation)
            request.provided = provided
            let (id, e) = try RunDecider.request(numbers, request)
            batch.newRun(id, e)
            return .success(id)
        } catch {
            return .failure(EngineError(error.description))
        }
    }
}
