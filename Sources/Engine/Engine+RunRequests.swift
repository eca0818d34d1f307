import Catalog
import Domain
import Runs

extension Engine {
    /// Requests a run of `job` in this step, numbered after the runs the log and this step hold;
    /// its id, or why not.
    func requestRun(job: String, parameters: [(String, Value)], trigger: RunTrigger, causation: UInt64?, correlation: UInt64?,
                    batch: inout Batch) -> Result<String, EngineError> {
        guard let def = catalog.entries[DefinitionKey(.job, job)] else { return .failure(EngineError("job '\(job)' is not in the catalog")) }
        var numbers = RunsState()
        numbers.lastRunNumber = runs.lastRunNumber + batch.newRuns
        do throws(RunCommandError) {
            let (id, e) = try RunDecider.request(numbers, .init(job: job, jobVersion: def.version, jobSpec: def.spec, catalogSeq: catalog.lastChangeSeq,
                                                                parameters: parameters, trigger: trigger, causation: causation, correlation: correlation))
            batch.newRun(id, e)
            return .success(id)
        } catch {
            return .failure(EngineError(error.description))
        }
    }
}
