import Domain
import Foundation
import Runs

/// How a run reads outside the engine — in the CLI's `--json` and the HTTP API alike: a run's
/// summary, its status with stages, attempts and a for_each stage's items, and why it ran in a line.
public enum RunViews {
    /// An RFC 3339 time of `micros` since 1970, to the second (`2026-12-04T21:34:59Z`).
    public static func timestamp(_ micros: Int64) -> String {
        // (Not ISO8601DateFormatter: building one per call cost ~80 µs, most of a runs page.)
        let full = Timestamp.rfc3339(micros: micros)
        return String(full.prefix(19)) + "Z"
    }

    /// What started a run, in a line.
    public static func triggerText(_ t: RunTrigger) -> String {
        switch t.kind {
        case .dependency: return "dependency \(t.dependency ?? "") after run \((t.afterRuns ?? []).joined(separator: ","))"
        case .rerun: return "rerun of \(t.rerunOf ?? "?")"
        case .parent: return (t.parentItem.map { "item \($0) of " } ?? "") + "stage \(t.parentStage ?? "?") of run \(t.parentRun ?? "?")"
        case .schedule: return "schedule \(t.schedule ?? "?") tick \(t.tick ?? "?")"
        default: return t.kind.rawValue + (t.by.map { " by \($0)" } ?? "")
        }
    }

    /// A run in a list: id, job, status, when, how long, stages, trigger.
    public static func summary(_ r: RunState) -> Value {
        .object([("run", .string(r.id)), ("job", .string(r.job)), ("status", .string(r.status.rawValue)),
                 ("requested_at", .string(timestamp(r.requestedAtMicros))), ("duration_ms", .int(((r.finishedAtMicros ?? Int64(Date().timeIntervalSince1970 * 1e6)) - r.requestedAtMicros) / 1000)),
                 ("stages", .int(Int64(r.stages.count))), ("succeeded_stages", .int(Int64(r.stages.filter { $0.status == .succeeded }.count))),
                 ("trigger", r.trigger.value)])
    }

    /// A run whole: its summary, version, parameters, and each stage with its attempts,
    /// datasets, error, outputs and (for_each) items; `runs` gives the items' runs' statuses.
    public static func status(_ r: RunState, _ runs: RunsState = RunsState()) -> Value {
        var v = summary(r)
        v = v.setting("job_version", to: .int(Int64(r.jobVersion))).setting("catalog_seq", to: .int(Int64(r.catalogSeq)))
            .setting("parameters", to: r.parameters).setting("cancel_requested", to: .bool(r.cancelRequested))
        return v.setting("stages", to: .array(r.stages.map { s in
            var m: [(String, Value)] = [("name", .string(s.name)), ("type", .string(s.plan.type)), ("status", .string(s.status.rawValue)),
                                        ("attempts", .array(s.attempts.map(\.value))),
                                        ("datasets", .array(s.datasets.map(\.value)))]
            if let e = s.error { m.append(("error", .string(e))) }
            if let r = s.reason { m.append(("reason", .string(r))) }
            if let o = s.outputs { m.append(("outputs", o)) }
            if let u = s.reusedFrom { m.append(("reused_from", .object([("run", .string(u.run)), ("attempt", .int(Int64(u.attempt)))]))) }
            if let items = items(s, runs) { m.append(("items", .array(items.map(\.value)))) }
            return .object(m)
        }))
    }

    /// One item of a for_each stage's last attempt: its value, child run and that run's status.
    public struct ItemLine: Sendable, Hashable {
        public var index: Int
        public var item: Value
        public var run: String?
        public var status: String
        public var error: String?
        public var reused = false

        /// The item in a line.
        public var text: String { Loops.describe(item) }

        public var value: Value {
            var m: [(String, Value)] = [("item", .int(Int64(index))), ("value", item), ("status", .string(status))]
            if let run { m.append(("run", .string(run))) }
            if let error { m.append(("error", .string(error))) }
            if reused { m.append(("reused", .bool(true))) }
            return .object(m)
        }
    }

    /// The items of a for_each stage's last attempt (nil for other stages): each item's child run
    /// and its status as `runs` holds it (`pending` before it starts, `failed` without a run).
    public static func items(_ s: StageState, _ runs: RunsState) -> [ItemLine]? {
        guard let a = s.attempts.last, let items = a.items else { return nil }
        return items.enumerated().map { i, item in
            guard let start = a.itemStarts[i] else { return ItemLine(index: i, item: item, status: "pending") }
            guard let run = start.childRun else { return ItemLine(index: i, item: item, status: "failed", error: start.error) }
            return ItemLine(index: i, item: item, run: run, status: runs.runs[run]?.status.rawValue ?? "requested", reused: start.reused)
        }
    }
}
