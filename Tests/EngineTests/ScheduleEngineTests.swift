import Catalog
import Domain
import EventLog
import Foundation
import Models
import Runs
import TestSupport
import Testing
@testable import Engine

/// The schedule reactor in the engine, on a manual clock: the log records ticks at the time the
/// test sets, so each test says exactly which ticks are due.
@Suite(.timeLimit(.minutes(1))) struct ScheduleEngineTests {
    /// 2026-01-01T00:00:00Z: the manual clock's start.
    static let midnight = ManualClock.defaultStart

    static let job = """
    kind: job
    name: report
    stages: [{name: a, type: script, command: [sh, -c, "echo \\"$LEDGERFLOW_PARAM_SCHEDULED_TIME\\" >> ran.txt"]}]
    """

    func at(_ clock: ManualClock, _ text: String) { clock.set(micros: Timestamp.parse(text) ?? 0) }

    func ticks(_ p: Project, _ schedule: String = "s") throws -> [ScheduleTicked] {
        try p.log.read(stream: ScheduleEvents.stream(schedule: schedule)).compactMap { try $0.decodeIf(ScheduleTicked.self) }
    }
    func skips(_ p: Project, _ schedule: String = "s") throws -> [ScheduleTickSkipped] {
        try p.log.read(stream: ScheduleEvents.stream(schedule: schedule)).compactMap { try $0.decodeIf(ScheduleTickSkipped.self) }
    }
    /// The scheduled runs' ticks, by run.
    func scheduledRuns(_ p: Project) throws -> [String: String] {
        var out: [String: String] = [:]
        for r in try RunCommands.runs(p.log).runs.values where r.trigger.kind == .schedule { out[r.id] = r.trigger.tick }
        return out
    }

    /// Runs a fresh engine until it is idle with no run active.
    func settle(_ p: Project) throws {
        try p.engine().run { $0.active.isEmpty }
    }

    @Test func aTickFiresOnceAndANewEngineOnTheSameStoreDoesNotFireItAgain() throws {
        let clock = ManualClock()
        let p = try Project(clock: clock)
        try p.apply(Self.job + "\n---\nkind: schedule\nname: s\ncron: '* * * * *'\njob: report\n")
        try settle(p)
        #expect(try ticks(p).isEmpty)
        at(clock, "2026-01-01T00:01:00.250Z")
        try settle(p)
        try settle(p)
        let t = try ticks(p)
        #expect(t.map { ScheduleEvents.timeText($0.nominal) } == ["2026-01-01T00:01:00Z"])
        let runs = try scheduledRuns(p)
        #expect(runs == [t[0].run ?? "?": "2026-01-01T00:01:00Z"])
        // The run carries its tick: trigger, parameter, and the tick event is in the same append,
        // right before the RunRequested.
        let requested = try #require(try p.events(t[0].run ?? "").first)
        let r = try requested.decode(RunRequested.self)
        #expect(r.trigger.kind == .schedule && r.trigger.schedule == "s" && r.trigger.scheduleVersion == 1 && r.trigger.tick == "2026-01-01T00:01:00Z")
        #expect(r.parameters["scheduled_time"] == .string("2026-01-01T00:01:00Z"))
        let tickEvent = try #require(try p.log.read(stream: "schedule/s").first)
        #expect(tickEvent.seq + 1 == requested.seq && tickEvent.recordedAtMicros == requested.recordedAtMicros)
        #expect(try String(contentsOfFile: p.root + "/ran.txt", encoding: .utf8) == "2026-01-01T00:01:00Z\n")
        // Two more minutes, two more engines: each tick once.
        at(clock, "2026-01-01T00:02:00Z")
        try settle(p)
        at(clock, "2026-01-01T00:03:00Z")
        try settle(p)
        try settle(p)
        #expect(try ticks(p).map { ScheduleEvents.timeText($0.nominal) } == ["2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z"])
        #expect(try scheduledRuns(p).count == 3)
    }

    /// With the engine's snapshot of the streams written at every idle moment, a restart folds
    /// each schedule's stream from the snapshot's version on (the load line says so), holds what a
    /// fold from its first event holds, and fires each later tick once.
    @Test func aRestartFromTheStreamsSnapshotHoldsWhatAFullFoldHoldsAndTicksOnce() throws {
        let clock = ManualClock()
        let p = try Project(clock: clock)
        try p.apply(Self.job + "\n---\nkind: schedule\nname: s\ncron: '* * * * *'\njob: report\ncatch_up: all\noverlap: allow\n")
        let lines = Locked<[LogLine]>([])
        func engine() -> Engine { p.historyEngine(keep: 100, snapshotEvery: 1, log: lines) }
        for minute in 1 ... 3 {
            at(clock, "2026-01-01T00:0\(minute):00Z")
            try engine().run { $0.active.isEmpty }
        }
        let (snapshot, rejected) = AutomationFolds.streamsSnapshot(p.log, atOrBefore: .max)
        #expect(rejected == nil)
        let snap = try #require(snapshot)
        #expect(snap.schedules["s"].ticked == 3 && snap.schedules["s"].lastTick?.run != nil)
        let head = try p.log.lastSeq()
        let fromSnapshot = try AutomationFolds.schedules(["s"], p.log, through: head, from: snap)
        let fromStart = try AutomationFolds.schedules(["s"], p.log, through: head, from: nil)
        #expect(fromSnapshot.state == fromStart.state)
        #expect(fromSnapshot.folded < fromStart.folded)
        // Five minutes offline with catch_up all: the restart fires each missed tick once.
        at(clock, "2026-01-01T00:08:00Z")
        try engine().run { $0.active.isEmpty }
        try engine().run { $0.active.isEmpty }
        #expect(lines.withLock { $0 }.contains { $0.message.contains("schedules from its snapshot at seq") })
        let skipped = try skips(p)
        #expect(try ticks(p).map { ScheduleEvents.timeText($0.nominal) } == (1 ... 8).map { "2026-01-01T00:0\($0):00Z" }, "\(skipped) \(lines.withLock { $0 }.map(\.message))")
        #expect(try scheduledRuns(p).count == 8)
    }

    @Test func anEngineWithAStaleViewLosesTheTickToTheExpectedVersion() throws {
        let clock = ManualClock()
        let p = try Project(clock: clock)
        try p.apply(Self.job + "\n---\nkind: schedule\nname: s\ncron: '* * * * *'\njob: report\n")
        let first = p.engine(), second = p.engine()
        try first.load()
        try second.load()
        at(clock, "2026-01-01T00:01:00Z")
        // The second engine decides the tick on its stale state…
        var batch = Batch(base: second.runs, now: clock.nowMicros(), actor: second.actor)
        second.decideSchedules(into: &batch, now: clock.nowMicros())
        #expect(batch.added("schedule/s") == 1)
        // …the first commits it meanwhile…
        var own = Batch(base: first.runs, now: clock.nowMicros(), actor: first.actor)
        first.decideSchedules(into: &own, now: clock.nowMicros())
        try p.log.append(own.appends, actor: "first")
        // …so the second's append (tick and run in one transaction) is refused whole.
        #expect(throws: WrongExpectedVersion.self) { try p.log.append(batch.appends, actor: "second") }
        #expect(try ticks(p).count == 1)
        #expect(try RunCommands.runs(p.log).runs.count == 1)
        // Folding what was committed, it decides nothing more.
        try second.catchUp()
        var again = Batch(base: second.runs, now: clock.nowMicros(), actor: second.actor)
        second.decideSchedules(into: &again, now: clock.nowMicros())
        #expect(again.isEmpty)
    }

    @Test func aScheduleChangedMidwayDoesNotBackfillAndTakesEffectWithoutARestart() throws {
        let clock = ManualClock()
        let p = try Project(clock: clock)
        try p.apply(Self.job + "\n---\nkind: schedule\nname: s\ncron: '0 * * * *'\njob: report\n")
        let reports = Locked<[String]>([])
        var o = Engine.Options()
        o.pollInterval = 0.01
        o.log = { line in reports.withLock { $0.append(line.message) } }
        let e = Engine(log: p.log, store: p.store, options: o)
        let finished = Locked(false)
        Thread.detachNewThread {
            _ = try? e.run()
            finished.withLock { $0 = true }
        }
        defer {
            e.stop()
            try? waitFor("the engine to stop") { finished.withLock { $0 } }
        }
        // (Each run ends before the clock moves on: a tick during a run would be skipped, overlap skip.)
        func tick(_ n: Int) throws {
            try waitFor("tick \(n) and its run's end (engine: \(reports.withLock { $0 }))") {
                try ticks(p).count == n && RunCommands.runs(p.log).active.isEmpty && RunCommands.runs(p.log).runs.count == n
            }
        }
        at(clock, "2026-01-01T01:00:00Z")
        try tick(1)
        // Changed at 01:30 to every 15 minutes (the running engine folds the catalog each step).
        at(clock, "2026-01-01T01:30:00Z")
        try p.apply(Self.job + "\n---\nkind: schedule\nname: s\ncron: '*/15 * * * *'\njob: report\n")
        at(clock, "2026-01-01T01:45:00Z")
        try tick(2)
        at(clock, "2026-01-01T02:00:00Z")
        try tick(3)
        let t = try ticks(p)
        #expect(t.map { ScheduleEvents.timeText($0.nominal) } == ["2026-01-01T01:00:00Z", "2026-01-01T01:45:00Z", "2026-01-01T02:00:00Z"])
        #expect(t.map(\.scheduleVersion) == [1, 2, 2])
        // 01:15 and 01:30 matched the new cron but came before it was applied: never recorded.
        #expect(try skips(p).isEmpty)
    }

    @Test func catchUpAllRunsTheNewestMaxCatchUpTicksAndRecordsTheOlderOnesAsOneSkip() throws {
        let clock = ManualClock()
        let p = try Project(clock: clock)
        try p.apply(Self.job + "\n---\nkind: schedule\nname: s\ncron: '* * * * *'\njob: report\ncatch_up: all\nmax_catch_up: 3\noverlap: allow\n")
        at(clock, "2026-01-01T00:10:00Z")
        try settle(p)
        #expect(try ticks(p).map { ScheduleEvents.timeText($0.nominal) } == ["2026-01-01T00:08:00Z", "2026-01-01T00:09:00Z", "2026-01-01T00:10:00Z"])
        let s = try skips(p)
        #expect(s.count == 1 && s[0].reason == .maxCatchUp && s[0].count == 7)
        #expect(ScheduleEvents.timeText(s[0].nominal) == "2026-01-01T00:01:00Z" && s[0].through.map(ScheduleEvents.timeText) == "2026-01-01T00:07:00Z")
        let runs = try RunCommands.runs(p.log)
        #expect(runs.runs.count == 3 && runs.runs.values.allSatisfy { $0.status == .succeeded })
        // Each nominal once: the skip's range and the ticks do not meet.
        #expect(try ticks(p).allSatisfy { $0.nominal > s[0].last })
    }

    @Test(arguments: [ScheduleSpec.Overlap.skip, .queue, .allow])
    func overlapDecidesATickThatComesWhileThePreviousRunIsActive(_ overlap: ScheduleSpec.Overlap) throws {
        let clock = ManualClock()
        let p = try Project(clock: clock)
        // The job waits for a file the test writes, so its run stays active.
        try p.apply("""
        kind: job
        name: slow
        stages: [{name: a, type: script, command: [sh, -c, "while [ ! -f go ]; do sleep 0.01; done"]}]
        ---
        kind: schedule
        name: s
        cron: '* * * * *'
        job: slow
        overlap: \(overlap.rawValue)
        """)
        let e = p.engine()
        let finished = Locked(false)
        Thread.detachNewThread {
            _ = try? e.run()
            finished.withLock { $0 = true }
        }
        defer {
            e.stop()
            try? waitFor("the engine to stop") { finished.withLock { $0 } }
        }
        at(clock, "2026-01-01T00:01:00Z")
        try waitFor("run 1 to start") { try RunCommands.runs(p.log).runs["1"]?.stages.first?.status == .running }
        at(clock, "2026-01-01T00:02:00Z")
        try waitFor("the 00:02 tick to be decided") { try p.log.streamVersion("schedule/s") == 2 }
        switch overlap {
        case .skip:
            let s = try skips(p)
            #expect(s.count == 1 && s[0].reason == .overlap && s[0].activeRun == "1" && ScheduleEvents.timeText(s[0].nominal) == "2026-01-01T00:02:00Z")
        case .queue:
            let t = try ticks(p)
            #expect(t.count == 2 && t[1].queued == true && t[1].run == nil && t[1].waitingFor == "1")
            #expect(try RunCommands.runs(p.log).runs.count == 1)
        case .allow:
            #expect(try ticks(p).map(\.run) == ["1", "2"])
            try waitFor("run 2 to start beside run 1") { try RunCommands.runs(p.log).runs["2"]?.stages.first?.status == .running }
        }
        // Run 1 ends: a queued tick's run is requested, with the event that says so.
        #expect(FileManager.default.createFile(atPath: p.root + "/go", contents: nil))
        try waitFor("every run to end") {
            let runs = try RunCommands.runs(p.log)
            return runs.active.isEmpty && runs.runs.count == (overlap == .skip ? 1 : 2)
        }
        let released = try p.log.read(stream: "schedule/s").compactMap { try $0.decodeIf(ScheduleTickReleased.self) }
        if overlap == .queue {
            #expect(released.count == 1 && released[0].run == "2" && released[0].after == "1")
            let requested = try #require(try p.events("2").first)
            #expect(try requested.decode(RunRequested.self).trigger.tick == "2026-01-01T00:02:00Z")
            let releaseEvent = try #require(try p.log.read(stream: "schedule/s").last)
            #expect(releaseEvent.seq + 1 == requested.seq)
        } else {
            #expect(released.isEmpty)
        }
    }

    @Test func aModelsRetrainingScheduleRunsTheJobThatTrainsIt() throws {
        let clock = ManualClock()
        let p = try Project(clock: clock)
        try "x,churned\n1,0\n2,1\n3,0\n4,1\n5,0\n6,1\n".write(toFile: p.root + "/customers.csv", atomically: true, encoding: .utf8)
        try p.apply("""
        kind: source
        name: customers
        type: csv
        path: customers.csv
        ---
        kind: model
        name: churn
        type: logistic_regression
        target: churned
        training_dataset: customers
        holdout: 0
        retrain: {schedule: '0 3 * * *', timezone: Europe/Amsterdam}
        ---
        kind: job
        name: train_churn
        stages: [{name: fit, type: train, model: churn}]
        """)
        at(clock, "2026-01-01T02:00:30Z") // 03:00 in Amsterdam
        try settle(p)
        let t = try ticks(p, "model:churn")
        #expect(t.count == 1 && t[0].job == "train_churn" && t[0].local == "2026-01-01 03:00 +01:00" && t[0].timezone == "Europe/Amsterdam")
        let run = try #require(try RunCommands.runs(p.log).runs[t[0].run ?? ""])
        #expect(run.job == "train_churn" && run.trigger.schedule == "model:churn" && run.trigger.model == "churn")
        #expect(run.status == .succeeded)
    }

    @Test func anEngineForOnceDecidesOnlyTicksDueWhenItStartedAndOneHostedByRunNone() throws {
        let clock = ManualClock()
        let p = try Project(clock: clock)
        try p.apply(Self.job + "\n---\nkind: schedule\nname: s\nevery: 1s\njob: report\ncatch_up: all\noverlap: allow\n")
        at(clock, "2026-01-01T00:00:05Z")
        var none = Engine.Options()
        none.scheduleTicks = .none
        try Engine(log: p.log, store: p.store, options: none).run { $0.active.isEmpty }
        #expect(try ticks(p).isEmpty)
        #expect(RunHost.Options().engine.scheduleTicks == .none)
        var once = Engine.Options()
        once.scheduleTicks = .dueBy(Timestamp.parse("2026-01-01T00:00:03Z") ?? 0)
        try Engine(log: p.log, store: p.store, options: once).run { $0.active.isEmpty }
        #expect(try ticks(p).map { ScheduleEvents.timeText($0.nominal) } == ["2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z"])
    }

    @Test func queuedTicksOfARemovedScheduleAreDroppedOnRecord() throws {
        let clock = ManualClock()
        let p = try Project(clock: clock)
        try p.apply("""
        kind: job
        name: slow
        stages: [{name: a, type: script, command: [sh, -c, "while [ ! -f go ]; do sleep 0.01; done"]}]
        ---
        kind: schedule
        name: s
        cron: '* * * * *'
        job: slow
        overlap: queue
        """)
        let e = p.engine()
        let finished = Locked(false)
        Thread.detachNewThread {
            _ = try? e.run()
            finished.withLock { $0 = true }
        }
        defer {
            e.stop()
            try? waitFor("the engine to stop") { finished.withLock { $0 } }
        }
        at(clock, "2026-01-01T00:01:00Z")
        try waitFor("run 1") { try RunCommands.runs(p.log).runs["1"] != nil }
        at(clock, "2026-01-01T00:02:00Z")
        try waitFor("the queued tick") { try ticks(p).count == 2 }
        // The schedule is removed while its tick waits.
        let plan = ApplyPlan.decide(catalog: try RunCommands.catalog(p.log), definitions: try definitionsOf(p, "kind: job\nname: slow\nstages: [{name: a, type: script, command: [sh, -c, \"while [ ! -f go ]; do sleep 0.01; done\"]}]"),
                                    prune: true, message: nil)
        try p.log.append(plan.appends, actor: "test", correlation: .shared)
        try waitFor("the queued tick to be dropped") {
            try p.log.read(stream: "schedule/s").compactMap { try $0.decodeIf(ScheduleTickReleased.self) }.count == 1
        }
        let dropped = try #require(try p.log.read(stream: "schedule/s").last?.decode(ScheduleTickReleased.self))
        #expect(dropped.run == nil && dropped.error == "schedule 's' was removed")
        #expect(FileManager.default.createFile(atPath: p.root + "/go", contents: nil))
        try waitFor("run 1 to end") { try RunCommands.runs(p.log).active.isEmpty }
        #expect(try RunCommands.runs(p.log).runs.count == 1)
    }

    func definitionsOf(_ p: Project, _ yaml: String) throws -> [Definition] {
        let (defs, errors) = DefinitionLoader.load(text: yaml, file: "test.yaml")
        #expect(errors.isEmpty, "\(errors)")
        return defs
    }
}
