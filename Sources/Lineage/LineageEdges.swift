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
    /// ran-under-catalog-version, crossed, rule, triggered-by, dependency, rerun-of, reused,
    /// child-run (a job stage's attempt → the run it started).
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

    /// The edges of `e`: none for types not in `types`; for an event of those types whose payload
    /// does not decode, none and the failure (naming its seq, type and field). Never throws: the
    /// lineage projection folds with it, and an event has already happened.
    public static func edges(of e: RecordedEvent) -> EventEdges {
        do throws(DecodingFailure) {
            return EventEdges(try checkedEdges(of: e))
        } catch {
            return EventEdges(failure: error)
        }
    }

    /// The edges of `e` (none for types not in `types`); throws the `DecodingFailure` of an event
    /// of those types whose payload does not decode, so that the lineage table never silently
    /// leaves an event out.
    public static func checkedEdges(of e: RecordedEvent) throws(DecodingFailure) -> [LineageEdge] {
        var out: [LineageEdge] = []
        func add(_ from: String, _ to: String, _ kind: String) { out.append(LineageEdge(from: from, to: to, kind: kind, seq: e.seq)) }
        switch e.type {
        case RunEvents.runRequested:
            let requested = try e.decode(RunRequested.self)
            let r = run(requested.run)
            add(definition("job", requested.job, Int64(requested.jobVersion)), r, "ran-under")
            add("catalog:\(requested.catalogSeq)", r, "ran-under-catalog-version")
            let t = requested.trigger
            switch t.kind {
            case .trigger:
                if let c = t.crossing { add("crossing:\(c)", r, "triggered-by") }
            case .retrain:
                if let d = t.dataset { add(dataset(d, t.datasetVersion.map { Int64($0) }), r, "triggered-by") }
            case .dependency:
                for u in t.afterRuns ?? [] { add(run(u), r, "dependency") }
            case .rerun:
                if let o = t.rerunOf { add(run(o), r, "rerun-of") }
            case .parent:
                if let p = t.parentRun, let s = t.parentStage { add(attempt(p, s, Int64(t.parentAttempt ?? 1)), r, "child-run") }
            case .schedule:
                if let s = t.schedule { add(definition("schedule", s, t.scheduleVersion.map { Int64($0) }), r, "triggered-by") }
            case .sensor:
                if let s = t.sensor { add(definition("sensor", s, t.sensorVersion.map { Int64($0) }), r, "triggered-by") }
            case .manual: break
            }
        case RunEvents.stageStarted:
            let started = try e.decode(StageStarted.self)
            // Stage events are in their run's stream (which names the run); nothing else appends them.
            guard let id = RunEvents.run(ofStream: e.stream) else { return [] }
            add(run(id), attempt(id, started.stage, Int64(started.attempt)), "stage")
        case RunEvents.stageSucceeded:
            let succeeded = try e.decode(StageSucceeded.self)
            guard let id = RunEvents.run(ofStream: e.stream) else { return [] }
            let stage = succeeded.stage
            let a = attempt(id, stage, Int64(succeeded.attempt))
            if let reused = succeeded.reusedFrom {
                add(run(id), a, "stage")
                add(attempt(reused.run, stage, Int64(reused.attempt)), a, "reused")
            }
            for i in succeeded.inputs ?? [] { add(dataset(i.dataset, i.version.map { Int64($0) }), a, "read") }
            for d in succeeded.datasets { add(a, dataset(d.dataset, Int64(d.version)), "wrote") }
            // A train stage's model (it has an artifact) is linked by its ModelVersionRegistered
            // (`trained`); inference scores with a model, a features stage applies its fitting.
            if let used = ReportedOutputs(succeeded.outputs).modelUsed {
                add(model(used.model, used.version), a, used.scored ? "scored-by" : "applied")
            }
        case MLEvents.modelVersionRegistered:
            let registered = try e.decode(ModelVersionRegistered.self)
            let m = registered.model
            let node = model(m, Int64(registered.version))
            add(attempt(registered.run, registered.stage, Int64(registered.attempt)), node, "trained")
            let d = registered.trainingDataset
            if !d.name.isEmpty { add(dataset(d.name, d.version.map { Int64($0) }), node, "trained-on") }
            add(definition("model", m, Int64(registered.modelDefinitionVersion)), node, "defined-by")
            if let f = registered.featureSpec { add(definition("features", f.name, Int64(f.version)), node, "defined-by") }
        case MLEvents.thresholdCrossed:
            let crossed = try e.decode(ThresholdCrossed.self)
            let crossing = "crossing:\(e.seq)"
            // As before typing: a crossing with no source run ("") links `run:` (kept, so the table does not change).
            add(run(crossed.sourceRun), crossing, "crossed")
            let rule = crossed.rule
            add(definition(rule.kind, rule.name, rule.version.map { Int64($0) }), crossing, "rule")
        default: break
        }
        return out
    }
}

/// The edges one event contributes (a collection of them), and the failure when the event is of
/// an edge type but its payload does not decode (then it contributes none).
public struct EventEdges: RandomAccessCollection, Sendable, Hashable {
    public var edges: [LineageEdge]
    /// Why the event contributes nothing although it is of an edge type.
    public var failure: DecodingFailure?

    public init(_ edges: [LineageEdge]) {
        self.edges = edges
        failure = nil
    }

    public init(failure: DecodingFailure) {
        edges = []
        self.failure = failure
    }

    public var startIndex: Int { edges.startIndex }
    public var endIndex: Int { edges.endIndex }
    public subscript(i: Int) -> LineageEdge { edges[i] }
}
