import Domain
import Foundation

/// Run a job on a cron schedule in a time zone, or every fixed interval.
public struct ScheduleSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.schedule

    /// What happens to ticks missed while the engine was down (or busy past the next tick).
    public enum CatchUp: String, Sendable, Hashable, CaseIterable {
        /// Missed ticks are skipped (recorded as skipped).
        case none
        /// The newest due tick runs; the older missed ones are skipped.
        case latest
        /// Each missed tick runs, at most `max_catch_up` of the newest; older ones are skipped.
        case all
    }

    /// What a tick does when the schedule's previous run is still active.
    public enum Overlap: String, Sendable, Hashable, CaseIterable {
        /// It is recorded as skipped, naming the active run.
        case skip
        /// It is recorded as queued; its run is requested when the active run ends.
        case queue
        /// Its run is requested at once, beside the active one.
        case allow
    }

    /// The default of `max_catch_up`.
    public static let defaultMaxCatchUp: Int64 = 50
    /// The largest `max_catch_up`: the runs one catch-up may request at once.
    public static let maximumCatchUp: Int64 = 10_000
    /// The shortest `every`, in seconds.
    public static let minimumEvery = 1.0

    /// Free text for people.
    public var description: String?
    /// The 5-field cron expression (local time in `timezone`); exactly one of `cron` and `every`.
    public var cron: String?
    /// A fixed interval in seconds; exactly one of `cron` and `every`.
    public var every: Double?
    /// The IANA zone the cron fields are read in (nil: UTC).
    public var timezone: String?
    /// The job to run.
    public var job: String
    /// µs since 1970: no tick before it (a tick at it fires); anchors `every`.
    public var startAt: Int64?
    /// µs since 1970: no tick after it.
    public var endAt: Int64?
    /// Default latest.
    public var catchUp: CatchUp?
    /// Default 50.
    public var maxCatchUp: Int64?
    /// Default skip.
    public var overlap: Overlap?
    /// Parameters for the run, in name order.
    public var parameters: [Value.Member]

    /// A value with these fields.
    public init(description: String? = nil, cron: String? = nil, every: Double? = nil, timezone: String? = nil, job: String,
                startAt: Int64? = nil, endAt: Int64? = nil, catchUp: CatchUp? = nil, maxCatchUp: Int64? = nil, overlap: Overlap? = nil,
                parameters: [Value.Member] = []) {
        self.description = description
        self.cron = cron
        self.every = every
        self.timezone = timezone
        self.job = job
        self.startAt = startAt
        self.endAt = endAt
        self.catchUp = catchUp
        self.maxCatchUp = maxCatchUp
        self.overlap = overlap
        self.parameters = parameters
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        cron = try f.string(opt: "cron")
        every = try f.duration(opt: "every")
        timezone = try f.timeZoneName(opt: "timezone")
        job = try f.string("job")
        startAt = try f.time(opt: "start_at")
        endAt = try f.time(opt: "end_at")
        catchUp = try f.choice(opt: "catch_up")
        maxCatchUp = try f.int(opt: "max_catch_up")
        overlap = try f.choice(opt: "overlap")
        parameters = try f.mapping(opt: "parameters")
    }

    /// The zone the cron fields are read in (UTC when none is named).
    public var zone: TimeZone { ScheduleSpec.zone(named: timezone) }

    /// The zone named `name` (UTC when nil or unknown: specs that read name known zones).
    public static func zone(named name: String?) -> TimeZone {
        name.flatMap { try? ScheduleTimeZone.named($0) } ?? TimeZone(identifier: "UTC") ?? TimeZone.current
    }
}

extension DurationText {
    /// `seconds` as a duration people read: `1s`, `1.5s`, `5m`, `1h30m`, `2d`.
    public static func text(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "\(seconds)s" }
        if seconds < 60 || seconds != seconds.rounded() {
            let whole = seconds == seconds.rounded()
            return whole ? "\(Int64(seconds))s" : "\(String(format: "%g", seconds))s"
        }
        var rest = Int64(seconds)
        var out = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60), ("s", 1)] where rest >= size {
            out += "\(rest / size)\(unit)"
            rest %= size
        }
        return out
    }
}

/// The job a model's retraining schedule (`retrain.schedule`) runs: `retrain.job` when given,
/// else the only job with a `train` stage for the model. Validation and the engine both ask here.
public enum RetrainJob {
    /// The jobs with a train stage for `model`, sorted.
    public static func candidates(training model: String, jobs: [(name: String, spec: JobSpec)]) -> [String] {
        var out: Set<String> = []
        for (name, job) in jobs {
            for stage in job.stages {
                if case .train(let t) = stage.variant, t.model == model { out.insert(name) }
            }
        }
        return out.sorted()
    }

    /// The job to run, or why there is none (one line naming the model and the candidates).
    public static func resolve(model: String, named: String?, candidates: [String]) -> Result<String, RetrainJobProblem> {
        if let named {
            if candidates.contains(named) { return .success(named) }
            return .failure(RetrainJobProblem(
                "retrain.job of model '\(model)' is job '\(named)', which does not train it",
                fix: candidates.isEmpty ? "add a `type: train` stage with `model: \(model)` to it" : "name a job that trains it: \(candidates.joined(separator: ", "))"))
        }
        switch candidates.count {
        case 0:
            return .failure(RetrainJobProblem("model '\(model)' retrains on a schedule, but no job trains it (no job has a train stage for it)",
                                              fix: "add a job with a `type: train` stage with `model: \(model)`"))
        case 1:
            return .success(candidates[0])
        default:
            return .failure(RetrainJobProblem("model '\(model)' retrains on a schedule and several jobs train it: \(candidates.joined(separator: ", "))",
                                              fix: "say which one with `retrain.job`"))
        }
    }
}

/// Why a model's retraining schedule has no job to run.
public struct RetrainJobProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public let message: String
    /// How to fix it.
    public let fix: String
    init(_ message: String, fix: String) {
        self.message = message
        self.fix = fix
    }
    public var description: String { "\(message); \(fix)" }
}

extension ScheduleSpec {
    /// The parameter every scheduled run gets: its tick's nominal time, RFC 3339 in UTC.
    public static let scheduledTimeParameter = "scheduled_time"
}
