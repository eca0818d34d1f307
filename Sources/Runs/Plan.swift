import Catalog
import Domain

/// A stage's retry policy: attempts in all and the wait before each further attempt.
public struct RetryPolicy: Sendable, Hashable {
    public var attempts: Int
    public var backoffSeconds: Double
    public var factor: Double
    public var maxBackoffSeconds: Double

    public init(attempts: Int = 1, backoffSeconds: Double = 10, factor: Double = 2, maxBackoffSeconds: Double = 600) {
        self.attempts = max(1, attempts)
        self.backoffSeconds = backoffSeconds
        self.factor = factor
        self.maxBackoffSeconds = maxBackoffSeconds
    }

    /// The wait after failed attempt `n` (1-based) before attempt n+1.
    public func backoff(afterAttempt n: Int) -> Double {
        var wait = backoffSeconds
        if n > 1 { for _ in 1..<n { wait *= factor; if wait >= maxBackoffSeconds { break } } }
        return min(wait, maxBackoffSeconds)
    }
}

/// One stage of a run's plan: what the scheduler needs (the full spec stays in the catalog).
public struct PlannedStage: Sendable, Hashable {
    public var name: String
    public var type: String
    public var after: [String]
    public var retry: RetryPolicy
    public var timeoutSeconds: Double?

    public init(name: String, type: String, after: [String] = [], retry: RetryPolicy = RetryPolicy(), timeoutSeconds: Double? = nil) {
        self.name = name
        self.type = type
        self.after = after
        self.retry = retry
        self.timeoutSeconds = timeoutSeconds
    }

    /// The plan of a job spec's stages (as the catalog holds it); empty when it does not read as
    /// a job.
    public static func plan(ofJob spec: Value) -> [PlannedStage] {
        guard let job = try? JobSpec.Outline(spec) else { return [] }
        return plan(of: job)
    }

    /// The plan of a job's stages.
    public static func plan(of job: JobSpec.Outline) -> [PlannedStage] {
        job.stages.map { s in
            var retry = RetryPolicy()
            if let r = s.retry {
                retry = RetryPolicy(attempts: Int(r.attempts), backoffSeconds: r.backoff ?? 10, factor: r.factor ?? 2,
                                    maxBackoffSeconds: r.maxBackoff ?? 600)
            }
            return PlannedStage(name: s.name, type: s.type, after: s.after, retry: retry, timeoutSeconds: s.timeout)
        }
    }

    /// A duration field as stored (text such as `30s`, or a number of seconds).
    public static func durationSeconds(_ v: Value?) -> Double? {
        guard let v else { return nil }
        if let d = v.doubleValue { return d }
        if let s = v.stringValue { return DurationText.seconds(s) }
        return nil
    }

    var value: Value {
        var m: [(String, Value)] = [("name", .string(name)), ("type", .string(type)), ("after", .array(after.map { .string($0) }))]
        if retry != RetryPolicy() {
            m.append(("retry", .object([("attempts", .int(Int64(retry.attempts))), ("backoff_s", .double(retry.backoffSeconds)),
                                        ("factor", .double(retry.factor)), ("max_backoff_s", .double(retry.maxBackoffSeconds))])))
        }
        if let timeoutSeconds { m.append(("timeout_s", .double(timeoutSeconds))) }
        return .object(m)
    }

    init(value v: Value) {
        var retry = RetryPolicy()
        if let r = v["retry"] {
            retry = RetryPolicy(attempts: Int(r["attempts"]?.intValue ?? 1), backoffSeconds: r["backoff_s"]?.doubleValue ?? 10,
                                factor: r["factor"]?.doubleValue ?? 2, maxBackoffSeconds: r["max_backoff_s"]?.doubleValue ?? 600)
        }
        self.init(name: v["name"]?.stringValue ?? "?", type: v["type"]?.stringValue ?? "?",
                  after: (v["after"]?.arrayValue ?? []).compactMap(\.stringValue), retry: retry,
                  timeoutSeconds: v["timeout_s"]?.doubleValue)
    }
}
