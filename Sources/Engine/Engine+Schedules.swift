import Catalog
import Domain
import EventLog
import Foundation
import Models
import Runs

/// Which schedule ticks an engine decides.
public enum ScheduleTicks: Sendable, Hashable {
    /// Every tick as it comes due (`ledgerflow work`).
    case whenDue
    /// Ticks due by this moment (µs) and no later ones (`ledgerflow work --once`: what is due
    /// when it starts); queued ticks are still released as their runs end.
    case dueBy(Int64)
    /// None: schedules are the service's (the engine `ledgerflow run` hosts).
    case none
}

/// The schedule reactor's state on the loop thread: the schedule streams folded, the plans of the
/// catalog in force, and when each schedule next needs deciding.
struct SchedulingState {
    var streams = ScheduleState()
    var plans: [String: SchedulePlan] = [:]
    /// The catalog version the plans are of.
    var plansAt: UInt64 = .max
    /// Schedule → (plan version, floor) → its first unrecorded tick (µs; nil: none comes).
    var next: [String: (version: UInt64, floor: Int64, tick: Int64?)] = [:]
    /// What has been reported once (unreadable streams and specs).
    var reported: Set<String> = []
}

/// The schedule reactor: a phase of each step deciding, from the catalog in force, the folded
/// schedule streams and the clock, which ticks are due; their `ScheduleTicked` /
/// `ScheduleTickSkipped` / `ScheduleTickReleased` events go into the step's batch at the
/// schedule stream's exact version, with the `RunRequested` each causes — one transaction. A
/// crash before the commit loses both; after it, the folded stream holds the tick and the next
/// decision starts after it; a second engine writing the same tick fails on the stream version.
extension Engine {
    /// Folds every schedule stream of the catalog's schedules and models (each stream read on its
    /// own, in chunks: never the whole log).
    func loadSchedules(head: UInt64) throws {
        var names: Set<String> = []
        for key in Array(catalog.entries.keys) + Array(catalog.removedVersions.keys) {
            switch key.kind {
            case .schedule: names.insert(key.name)
            case .model: names.insert(ScheduleEvents.retrainSchedule(model: key.name))
            default: break
            }
        }
        let started = Date()
        let (snapshot, rejected) = AutomationFolds.streamsSnapshot(log, atOrBefore: head)
        if let rejected { options.report(rejected, .warning, component: "snapshots") }
        // The outbox loads from it too (once, not reading or reporting it again).
        history.streamsSnapshot = .some(snapshot)
        let (streams, folded) = try AutomationFolds.schedules(names, log, through: head, from: snapshot)
        // The sensors start their streams from it too (when the catalog first brings them in).
        sensorReactor.seeds = snapshot?.sensors ?? [:]
        history.debt.streams += folded
        noteLoaded("schedules", fromSnapshot: snapshot?.seq, folded: folded, seconds: Date().timeIntervalSince(started))
        scheduling = SchedulingState(streams: streams)
    }

    /// Folds one new event into the schedule streams' state.
    func observeSchedule(_ e: RecordedEvent) {
        scheduling.streams.evolve(e)
    }

    /// The plans of the catalog in force (rebuilt when it changes: a schedule applied while the
    /// engine runs takes effect at its next tick).
    func schedulePlans() -> [String: SchedulePlan] {
        if scheduling.plansAt != catalog.lastChangeSeq {
            let (plans, unreadable) = SchedulePlan.plans(in: catalog)
            scheduling.plans = plans
            scheduling.plansAt = catalog.lastChangeSeq
            for u in unreadable where scheduling.reported.insert("spec " + u).inserted {
                options.report("\(u) does not read as a schedule; it does not tick (apply it again to see why)", .error, component: "schedules")
            }
        }
        return scheduling.plans
    }

    /// The moment ticks are decided up to now (nil: none are).
    func scheduleHorizon(_ now: Int64) -> Int64? {
        switch options.scheduleTicks {
        case .whenDue: return now
        case .dueBy(let t): return min(now, t)
        case .none: return nil
        }
    }

    /// The first unrecorded tick of `plan` (cached per version and floor).
    func nextTick(_ plan: SchedulePlan, _ state: ScheduleStreamState) -> Int64? {
        let floor = plan.floor(state)
        if let c = scheduling.next[plan.name], c.version == plan.version, c.floor == floor { return c.tick }
        let tick = ScheduleDecider.nextTick(plan, state: state)?.nominal
        scheduling.next[plan.name] = (plan.version, floor, tick)
        return tick
    }

    /// When the loop must wake for a schedule (µs), nil when no tick is to come.
    func nextScheduleWake() -> Int64? {
        guard let horizon = scheduleHorizon(.max) else { return nil }
        var wake: Int64?
        for plan in scheduling.plans.values {
            let state = scheduling.streams[plan.name]
            guard state.unreadable == nil, let t = nextTick(plan, state), t <= horizon else { continue }
            wake = min(wake ?? t, t)
        }
        return wake
    }

    /// Phase 6b: the schedule reactor.
    func decideSchedules(into batch: inout Batch, now: Int64) {
        guard let horizon = scheduleHorizon(now) else { return }
        let plans = schedulePlans()
        // The newest active run of each schedule (finished in this step counts as ended).
        var active: [String: String] = [:]
        for id in runs.active {
            guard let r = batch.run(id), r.status == .running, r.trigger.kind == .schedule, let s = r.trigger.schedule else { continue }
            if let other = active[s], (Int(other) ?? 0) > r.number { continue }
            active[s] = id
        }
        for plan in plans.values.sorted(by: { $0.name < $1.name }) {
            let state = scheduling.streams[plan.name]
            if let failure = state.unreadable {
                if scheduling.reported.insert("stream " + plan.name).inserted {
                    options.report("schedule \(plan.name): its stream holds an event that does not decode (\(failure)); it does not tick until that is dealt with", .error, component: "schedules")
                }
                continue
            }
            if state.queued.isEmpty, (nextTick(plan, state).map { $0 > horizon } ?? true) { continue }
            let decisions = ScheduleDecider.due(plan, state: state, now: horizon, activeRun: active[plan.name])
            guard !decisions.isEmpty else { continue }
            // The schedule's stream first: its events precede the runs they request in the append
            // (`why` finds a run's tick by the stream's version as of the RunRequested).
            batch.touch(plan.stream, expected: .exact(state.version))
            let events = scheduleEvents(plan, state, decisions, now: now, batch: &batch)
            batch.add(plan.stream, events, expected: .exact(state.version))
        }
        // Queued ticks of schedules that no longer exist are dropped, on record.
        for (name, state) in scheduling.streams.schedules where !state.queued.isEmpty && plans[name] == nil && state.unreadable == nil {
            let model = ScheduleEvents.model(ofSchedule: name)
            let key = model.map { DefinitionKey(.model, $0) } ?? DefinitionKey(.schedule, name)
            let why = model.map { "model '\($0)' no longer retrains on a schedule" } ?? "schedule '\(name)' was removed"
            let events = ScheduleDecider.orphaned(state).map {
                ScheduleTickReleased(schedule: name, scheduleVersion: catalog.streamVersion(key), nominal: $0.nominal, run: nil, error: why, releasedAt: now).event()
            }
            options.report("schedule \(name): \(events.count) queued tick(s) dropped: \(why)", .warning, component: "schedules")
            batch.add(ScheduleEvents.stream(schedule: name), events, expected: .exact(state.version))
        }
    }

    /// The events of one schedule's decisions, requesting the runs they call for in `batch`.
    func scheduleEvents(_ plan: SchedulePlan, _ state: ScheduleStreamState, _ decisions: [ScheduleDecision], now: Int64,
                        batch: inout Batch) -> [NewEvent] {
        var events: [NewEvent] = []
        var runOfTick: [Int64: String] = [:]
        let zone = plan.zoneName
        func resolve(_ a: ActiveRun?) -> String? {
            switch a {
            case .run(let id)?: return id
            case .tick(let t)?: return runOfTick[t]
            case nil: return nil
            }
        }
        func request(_ nominal: Int64) -> Result<String, EngineError> {
            var trigger = RunTrigger(.schedule, by: "schedule:\(plan.name)")
            trigger.schedule = plan.name
            trigger.scheduleVersion = plan.version
            trigger.tick = ScheduleEvents.timeText(nominal)
            trigger.model = plan.model
            let params = plan.parameters.map { ($0.key, $0.value) }
            let result = requestRun(job: plan.job, parameters: params, provided: [(ScheduleSpec.scheduledTimeParameter, .string(ScheduleEvents.timeText(nominal)))],
                                    trigger: trigger, causation: nil, correlation: nil, batch: &batch)
            if case .success(let id) = result { runOfTick[nominal] = id }
            return result
        }
        for d in decisions {
            switch d {
            case .release(let q):
                switch request(q.nominal) {
                case .success(let id):
                    events.append(ScheduleTickReleased(schedule: plan.name, scheduleVersion: plan.version, nominal: q.nominal, run: id,
                                                       after: state.lastRun, releasedAt: now).event())
                case .failure(let why):
                    options.report("schedule \(plan.name): queued tick \(ScheduleEvents.timeText(q.nominal)) dropped: \(why)", .warning, component: "schedules")
                    events.append(ScheduleTickReleased(schedule: plan.name, scheduleVersion: plan.version, nominal: q.nominal, run: nil,
                                                       after: state.lastRun, error: why.description, releasedAt: now).event())
                }
            case .run(let t, let catchUp):
                switch request(t.nominal) {
                case .success(let id):
                    events.append(ScheduleTicked(schedule: plan.name, scheduleVersion: plan.version, nominal: t.nominal, local: plan.localText(t.nominal),
                                                 timezone: zone, adjustment: t.adjustment, wallTime: t.wallTime, job: plan.job, firedAt: now, run: id,
                                                 catchUp: catchUp ? true : nil).event())
                case .failure(let why):
                    options.report("schedule \(plan.name): tick \(ScheduleEvents.timeText(t.nominal)) not run: \(why)", .warning, component: "schedules")
                    events.append(ScheduleTickSkipped(schedule: plan.name, scheduleVersion: plan.version, nominal: t.nominal, reason: .runRefused,
                                                      local: plan.localText(t.nominal), timezone: zone, detail: "the run was refused: \(why)",
                                                      decidedAt: now).event())
                }
            case .queue(let t, let catchUp, let behind):
                events.append(ScheduleTicked(schedule: plan.name, scheduleVersion: plan.version, nominal: t.nominal, local: plan.localText(t.nominal),
                                             timezone: zone, adjustment: t.adjustment, wallTime: t.wallTime, job: plan.job, firedAt: now,
                                             catchUp: catchUp ? true : nil, queued: true, waitingFor: resolve(behind)).event())
            case .skip(let s):
                let activeRun = resolve(s.activeRun)
                let detail = s.reason == .overlap || s.reason == .queueFull ? s.detail + (activeRun.map { ": run \($0)" } ?? "") : s.detail
                if s.count > 1 || s.reason != .overlap {
                    let range = s.count > 1 ? "\(s.count) ticks \(ScheduleEvents.timeText(s.first.nominal)) … \(ScheduleEvents.timeText(s.last.nominal))"
                                            : "tick \(ScheduleEvents.timeText(s.first.nominal))"
                    options.report("schedule \(plan.name): \(range) skipped (\(s.reason.rawValue)): \(detail)", component: "schedules")
                }
                events.append(ScheduleTickSkipped(schedule: plan.name, scheduleVersion: plan.version, nominal: s.first.nominal,
                                                  through: s.count > 1 ? s.last.nominal : nil, count: s.count, reason: s.reason, activeRun: activeRun,
                                                  local: plan.localText(s.first.nominal), timezone: zone, detail: detail, decidedAt: now).event())
            }
        }
        return events
    }
}
