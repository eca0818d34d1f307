import Catalog
import Domain

extension PlannedStage {
    /// The plan of a job spec's stages (as the catalog holds it).
    public static func plan(ofJob spec: Value) -> [PlannedStage] {
        (spec["stages"]?.arrayValue ?? []).map { s in
            var retry = RetryPolicy()
            if let r = s["retry"] {
                retry = RetryPolicy(attempts: Int(r["attempts"]?.intValue ?? 1),
                                    backoffSeconds: durationSeconds(r["backoff"]) ?? 10,
                                    factor: r["factor"]?.doubleValue ?? 2,
                                    maxBackoffSeconds: durationSeconds(r["max_backoff"]) ?? 600)
            }
            return PlannedStage(name: s["name"]?.stringValue ?? "?", type: s["type"]?.stringValue ?? "?",
                                after: (s["after"]?.arrayValue ?? []).compactMap(\.stringValue),
                                retry: retry, timeoutSeconds: durationSeconds(s["timeout"]))
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
