import Domain
import EventLog
import Models
import Runs

/// One edge of the lineage graph, pointing the way data and causes flow (`from` is upstream of
/// `to`), recorded by the event at `seq`.
///
/// Nodes are ids (stored nowhere but in the lineage table, so they may be refined later by a new
/// projection version):
/// - `dataset:NAME@V` — version V of a dataset ledgerflow writes (stream `dataset/NAME`);
///   `dataset:NAME` — a source ledgerflow only reads (or a read recorded without a version)
/// - `run:R`, `attempt:R/STAGE/N` — a run and one attempt of one of its stages
/// - `model:M@V` — a model version
/// - `definition:KIND/NAME@V` — a version of a job, model or feature-spec definition
/// - `rule:KIND/NAME@V` — a version of a trigger, monitor, dependency, schedule or sensor
/// - `crossing:SEQ` — a threshold crossing (the `ThresholdCrossed` at SEQ)
/// - `catalog:SEQ` — the catalog as of SEQ (a run's `catalog_seq`)
///
/// Predictions are not nodes: they are reachable from the attempt that recorded them (stream
/// `predictions/R`, filtered by stage and attempt) and from the model version that made them.
public struct LineageEdge: Sendable, Hashable {
    public var from: String
    public var to: String
    /// read, wrote, stage, scored-by, applied, trained, trained-on, defined-by, ran-under,
    /// ran-under-catalog-version, crossed, rule, triggered-by, dependency, rerun-of, reused.
    public var kind: String
    public var seq: UInt64

    public init(from: String, to: String, kind: String, seq: UInt64) {
        self.from = from
        self.to = to
        self.kind = kind
        self.seq = seq
    }

    public var value: Value {
        .object([("from", .string(from)), ("kind", .string(kind)), ("seq", .int(Int64(seq))), ("to", .string(to))])
    }
}

/// The edges each event contributes: a pure function of the event alone, so the graph as of any
/// seq is the edges of the events up to it, and an index of them can be caught up from any
/// checkpoint.
public enum LineageEdges {
    /// The event types that contribute edges.
    public static let types: Set<String> = [RunEvents.runRequested, RunEvents.stageStarted, RunEvents.stageSucceeded,
                                            MLEvents.modelVersionRegistered, MLEvents.thresholdCrossed]

    public static func dataset(_ name: String, _ version: Int64?) -> String { version.map { "dataset:\(name)@\($0)" } ?? "dataset:\(name)" }
    public static func run(_ id: String) -> String { "run:\(id)" }
    public static func attempt(_ run: String, _ stage: String, _ attempt: Int64) -> String { "attempt:\(run)/\(stage)/\(attempt)" }
    public static func model(_ name: String, _ version: Int64) -> String { "model:\(name)@\(version)" }
    public static func definition(_ kind: String, _ name: String, _ version: Int64?) -> String {
        let rule = ["trigger", "monitor", "dependency", "schedule", "sensor", "retrain_policy"].contains(kind)
        return "\(rule ? "rule" : "definition"):\(kind)/\(name)" + (version.map { "@\($0)" } ?? "")
    }

    /// The edges of `e` (none for types not in `types`).
    public static func edges(of e: RecordedEvent) -> [LineageEdge] {
        let p = e.payload
        var out: [LineageEdge] = []
        func add(_ from: String, _ to: String, _ kind: String) { out.append(LineageEdge(from: from, to: to, kind: kind, seq: e.seq)) }
        switch e.type {
        case RunEvents.runRequested:
            guard let id = p["run"]?.stringValue, let job = p["job"]?.stringValue else { return [] }
            let r = run(id)
            if let v = p["job_version"]?.intValue { add(definition("job", job, v), r, "ran-under") }
            if let c = p["catalog_seq"]?.intValue { add("catalog:\(c)", r, "ran-under-catalog-version") }
            let t = p["trigger"] ?? .null
            switch t["type"]?.stringValue {
            case "trigger":
                if let c = t["crossing"]?.intValue { add("crossing:\(c)", r, "triggered-by") }
            case "retrain":
                if let d = t["dataset"]?.stringValue { add(dataset(d, t["dataset_version"]?.intValue), r, "triggered-by") }
            case "dependency":
                for u in (t["after_runs"]?.arrayValue ?? []).compactMap(\.stringValue) { add(run(u), r, "dependency") }
            case "rerun":
                if let o = t["rerun_of"]?.stringValue { add(run(o), r, "rerun-of") }
            case "schedule":
                if let s = t["schedule"]?.stringValue { add(definition("schedule", s, t["schedule_version"]?.intValue), r, "triggered-by") }
            case "sensor":
                if let s = t["sensor"]?.stringValue { add(definition("sensor", s, t["sensor_version"]?.intValue), r, "triggered-by") }
            default: break
            }
        case RunEvents.stageStarted:
            guard e.stream.hasPrefix(RunEvents.runStreamPrefix), let stage = p["stage"]?.stringValue, let n = p["attempt"]?.intValue else { return [] }
            let id = String(e.stream.dropFirst(RunEvents.runStreamPrefix.count))
            add(run(id), attempt(id, stage, n), "stage")
        case RunEvents.stageSucceeded:
            guard e.stream.hasPrefix(RunEvents.runStreamPrefix), let stage = p["stage"]?.stringValue, let n = p["attempt"]?.intValue else { return [] }
            let id = String(e.stream.dropFirst(RunEvents.runStreamPrefix.count))
            let a = attempt(id, stage, n)
            if let reused = p["reused_from"], let from = reused["run"]?.stringValue, let fa = reused["attempt"]?.intValue {
                add(run(id), a, "stage")
                add(attempt(from, stage, fa), a, "reused")
            }
            for i in p["inputs"]?.arrayValue ?? [] {
                if let d = i["dataset"]?.stringValue { add(dataset(d, i["version"]?.intValue), a, "read") }
            }
            for d in p["datasets"]?.arrayValue ?? [] {
                if let name = d["dataset"]?.stringValue, let v = d["version"]?.intValue { add(a, dataset(name, v), "wrote") }
            }
            let o = p["outputs"] ?? .null
            // A train stage's model (it has an artifact) is linked by its ModelVersionRegistered
            // (`trained`); inference scores with a model, a features stage applies its fitting.
            if let m = o["model"]?.stringValue, let v = o["model_version"]?.intValue, o["artifact"] == nil {
                add(model(m, v), a, o["rows_scored"] != nil ? "scored-by" : "applied")
            }
        case MLEvents.modelVersionRegistered:
            guard let m = p["model"]?.stringValue, let v = p["version"]?.intValue else { return [] }
            let node = model(m, v)
            if let r = p["run"]?.stringValue, let stage = p["stage"]?.stringValue, let n = p["attempt"]?.intValue { add(attempt(r, stage, n), node, "trained") }
            if let d = p["training_dataset"]?["name"]?.stringValue, !d.isEmpty { add(dataset(d, p["training_dataset"]?["version"]?.intValue), node, "trained-on") }
            if let dv = p["model_definition_version"]?.intValue { add(definition("model", m, dv), node, "defined-by") }
            if let f = p["feature_spec"]?["name"]?.stringValue { add(definition("features", f, p["feature_spec"]?["version"]?.intValue), node, "defined-by") }
        case MLEvents.thresholdCrossed:
            let crossing = "crossing:\(e.seq)"
            if let r = p["source_run"]?.stringValue { add(run(r), crossing, "crossed") }
            let rule = p["rule"] ?? .null
            if let kind = rule["kind"]?.stringValue, let name = rule["name"]?.stringValue {
                add(definition(kind, name, rule["version"]?.intValue), crossing, "rule")
            }
        default: break
        }
        return out
    }
}
