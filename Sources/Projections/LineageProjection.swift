import Domain
import EventLog
import Lineage

/// The lineage graph as a projection: every edge (dataset versions, runs, stage attempts, model
/// versions, definitions and rules, crossings, catalog versions; read, wrote, trained-on,
/// scored-by, triggered-by, ran-under-catalog-version, …) in the order the log recorded them.
///
/// The fold is `LineageEdges.edges`, the same pure function the on-disk `lineage` table is built
/// from, so `replay --projection lineage --at-seq N` and `ledgerflow lineage` agree by
/// construction. Predictions are not nodes: they hang off the attempt and model version that made
/// them. An event of an edge type whose payload does not decode adds no edge: the state keeps its
/// failure (seq, type, field), listed as `undecodable` when there is one.
///
/// Version 2: the state records the events that do not decode (version 1 left them out silently).
public struct LineageProjection: Projection {
    public init() {}
    public var name: String { "lineage" }
    public var summary: String { "the lineage graph: datasets, runs, attempts, models, definitions, rules and their edges" }
    public var version: UInt32 { 2 }
    public var eventTypes: Set<String>? { LineageEdges.types }
    public var initial: LineageState { LineageState() }

    public func evolve(_ state: inout LineageState, _ event: RecordedEvent) {
        let edges = LineageEdges.edges(of: event)
        if let failure = edges.failure { state.undecodable.append(failure) }
        for e in edges { state.add(e) }
    }

    public func count(_ state: LineageState) -> Int { state.edges.count }

    /// Edges as `[from, kind, to, seq]`, in seq order; the failures of the events that do not
    /// decode (`undecodable`, only when there are any) as `{seq, type, field, expected, found}`.
    public func encode(_ state: LineageState) -> Value {
        var m: [(String, Value)] = [("edges", .array(state.edges.map { .array([.string($0.from), .string($0.kind), .string($0.to), .int(Int64($0.seq))]) }))]
        if !state.undecodable.isEmpty { m.append(("undecodable", .array(state.undecodable.map(Self.encode)))) }
        return .object(m)
    }

    public func decode(_ value: Value) throws -> LineageState {
        let snapshot = try Fields("lineage snapshot", value)
        var s = LineageState()
        for r in try snapshot.array("edges") {
            guard let a = r.arrayValue, a.count == 4, let from = a[0].stringValue, let kind = a[1].stringValue, let to = a[2].stringValue,
                  let seq = a[3].intValue else { throw ProjectionError("a lineage snapshot has a malformed edge: \(r.jsonString)") }
            s.add(LineageEdge(from: from, to: to, kind: kind, seq: UInt64(seq)))
        }
        for f in try snapshot.objects(opt: "undecodable") ?? [] {
            s.undecodable.append(DecodingFailure(eventType: try f.string("type"), field: try f.string("field"), expected: try f.string("expected"),
                                                 found: try f.string("found"), seq: try f.uint(opt: "seq")))
        }
        return s
    }

    /// A failure as a snapshot stores it.
    static func encode(_ f: DecodingFailure) -> Value {
        var b = PayloadBuilder([("type", .string(f.eventType)), ("field", .string(f.field)), ("expected", .string(f.expected)), ("found", .string(f.found))])
        b.set("seq", f.seq)
        return b.value
    }

    /// Nodes (count and by kind), edges by kind, and every edge.
    public func render(_ state: LineageState) -> Value {
        var nodeKinds: [String: Int64] = [:]
        for n in state.nodes { nodeKinds[String(n.prefix { $0 != ":" }), default: 0] += 1 }
        var edgeKinds: [String: Int64] = [:]
        for e in state.edges { edgeKinds[e.kind, default: 0] += 1 }
        var m: [(String, Value)] = [("nodes", .int(Int64(state.nodes.count))),
                                    ("nodes_by_kind", .object(nodeKinds.keys.sorted().map { ($0, .int(nodeKinds[$0]!)) })),
                                    ("edges_by_kind", .object(edgeKinds.keys.sorted().map { ($0, .int(edgeKinds[$0]!)) })),
                                    ("edges", .array(state.edges.map(\.value)))]
        // Only when there are any, so that the rendering of a store whose events all decode is unchanged.
        if !state.undecodable.isEmpty { m.append(("undecodable", .array(state.undecodable.map { .string($0.description) }))) }
        return .object(m)
    }
}

/// The lineage projection's state: edges in seq order, the set of nodes they touch, and the
/// events of edge types that do not decode (in seq order; they add no edge).
public struct LineageState: Sendable {
    public var edges: [LineageEdge] = []
    public var nodes: Set<String> = []
    public var undecodable: [DecodingFailure] = []
    public init() {}

    mutating func add(_ e: LineageEdge) {
        edges.append(e)
        nodes.insert(e.from)
        nodes.insert(e.to)
    }
}
