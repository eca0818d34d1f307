import Catalog
import Domain
import EventLog
import Executors
import Foundation
import Projections
import Runs
import TestSupport
import Testing
@testable import Engine

/// A project folder (a temporary directory, removed afterwards) with a store in `.ledgerflow`,
/// definitions applied from YAML text.
final class Project {
    let dir = TemporaryDirectory("engine")
    var root: String { dir.path }
    let store: String
    let log: EventLog

    init(clock: (any LogClock)? = nil) throws {
        store = dir.sub(".ledgerflow")
        var c = EventLog.Configuration()
        if let clock { c.clock = clock }
        c.durable = false
        c.mapSize = 1 << 30
        log = try EventLog.create(at: store, configuration: c)
    }

    deinit {
        log.close()
    }

    func apply(_ yaml: String) throws {
        let (defs, errors) = DefinitionLoader.load(text: yaml, file: "test.yaml")
        #expect(errors.isEmpty, "\(errors)")
        let plan = ApplyPlan.decide(catalog: try RunCommands.catalog(log), definitions: defs, prune: false, message: nil)
        try log.append(plan.appends, actor: "test", correlation: .shared)
    }

    func engine(workers: Int = 4) -> Engine {
        var o = Engine.Options()
        o.workers = workers
        o.pollInterval = 0.01
        return Engine(log: log, store: store, options: o)
    }

    /// Runs an engine until every run is finished.
    @discardableResult
    func runAll(workers: Int = 4) throws -> RunsState {
        try engine(workers: workers).run { $0.active.isEmpty && !$0.runs.isEmpty }
    }

    func events(_ run: String) throws -> [RecordedEvent] { try log.read(stream: RunEvents.stream(run: run)) }

    /// Runs `job` (which fails while the file `ok` is missing from the project folder), creates
    /// `ok` and reruns the run from its failure: both runs and the state after the rerun.
    func failThenRerun(_ job: String) throws -> (first: String, second: String, state: RunsState) {
        let first = try RunCommands.request(log, job: job, trigger: RunTrigger(.manual), actor: "test")
        #expect(try runAll().runs[first]?.status == .failed)
        #expect(FileManager.default.createFile(atPath: root + "/ok", contents: Data()))
        let second = try RunCommands.rerunFromFailure(log, run: first, actor: "test")
        return (first, second, try runAll())
    }

    /// Cancels run `id` from another thread once a pid is written to `pidFile` (`what` has
    /// started); what went wrong, if anything, is in the value returned.
    func cancel(_ id: String, by actor: String, once what: String, pidWritten pidFile: String) -> Locked<String?> {
        let log = self.log
        let failure = Locked<String?>(nil)
        Thread {
            do {
                try waitFor(what) { pidWritten(to: pidFile) != nil }
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
            do { try RunCommands.cancel(log, run: id, actor: actor) } catch {
                failure.withLock { $0 = ($0.map { $0 + "; " } ?? "") + "cancel failed: \(error)" }
            }
        }.start()
        return failure
    }
}

/// The engine runs stages on worker threads, as processes: every test has a time limit.
@Suite(.timeLimit(.minutes(1))) struct EngineTests {
    /// A failure path and a condition through the engine, with real processes: the load fails,
    /// the stage after it on success is skipped, the one on failure runs (and succeeds, so the
    /// failure is handled and the run succeeds), and a stage whose `when` is false never starts.
    @Test func aHandledFailureAndAFalseConditionThroughTheEngine() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: guarded
        parameters: {mode: {type: text, default: quick}}
        stages:
          - {name: load, type: script, command: [sh, -c, "echo load >> ran.txt; exit 3"]}
          - {name: publish, type: script, after: [load], command: [sh, -c, "echo publish >> ran.txt"]}
          - {name: alert, type: script, after: [load], on: failure, command: [sh, -c, "echo alert >> ran.txt"]}
          - {name: deep, type: script, when: "params.mode == 'full'", command: [sh, -c, "echo deep >> ran.txt"]}
        """)
        let id = try RunCommands.request(p.log, job: "guarded", trigger: RunTrigger(.manual), actor: "test")
        let state = try p.runAll()
        let run = try #require(state.runs[id])
        #expect(run.status == .succeeded)
        #expect(run.stage("load")?.status == .failed && run.stage("alert")?.status == .succeeded)
        #expect(run.stage("publish")?.status == .skipped && run.stage("publish")?.reason == "'load' failed")
        #expect(run.stage("deep")?.status == .skipped && run.stage("deep")?.skippedByCondition == true)
        let ran = try String(contentsOfFile: p.root + "/ran.txt", encoding: .utf8).split(separator: "\n").sorted()
        #expect(ran == ["alert", "load"])
        // With the parameter given, the conditional stage runs.
        let full = try RunCommands.request(p.log, job: "guarded", parameters: [("mode", "full")], trigger: RunTrigger(.manual), actor: "test")
        let again = try p.engine().run { $0.runs[full]?.status.isFinished == true }
        #expect(again.runs[full]?.stage("deep")?.status == .succeeded)
    }

    /// `${stages.S.outputs.F}`, `${run.id}` and `${run.job}` in a stage's command reach it quoted;
    /// an output the stage it follows did not report fails the stage, naming it.
    @Test func referencesToOutputsAndTheRunReachTheCommand() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: chain
        stages:
          - {name: count, type: script, command: [sh, -c, "printf '{\\"outputs\\": {\\"rows\\": 7, \\"label\\": \\"it'\\\\''s\\"}}' > \\"$LEDGERFLOW_REPORT\\""]}
          - {name: use, type: script, after: [count], command: [sh, -c, "echo ${run.job}:${run.id}:${stages.count.outputs.rows}:${stages.count.outputs.label} > used.txt"]}
          - {name: miss, type: script, after: [count], command: [sh, -c, "echo ${stages.count.outputs.missing} > miss.txt"]}
        """)
        let id = try RunCommands.request(p.log, job: "chain", trigger: RunTrigger(.manual), actor: "test")
        let run = try #require(try p.runAll().runs[id])
        #expect(run.stage("count")?.outputs?["rows"] == .int(7))
        #expect(run.stage("use")?.status == .succeeded)
        #expect(try String(contentsOfFile: p.root + "/used.txt", encoding: .utf8) == "chain:\(id):7:it's\n")
        #expect(run.stage("miss")?.status == .failed)
        #expect(run.stage("miss")?.attempts.last?.error == "stage 'miss': ${stages.count.outputs.missing}: stage 'count' reported no output 'missing' (it reported label, rows)")
        #expect(!FileManager.default.fileExists(atPath: p.root + "/miss.txt"))
    }

    /// Functions in `${…}` over typed parameters and the run: the value reaches the command; a call
    /// whose argument is missing fails the stage naming the call and its arguments.
    @Test func expressionFunctionsInSettingsReachTheCommand() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: dated
        parameters: {day: {type: date, required: true}, suffix: {type: text}}
        stages:
          - {name: a, type: script, command: [sh, -c, "echo ${format_date(date_add(params.day, -1), 'yyyyMMdd')} ${concat('batch-', run.id)} > out.txt"]}
          - {name: b, type: script, command: [sh, -c, "echo ${concat(params.suffix)}${upper(params.suffix)} > b.txt"]}
        """)
        let id = try RunCommands.request(p.log, job: "dated", parameters: [("day", "2026-03-01")], trigger: RunTrigger(.manual), actor: "test")
        let run = try #require(try p.runAll().runs[id])
        #expect(try String(contentsOfFile: p.root + "/out.txt", encoding: .utf8) == "20260228 batch-\(id)\n")
        #expect(run.stage("b")?.status == .failed)
        #expect(run.stage("b")?.attempts.last?.error
                == "stage 'b': ${upper(params.suffix)} has no value: an argument is missing or not of the type its function takes (params.suffix = null)")
    }

    @Test func fanOutFanInRunsEveryStageOnceInDependencyOrder() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: fan
        stages:
          - {name: a, type: script, command: [sh, -c, "echo a >> order.txt"]}
          - {name: b1, type: script, after: [a], command: [sh, -c, "echo b >> order.txt"]}
          - {name: b2, type: script, after: [a], command: [sh, -c, "echo b >> order.txt"]}
          - {name: b3, type: script, after: [a], command: [sh, -c, "echo b >> order.txt"]}
          - {name: c, type: script, after: [b1, b2, b3], command: [sh, -c, "echo c >> order.txt"]}
        """)
        let id = try RunCommands.request(p.log, job: "fan", trigger: RunTrigger(.manual), actor: "test")
        let state = try p.runAll()
        let run = try #require(state.runs[id])
        #expect(run.status == .succeeded)
        #expect(run.stages.allSatisfy { $0.attempts.count == 1 && $0.attempts[0].outcome == .succeeded })
        #expect(try String(contentsOfFile: p.root + "/order.txt", encoding: .utf8) == "a\nb\nb\nb\nc\n")
        let types = try p.events(id).map(\.type)
        #expect(types.first == RunEvents.runRequested && types.last == RunEvents.runSucceeded)
        #expect(types.filter { $0 == RunEvents.stageStarted }.count == 5)
        // Every event of the run is in the run's causal tree.
        #expect(Set(try p.events(id).map(\.correlation)).count == 1)
        #expect(try p.log.checkpoint(Engine.schedulerCheckpoint) > 0)
    }

    @Test func failingStageRetriesThenSucceeds() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: flaky
        stages:
          - name: f
            type: script
            command: [sh, -c, "n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; [ $n -ge 3 ]"]
            retry: {attempts: 4, backoff: 0.05s}
        """)
        let id = try RunCommands.request(p.log, job: "flaky", trigger: RunTrigger(.manual), actor: "test")
        let run = try #require(try p.runAll().runs[id])
        #expect(run.status == .succeeded)
        #expect(run.stages[0].attempts.map(\.outcome) == [.failed, .failed, .succeeded])
        #expect(run.stages[0].attempts[0].error?.contains("exited with code 1") == true)
    }

    @Test func timeoutKillsTheAttemptAndFailsTheRun() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: slow
        stages:
          - {name: s, type: script, command: [sh, -c, "sleep 30 & echo $! > sleep.pid; wait; echo done > done.txt"], timeout: 0.3s}
          - {name: t, type: script, after: [s], command: ["true"]}
        """)
        let id = try RunCommands.request(p.log, job: "slow", trigger: RunTrigger(.manual), actor: "test")
        let run = try #require(try p.runAll().runs[id])
        #expect(run.status == .failed)
        #expect(run.stages[0].attempts.first?.reason == "timeout")
        #expect(run.stages[1].status == .skipped)
        // The attempt was stopped, not waited out: the script never finished, and its child died with it.
        #expect(!FileManager.default.fileExists(atPath: p.root + "/done.txt"))
        let child = try #require(pidWritten(to: p.root + "/sleep.pid"))
        try waitFor("the timed-out script's child \(child) to end") { processHasEnded(child) }
    }

    @Test func stageTypesWithoutAnExecutorAreRejectedAtRunTime() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: j
        stages:
          - {name: t, type: script, command: ["true"]}
        """)
        let id = try RunCommands.request(p.log, job: "j", trigger: RunTrigger(.manual), actor: "test")
        var o = Engine.Options()
        o.pollInterval = 0.01
        o.registry = ExecutorRegistry(["etl": ETLExecutor()])
        let run = try #require(try Engine(log: p.log, store: p.store, options: o).run { $0.active.isEmpty }.runs[id])
        #expect(run.status == .failed)
        #expect(run.stages[0].reason == "unsupported")
        #expect(run.stages[0].error == "no executor for stage type 'script'; stage types that run are etl")
    }

    @Test func dependentJobStartsOnceAfterSuccess() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: up
        stages: [{name: a, type: script, command: ["true"]}]
        ---
        kind: job
        name: down
        stages: [{name: b, type: script, command: ["true"]}]
        ---
        kind: dependency
        name: down_after_up
        after: up
        run: down
        """)
        let id = try RunCommands.request(p.log, job: "up", trigger: RunTrigger(.manual), actor: "test")
        let state = try p.engine().run { s in s.active.isEmpty && s.runs.count == 2 }
        let down = try #require(state.runs.values.first { $0.job == "down" })
        #expect(down.status == .succeeded)
        #expect(down.trigger.afterRuns == [id])
        // The dependent run is in the upstream run's causal tree.
        #expect(down.correlation == state.runs[id]?.correlation)
        // Another engine over the same log decides nothing more.
        let again = try p.engine().run { _ in true }
        #expect(again.runs.count == 2)
    }

    @Test func recoveryRecordsAnInterruptedAttemptAndRetriesIt() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: r
        stages: [{name: a, type: script, command: ["true"], retry: {attempts: 2, backoff: 0s}}]
        """)
        let id = try RunCommands.request(p.log, job: "r", trigger: RunTrigger(.manual), actor: "test")
        // A dead engine queued and started the stage, then vanished.
        var state = try RunCommands.runs(p.log)
        try p.log.append(Scheduler.advance(state.runs[id]!, nowMicros: 0), to: RunEvents.stream(run: id), actor: "ghost")
        state = try RunCommands.runs(p.log)
        try p.log.append([StageDecider.start(state.runs[id]!, stage: "a", engine: "ghost")], to: RunEvents.stream(run: id), actor: "ghost")
        let run = try #require(try p.runAll().runs[id])
        #expect(run.status == .succeeded)
        #expect(run.stages[0].attempts.map(\.reason) == ["interrupted", nil])
        #expect(run.stages[0].attempts.map(\.engine).first == "ghost")
    }

    @Test func cancelKillsRunningAttemptsAndCancelsTheRest() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: long
        stages:
          - {name: a, type: script, command: [sh, -c, "sleep 30 & echo $! > sleep.pid; wait; echo done > done.txt"]}
          - {name: b, type: script, after: [a], command: ["true"]}
        """)
        let id = try RunCommands.request(p.log, job: "long", trigger: RunTrigger(.manual), actor: "test")
        // Cancel once stage a is running (its script has started its child).
        let pidFile = p.root + "/sleep.pid"
        let cancelFailure = p.cancel(id, by: "ann", once: "stage a's script started", pidWritten: pidFile)
        let run = try #require(try p.runAll().runs[id])
        #expect(cancelFailure.withLock { $0 } == nil)
        #expect(run.status == .cancelled)
        #expect(run.stages.map(\.status) == [.cancelled, .cancelled])
        #expect(run.cancelRequestedBy == "ann")
        // The running attempt was killed, with its child, not waited out.
        #expect(!FileManager.default.fileExists(atPath: p.root + "/done.txt"))
        let child = try #require(pidWritten(to: pidFile))
        try waitFor("the cancelled script's child \(child) to end") { processHasEnded(child) }
    }

    @Test func rerunFromFailureReusesSucceededStages() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: j
        stages:
          - {name: a, type: script, command: [sh, -c, "echo a >> runs.txt"]}
          - {name: b, type: script, after: [a], command: [sh, -c, "test -f ok"]}
          - {name: c, type: script, after: [b], command: ["true"]}
        """)
        let (first, second, state) = try p.failThenRerun("j")
        let run = try #require(state.runs[second])
        #expect(run.status == .succeeded)
        #expect(run.stage("a")?.reusedFrom?.run == first)
        #expect(run.stage("a")?.attempts.isEmpty == true)
        #expect(try String(contentsOfFile: p.root + "/runs.txt", encoding: .utf8) == "a\n", "a ran once in all")
        #expect(throws: RunCommandError.self) { try RunCommands.rerunFromFailure(p.log, run: second, actor: "test") }
    }

    @Test func etlWritesADatasetVersionEvent() throws {
        let p = try Project()
        try FileManager.default.createDirectory(atPath: p.root + "/in", withIntermediateDirectories: true)
        try "id,amount\n1,5\n2,7\n".write(toFile: p.root + "/in/a.csv", atomically: true, encoding: .utf8)
        try p.apply("""
        kind: source
        name: a
        type: csv
        path: in/a.csv
        ---
        kind: output
        name: w
        type: sqlite
        database: out/w.sqlite
        table: t
        ---
        kind: job
        name: load
        stages: [{name: l, type: etl, source: a, destination: w}]
        """)
        let id = try RunCommands.request(p.log, job: "load", trigger: RunTrigger(.manual), actor: "test")
        let state = try p.runAll()
        #expect(state.runs[id]?.status == .succeeded)
        let ds = try p.log.read(stream: RunEvents.stream(dataset: "w"))
        #expect(ds.count == 1)
        #expect(ds[0].payload["rows"] == .int(2) && ds[0].payload["run"] == .string(id))
        #expect(state.runs[id]?.stage("l")?.datasets.first?.version == 1)
        #expect(state.datasetVersions["w"] == 1)
        let success = try p.events(id).first { $0.type == RunEvents.stageSucceeded }
        #expect(success?.payload["datasets"] == .array([.object([("dataset", "w"), ("version", 1)])]))
    }
}
