import Catalog
import Domain

/// The run a tick would overlap: one in the log, or the one this decision requests for an
/// earlier tick (its id is given when the engine requests it).
public enum ActiveRun: Sendable, Hashable {
    /// A run of the schedule that has not finished.
    case run(String)
    /// The run requested in this decision for the tick at this nominal instant.
    case tick(Int64)
}

/// Ticks not run, for one `ScheduleTickSkipped`: a single tick or a contiguous range.
public struct SkippedTicks: Sendable, Hashable {
    public var first: ScheduleTick
    public var last: ScheduleTick
    public var count: UInt64
    public var reason: ScheduleTickSkipped.Reason
    /// overlap: the run that was active.
    public var activeRun: ActiveRun?
    /// One line for people.
    public var detail: String

    public init(first: ScheduleTick, last: ScheduleTick, count: UInt64, reason: ScheduleTickSkipped.Reason, activeRun: ActiveRun? = nil, detail: String) {
        self.first = first
        self.last = last
        self.count = count
        self.reason = reason
        self.activeRun = activeRun
        self.detail = detail
    }
}

/// What the reactor does about one schedule now, in order.
public enum ScheduleDecision: Sendable, Hashable {
    /// The oldest queued tick's run is requested (the run it waited for has ended).
    case release(QueuedTick)
    /// The tick's run is requested now; `catchUp` when it runs late.
    case run(ScheduleTick, catchUp: Bool)
    /// The tick is recorded as queued behind `behind` (overlap queue).
    case queue(ScheduleTick, catchUp: Bool, behind: ActiveRun)
    /// Ticks recorded as skipped.
    case skip(SkippedTicks)

    /// The tick a run or queue decision is about.
    public var tick: ScheduleTick? {
        switch self {
        case .run(let t, _), .queue(let t, _, _): return t
        case .release, .skip: return nil
        }
    }
}

/// The schedule reactor's decision. Pure: a schedule's plan, its folded stream, the time and its
/// active run in; what to record and run out. Level-triggered: deciding twice on one state gives
/// the same decisions, and deciding on a state that holds them gives none (every tick it decides
/// is after the newest nominal recorded).
///
/// Rules:
/// - Due ticks are the ticks strictly after max(newest nominal recorded, the moment the current
///   version was applied, just before start_at) and at or before min(now, end_at): a changed
///   schedule never backfills ticks from before the change; a new one starts at its next tick.
/// - A tick is *missed* when a newer tick is due too, or it is more than `grace` (one minute)
///   late. catch_up none: missed ticks are skipped; an on-time newest tick runs. latest: the
///   newest due tick runs, the others are skipped. all: the newest `max_catch_up` due ticks run,
///   older ones are skipped — recorded as one range with its count, however many.
/// - overlap, for a tick to run while the schedule's previous run is active (or one requested
///   earlier in this decision): skip → skipped naming that run; queue → recorded as queued (at
///   most max_catch_up waiting; beyond, skipped as queue_full), and released oldest first when
///   no run of the schedule is active; allow → runs at once.
/// - A plan without a job (not in the catalog; a model no job trains) skips its due ticks.
public enum ScheduleDecider {
    /// How late a tick may run and still count as on time (µs): one minute.
    public static let grace: Int64 = 60_000_000
    static let missedNone = "missed: more than a minute late, or a newer tick was due (catch_up none)"

    /// The decisions for `plan` at `now`, given its stream's state and its active run.
    public static func due(_ plan: SchedulePlan, state: ScheduleStreamState, now: Int64, activeRun: String?) -> [ScheduleDecision] {
        var out: [ScheduleDecision] = []
        var active: ActiveRun? = activeRun.map { .run($0) }
        var queueLength = state.queued.count
        if active == nil, let first = state.queued.first {
            out.append(.release(first))
            active = .tick(first.nominal)
            queueLength -= 1
        }

        let floor = plan.floor(state)
        if let problem = plan.jobProblem {
            let w = plan.window(after: floor, through: now, keep: 0)
            if let o = w.older {
                out.append(.skip(SkippedTicks(first: o.first, last: o.last, count: o.count, reason: .jobMissing,
                                              detail: "not run: \(problem)")))
            }
            return out
        }
        let keep = plan.catchUp == .all ? plan.maxCatchUp : 1
        let w = plan.window(after: floor, through: now, keep: keep)
        guard let newest = w.newest.last else { return out }
        let late = { (t: ScheduleTick) in t.nominal != newest.nominal || t.nominal < now - grace }

        var toRun = w.newest
        if let o = w.older {
            let (reason, detail): (ScheduleTickSkipped.Reason, String)
            switch plan.catchUp {
            case .none: (reason, detail) = (.catchUpNone, missedNone)
            case .latest: (reason, detail) = (.catchUpLatest, "missed; the newest due tick runs instead (catch_up latest)")
            case .all: (reason, detail) = (.maxCatchUp, "missed, older than the newest \(plan.maxCatchUp) missed ticks that run (max_catch_up)")
            }
            out.append(.skip(SkippedTicks(first: o.first, last: o.last, count: o.count, reason: reason, detail: detail)))
        }
        if plan.catchUp == .none && newest.nominal < now - grace {
            toRun = []
            append(.skip(SkippedTicks(first: newest, last: newest, count: 1, reason: .catchUpNone, detail: missedNone)), to: &out)
        }

        for t in toRun {
            switch (plan.overlap, active) {
            case (.allow, _), (_, nil):
                out.append(.run(t, catchUp: late(t)))
                active = .tick(t.nominal)
            case (.skip, let a?):
                append(.skip(SkippedTicks(first: t, last: t, count: 1, reason: .overlap, activeRun: a,
                                          detail: "the schedule's previous run was still active (overlap skip)")), to: &out)
            case (.queue, let a?):
                if queueLength < plan.maxCatchUp {
                    out.append(.queue(t, catchUp: late(t), behind: a))
                    queueLength += 1
                } else {
                    append(.skip(SkippedTicks(first: t, last: t, count: 1, reason: .queueFull, activeRun: a,
                                              detail: "\(plan.maxCatchUp) ticks already wait for the schedule's active run (overlap queue, max_catch_up)")), to: &out)
                }
            }
        }
        return out
    }

    /// The first tick that is not recorded yet (when the schedule next needs deciding), nil when
    /// none comes (past end_at, or a cron that never fires again).
    public static func nextTick(_ plan: SchedulePlan, state: ScheduleStreamState) -> ScheduleTick? {
        plan.ticks(after: plan.floor(state)).next()
    }

    /// Queued ticks of a schedule that no longer exists: each is dropped (recorded, no run).
    public static func orphaned(_ state: ScheduleStreamState) -> [QueuedTick] { state.queued }

    /// Adds a skip, merged into the previous decision when that skips the tick just before for
    /// the same reason and run (consecutive overlap skips make one range).
    static func append(_ d: ScheduleDecision, to out: inout [ScheduleDecision]) {
        guard case .skip(let s) = d, case .skip(var previous)? = out.last,
              previous.reason == s.reason, previous.activeRun == s.activeRun, previous.last.nominal < s.first.nominal else {
            out.append(d)
            return
        }
        previous.last = s.last
        previous.count += s.count
        out[out.count - 1] = .skip(previous)
    }
}
