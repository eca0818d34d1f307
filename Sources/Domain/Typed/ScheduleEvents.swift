/// The schedule events: every nominal tick of a schedule is recorded exactly once, as a
/// `ScheduleTicked` (its run requested, or queued behind the schedule's active run) or inside a
/// `ScheduleTickSkipped` (one tick, or a range of missed ticks with their count); a queued tick's
/// run is requested later with a `ScheduleTickReleased`. All schema 1.
///
/// Stream: schedule `S` is `schedule/S`; the retraining schedule of model `M` (`retrain.schedule`)
/// is `schedule/model:M` (its schedule name is `model:M`: definition names cannot hold `:`, so the
/// two never meet). The engine appends a schedule's events at the stream version it folded, in
/// the same transaction as the runs they request, so a tick is decided once whatever crashes.
public enum ScheduleEvents {
    /// `ScheduleTicked`.
    public static let ticked = ScheduleTicked.type
    /// `ScheduleTickSkipped`.
    public static let skipped = ScheduleTickSkipped.type
    /// `ScheduleTickReleased`.
    public static let released = ScheduleTickReleased.type
    /// Every type above.
    public static let types: Set<String> = [ticked, skipped, released]
    /// Every schedule event type, in the order of the reference.
    public static let all: [any DomainEvent.Type] = [ScheduleTicked.self, ScheduleTickSkipped.self, ScheduleTickReleased.self]

    /// The stream prefix of schedule streams.
    public static let streamPrefix = "schedule/"
    /// `schedule/<name>`: a schedule's ticks.
    public static func stream(schedule name: String) -> String { streamPrefix + name }
    /// The schedule of a schedule stream, nil for other streams.
    public static func schedule(ofStream stream: String) -> String? {
        stream.hasPrefix(streamPrefix) ? String(stream.dropFirst(streamPrefix.count)) : nil
    }
    /// `model:<model>`: the schedule name of a model's retraining schedule.
    public static func retrainSchedule(model: String) -> String { "model:" + model }
    /// The model of a retraining schedule's name, nil for a schedule definition's.
    public static func model(ofSchedule name: String) -> String? { name.hasPrefix("model:") ? String(name.dropFirst(6)) : nil }

    /// `2026-03-29T01:00:00Z`: an instant (µs since 1970) as RFC 3339 in UTC, with a fraction only
    /// when it has one.
    public static func timeText(_ micros: Int64) -> String {
        let full = Timestamp.rfc3339(micros: micros)
        return full.hasSuffix(".000000Z") ? String(full.dropLast(8)) + "Z" : full
    }
}

extension Fields {
    /// An RFC 3339 time, as µs since 1970.
    func time(_ key: String) throws(DecodingFailure) -> Int64 {
        guard let v = value(key), case .string(let s) = v, let t = Timestamp.parse(s) else {
            throw failure(key, expected: "an RFC 3339 time", found: value(key))
        }
        return t
    }

    func time(opt key: String) throws(DecodingFailure) -> Int64? { has(key) ? try time(key) : nil }
}

/// A schedule's tick came due: its run was requested (in the same transaction), or — overlap
/// queue — it waits for the schedule's active run to end.
public struct ScheduleTicked: DomainEvent {
    public static let type = "ScheduleTicked"

    /// How a cron tick's local time became its instant (daylight saving).
    public enum Adjustment: String, Sendable, Hashable, CaseIterable {
        /// The local time did not exist (clocks sprang forward): the tick fired at the end of the gap.
        case shiftedPastGap = "shifted_past_gap"
        /// The local time occurred twice (clocks fell back): the tick fired at the first.
        case firstOfTwo = "first_of_two"
    }

    /// The schedule (`model:M` for a model's retraining schedule).
    public var schedule: String
    /// The version of its definition that decided the tick (the model's for `model:M`).
    public var scheduleVersion: UInt64
    /// The nominal instant, µs since 1970: with the schedule, the tick's key.
    public var nominal: Int64
    /// The nominal instant as local time in the zone, with its offset (`2026-03-29 03:00 +02:00`).
    public var local: String
    /// The schedule's time zone.
    public var timezone: String
    /// A cron tick whose local time was adjusted for daylight saving: how.
    public var adjustment: Adjustment?
    /// With `adjustment`: the local time the cron fields matched (`2026-03-29 02:30`).
    public var wallTime: String?
    /// The job.
    public var job: String
    /// When the engine decided it, µs since 1970.
    public var firedAt: Int64
    /// The run requested (absent while queued).
    public var run: String?
    /// True when it ran late: missed while the engine was down, or a newer tick was due too.
    public var catchUp: Bool?
    /// True when it was queued behind the schedule's active run (overlap queue).
    public var queued: Bool?
    /// The active run a queued tick waits for.
    public var waitingFor: String?

    /// A tick.
    public init(schedule: String, scheduleVersion: UInt64, nominal: Int64, local: String, timezone: String, adjustment: Adjustment? = nil,
                wallTime: String? = nil, job: String, firedAt: Int64, run: String? = nil, catchUp: Bool? = nil, queued: Bool? = nil,
                waitingFor: String? = nil) {
        self.schedule = schedule
        self.scheduleVersion = scheduleVersion
        self.nominal = nominal
        self.local = local
        self.timezone = timezone
        self.adjustment = adjustment
        self.wallTime = wallTime
        self.job = job
        self.firedAt = firedAt
        self.run = run
        self.catchUp = catchUp
        self.queued = queued
        self.waitingFor = waitingFor
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        schedule = try f.string("schedule")
        scheduleVersion = try f.uint("schedule_version")
        nominal = try f.time("nominal")
        local = try f.string("local")
        timezone = try f.string("timezone")
        if let a = try f.string(opt: "adjustment") {
            guard let adj = Adjustment(rawValue: a) else {
                throw f.failure("adjustment", expected: "one of " + Adjustment.allCases.map(\.rawValue).joined(separator: ", "), found: .string(a))
            }
            adjustment = adj
        } else {
            adjustment = nil
        }
        wallTime = try f.string(opt: "wall_time")
        job = try f.string("job")
        firedAt = try f.time("fired_at")
        run = try f.string(opt: "run")
        catchUp = try f.bool(opt: "catch_up")
        queued = try f.bool(opt: "queued")
        waitingFor = try f.string(opt: "waiting_for")
    }

    public var payload: Value {
        var b = PayloadBuilder()
        b.set("schedule", .string(schedule))
        b.set("schedule_version", scheduleVersion)
        b.set("nominal", .string(ScheduleEvents.timeText(nominal)))
        b.set("local", .string(local))
        b.set("timezone", .string(timezone))
        b.set("adjustment", adjustment?.rawValue)
        b.set("wall_time", wallTime)
        b.set("job", .string(job))
        b.set("fired_at", .string(ScheduleEvents.timeText(firedAt)))
        b.set("run", run)
        b.set("catch_up", catchUp)
        b.set("queued", queued)
        b.set("waiting_for", waitingFor)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A schedule's tick came due: its run was requested in the same transaction, or (overlap queue) it waits for the schedule's active run. Each nominal tick has exactly one ScheduleTicked or is covered by one ScheduleTickSkipped.",
        stream: "schedule/<name> | schedule/model:<model>",
        fields: [
            FieldDocumentation("schedule", "text", "the schedule (model:M for model M's retraining schedule)"),
            FieldDocumentation("schedule_version", "integer", "the version of its definition that decided the tick (the model's for model:M)"),
            FieldDocumentation("nominal", "text", "the nominal instant, RFC 3339 UTC: with the schedule, the tick's key; the run's scheduled_time"),
            FieldDocumentation("local", "text", "the nominal instant as local time in the zone, with its offset"),
            FieldDocumentation("timezone", "text", "the schedule's IANA time zone"),
            .optional("adjustment", "text", "daylight saving: shifted_past_gap (the local time did not exist; fired at the end of the gap) or first_of_two (it occurred twice; fired at the first)"),
            .optional("wall_time", "text", "with adjustment: the local time the cron fields matched"),
            FieldDocumentation("job", "text", "the job"),
            FieldDocumentation("fired_at", "text", "when the engine decided the tick (RFC 3339 UTC)"),
            .optional("run", "text", "the run requested (absent while queued)"),
            .optional("catch_up", "boolean", "true when it ran late: missed while the engine was down, or a newer tick was due too"),
            .optional("queued", "boolean", "true when it was queued behind the schedule's active run (overlap queue); ScheduleTickReleased requests its run"),
            .optional("waiting_for", "text", "the active run a queued tick waits for"),
        ])

    public static let example = ScheduleTicked(
        schedule: "nightly_scoring", scheduleVersion: 3, nominal: 1_774_746_000_000_000, local: "2026-03-29 03:00 +02:00", timezone: "Europe/Berlin",
        adjustment: .shiftedPastGap, wallTime: "2026-03-29 02:30", job: "churn_scoring", firedAt: 1_774_746_000_412_000, run: "42",
        catchUp: true, queued: true, waitingFor: "41")
}

/// Ticks of a schedule that were not run: one tick, or a range of missed ticks (first, last and
/// how many), with the reason.
public struct ScheduleTickSkipped: DomainEvent {
    public static let type = "ScheduleTickSkipped"

    /// Why ticks were skipped (stored identifiers).
    public enum Reason: String, Sendable, Hashable, CaseIterable {
        /// catch_up none: missed while the engine was down (or a newer tick was due).
        case catchUpNone = "catch_up_none"
        /// catch_up latest: a newer due tick ran instead.
        case catchUpLatest = "catch_up_latest"
        /// catch_up all: older than the newest max_catch_up missed ticks.
        case maxCatchUp = "max_catch_up"
        /// overlap skip: the schedule's previous run was still active.
        case overlap
        /// overlap queue: max_catch_up ticks were already queued.
        case queueFull = "queue_full"
        /// The job to run is not in the catalog (or a model's retraining schedule has none).
        case jobMissing = "job_missing"
        /// The run request was refused (e.g. a parameter the job does not take).
        case runRefused = "run_refused"
    }

    /// The schedule (`model:M` for a model's retraining schedule).
    public var schedule: String
    /// The version of its definition that decided.
    public var scheduleVersion: UInt64
    /// The (first) nominal instant skipped, µs since 1970.
    public var nominal: Int64
    /// With `count` > 1: the last nominal instant of the range.
    public var through: Int64?
    /// How many ticks: every tick of the schedule from `nominal` through `through`.
    public var count: UInt64
    public var reason: Reason
    /// overlap: the run that was still active.
    public var activeRun: String?
    /// The (first) nominal instant as local time in the zone.
    public var local: String
    /// The schedule's time zone.
    public var timezone: String
    /// One line for people.
    public var detail: String
    /// When the engine decided, µs since 1970.
    public var decidedAt: Int64

    /// Skipped ticks.
    public init(schedule: String, scheduleVersion: UInt64, nominal: Int64, through: Int64? = nil, count: UInt64 = 1, reason: Reason,
                activeRun: String? = nil, local: String, timezone: String, detail: String, decidedAt: Int64) {
        self.schedule = schedule
        self.scheduleVersion = scheduleVersion
        self.nominal = nominal
        self.through = through
        self.count = count
        self.reason = reason
        self.activeRun = activeRun
        self.local = local
        self.timezone = timezone
        self.detail = detail
        self.decidedAt = decidedAt
    }

    /// The last nominal instant covered.
    public var last: Int64 { through ?? nominal }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        schedule = try f.string("schedule")
        scheduleVersion = try f.uint("schedule_version")
        nominal = try f.time("nominal")
        through = try f.time(opt: "through")
        count = try f.uint("count")
        let r = try f.string("reason")
        guard let reason = Reason(rawValue: r) else {
            throw f.failure("reason", expected: "one of " + Reason.allCases.map(\.rawValue).joined(separator: ", "), found: .string(r))
        }
        self.reason = reason
        activeRun = try f.string(opt: "active_run")
        local = try f.string("local")
        timezone = try f.string("timezone")
        detail = try f.string("detail")
        decidedAt = try f.time("decided_at")
    }

    public var payload: Value {
        var b = PayloadBuilder()
        b.set("schedule", .string(schedule))
        b.set("schedule_version", scheduleVersion)
        b.set("nominal", .string(ScheduleEvents.timeText(nominal)))
        b.set("through", through.map { Value.string(ScheduleEvents.timeText($0)) })
        b.set("count", count)
        b.set("reason", .string(reason.rawValue))
        b.set("active_run", activeRun)
        b.set("local", .string(local))
        b.set("timezone", .string(timezone))
        b.set("detail", .string(detail))
        b.set("decided_at", .string(ScheduleEvents.timeText(decidedAt)))
        return b.value
    }

    public static let documentation = EventDocumentation(
        "Ticks of a schedule that were not run, with the reason: one tick, or a range of missed ticks recorded compactly (first, last, count) however long the engine was down.",
        stream: "schedule/<name> | schedule/model:<model>",
        fields: [
            FieldDocumentation("schedule", "text", "the schedule (model:M for model M's retraining schedule)"),
            FieldDocumentation("schedule_version", "integer", "the version of its definition that decided"),
            FieldDocumentation("nominal", "text", "the (first) nominal instant skipped, RFC 3339 UTC"),
            .optional("through", "text", "with count > 1: the last nominal instant of the range"),
            FieldDocumentation("count", "integer", "how many ticks: every tick of the schedule from nominal through through"),
            FieldDocumentation("reason", "text", "catch_up_none, catch_up_latest, max_catch_up, overlap, queue_full, job_missing or run_refused"),
            .optional("active_run", "text", "overlap: the schedule's run that was still active"),
            FieldDocumentation("local", "text", "the (first) nominal instant as local time in the zone"),
            FieldDocumentation("timezone", "text", "the schedule's IANA time zone"),
            FieldDocumentation("detail", "text", "one line for people"),
            FieldDocumentation("decided_at", "text", "when the engine decided (RFC 3339 UTC)"),
        ])

    public static let example = ScheduleTickSkipped(
        schedule: "every_minute", scheduleVersion: 2, nominal: 1_774_741_260_000_000, through: 1_774_744_740_000_000, count: 59,
        reason: .maxCatchUp, activeRun: "17", local: "2026-03-29 00:41 +01:00", timezone: "Europe/Berlin",
        detail: "59 missed ticks older than the newest 50 (max_catch_up)", decidedAt: 1_774_747_800_000_000)
}

/// A queued tick's run was requested, once the run it waited for had ended (in the same
/// transaction as the RunRequested); or it was dropped, saying why.
public struct ScheduleTickReleased: DomainEvent {
    public static let type = "ScheduleTickReleased"

    /// The schedule (`model:M` for a model's retraining schedule).
    public var schedule: String
    /// The version of its definition the run was requested under.
    public var scheduleVersion: UInt64
    /// The queued tick's nominal instant, µs since 1970.
    public var nominal: Int64
    /// The run requested (absent when dropped).
    public var run: String?
    /// The run it waited for, which has ended.
    public var after: String?
    /// Why no run was requested (the schedule was removed, the job is missing…).
    public var error: String?
    /// When the engine decided, µs since 1970.
    public var releasedAt: Int64

    /// A release.
    public init(schedule: String, scheduleVersion: UInt64, nominal: Int64, run: String?, after: String? = nil, error: String? = nil,
                releasedAt: Int64) {
        self.schedule = schedule
        self.scheduleVersion = scheduleVersion
        self.nominal = nominal
        self.run = run
        self.after = after
        self.error = error
        self.releasedAt = releasedAt
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        schedule = try f.string("schedule")
        scheduleVersion = try f.uint("schedule_version")
        nominal = try f.time("nominal")
        run = try f.string(opt: "run")
        after = try f.string(opt: "after")
        error = try f.string(opt: "error")
        releasedAt = try f.time("released_at")
    }

    public var payload: Value {
        var b = PayloadBuilder()
        b.set("schedule", .string(schedule))
        b.set("schedule_version", scheduleVersion)
        b.set("nominal", .string(ScheduleEvents.timeText(nominal)))
        b.set("run", run)
        b.set("after", after)
        b.set("error", error)
        b.set("released_at", .string(ScheduleEvents.timeText(releasedAt)))
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A queued tick's run was requested once the run it waited for had ended (in the same transaction as the RunRequested), or the tick was dropped, saying why.",
        stream: "schedule/<name> | schedule/model:<model>",
        fields: [
            FieldDocumentation("schedule", "text", "the schedule (model:M for model M's retraining schedule)"),
            FieldDocumentation("schedule_version", "integer", "the version of its definition the run was requested under"),
            FieldDocumentation("nominal", "text", "the queued tick's nominal instant, RFC 3339 UTC"),
            .optional("run", "text", "the run requested (absent when dropped)"),
            .optional("after", "text", "the run it waited for, which has ended"),
            .optional("error", "text", "why no run was requested (the schedule was removed, the job is missing…)"),
            FieldDocumentation("released_at", "text", "when the engine decided (RFC 3339 UTC)"),
        ])

    public static let example = ScheduleTickReleased(schedule: "hourly_sync", scheduleVersion: 1, nominal: 1_774_746_000_000_000, run: "43",
                                                     after: "42", error: "job 'sync' is not in the catalog", releasedAt: 1_774_746_620_000_000)
}
