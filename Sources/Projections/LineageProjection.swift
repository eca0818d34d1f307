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
/// them.
public struct LineageProjection: Projection {
    public init() {}
    public var name: String { "lineage" }
    public var summary: String { "the lineage graph: datasets, runs, attempts, models, definitions, rules and their edges" }
    public var version: UInt32 { 1 }
    public var eventTypes: Set<String>? { LineageEdges.types }
    public var initial: LineageState { LineageState() }

    public func evolve(_ state: inout LineageState, _ event: RecordedEvent) {
        for e in LineageEdges.edges(of: event) { state.add(e) }
    }

    public func count(_ state: LineageState) -> Int { state.edges.count }

    /// Edges as `[from, kind, to, seq]`, in seq order.
    public func encode(_ state: LineageState) -> Value {
        .object([("edges", .array(state.edges.map { .array([.string($0.from), .string($0.kind), .string($0.to), .int(Int64($0.seq))]) }))])
    }

    public func decode(_ value: Value) throws -> LineageState {
        guard let rows = value["edges"]?.arrayValue else { throw ProjectionError("a lineage snapshot has no edges") }
        var s = LineageState()
        for r in rows {
            guard let a = r.arrayValue, a.count == 4, let from = a[0].stringValue, let kind = a[1].stringValue, let to = a[2].stringValue,
                  let seq = a[3].intValue else { throw ProjectionError("a lineage snapshot has a malformed edge: \(r.jsonString)") }
            s.add(LineageEdge(from: from, to: to, kind: kind, seq: UInt64(seq)))
        }
        return s
    }

    /// Nodes (count and by kind), edges by kind, and every edge.
    public func render(_ state: LineageState) -> Value {
        var nodeKinds: [String: Int64] = [:]
        for n in state.nodes { nodeKinds[String(n.prefix { $0 != ":" }), default: 0] += 1 }
        var edgeKinds: [String: Int64] = [:]
        for e in state.edges { edgeKinds[e.kind, default: 0] += 1 }
        return .object([("nodes", .int(Int64(state.nodes.count))),
                        ("nodes_by_kind", .object(nodeKinds.keys.sorted().map { ($0, .int(nodeKinds[$0]!)) })),
                        ("edges_by_kind", .object(edgeKinds.keys.sorted().map { ($0, .int(edgeKinds[$0]!)) })),
                        ("edges", .array(state.edges.map(\.value)))])
    }
}

/// The lineage projection's state: edges in seq order and the set of nodes they touch.
public struct LineageState: Sendable {
    public var edges: [LineageEdge] = []
    public var nodes: Set<String> = []
    public init() {}

    mutating func add(_ e: LineageEdge) {
        edges.append(e)
        nodes.insert(e.from)
        nodes.insert(e.to)
    }
}
