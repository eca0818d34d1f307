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
    public func export(from: UInt64, through: UInt64, correlation: UInt64? = nil, _ emit: (Value) throws -> Void) throws {
        var events: [RecordedEvent] = []
        for t in Self.types {
            try log.scan(from: from, through: through, filter: EventFilter(type: t, correlation: correlation)) { e in
                events.append(e)
                return true
            }
        }
        events.sort { $0.seq < $1.seq }
        var runs: [String: RecordedEvent] = [:]
        for e in events {
            guard e.stream.hasPrefix(RunEvents.runStreamPrefix) else { continue }
            let run = String(e.stream.dropFirst(RunEvents.runStreamPrefix.count))
            if runs[run] == nil { runs[run] = try log.read(stream: e.stream, limit: 1).first }
            guard let requested = runs[run], let v = try runEvent(e, run: run, requested: requested) else { continue }
            try emit(v)
        }
    }

    /// The RunEvent for one stage event (nil for a cancellation of an attempt that never started).
    func runEvent(_ e: RecordedEvent, run: String, requested: RecordedEvent) throws -> Value? {
        let p = e.payload
        guard let stage = p["stage"]?.stringValue else { return nil }
        let job = requested.payload["job"]?.stringValue ?? "?"
        let stageType = requested.payload["stages"]?.arrayValue?.first { $0["name"]?.stringValue == stage }?["type"]?.stringValue ?? "unknown"
        guard let attempt = p["attempt"]?.intValue else { return nil }
        var runFacets: [(String, Value)] = [
            ("parent", facet("1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet", [
                ("run", .object([("runId", .string(Self.uuid(storeID, [run])))])),
                ("job", .object([("namespace", .string(namespace)), ("name", .string(job))])),
            ])),
            ("ledgerflow", ownFacet("LedgerflowRunFacet", [
                ("store_id", .string(storeID)), ("run", .string(run)), ("job", .string(job)), ("job_version", requested.payload["job_version"] ?? .null),
                ("catalog_seq", requested.payload["catalog_seq"] ?? .null), ("stage", .string(stage)), ("attempt", .int(attempt)),
                ("event", .string(e.type)), ("seq", .int(Int64(e.seq))), ("correlation", .int(Int64(e.correlation))),
                ("trigger", requested.payload["trigger"]?["type"] ?? .null),
            ])),
        ]
        var m: [(String, Value)] = []
        var inputs: [Value] = [], outputs: [Value] = []
        let type: String
        switch e.type {
        case RunEvents.stageStarted:
            type = "START"
        case RunEvents.stageSucceeded:
            type = "COMPLETE"
            let read = p["inputs"]?.arrayValue ?? []
            inputs = read.map(input)
            let names = Dictionary(read.compactMap { i in i["dataset"]?.stringValue.map { ($0, Self.naming(location: i["location"]?.stringValue ?? $0)) } },
                                   uniquingKeysWith: { a, _ in a })
            for d in p["datasets"]?.arrayValue ?? [] {
                guard let name = d["dataset"]?.stringValue, let v = d["version"]?.intValue, v > 0,
                      let w = try log.read(stream: RunEvents.stream(dataset: name), fromVersion: UInt64(v), limit: 1).first else { continue }
                outputs.append(output(w, lineage: p["column_lineage"]?[name], inputNames: names))
            }
            if let ms = p["duration_ms"]?.intValue { runFacets.append(("ledgerflow_duration", ownFacet("LedgerflowDurationRunFacet", [("duration_ms", .int(ms))]))) }
        case RunEvents.stageFailed:
            type = "FAIL"
            runFacets.append(("errorMessage", facet("1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet", [
                ("message", .string(p["error"]?.stringValue ?? p["reason"]?.stringValue ?? "failed")), ("programmingLanguage", .string("Swift")),
            ])))
        case RunEvents.stageCancelled:
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

    func input(_ i: Value) -> Value {
        let name = i["dataset"]?.stringValue ?? "?"
        let (ns, n) = Self.naming(location: i["location"]?.stringValue ?? name)
        var facets: [(String, Value)] = []
        if let schema = i["schema"]?.arrayValue, !schema.isEmpty { facets.append(("schema", schemaFacet(schema))) }
        if let v = i["version"]?.intValue { facets.append(("version", versionFacet(v))) }
        facets.append(("ledgerflow", ownFacet("LedgerflowDatasetFacet", [
            ("dataset", .string(name)), ("version", i["version"] ?? .null), ("format", i["format"] ?? .null),
            ("rows", i["rows"] ?? .null), ("content_hash", i["content_hash"] ?? .null),
        ])))
        return .object([("namespace", .string(ns)), ("name", .string(n)), ("facets", .object(facets))])
    }

    func output(_ w: RecordedEvent, lineage: Value?, inputNames: [String: (String, String)]) -> Value {
        let p = w.payload
        let name = p["dataset"]?.stringValue ?? "?"
        let (ns, n) = Self.naming(location: p["location"]?.stringValue ?? name)
        var facets: [(String, Value)] = [("schema", schemaFacet(p["schema"]?.arrayValue ?? [])), ("version", versionFacet(Int64(w.streamVersion)))]
        if let lineage {
            func field(_ s: Value) -> Value {
                let d = s["dataset"]?.stringValue ?? "?"
                let (ins, iname) = inputNames[d] ?? (namespace, d)
                var t: [(String, Value)] = [("type", .string(s["type"]?.stringValue ?? "DIRECT"))]
                if let st = s["subtype"]?.stringValue { t.append(("subtype", .string(st))) }
                if let de = s["description"]?.stringValue { t.append(("description", .string(de))) }
                t.append(("masking", .bool(false)))
                return .object([("namespace", .string(ins)), ("name", .string(iname)), ("field", .string(s["field"]?.stringValue ?? "?")),
                                ("transformations", .array([.object(t)]))])
            }
            let fields = (lineage["fields"]?.objectMembers ?? []).map { m in
                (m.key, Value.object([("inputFields", .array((m.value.arrayValue ?? []).map(field)))]))
            }
            var body: [(String, Value)] = [("fields", .object(fields))]
            if let rows = lineage["dataset"]?.arrayValue, !rows.isEmpty { body.append(("dataset", .array(rows.map(field)))) }
            facets.append(("columnLineage", facet("1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet", body)))
        }
        facets.append(("ledgerflow", ownFacet("LedgerflowDatasetFacet", [
            ("dataset", .string(name)), ("version", .int(Int64(w.streamVersion))), ("format", p["format"] ?? .null), ("rows", p["rows"] ?? .null),
            ("content_hash", p["content_hash"] ?? .null), ("seq", .int(Int64(w.seq))),
        ])))
        var out: [(String, Value)] = [("namespace", .string(ns)), ("name", .string(n)), ("facets", .object(facets))]
        if let rows = p["rows"]?.intValue {
            out.append(("outputFacets", .object([("outputStatistics", facet("1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet", [
                ("rowCount", .int(rows)),
            ]))])))
        }
        return .object(out)
    }

    func schemaFacet(_ schema: [Value]) -> Value {
        facet("1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet", [
            ("fields", .array(schema.map { .object([("name", $0["name"] ?? .string("?")), ("type", $0["type"] ?? .string("unknown"))]) })),
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
