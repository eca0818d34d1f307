import Catalog
import Domain
import EventLog
import Executors
import Foundation
import Models
import Projections
import Runs
import TestSupport
import Testing
@testable import Engine

/// A stage that succeeds at once, reporting `rows` (no process: these tests are about what the
/// engine holds and decides, not about executors). A stage of job up also writes a version of
/// dataset `d_up`; one of job flop fails.
struct InstantStage: StageExecutor {
    func run(_ ctx: StageContext) throws(StageError) -> StageResult {
        if ctx.job == "flop" { throw StageError("flop fails") }
        let written = ctx.job == "up"
            ? [WrittenDataset(dataset: "d_up", location: "/tmp/d_up/\(ctx.run)", format: "csv", mode: "replace", rows: 5, schema: [("a", "int")], contentHash: "00")]
            : []
        return StageResult(datasets: written, outputs: .object([("rows", .int(5))]))
    }
}

extension Project {
    /// An engine that forgets every decided run at once and snapshots at every idle moment.
    func historyEngine(keep: Int = 0, snapshotEvery: Int = 1, log lines: Locked<[LogLine]>? = nil) -> Engine {
        var o = Engine.Options()
        o.pollInterval = 0.01
        o.registry = ExecutorRegistry(["script": InstantStage()])
        o.history.keepFinishedRuns = keep
        o.history.snapshotEvery = snapshotEvery
        if let lines { o.log = { line in lines.withLock { $0.append(line) } } }
        return Engine(log: log, store: store, options: o)
    }

    /// Jobs up, side, down, down2 and follow; down runs after up, down2 after both up and side,
    /// and follow when a stage of up reports rows (a stage_output trigger).
    func applyChain() throws {
        try apply("""
        kind: job
        name: up
        stages: [{name: a, type: script, command: ["true"]}]
        ---
        kind: job
        name: side
        stages: [{name: a, type: script, command: ["true"]}]
        ---
        kind: job
        name: down
        stages: [{name: a, type: script, command: ["true"]}]
        ---
        kind: job
        name: down2
        stages: [{name: a, type: script, command: ["true"]}]
        ---
        kind: job
        name: follow
        stages: [{name: a, type: script, command: ["true"]}]
        ---
        kind: dependency
        name: down_after_up
        after: up
        run: down
        ---
        kind: dependency
        name: down2_after_both
        after: [up, side]
        run: down2
        ---
        kind: trigger
        name: rows_seen
        source: {type: stage_output, job: up, fields: [rows]}
        condition: rows >= 1
        run: follow
        """)
    }

    /// The runs of `job` in the log, with their triggers' upstream runs.
    func runs(of job: String) throws -> [RunState] { try RunCommands.runs(log).ordered.filter { $0.job == job } }

    var dependencyRules: [DependencyRule] {
        get throws {
            try RunCommands.catalog(log).entries.values.filter { $0.key.kind == .dependency }
                .map { DependencyRule(name: $0.key.name, appliedSeq: $0.seq, spec: $0.spec) }
        }
    }
}

/// The engine's memory and start on a long history: snapshots it writes and starts from, and
/// finished runs let go of once every reactor has decided on them.
@Suite(.timeLimit(.minutes(1))) struct EngineHistoryTests {
    /// Restarted between an upstream's finish and the downstream's request, an engine starting
    /// from snapshots holds exactly what one folding from seq 1 holds, and decides the same: the
    /// rule fires once, with the upstream runs a full fold says are due.
    @Test func restartFromSnapshotsDecidesAsAFoldFromTheStart() throws {
        let p = try Project()
        try p.applyChain()
        // 1. up runs; down and follow follow it; down2 waits for side. Snapshots at each idle moment.
        let up = try RunCommands.request(p.log, job: "up", trigger: RunTrigger(.manual), actor: "test")
        try p.historyEngine().run { s in s.active.isEmpty && s.hasFinished(up) && s.lastRunNumber >= 3 }
        #expect(try p.runs(of: "down").count == 1 && p.runs(of: "follow").count == 1 && p.runs(of: "down2").isEmpty)
        #expect(try !p.log.snapshots(Engine.runsSnapshotName).isEmpty && !p.log.snapshots("automation").isEmpty)

        // 2. side runs; the engine stops (its commits fail) once side has finished, before down2 is requested.
        let side = try RunCommands.request(p.log, job: "side", trigger: RunTrigger(.manual), actor: "test")
        let e2 = p.historyEngine()
        let log = p.log
        e2.faults.commit = { [unowned e2] in
            guard try log.read(stream: RunEvents.stream(run: side)).contains(where: { $0.type == RunEvents.runSucceeded }) else { return }
            e2.stop()
            throw EngineError("stopped before deciding on side's end")
        }
        try e2.run()
        #expect(try p.runs(of: "down2").isEmpty)
        let head = try p.log.lastSeq()
        #expect(try p.log.checkpoint(Engine.dependencyCheckpoint) < head, "side's end is not decided yet")

        // 3. From the snapshots and the events after them, and from seq 1: the same state.
        let lines = Locked<[LogLine]>([])
        let fromSnapshots = p.historyEngine(log: lines)
        try fromSnapshots.load()
        #expect(fromSnapshots.history.debt.runs < (try p.log.read(from: 1).filter { RunEvents.types.contains($0.type) }.count), "it started from a snapshot")
        for name in [Engine.runsSnapshotName, "automation", "catalog", "models"] { try p.log.deleteSnapshots(name) }
        let fromStart = p.historyEngine()
        try fromStart.load()
        #expect(fromSnapshots.runs == fromStart.runs)
        #expect(fromSnapshots.automation == fromStart.automation && fromSnapshots.models == fromStart.models && fromSnapshots.catalog == fromStart.catalog)
        #expect(lines.withLock { $0 }.allSatisfy { $0.level != .warning }, "\(lines.withLock { $0 })")
        // Both hold only what is not decided (K = 0): side's run, and up's finish that down2 waits for.
        #expect(fromStart.runs.runs.keys.sorted() == [side])
        #expect(fromStart.runs.finishedByJob["up"]?.map(\.run) == [up])
        let rules = try p.dependencyRules
        let full = try RunCommands.runs(p.log)
        #expect(DependencyReactor.due(fromSnapshots.runs, rules: rules) == DependencyReactor.due(full, rules: rules))
        #expect(DependencyReactor.due(full, rules: rules).map { $0.upstream.map(\.run) } == [[up, side]])

        // 4. The restarted engine (from the snapshots the full fold writes) requests down2 once.
        fromStart.writeSnapshotsIfDue()
        #expect(try !p.log.snapshots(Engine.runsSnapshotName).isEmpty)
        try p.historyEngine().run { s in s.active.isEmpty && s.lastRunNumber >= 5 }
        let down2 = try p.runs(of: "down2")
        #expect(down2.count == 1 && down2.first?.trigger.afterRuns == [up, side] && down2.first?.status == .succeeded)
        // Another restart decides nothing more.
        let before = try p.log.lastSeq()
        try p.historyEngine().run { _ in true }
        #expect(try p.log.read(from: before + 1).allSatisfy { $0.type != RunEvents.runRequested })
        #expect(try p.runs(of: "down").count == 1 && p.runs(of: "follow").count == 1)
    }

    /// Stepping the loop by hand: a run the engine no longer holds has finished, and its end is
    /// at or below every reactor's checkpoint; dependencies and triggers fire as before.
    @Test func finishedRunsGoOnlyAfterEveryCheckpointHasPassedThem() throws {
        let p = try Project()
        try p.applyChain()
        let ups = try (0 ..< 3).map { _ in try RunCommands.request(p.log, job: "up", trigger: RunTrigger(.manual), actor: "test") }
        let e = p.historyEngine()
        try e.load()
        var dropped: Set<String> = []
        // A limit for a loaded machine (CI runs JVMs beside this test), not a timing: the loop ends
        // as soon as the nine runs have ended.
        let deadline = Date().addingTimeInterval(180)
        while Date() < deadline {
            let progressed = try e.step()
            let truth = try RunCommands.runs(p.log)
            // (Runs this step requested are folded by the next one.)
            for (id, run) in truth.runs where e.runs.runs[id] == nil && run.requestedSeq <= e.runs.lastSeq {
                dropped.insert(id)
                let end = try #require(run.finishedSeq, "run \(id) was dropped before it finished")
                #expect(Engine.checkpointNames.allSatisfy { (try? p.log.checkpoint($0)) ?? 0 >= end }, "run \(id) ended at \(end)")
                #expect(e.runs.hasFinished(id))
            }
            if !progressed && e.inFlight.isEmpty && truth.active.isEmpty && truth.runs.count == 9 { break }
            if !progressed { e.waitForWork(atMost: 0.01) }
        }
        // Three ups, a down and a follow each, and down2 never (no side): nothing more, nothing less.
        let truth = try RunCommands.runs(p.log)
        #expect(truth.runs.count == 9 && truth.active.isEmpty)
        #expect(try p.runs(of: "down").map { $0.trigger.afterRuns ?? [] } == ups.map { [$0] })
        #expect(try p.runs(of: "follow").count == 3 && p.runs(of: "down2").isEmpty)
        // Once the last ends are decided, the engine holds none of the runs, but the ups' finishes
        // down2 waits for (and that down_after_up consumed them, so that it does not fire again).
        e.forgetDecidedRuns()
        #expect(e.runs.runs.isEmpty && e.runs.forgotten == 9 && truth.runs.keys.allSatisfy { e.runs.hasFinished($0) })
        #expect(e.runs.finishedByJob.keys.sorted() == ["up"] && e.runs.finishedByJob["up"]?.map(\.run) == ups)
        #expect(e.runs.consumed == ["down_after_up": Set(ups)])
        #expect(dropped.count >= 6, "most runs were already let go of while the others ran")
    }

    /// A reactor added after the store's last engine (no checkpoint stored yet — the notification
    /// reactor on a store from before it) starts where the stage scheduler is; the runs decided
    /// before that are not held for it, so such a store's first start holds no more than any other.
    @Test func aReactorWithoutACheckpointStartsAtTheSchedulersAndHoldsNothingBeforeIt() throws {
        let p = try Project()
        try p.applyChain()
        _ = try RunCommands.request(p.log, job: "up", trigger: RunTrigger(.manual), actor: "test")
        let first = try p.historyEngine(keep: 0).run { s in s.active.isEmpty }
        #expect(first.active.isEmpty && first.lastRunNumber == 3)
        // As if the notification reactor had come with a new version: its checkpoint is gone.
        let head = try p.log.lastSeq()
        #expect(try p.log.checkpoint(Engine.schedulerCheckpoint) == head)
        try p.log.removeCheckpoint(Engine.notificationsCheckpoint)
        #expect(try p.log.checkpoints()[Engine.notificationsCheckpoint] == nil)
        let e = p.historyEngine(keep: 0)
        try e.load()
        #expect(e.decidedThrough == head)
        #expect(e.runs.runs.isEmpty && e.runs.hasFinished("1") && e.runs.lastRunNumber == 3)
        // It decides nothing about those runs (no notification for an old run), and its first
        // commit stores its checkpoint.
        _ = try e.step()
        #expect(try p.log.read(type: NotificationRequested.type).isEmpty)
        #expect(try p.log.checkpoints()[Engine.notificationsCheckpoint] == head)
    }

    /// The newest finished runs stay for `run(until:)` and its result (as before this change).
    @Test func theNewestFinishedRunsStayInMemory() throws {
        let p = try Project()
        try p.applyChain()
        let up = try RunCommands.request(p.log, job: "up", trigger: RunTrigger(.manual), actor: "test")
        let state = try p.historyEngine(keep: 100).run { s in s.active.isEmpty && s.runs.count == 3 }
        #expect(state.runs[up]?.status == .succeeded && state.forgotten == 0)
        let none = try p.historyEngine(keep: 0).run { _ in true }
        #expect(none.runs.isEmpty && none.hasFinished(up) && none.lastRunNumber == 3)
    }

    /// A snapshot that does not decode is passed over with its reason, and the log folded instead.
    @Test func undecodableSnapshotsAreFoldedFromTheLog() throws {
        let p = try Project()
        try p.applyChain()
        let up = try RunCommands.request(p.log, job: "up", trigger: RunTrigger(.manual), actor: "test")
        try p.historyEngine().run { s in s.active.isEmpty && s.hasFinished(up) && s.lastRunNumber >= 3 }
        let head = try p.log.lastSeq()
        try p.log.writeSnapshot(Engine.runsSnapshotName, seq: head, version: Engine.runsSnapshotVersion, state: .string("garbage"))
        try p.log.writeSnapshot("automation", seq: head, version: AutomationProjection().version, state: .object([("keys", .int(1))]))
        try p.log.writeSnapshot("catalog", seq: head, version: CatalogProjection().version, state: .array([]))
        let lines = Locked<[LogLine]>([])
        let e = p.historyEngine(log: lines)
        try e.load()
        let warnings = lines.withLock { $0 }.filter { $0.level == .warning && $0.component == "snapshots" }.map(\.message)
        #expect(warnings.count == 3, "\(warnings)")
        #expect(warnings.contains { $0.contains("engine-runs snapshot at seq \(head) does not decode") && $0.contains("folded") })
        #expect(warnings.contains { $0.contains("automation snapshot at seq \(head) does not decode") })
        for name in [Engine.runsSnapshotName, "automation", "catalog", "models"] { try p.log.deleteSnapshots(name) }
        let fromStart = p.historyEngine()
        try fromStart.load()
        #expect(e.runs == fromStart.runs && e.automation == fromStart.automation && e.catalog == fromStart.catalog)
        // And it decides as before: another up is followed once.
        let up2 = try RunCommands.request(p.log, job: "up", trigger: RunTrigger(.manual), actor: "test")
        try p.historyEngine().run { s in s.active.isEmpty && s.hasFinished(up2) && s.lastRunNumber >= 6 }
        #expect(try p.runs(of: "down").map { $0.trigger.afterRuns ?? [] } == [[up], [up2]] && p.runs(of: "follow").count == 2)
    }

    /// A run request numbers its run from the engine's working set (its snapshot and the events
    /// after it), as it did from the full state: the next number, also past an unreadable snapshot.
    @Test func runRequestsAreNumberedFromTheWorkingSet() throws {
        let p = try Project()
        try p.applyChain()
        let up = try RunCommands.request(p.log, job: "up", trigger: RunTrigger(.manual), actor: "test")
        try p.historyEngine().run { s in s.active.isEmpty && s.hasFinished(up) && s.lastRunNumber >= 3 }
        let snapshot = try #require(try p.log.snapshots(Engine.runsSnapshotName).last)
        #expect(try snapshot.seq <= p.log.lastSeq())
        // Requests after the snapshot: its number, and the tail's, count.
        let next = try RunCommands.request(p.log, job: "side", trigger: RunTrigger(.manual), actor: "test")
        #expect(try next == "4" && RunCommands.runs(p.log).lastRunNumber == 4)
        #expect(try RunCommands.request(p.log, job: "side", trigger: RunTrigger(.manual), actor: "test") == "5")
        try p.log.writeSnapshot(Engine.runsSnapshotName, seq: try p.log.lastSeq(), version: Engine.runsSnapshotVersion, state: .string("garbage"))
        #expect(try RunCommands.request(p.log, job: "side", trigger: RunTrigger(.manual), actor: "test") == "6")
        let (state, from, _) = try Engine.workingSet(p.log, through: try p.log.lastSeq(), report: { _ in })
        #expect(from == nil && state.lastRunNumber == 6 && state.runs.count == 6, "an unreadable snapshot: folded from seq 1")
    }

    /// A first start (no snapshot) skips the runs it would let go of at once; what it holds is
    /// what folding every run event, then forgetting, holds — whatever is decided and kept.
    @Test func aColdFoldHoldsWhatFoldingEverythingThenForgettingHolds() throws {
        let p = try Project()
        try p.applyChain()
        try p.apply("""
        kind: job
        name: flop
        stages: [{name: a, type: script, command: ["false"]}]
        ---
        kind: dependency
        name: down_after_flop
        after: flop
        on: failure
        run: down
        """)
        for job in ["up", "flop", "side", "up", "flop"] {
            _ = try RunCommands.request(p.log, job: job, trigger: RunTrigger(.manual), actor: "test")
            try p.historyEngine(keep: 100, snapshotEvery: 1_000_000).run { s in s.active.isEmpty }
        }
        // One run still active (never started: no engine runs now).
        _ = try RunCommands.request(p.log, job: "side", trigger: RunTrigger(.manual), actor: "test")
        let head = try p.log.lastSeq()
        let rules = try p.dependencyRules
        let full = try RunCommands.runs(p.log)
        #expect(full.runs.count >= 12 && full.active.count == 1 && full.datasetVersions["d_up"] == 2)
        let ends = full.runs.values.compactMap(\.finishedSeq).sorted()
        for decided in [0, ends[ends.count / 2], head] {
            for keep in [0, 1, 3, 100] {
                let plain = try Engine.workingSet(p.log, through: head, report: { _ in }).state
                var expected = plain
                expected.forget(decidedThrough: decided, rules: rules, keepFinished: keep)
                let cold = try Engine.coldWorkingSet(p.log, through: head, decided: decided, rules: rules, keep: keep)
                #expect(cold.state == expected, "decided \(decided), keep \(keep)")
                #expect(DependencyReactor.due(cold.state, rules: rules) == DependencyReactor.due(full, rules: rules))
            }
        }
        // Through the engine's start: the same as a fold from the snapshot it then writes.
        let e = p.historyEngine()
        try e.load()
        #expect(e.runs.runs.count == 1 && e.runs.forgotten == full.runs.count - 1)
        #expect(e.runs.runs.values.first?.stages.first?.datasets.isEmpty == true)
        let withData = try #require(full.runs.values.first { $0.job == "up" && $0.stages[0].datasets.count == 1 })
        let keepAll = p.historyEngine(keep: 100)
        try keepAll.load()
        #expect(keepAll.runs.runs[withData.id] == withData, "a kept run is folded with the dataset versions it wrote")
    }
}
