import Crypto
import Domain
import EventLog
import Foundation
import Runs

/// The log's stage attempts as OpenLineage 2-0-2 RunEvents: START when an attempt started,
/// COMPLETE when it succeeded (inputs and outputs as datasets with schema, version and
/// column-lineage facets), FAIL when it failed, ABORT when it was cancelled while running.
///
/// An OpenLineage run is one stage attempt: job `JOB.STAGE` in the export's namespace, run id a
/// UUID derived from the store id, run, stage and attempt (the same every export), and a
/// `parent` facet naming the ledgerflow run (job `JOB`). The `ledgerflow` run facet carries the
/// seq and correlation of the event, so every line can be traced back to the chain.
public struct OpenLineageExport: Sendable {
    public static let schemaURL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    public static let producer = "https://github.com/ledgerflow/ledgerflow"
    static let facetURL = "https://openlineage.io/spec/facets/"
    static let ownFacetURL = "https://github.com/ledgerflow/ledgerflow/blob/main/docs/openlineage.md"
    /// The event types exported.
    public static let types = [RunEvents.stageStarted, RunEvents.stageSucceeded, RunEvents.stageFailed, RunEvents.stageCancelled]

    public let log: EventLog
    public let namespace: String
    let storeID: String

    public init(log: EventLog, namespace: String = "ledgerflow") throws {
        self.log = log
        self.namespace = namespace
        storeID = try log.storeID()
    }

    /// Calls `emit` with the RunEvent of every stage transition from `from` through `through`
    /// (of causal tree `correlation` when given), in seq order.
    ///
    /// Strict: a stage event, a run's `RunRequested` or a `DatasetVersionWritten` it names whose
    /// payload does not decode stops the export with its `DecodingFailure` (naming the seq, type
    /// and field), rather than leaving a transition out or exporting it with facts missing.
    public func export(from: UInt64, through: UInt64, correlation: UInt64? = nil, _ emit: (Value) throws -> Void) throws {
        var events: [RecordedEvent] = []
        for t in Self.types {
            try log.scan(from: from, through: through, filter: EventFilter(type: t, correlation: correlation)) { e in
                events.append(e)
                return true
            }
        }
        events.sort { $0.seq < $1.seq }
        var runs: [String: RunRequested] = [:]
        for e in events {
            guard let run = RunEvents.run(ofStream: e.stream) else { continue }
            let requested: RunRequested
            if let r = runs[run] {
                requested = r
            } else {
                guard let first = try log.read(stream: e.stream, limit: 1).first else { continue }
                requested = try first.decode(RunRequested.self)
                runs[run] = requested
            }
            guard let event = try RunEvent(e), let v = try runEvent(e, event, run: run, requested: requested) else { continue }
            try emit(v)
        }
    }

    /// The RunEvent for one stage event (nil for a cancellation of an attempt that never started).
    func runEvent(_ e: RecordedEvent, _ event: RunEvent, run: String, requested: RunRequested) throws -> Value? {
        let stage: String, attempt: Int64
        switch event {
        case .started(let s): (stage, attempt) = (s.stage, Int64(s.attempt))
        case .succeeded(let s): (stage, attempt) = (s.stage, Int64(s.attempt))
        case .failed(let f): (stage, attempt) = (f.stage, Int64(f.attempt))
        case .cancelled(let c):
            guard let a = c.attempt else { return nil }
            (stage, attempt) = (c.stage, Int64(a))
        default: return nil
        }
        let job = requested.job
        let stageType = requested.stages.first { $0.name == stage }?.type ?? "unknown"
        var runFacets: [(String, Value)] = [
            ("parent", facet("1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet", [
                ("run", .object([("runId", .string(Self.uuid(storeID, [run])))])),
                ("job", .object([("namespace", .string(namespace)), ("name", .string(job))])),
            ])),
            ("ledgerflow", ownFacet("LedgerflowRunFacet", [
                ("store_id", .string(storeID)), ("run", .string(run)), ("job", .string(job)), ("job_version", .int(Int64(requested.jobVersion))),
                ("catalog_seq", .int(Int64(requested.catalogSeq))), ("stage", .string(stage)), ("attempt", .int(attempt)),
                ("event", .string(e.type)), ("seq", .int(Int64(e.seq))), ("correlation", .int(Int64(e.correlation))),
                ("trigger", .string(requested.trigger.kind.rawValue)),
            ])),
        ]
        var m: [(String, Value)] = []
        var inputs: [Value] = [], outputs: [Value] = []
        let type: String
        switch event {
        case .started:
            type = "START"
        case .succeeded(let s):
            type = "COMPLETE"
            let read = s.inputs ?? []
            inputs = read.map(input)
            let names = Dictionary(read.map { ($0.dataset, Self.naming(location: $0.location)) }, uniquingKeysWith: { a, _ in a })
            for d in s.datasets {
                guard d.version > 0,
                      let w = try log.read(stream: RunEvents.stream(dataset: d.dataset), fromVersion: d.version, limit: 1).first else { continue }
                outputs.append(try output(w, lineage: s.columnLineage(of: d.dataset), inputNames: names))
            }
            runFacets.append(("ledgerflow_duration", ownFacet("LedgerflowDurationRunFacet", [("duration_ms", .int(s.durationMs))])))
        case .failed(let f):
            type = "FAIL"
            runFacets.append(("errorMessage", facet("1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet", [
                ("message", .string(f.error)), ("programmingLanguage", .string("Swift")),
            ])))
        case .cancelled:
            type = "ABORT"
        default:
            return nil
        }
        m.append(("eventTime", .string(Timestamp.rfc3339(micros: e.recordedAtMicros))))
        m.append(("producer", .string(Self.producer)))
        m.append(("schemaURL", .string(Self.schemaURL)))
        m.append(("eventType", .string(type)))
        m.append(("run", .object([("runId", .string(Self.uuid(storeID, [run, stage, String(attempt)]))), ("facets", .object(runFacets))])))
        m.append(("job", .object([("namespace", .string(namespace)), ("name", .string("\(job).\(stage)")), ("facets", .object([
            ("jobType", facet("2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet", [
                ("processingType", .string("BATCH")), ("integration", .string("LEDGERFLOW")), ("jobType", .string(stageType.uppercased())),
            ])),
        ]))])))
        m.append(("inputs", .array(inputs)))
        m.append(("outputs", .array(outputs)))
        return .object(m)
    }

    func input(_ i: StageInput) -> Value {
        let (ns, n) = Self.naming(location: i.location)
        var facets: [(String, Value)] = []
        if !i.schema.isEmpty { facets.append(("schema", schemaFacet(i.schema))) }
        if let v = i.version { facets.append(("version", versionFacet(Int64(v)))) }
        facets.append(("ledgerflow", ownFacet("LedgerflowDatasetFacet", [
            ("dataset", .string(i.dataset)), ("version", i.version.map { .int(Int64($0)) } ?? .null), ("format", .string(i.format)),
            ("rows", i.rows.map { .int($0) } ?? .null), ("content_hash", i.contentHash.map { .string($0) } ?? .null),
        ])))
        return .object([("namespace", .string(ns)), ("name", .string(n)), ("facets", .object(facets))])
    }

    /// The output dataset of the version `w` records (its `DatasetVersionWritten`, which must decode).
    func output(_ w: RecordedEvent, lineage: DatasetColumnLineage?, inputNames: [String: (String, String)]) throws(DecodingFailure) -> Value {
        let written = try w.decode(DatasetVersionWritten.self)
        let (ns, n) = Self.naming(location: written.location)
        var facets: [(String, Value)] = [("schema", schemaFacet(written.schema)), ("version", versionFacet(Int64(w.streamVersion)))]
        if let lineage {
            func field(_ s: ColumnOrigin) -> Value {
                let (ins, iname) = inputNames[s.dataset] ?? (namespace, s.dataset)
                var t: [(String, Value)] = [("type", .string(s.type)), ("subtype", .string(s.subtype))]
                if let de = s.description { t.append(("description", .string(de))) }
                t.append(("masking", .bool(s.masking != nil)))
                return .object([("namespace", .string(ins)), ("name", .string(iname)), ("field", .string(s.field)),
                                ("transformations", .array([.object(t)]))])
            }
            let fields = lineage.fields.map { f in
                (f.column, Value.object([("inputFields", .array(f.origins.map(field)))]))
            }
            var body: [(String, Value)] = [("fields", .object(fields))]
            if !lineage.dataset.isEmpty { body.append(("dataset", .array(lineage.dataset.map(field)))) }
            facets.append(("columnLineage", facet("1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet", body)))
        }
        facets.append(("ledgerflow", ownFacet("LedgerflowDatasetFacet", [
            ("dataset", .string(written.dataset)), ("version", .int(Int64(w.streamVersion))), ("format", .string(written.format)),
            ("rows", .int(written.rows)), ("content_hash", .string(written.contentHash)), ("seq", .int(Int64(w.seq))),
        ])))
        var out: [(String, Value)] = [("namespace", .string(ns)), ("name", .string(n)), ("facets", .object(facets))]
        out.append(("outputFacets", .object([("outputStatistics", facet("1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet", [
            ("rowCount", .int(written.rows)),
        ]))])))
        return .object(out)
    }

    func schemaFacet(_ schema: [SchemaColumn]) -> Value {
        facet("1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet", [
            ("fields", .array(schema.map { .object([("name", .string($0.name)), ("type", .string($0.type))]) })),
        ])
    }

    func versionFacet(_ v: Int64) -> Value {
        facet("1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet", [("datasetVersion", .string(String(v)))])
    }

    func facet(_ path: String, _ body: [(String, Value)]) -> Value {
        .object([("_producer", .string(Self.producer)), ("_schemaURL", .string(Self.facetURL + path))] + body)
    }

    func ownFacet(_ name: String, _ body: [(String, Value)]) -> Value {
        .object([("_producer", .string(Self.producer)), ("_schemaURL", .string("\(Self.ownFacetURL)#\(name)"))] + body)
    }

    /// OpenLineage naming of a location: a table of a SQLite file (`PATH#TABLE`) is namespace
    /// `sqlite://PATH`, name TABLE; a file or folder is namespace `file`, name its path.
    public static func naming(location: String) -> (namespace: String, name: String) {
        if let hash = location.lastIndex(of: "#") {
            return ("sqlite://" + location[..<hash], String(location[location.index(after: hash)...]))
        }
        return ("file", location)
    }

    /// A stable UUID (RFC 9562 version 8: SHA-256 based) for `parts` of store `store`.
    public static func uuid(_ store: String, _ parts: [String]) -> String {
        var bytes = Array(SHA256.hash(data: Data(([store] + parts).joined(separator: "\u{1F}").utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = Hex.lowercase(bytes)
        let c = Array(hex)
        return "\(String(c[0 ..< 8]))-\(String(c[8 ..< 12]))-\(String(c[12 ..< 16]))-\(String(c[16 ..< 20]))-\(String(c[20 ..< 32]))"
    }
}
