import Catalog
import Domain
import Foundation

/// A schedule as the reactor uses it: a `schedule` definition, or a model's `retrain.schedule`,
/// with everything its decisions need (when it ticks, from when to when, catch-up and overlap
/// rules, the job and its parameters). Pure.
public struct SchedulePlan: Sendable, Hashable {
    /// When a schedule ticks.
    public enum Timing: Sendable, Hashable {
        /// A cron expression read as local time in the plan's zone.
        case cron(CronSchedule)
        /// Every `micros` µs from `anchor` (start_at, else when the version was applied).
        case every(micros: Int64, anchor: Int64)
    }

    /// The schedule's name (`model:M` for model M's retraining schedule).
    public var name: String
    /// The version of its definition (the model's for a retraining schedule).
    public var version: UInt64
    /// The seq of that version's DefinitionApplied.
    public var definitionSeq: UInt64
    /// When that version was applied (µs): no tick at or before it is ever run or recorded.
    public var appliedAt: Int64
    public var timing: Timing
    public var zone: TimeZone
    /// The zone's name as written (`UTC` when none is).
    public var zoneName: String
    /// µs: no tick before it (one at it fires).
    public var startAt: Int64?
    /// µs: no tick after it.
    public var endAt: Int64?
    public var catchUp: ScheduleSpec.CatchUp
    /// At least 1.
    public var maxCatchUp: Int
    public var overlap: ScheduleSpec.Overlap
    /// The job to run ("" when there is none: see `jobProblem`).
    public var job: String
    /// Why there is no job to run (the job is not in the catalog, no job trains the model…).
    public var jobProblem: String?
    /// Parameters for the run (besides scheduled_time), in name order.
    public var parameters: [Value.Member]
    /// The model a retraining schedule retrains.
    public var model: String?

    /// A plan with these fields.
    public init(name: String, version: UInt64, definitionSeq: UInt64 = 0, appliedAt: Int64, timing: Timing, zone: TimeZone, zoneName: String? = nil,
                startAt: Int64? = nil, endAt: Int64? = nil, catchUp: ScheduleSpec.CatchUp = .latest,
                maxCatchUp: Int = Int(ScheduleSpec.defaultMaxCatchUp), overlap: ScheduleSpec.Overlap = .skip, job: String,
                jobProblem: String? = nil, parameters: [Value.Member] = [], model: String? = nil) {
        self.name = name
        self.version = version
        self.definitionSeq = definitionSeq
        self.appliedAt = appliedAt
        self.timing = timing
        self.zone = zone
        self.zoneName = zoneName ?? (zone.identifier == "GMT" ? "UTC" : zone.identifier)
        self.startAt = startAt
        self.endAt = endAt
        self.catchUp = catchUp
        self.maxCatchUp = max(1, maxCatchUp)
        self.overlap = overlap
        self.job = job
        self.jobProblem = jobProblem
        self.parameters = parameters
        self.model = model
    }

    /// The plan of a schedule definition's version; nil when the spec does not read or says
    /// neither cron nor every (validation refuses both).
    public init?(name: String, version: UInt64, definitionSeq: UInt64, appliedAt: Int64, spec s: ScheduleSpec) {
        let timing: Timing
        if let text = s.cron, let cron = try? CronSchedule(text) {
            timing = .cron(cron)
        } else if let every = s.every, every >= ScheduleSpec.minimumEvery {
            timing = .every(micros: Int64((every * 1_000_000).rounded()), anchor: s.startAt ?? appliedAt)
        } else {
            return nil
        }
        self.init(name: name, version: version, definitionSeq: definitionSeq, appliedAt: appliedAt, timing: timing, zone: s.zone,
                  zoneName: s.timezone ?? "UTC", startAt: s.startAt, endAt: s.endAt, catchUp: s.catchUp ?? .latest, maxCatchUp: Int(clamping: s.maxCatchUp ?? ScheduleSpec.defaultMaxCatchUp),
                  overlap: s.overlap ?? .skip, job: s.job, parameters: s.parameters)
    }

    /// The schedule's stream.
    public var stream: String { ScheduleEvents.stream(schedule: name) }

    /// `cron '30 2 * * *'` or `every 1h`.
    public var whenText: String {
        switch timing {
        case .cron(let c): return "cron '\(c.description)'"
        case .every(let micros, _): return "every \(DurationText.text(Double(micros) / 1e6))"
        }
    }

    /// Every schedule of a catalog: its schedule definitions and its models' retraining
    /// schedules, by name; plus the definitions that make none (a spec that does not read).
    public static func plans(in catalog: CatalogState) -> (plans: [String: SchedulePlan], unreadable: [String]) {
        var plans: [String: SchedulePlan] = [:]
        var unreadable: [String] = []
        var trainingJobs: [(name: String, spec: JobSpec)]?
        for entry in catalog.entries.values.sorted(by: { $0.key.name < $1.key.name }) {
            switch entry.key.kind {
            case .schedule:
                guard let spec = try? entry.spec(as: ScheduleSpec.self),
                      var plan = SchedulePlan(name: entry.key.name, version: entry.version, definitionSeq: entry.seq, appliedAt: entry.recordedAtMicros, spec: spec) else {
                    unreadable.append("schedule '\(entry.key.name)' v\(entry.version)")
                    continue
                }
                if catalog.entries[DefinitionKey(.job, plan.job)] == nil { plan.jobProblem = "job '\(plan.job)' is not in the catalog" }
                plans[plan.name] = plan
            case .model:
                guard let model = try? entry.spec(as: ModelSpec.self), let retrain = model.retrain, let text = retrain.schedule else { continue }
                guard let cron = try? CronSchedule(text) else {
                    unreadable.append("model '\(entry.key.name)' v\(entry.version) (retrain.schedule)")
                    continue
                }
                if trainingJobs == nil {
                    trainingJobs = catalog.entries.values.filter { $0.key.kind == .job }
                        .compactMap { e in (try? e.spec(as: JobSpec.self)).map { (e.key.name, $0) } }
                }
                let name = ScheduleEvents.retrainSchedule(model: entry.key.name)
                var plan = SchedulePlan(name: name, version: entry.version, definitionSeq: entry.seq, appliedAt: entry.recordedAtMicros,
                                        timing: .cron(cron), zone: ScheduleSpec.zone(named: retrain.timezone), zoneName: retrain.timezone ?? "UTC",
                                        job: "", model: entry.key.name)
                let candidates = RetrainJob.candidates(training: entry.key.name, jobs: trainingJobs ?? [])
                switch RetrainJob.resolve(model: entry.key.name, named: retrain.job, candidates: candidates) {
                case .success(let job): plan.job = job
                case .failure(let problem): plan.jobProblem = problem.message
                }
                plans[name] = plan
            default: continue
            }
        }
        return (plans, unreadable)
    }
}

/// One nominal tick of a schedule.
public struct ScheduleTick: Sendable, Hashable {
    /// The nominal instant, µs since 1970.
    public var nominal: Int64
    /// A cron tick whose local time was adjusted for daylight saving: how.
    public var adjustment: ScheduleTicked.Adjustment?
    /// With `adjustment`: the local time the cron fields matched (`2026-03-29 02:30`).
    public var wallTime: String?

    public init(nominal: Int64, adjustment: ScheduleTicked.Adjustment? = nil, wallTime: String? = nil) {
        self.nominal = nominal
        self.adjustment = adjustment
        self.wallTime = wallTime
    }
}

/// The ticks of a stretch of time: the newest few, in order, and a summary of the older ones
/// (never materialized: a week of a one-second schedule is a count, not 604,800 values).
public struct TickWindow: Sendable, Hashable {
    /// The ticks before `newest`: the first, the last and how many.
    public var older: (first: ScheduleTick, last: ScheduleTick, count: UInt64)? {
        get { olderFirst.map { ($0, olderLast ?? $0, olderCount) } }
        set {
            olderFirst = newValue?.first
            olderLast = newValue?.last
            olderCount = newValue?.count ?? 0
        }
    }
    private var olderFirst: ScheduleTick?
    private var olderLast: ScheduleTick?
    private var olderCount: UInt64 = 0
    /// The newest ticks, oldest first.
    public var newest: [ScheduleTick] = []

    public init() {}

    /// How many ticks in all.
    public var count: UInt64 { olderCount + UInt64(newest.count) }
    /// The first tick of all.
    public var first: ScheduleTick? { olderFirst ?? newest.first }
}

extension SchedulePlan {
    /// The moment due ticks come strictly after: the newest nominal recorded, the moment the
    /// current version was applied, and just before start_at (a tick at start_at fires).
    public func floor(_ state: ScheduleStreamState) -> Int64 {
        var f = appliedAt
        if let last = state.lastNominal { f = max(f, last) }
        if let s = startAt { f = max(f, s - 1) }
        return f
    }

    /// The ticks strictly after `after`, in order, lazily, never past `end_at`.
    public func ticks(after: Int64) -> AnyIterator<ScheduleTick> {
        let end = endAt ?? .max
        switch timing {
        case .every(let interval, let anchor):
            // k-th tick = anchor + k·interval; the first after `after` is k = ⌊(after − anchor) / interval⌋ + 1.
            var k = SchedulePlan.floorDiv(after - anchor, interval) + 1
            return AnyIterator {
                let (t, overflow) = anchor.addingReportingOverflow(k.multipliedReportingOverflow(by: interval).partialValue)
                guard !overflow, t <= end else { return nil }
                k += 1
                return ScheduleTick(nominal: t)
            }
        case .cron(let cron):
            var times = cron.fireTimes(after: Date(timeIntervalSince1970: Double(after) / 1e6), in: zone)
            return AnyIterator {
                while let f = times.next() {
                    let t = Int64((f.instant.timeIntervalSince1970 * 1e6).rounded())
                    guard t <= end else { return nil }
                    if t <= after { continue }
                    switch f.adjustment {
                    case .none: return ScheduleTick(nominal: t)
                    case .shiftedPastGap: return ScheduleTick(nominal: t, adjustment: .shiftedPastGap, wallTime: f.localText)
                    case .firstOfTwo: return ScheduleTick(nominal: t, adjustment: .firstOfTwo, wallTime: f.localText)
                    }
                }
                return nil
            }
        }
    }

    /// The next `count` ticks strictly after `after`.
    public func next(_ count: Int, after: Int64) -> [ScheduleTick] {
        var out: [ScheduleTick] = []
        let it = ticks(after: after)
        while out.count < count, let t = it.next() { out.append(t) }
        return out
    }

    /// The ticks in (`after`, `through`]: the newest `keep` in order, the older ones summarized.
    /// An interval schedule is counted by arithmetic; a cron schedule is walked once (a minute
    /// is its finest step: a week is ~10,000 ticks) keeping at most 2·`keep` ticks in memory.
    public func window(after: Int64, through: Int64, keep: Int) -> TickWindow {
        var w = TickWindow()
        let last = min(through, endAt ?? .max)
        guard last > after else { return w }
        switch timing {
        case .every(let interval, let anchor):
            let kFirst = SchedulePlan.floorDiv(after - anchor, interval) + 1
            let kLast = SchedulePlan.floorDiv(last - anchor, interval)
            guard kLast >= kFirst else { return w }
            let total = kLast - kFirst + 1
            let kept = min(total, Int64(max(0, keep)))
            let firstKept = kLast - kept + 1
            if firstKept > kFirst {
                w.older = (ScheduleTick(nominal: anchor + kFirst * interval), ScheduleTick(nominal: anchor + (firstKept - 1) * interval),
                           UInt64(firstKept - kFirst))
            }
            if kept > 0 { w.newest = (firstKept ... kLast).map { ScheduleTick(nominal: anchor + $0 * interval) } }
        case .cron:
            var buffer: [ScheduleTick] = []
            var olderFirst: ScheduleTick?, olderLast: ScheduleTick?
            var olderCount: UInt64 = 0
            let keep = max(0, keep)
            let it = ticks(after: after)
            while let t = it.next(), t.nominal <= last {
                buffer.append(t)
                if buffer.count > 2 * keep {
                    // Move the oldest beyond `keep` to the summary.
                    let spill = buffer.count - keep
                    if olderFirst == nil { olderFirst = buffer[0] }
                    olderLast = buffer[spill - 1]
                    olderCount += UInt64(spill)
                    buffer.removeFirst(spill)
                }
            }
            if buffer.count > keep {
                let spill = buffer.count - keep
                if olderFirst == nil { olderFirst = buffer[0] }
                olderLast = buffer[spill - 1]
                olderCount += UInt64(spill)
                buffer.removeFirst(spill)
            }
            if let f = olderFirst, let l = olderLast { w.older = (f, l, olderCount) }
            w.newest = buffer
        }
        return w
    }

    /// ⌊a / b⌋ for b > 0.
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// `2026-03-29 03:00 +02:00`: a nominal instant as local time in the plan's zone.
    public func localText(_ micros: Int64) -> String {
        var text = ScheduleTimeZone.localText(Date(timeIntervalSince1970: Double(micros) / 1e6), in: zone)
        // Sub-minute ticks (every 1s) show their seconds too.
        let seconds = ((micros / 1_000_000) % 60 + 60) % 60
        if micros % 60_000_000 != 0, let space = text.lastIndex(of: " ") {
            text.insert(contentsOf: String(format: ":%02d", Int(seconds)), at: space)
        }
        return text
    }
}
