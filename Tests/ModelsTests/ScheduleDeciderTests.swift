import Catalog
import Domain
import Foundation
import Models
import Testing

/// µs of an RFC 3339 time (0 when it does not parse, which no test writes).
func µs(_ text: String) -> Int64 { Timestamp.parse(text) ?? 0 }

func utc(_ micros: Int64) -> String { ScheduleEvents.timeText(micros) }

/// The plan of a schedule spec applied at `applied`.
func schedulePlan(cron: String? = nil, every: Double? = nil, timezone: String? = nil, applied: String, version: UInt64 = 1,
                  start: String? = nil, end: String? = nil, catchUp: ScheduleSpec.CatchUp? = nil, maxCatchUp: Int64? = nil,
                  overlap: ScheduleSpec.Overlap? = nil) throws -> SchedulePlan {
    let spec = ScheduleSpec(cron: cron, every: every, timezone: timezone, job: "report", startAt: start.map(µs), endAt: end.map(µs), catchUp: catchUp,
                            maxCatchUp: maxCatchUp, overlap: overlap)
    return try #require(SchedulePlan(name: "s", version: version, definitionSeq: 1, appliedAt: µs(applied), spec: spec))
}

/// Given a schedule, when the decider runs at moments, then the decisions are recorded as the
/// engine records them (events folded into the stream state) and the runs it requests are
/// numbered 1, 2, …; the schedule's active run is the newest until the test ends it.
struct ScheduleSim {
    var plan: SchedulePlan
    var state = ScheduleStreamState()
    var events: [RecordedEvent] = []
    var active: String?
    /// Nominal instant → run requested for it, in request order.
    var runs: [(nominal: Int64, run: String)] = []
    var skips: [ScheduleTickSkipped] = []
    var queuedTicks: [Int64] = []
    var ticks: [ScheduleTicked] = []

    init(_ plan: SchedulePlan) { self.plan = plan }

    /// Decides at `now` and records the decisions.
    @discardableResult
    mutating func decide(at now: Int64) throws -> [ScheduleDecision] {
        let decisions = ScheduleDecider.due(plan, state: state, now: now, activeRun: active)
        var runOfTick: [Int64: String] = [:]
        func resolve(_ a: ActiveRun?) -> String? {
            switch a {
            case .run(let r)?: return r
            case .tick(let t)?: return runOfTick[t]
            case nil: return nil
            }
        }
        func newRun(_ nominal: Int64) -> String {
            let id = String(runs.count + 1)
            runs.append((nominal, id))
            runOfTick[nominal] = id
            active = id
            return id
        }
        for d in decisions {
            let e: any DomainEvent
            switch d {
            case .release(let q):
                e = ScheduleTickReleased(schedule: plan.name, scheduleVersion: plan.version, nominal: q.nominal, run: newRun(q.nominal),
                                         after: state.lastRun, releasedAt: now)
            case .run(let t, let catchUp):
                let tick = ScheduleTicked(schedule: plan.name, scheduleVersion: plan.version, nominal: t.nominal, local: plan.localText(t.nominal),
                                          timezone: plan.zoneName, adjustment: t.adjustment, wallTime: t.wallTime, job: plan.job, firedAt: now,
                                          run: newRun(t.nominal), catchUp: catchUp ? true : nil)
                ticks.append(tick)
                e = tick
            case .queue(let t, let catchUp, let behind):
                queuedTicks.append(t.nominal)
                e = ScheduleTicked(schedule: plan.name, scheduleVersion: plan.version, nominal: t.nominal, local: plan.localText(t.nominal),
                                   timezone: plan.zoneName, job: plan.job, firedAt: now, catchUp: catchUp ? true : nil, queued: true,
                                   waitingFor: resolve(behind))
            case .skip(let s):
                let skipped = ScheduleTickSkipped(schedule: plan.name, scheduleVersion: plan.version, nominal: s.first.nominal,
                                                  through: s.count > 1 ? s.last.nominal : nil, count: s.count, reason: s.reason,
                                                  activeRun: resolve(s.activeRun), local: plan.localText(s.first.nominal), timezone: plan.zoneName,
                                                  detail: s.detail, decidedAt: now)
                skips.append(skipped)
                e = skipped
            }
            let recorded = RecordedEvent(seq: UInt64(events.count + 1), recordedAtMicros: now, stream: plan.stream, streamVersion: state.version + 1,
                                         type: type(of: e).type, payload: e.payload)
            events.append(recorded)
            state.evolve(recorded)
        }
        return decisions
    }

    /// Decides every `step` seconds from `from` through `through`, ending each run at once.
    mutating func walk(from: Int64, through: Int64, step: Int64) throws {
        var now = from
        while now <= through {
            try decide(at: now)
            active = nil
            now += step * 1_000_000
        }
    }

    /// Every nominal instant recorded (ticks, and each skip range's first and count) — to check
    /// that none is recorded twice.
    var runNominals: [String] { runs.map { utc($0.nominal) } }
}

@Suite struct ScheduleDeciderTests {
    // MARK: when ticks are due

    @Test func aTickRunsOnceWhenDueAndDecidingAgainGivesNothing() throws {
        var sim = ScheduleSim(try schedulePlan(cron: "0 * * * *", applied: "2026-01-01T00:10:00Z"))
        // Given a schedule applied at 00:10, when nothing is due yet, then nothing is decided.
        #expect(try sim.decide(at: µs("2026-01-01T00:59:59Z")).isEmpty)
        // When 01:00 comes, then the tick runs, on time.
        let d = try sim.decide(at: µs("2026-01-01T01:00:00.300Z"))
        #expect(d == [.run(ScheduleTick(nominal: µs("2026-01-01T01:00:00Z")), catchUp: false)])
        // When deciding again on the state that holds it, then nothing.
        #expect(try sim.decide(at: µs("2026-01-01T01:00:05Z")).isEmpty)
        #expect(sim.state.version == 1 && sim.state.lastNominal == µs("2026-01-01T01:00:00Z") && sim.state.lastRun == "1")
    }

    @Test func aNewScheduleStartsAtItsNextTickNeverBefore() throws {
        // Given a schedule applied at 00:30 whose cron matched 00:00, when decided at 00:30, then
        // 00:00 is not a tick of it (no skip either): ticks begin after the version's apply.
        var sim = ScheduleSim(try schedulePlan(cron: "0 * * * *", applied: "2026-01-01T00:30:00Z", catchUp: .all))
        #expect(try sim.decide(at: µs("2026-01-01T00:30:00Z")).isEmpty)
        try sim.decide(at: µs("2026-01-01T01:00:00Z"))
        #expect(sim.runNominals == ["2026-01-01T01:00:00Z"])
        #expect(sim.skips.isEmpty)
    }

    @Test func startAtIsInclusiveAnchorsEveryAndEndAtEndsTheTicks() throws {
        // Given every 10 minutes from 00:05 (applied at midnight) until 00:25, when the engine
        // decides each minute, then 00:05, 00:15 and 00:25 run and nothing after.
        var sim = ScheduleSim(try schedulePlan(every: 600, applied: "2026-01-01T00:00:00Z", start: "2026-01-01T00:05:00Z",
                                               end: "2026-01-01T00:25:00Z"))
        try sim.walk(from: µs("2026-01-01T00:00:00Z"), through: µs("2026-01-01T02:00:00Z"), step: 60)
        #expect(sim.runNominals == ["2026-01-01T00:05:00Z", "2026-01-01T00:15:00Z", "2026-01-01T00:25:00Z"])
        #expect(ScheduleDecider.nextTick(sim.plan, state: sim.state) == nil)
    }

    @Test func everyWithoutStartAtCountsFromTheApply() throws {
        var sim = ScheduleSim(try schedulePlan(every: 90, applied: "2026-01-01T00:00:10Z"))
        try sim.walk(from: µs("2026-01-01T00:00:10Z"), through: µs("2026-01-01T00:05:00Z"), step: 1)
        #expect(sim.runNominals == ["2026-01-01T00:01:40Z", "2026-01-01T00:03:10Z", "2026-01-01T00:04:40Z"])
    }

    // MARK: catch-up

    @Test func catchUpNoneSkipsMissedTicksAndRunsAnOnTimeOne() throws {
        // Given an hourly schedule whose engine was down from 00:30 to 03:00:20, when it decides,
        // then 01:00 and 02:00 are skipped (one range of 2) and 03:00 (20 s late) runs.
        var sim = ScheduleSim(try schedulePlan(cron: "0 * * * *", applied: "2026-01-01T00:00:00Z", catchUp: ScheduleSpec.CatchUp.none))
        try sim.decide(at: µs("2026-01-01T03:00:20Z"))
        #expect(sim.runNominals == ["2026-01-01T03:00:00Z"])
        #expect(sim.skips.count == 1)
        #expect(sim.skips[0].reason == .catchUpNone && sim.skips[0].count == 2)
        #expect(utc(sim.skips[0].nominal) == "2026-01-01T01:00:00Z" && sim.skips[0].through.map(utc) == "2026-01-01T02:00:00Z")
        // When the engine comes back more than a minute after a tick, then that tick is skipped too.
        try sim.decide(at: µs("2026-01-01T04:02:00Z"))
        #expect(sim.runNominals.count == 1)
        #expect(sim.skips.last?.reason == .catchUpNone && sim.skips.last?.count == 1 && sim.skips.last.map { utc($0.nominal) } == "2026-01-01T04:00:00Z")
    }

    @Test func catchUpLatestRunsTheNewestAndSkipsTheOthers() throws {
        var sim = ScheduleSim(try schedulePlan(cron: "*/15 * * * *", applied: "2026-01-01T00:00:00Z"))
        let d = try sim.decide(at: µs("2026-01-01T02:07:00Z"))
        // 00:15 … 01:45 (7 ticks) skipped in one event; 02:00, seven minutes late, runs as a catch-up.
        #expect(d.count == 2)
        #expect(sim.skips.map(\.reason) == [.catchUpLatest] && sim.skips[0].count == 7)
        #expect(sim.skips[0].through.map(utc) == "2026-01-01T01:45:00Z")
        #expect(sim.runNominals == ["2026-01-01T02:00:00Z"])
        #expect(sim.ticks[0].catchUp == true)
    }

    @Test func catchUpAllRunsTheNewestMaxCatchUpAndSkipsOlderOnesAsOneRange() throws {
        var sim = ScheduleSim(try schedulePlan(cron: "* * * * *", applied: "2026-01-01T00:00:00Z", catchUp: .all, maxCatchUp: 5, overlap: .allow))
        try sim.decide(at: µs("2026-01-01T00:20:30Z"))
        // 20 ticks due (00:01 … 00:20): the newest 5 run, oldest first; the 15 before are one skip.
        #expect(sim.runNominals == ["2026-01-01T00:16:00Z", "2026-01-01T00:17:00Z", "2026-01-01T00:18:00Z", "2026-01-01T00:19:00Z", "2026-01-01T00:20:00Z"])
        #expect(sim.skips.count == 1 && sim.skips[0].reason == .maxCatchUp && sim.skips[0].count == 15)
        #expect(utc(sim.skips[0].nominal) == "2026-01-01T00:01:00Z" && sim.skips[0].through.map(utc) == "2026-01-01T00:15:00Z")
        #expect(sim.ticks.map(\.catchUp) == [true, true, true, true, nil])
    }

    @Test func aWeekOfflineWithEverySecondIsACountNotMillionsOfTicks() throws {
        // Given every 1s and a week offline, when the engine comes back, then 50 ticks run and
        // one skip records the other 604,750: the decision holds 51 entries.
        var sim = ScheduleSim(try schedulePlan(every: 1, applied: "2026-01-01T00:00:00Z", catchUp: .all, overlap: .allow))
        let d = try sim.decide(at: µs("2026-01-08T00:00:00Z"))
        #expect(d.count == 51)
        #expect(sim.skips.first?.count == 604_750 && sim.skips.first?.reason == .maxCatchUp)
        #expect(sim.skips.first.map { utc($0.nominal) } == "2026-01-01T00:00:01Z")
        #expect(sim.skips.first?.through.map(utc) == "2026-01-07T23:59:10Z")
        #expect(sim.runNominals.first == "2026-01-07T23:59:11Z" && sim.runNominals.last == "2026-01-08T00:00:00Z")
        // And a cron every minute for a week: 10,080 ticks walked, 50 kept.
        var cron = ScheduleSim(try schedulePlan(cron: "* * * * *", timezone: "Europe/Berlin", applied: "2026-01-01T00:00:00Z", catchUp: .all,
                                                overlap: .allow))
        try cron.decide(at: µs("2026-01-08T00:00:00Z"))
        #expect(cron.skips.first?.count == 10_030 && cron.runs.count == 50)
        #expect(cron.state.skipped + cron.state.ticked == 10_080)
    }

    // MARK: overlap

    @Test func overlapSkipRecordsTheTickSkippedNamingTheActiveRun() throws {
        var sim = ScheduleSim(try schedulePlan(cron: "* * * * *", applied: "2026-01-01T00:00:00Z"))
        try sim.decide(at: µs("2026-01-01T00:01:00Z"))
        #expect(sim.active == "1")
        // Run 1 still runs at 00:02 and 00:03: both ticks skipped, naming it.
        try sim.decide(at: µs("2026-01-01T00:02:00Z"))
        try sim.decide(at: µs("2026-01-01T00:03:00Z"))
        #expect(sim.skips.map(\.reason) == [.overlap, .overlap])
        #expect(sim.skips.allSatisfy { $0.activeRun == "1" && $0.count == 1 })
        // Run 1 ends: 00:04 runs.
        sim.active = nil
        try sim.decide(at: µs("2026-01-01T00:04:00Z"))
        #expect(sim.runNominals == ["2026-01-01T00:01:00Z", "2026-01-01T00:04:00Z"])
    }

    @Test func overlapSkipWithCatchUpAllRunsTheFirstAndSkipsTheOthersBehindIt() throws {
        var sim = ScheduleSim(try schedulePlan(cron: "* * * * *", applied: "2026-01-01T00:00:00Z", catchUp: .all))
        try sim.decide(at: µs("2026-01-01T00:04:00Z"))
        #expect(sim.runNominals == ["2026-01-01T00:01:00Z"])
        // The three after it come while its run is active: one range, naming run 1.
        #expect(sim.skips.count == 1 && sim.skips[0].reason == .overlap && sim.skips[0].count == 3 && sim.skips[0].activeRun == "1")
    }

    @Test func overlapQueueQueuesTicksAndReleasesThemOneAtATimeAsRunsEnd() throws {
        var sim = ScheduleSim(try schedulePlan(cron: "* * * * *", applied: "2026-01-01T00:00:00Z", maxCatchUp: 2, overlap: .queue))
        try sim.decide(at: µs("2026-01-01T00:01:00Z"))
        try sim.decide(at: µs("2026-01-01T00:02:00Z"))
        try sim.decide(at: µs("2026-01-01T00:03:00Z"))
        // 00:02 and 00:03 wait behind run 1; 00:04 finds the queue full (max_catch_up 2).
        try sim.decide(at: µs("2026-01-01T00:04:00Z"))
        #expect(sim.queuedTicks.map(utc) == ["2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z"])
        #expect(sim.state.queued.map(\.waitingFor) == ["1", "1"])
        #expect(sim.skips.map(\.reason) == [.queueFull] && sim.skips[0].activeRun == "1")
        // Still active: nothing is released.
        #expect(try sim.decide(at: µs("2026-01-01T00:04:10Z")).isEmpty)
        // Run 1 ends: 00:02 is released (its run is 2) and 00:05, due now, queues behind it.
        sim.active = nil
        let d = try sim.decide(at: µs("2026-01-01T00:05:00Z"))
        #expect(d.first == .release(QueuedTick(nominal: µs("2026-01-01T00:02:00Z"), waitingFor: "1")))
        #expect(sim.runs.last?.run == "2" && sim.runs.last.map { utc($0.nominal) } == "2026-01-01T00:02:00Z")
        #expect(sim.state.queued.map { utc($0.nominal) } == ["2026-01-01T00:03:00Z", "2026-01-01T00:05:00Z"])
        #expect(sim.state.queued.last?.waitingFor == "2")
        // Each end releases the next, oldest first.
        sim.active = nil
        try sim.decide(at: µs("2026-01-01T00:05:10Z"))
        sim.active = nil
        try sim.decide(at: µs("2026-01-01T00:05:20Z"))
        #expect(sim.runNominals == ["2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z", "2026-01-01T00:05:00Z"])
        #expect(sim.state.queued.isEmpty)
    }

    @Test func overlapAllowRunsEveryTickAtOnce() throws {
        var sim = ScheduleSim(try schedulePlan(cron: "* * * * *", applied: "2026-01-01T00:00:00Z", catchUp: .all, overlap: .allow))
        try sim.decide(at: µs("2026-01-01T00:01:00Z"))
        try sim.decide(at: µs("2026-01-01T00:03:00Z"))
        #expect(sim.runNominals == ["2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z"])
        #expect(sim.skips.isEmpty)
    }

    // MARK: daylight saving and changes

    @Test func springForwardInNewYorkEveryHalfHourFiresOncePerInstantWithoutGaps() throws {
        var sim = ScheduleSim(try schedulePlan(cron: "*/30 * * * *", timezone: "America/New_York", applied: "2026-03-08T04:00:00Z"))
        try sim.walk(from: µs("2026-03-08T04:00:00Z"), through: µs("2026-03-08T10:00:00Z"), step: 300)
        // Local 02:00 and 02:30 do not exist: one tick at 03:00 EDT (07:00Z) stands for the gap.
        #expect(sim.runNominals == ["2026-03-08T04:30:00Z", "2026-03-08T05:00:00Z", "2026-03-08T05:30:00Z", "2026-03-08T06:00:00Z",
                                    "2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z", "2026-03-08T08:00:00Z",
                                    "2026-03-08T08:30:00Z", "2026-03-08T09:00:00Z", "2026-03-08T09:30:00Z", "2026-03-08T10:00:00Z"])
        let gap = try #require(sim.ticks.first { utc($0.nominal) == "2026-03-08T07:00:00Z" })
        #expect(gap.adjustment == .shiftedPastGap && gap.wallTime == "2026-03-08 02:00" && gap.local == "2026-03-08 03:00 -04:00")
        #expect(sim.skips.isEmpty)
    }

    @Test func fallBackInNewYorkEveryHalfHourDoesNotRepeatTheHourThatOccursTwice() throws {
        var sim = ScheduleSim(try schedulePlan(cron: "*/30 * * * *", timezone: "America/New_York", applied: "2026-11-01T04:00:00Z"))
        try sim.walk(from: µs("2026-11-01T04:00:00Z"), through: µs("2026-11-01T08:00:00Z"), step: 300)
        #expect(sim.runNominals == ["2026-11-01T04:30:00Z", "2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z",
                                    "2026-11-01T07:30:00Z", "2026-11-01T08:00:00Z"])
        #expect(sim.ticks.filter { $0.adjustment == .firstOfTwo }.map(\.wallTime) == ["2026-11-01 01:00", "2026-11-01 01:30"])
        #expect(sim.ticks[1].local == "2026-11-01 01:00 -04:00")
    }

    @Test func dailyAtHalfPastTwoAcrossBothTransitionsInNewYork() throws {
        var spring = ScheduleSim(try schedulePlan(cron: "30 2 * * *", timezone: "America/New_York", applied: "2026-03-06T12:00:00Z"))
        try spring.walk(from: µs("2026-03-06T12:00:00Z"), through: µs("2026-03-10T00:00:00Z"), step: 600)
        // The 8th's 02:30 does not exist: it runs at 03:00 EDT, once.
        #expect(spring.runNominals == ["2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"])
        #expect(spring.ticks[1].adjustment == .shiftedPastGap && spring.ticks[1].wallTime == "2026-03-08 02:30")
        var fall = ScheduleSim(try schedulePlan(cron: "30 2 * * *", timezone: "America/New_York", applied: "2026-10-30T12:00:00Z"))
        try fall.walk(from: µs("2026-10-30T12:00:00Z"), through: µs("2026-11-03T00:00:00Z"), step: 600)
        #expect(fall.runNominals == ["2026-10-31T06:30:00Z", "2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"])
        #expect(fall.ticks.allSatisfy { $0.adjustment == nil })
    }

    @Test func aCatchUpAcrossTheSpringForwardGapInBerlinRunsEachInstantOnce() throws {
        // Down from 00:50 to 04:00 local on 2026-03-29 (clocks jump 02:00 → 03:00), catch_up all.
        var sim = ScheduleSim(try schedulePlan(cron: "*/30 * * * *", timezone: "Europe/Berlin", applied: "2026-03-28T23:50:00Z", catchUp: .all,
                                               overlap: .allow))
        try sim.decide(at: µs("2026-03-29T02:00:00Z"))
        #expect(sim.runNominals == ["2026-03-29T00:00:00Z", "2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z",
                                    "2026-03-29T02:00:00Z"])
        #expect(sim.ticks.map(\.local) == ["2026-03-29 01:00 +01:00", "2026-03-29 01:30 +01:00", "2026-03-29 03:00 +02:00",
                                           "2026-03-29 03:30 +02:00", "2026-03-29 04:00 +02:00"])
    }

    @Test func aChangedCronDoesNotBackfillTicksFromBeforeTheChange() throws {
        // Given hourly ticks recorded up to 02:00 under version 1, when version 2 (every 15
        // minutes) is applied at 02:40 and the engine decides at 03:20, then only 02:45, 03:00
        // and 03:15 are due (nothing from before 02:40), and catch-up latest runs 03:15.
        var sim = ScheduleSim(try schedulePlan(cron: "0 * * * *", applied: "2026-01-01T00:00:00Z"))
        try sim.walk(from: µs("2026-01-01T00:00:00Z"), through: µs("2026-01-01T02:30:00Z"), step: 600)
        #expect(sim.runNominals == ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"])
        sim.plan = try schedulePlan(cron: "*/15 * * * *", applied: "2026-01-01T02:40:00Z", version: 2)
        try sim.decide(at: µs("2026-01-01T03:20:00Z"))
        #expect(sim.runNominals == ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:15:00Z"])
        #expect(sim.skips.count == 1 && sim.skips[0].count == 2 && utc(sim.skips[0].nominal) == "2026-01-01T02:45:00Z")
        #expect(sim.ticks.last?.scheduleVersion == 2)
        // A version applied later with an earlier-matching cron never records a nominal twice.
        sim.plan = try schedulePlan(cron: "15 * * * *", applied: "2026-01-01T02:41:00Z", version: 3)
        #expect(try sim.decide(at: µs("2026-01-01T03:20:00Z")).isEmpty)
    }

    @Test func aScheduleWithoutAJobSkipsItsDueTicksSayingWhy() throws {
        var plan = try schedulePlan(cron: "* * * * *", applied: "2026-01-01T00:00:00Z")
        plan.jobProblem = "job 'report' is not in the catalog"
        var sim = ScheduleSim(plan)
        try sim.decide(at: µs("2026-01-01T00:03:00Z"))
        #expect(sim.runs.isEmpty)
        #expect(sim.skips.count == 1 && sim.skips[0].reason == .jobMissing && sim.skips[0].count == 3)
        #expect(sim.skips[0].detail.contains("job 'report' is not in the catalog"))
    }

    // MARK: the fold

    @Test func theFoldKeepsTheNewestNominalTheQueueAndCountsAndNamesAnUnreadableEvent() throws {
        var state = ScheduleState()
        let ticked = ScheduleTicked(schedule: "s", scheduleVersion: 1, nominal: µs("2026-01-01T00:01:00Z"), local: "x", timezone: "UTC", job: "j",
                                    firedAt: 0, queued: true, waitingFor: "4")
        let skipped = ScheduleTickSkipped(schedule: "s", scheduleVersion: 1, nominal: µs("2026-01-01T00:02:00Z"), through: µs("2026-01-01T00:09:00Z"),
                                          count: 8, reason: .overlap, local: "x", timezone: "UTC", detail: "d", decidedAt: 0)
        let released = ScheduleTickReleased(schedule: "s", scheduleVersion: 1, nominal: µs("2026-01-01T00:01:00Z"), run: "5", after: "4", releasedAt: 0)
        for (i, e) in [ticked as any DomainEvent, skipped, released].enumerated() {
            state.evolve(RecordedEvent(seq: UInt64(i + 1), recordedAtMicros: 0, stream: "schedule/s", streamVersion: UInt64(i + 1),
                                       type: type(of: e).type, payload: e.payload))
        }
        // An event of another stream changes nothing.
        state.evolve(RecordedEvent(seq: 9, recordedAtMicros: 0, stream: "run/5", streamVersion: 1, type: ScheduleTicked.type, payload: ticked.payload))
        #expect(state["s"].version == 3 && state["s"].lastNominal == µs("2026-01-01T00:09:00Z"))
        #expect(state["s"].queued.isEmpty && state["s"].lastRun == "5" && state["s"].lastTick?.run == "5")
        #expect(state["s"].ticked == 1 && state["s"].skipped == 8 && state.schedules.count == 1)
        state.evolve(RecordedEvent(seq: 10, recordedAtMicros: 0, stream: "schedule/s", streamVersion: 4, type: ScheduleTicked.type,
                                   payload: ticked.payload.setting("nominal", to: "yesterday")))
        #expect(state["s"].version == 4)
        #expect(state["s"].unreadable?.field == "nominal")
    }
}
