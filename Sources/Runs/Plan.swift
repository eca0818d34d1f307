import Catalog
import Domain

extension PlannedStage {
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
            return PlannedStage(name: s.name, type: s.type, after: s.after, retry: retry, timeoutSeconds: s.timeout, on: s.on, when: s.when)
        }
    }

    /// A duration field as stored (text such as `30s`, or a number of seconds).
    public static func durationSeconds(_ v: Value?) -> Double? {
        guard let v else { return nil }
        if let d = v.doubleValue { return d }
        if let s = v.stringValue { return DurationText.seconds(s) }
        return nil
    }
}
