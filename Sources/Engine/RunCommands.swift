import Foundation
import Catalog
import Domain
import EventLog
import Projections
import Runs

/// The run commands as the CLI (and tests, and benchmarks) issue them: fold what the decision
/// needs, decide, append at the versions seen (retrying when another writer got there first).
public enum RunCommands {
    /// The runs as they are now.
    public static func runs(_ log: EventLog) throws -> RunsState {
        try ProjectionRunner(log: log, projection: RunsProjection()).state(at: try log.lastSeq()).state
    }

    /// The catalog as it is now.
    public static func catalog(_ log: EventLog) throws -> CatalogState {
        try ProjectionRunner(log: log, projection: CatalogProjection()).state(at: try log.lastSeq()).state
    }

    /// Requests a run of `job` under the current catalog; returns the run's id.
    @discardableResult
    public static func request(_ log: EventLog, job: String, parameters: [(String, Value)] = [], trigger: RunTrigger, actor: String,
                               reuse: [String: (run: String, attempt: Int)] = [:]) throws -> String {
        let catalog = try self.catalog(log)
        guard let entry = catalog.entries[DefinitionKey(.job, job)] else {
            let jobs = catalog.entries.keys.filter { $0.kind == .job }.map(\.name)
            let hint = Suggest.closest(to: job, in: jobs).map { "did you mean '\($0)'?" }
                ?? (jobs.isEmpty ? "apply a job first (`ledgerflow apply FILE`)" : "`ledgerflow catalog job` lists the jobs")
            throw RunCommandError("no job '\(job)' in the catalog; \(hint)")
        }
        // Another process may take the number decided on (the append then finds its stream):
        // decide again. Eight processes requesting 50 runs each at once lost 20 tries in a row
        // (`make chaos`) before the random wait.
        let taken = try untilNotBeaten { () throws -> String in
            // The number is all the decision reads: the engine's working set has it (from its
            // snapshot and the events after; without one, from the run requests alone), without
            // folding every run of the history.
            let state = try Engine.workingSet(log, through: try log.lastSeq(), report: { _ in }, cold: (.max, [], 0)).state
            let (id, event) = try RunDecider.request(state, .init(job: job, jobVersion: entry.version, jobSpec: entry.spec,
                                                                  catalogSeq: catalog.lastChangeSeq, parameters: parameters,
                                                                  trigger: trigger, reuse: reuse))
            try log.append([event], to: RunEvents.stream(run: id), expectedVersion: .noStream, actor: actor)
            return id
        }
        if let id = taken.value { return id }
        throw RunCommandError("could not allocate a run number in 30 s (\(taken.tries) numbers were taken by other processes first); try again")
    }

    /// Runs `attempt` (decide on a fresh fold, append at the versions seen) until its append is not
    /// beaten by another writer (`WrongExpectedVersion`), waiting a short random time after each
    /// loss so that writers deciding at once spread out; gives up after 30 s (value nil).
    static func untilNotBeaten<T>(_ attempt: () throws -> T) throws -> (value: T?, tries: Int) {
        let deadline = DispatchTime.now() + .seconds(30)
        var tries = 0
        repeat {
            do {
                return (try attempt(), tries)
            } catch is WrongExpectedVersion {
                tries += 1
                usleep(UInt32.random(in: 500 ... UInt32(min(50_000, 2_000 * tries))))
            }
        } while DispatchTime.now() < deadline
        return (nil, tries)
    }

    /// Asks a running run to stop.
    public static func cancel(_ log: EventLog, run id: String, actor: String) throws {
        let done = try untilNotBeaten { () throws in
            let state = try runs(log)
            let e = try RunDecider.cancel(state, run: id, by: actor)
            try log.append([e], to: RunEvents.stream(run: id), expectedVersion: .exact(state.runs[id]?.streamVersion ?? 0), actor: actor)
        }
        if done.value == nil { throw RunCommandError("run \(id) kept changing for 30 s (\(done.tries) appends beaten by the engine); try again") }
    }

    /// A new run of a failed or cancelled run's job under the current catalog that reuses the
    /// outputs of the stages that succeeded and runs the rest; returns the new run's id.
    @discardableResult
    public static func rerunFromFailure(_ log: EventLog, run id: String, actor: String) throws -> String {
        let state = try runs(log)
        guard let old = state.runs[id] else { throw RunCommandError("no run '\(id)'; `ledgerflow runs` lists them") }
        let catalog = try self.catalog(log)
        guard let entry = catalog.entries[DefinitionKey(.job, old.job)] else {
            throw RunCommandError("job '\(old.job)' of run \(id) is no longer in the catalog; apply it again to rerun")
        }
        let reuse = try RunDecider.reuse(forRerunOf: id, in: state, newJobSpec: entry.spec)
        let trigger = RunTrigger.rerun(of: id, by: actor)
        // The old run's parameters, as far as the job (maybe changed since) still takes them.
        let outline: JobSpec.Outline
        do throws(DecodingFailure) { outline = try JobSpec.Outline(entry.spec) } catch {
            throw RunCommandError("job '\(old.job)' does not read as a job: \(error)")
        }
        let known = Set(outline.parameters.map(\.key))
        let params = (old.parameters.objectMembers ?? []).filter { known.contains($0.key) }.map { ($0.key, $0.value) }
        return try request(log, job: old.job, parameters: params, trigger: trigger, actor: actor, reuse: reuse)
    }
}
