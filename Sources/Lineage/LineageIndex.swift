import Domain
import EventLog

/// The lineage graph kept on disk: the edges of every event up to a checkpoint, in the store's
/// `lineage` table, both ways round, so that a node's neighbours are one cursor range whatever
/// the size of the log. Row key: the node id; each value: direction (`<` the neighbour is
/// upstream, `>` downstream) ‖ seq (u64 BE) ‖ kind ‖ 0x00 ‖ neighbour id — so a node's
/// upstream and downstream neighbours are each in seq order.
///
/// The checkpoint `table:lineage` is the seq the table covers; events after it (the tail) are
/// folded in memory by readers, so a query is always current. Writers (the engine when idle,
/// `projection rebuild lineage`) catch the table up; queries never write.
public enum LineageIndex {
    public static let table = "lineage"
    public static let checkpoint = "table:lineage"

    /// Folds the events after the checkpoint into the table, in transactions of at most
    /// `chunk` events, at most `maxChunks` of them; returns the number of edges added.
    ///
    /// An event of an edge type whose payload does not decode stops it: the table is brought up
    /// to the seq before that event, and the event's `DecodingFailure` (naming its seq, type and
    /// field) is thrown, so the table never silently lacks an event's edges (readers fold the
    /// rest, that event included, in memory).
    @discardableResult
    public static func catchUp(_ log: EventLog, through: UInt64 = .max, chunk: Int = 50_000, maxChunks: Int = .max) throws -> Int {
        var added = 0
        try log.foldIntoTable(table, checkpoint: checkpoint, types: Array(LineageEdges.types), through: through, chunk: chunk, maxChunks: maxChunks) { e in
            var pairs: [(key: [UInt8], value: [UInt8])] = []
            for edge in try LineageEdges.checkedEdges(of: e) {
                pairs.append((Array(edge.to.utf8), encode(upstream: true, edge.seq, edge.kind, edge.from)))
                pairs.append((Array(edge.from.utf8), encode(upstream: false, edge.seq, edge.kind, edge.to)))
                added += 1
            }
            return pairs
        }
        return added
    }

    /// Drops the table and folds the whole log again.
    @discardableResult
    public static func rebuild(_ log: EventLog) throws -> Int {
        try log.dropTable(table, checkpoint: checkpoint)
        return try catchUp(log)
    }

    /// The events of the edge types after `after` through `through`, in seq order (through the
    /// type index: predictions are never read).
    static func relevantEvents(_ log: EventLog, after: UInt64, through: UInt64, limit: Int = .max) throws -> [RecordedEvent] {
        try log.events(ofTypes: Array(LineageEdges.types), after: after, through: through, limit: limit)
    }

    /// The neighbours of `node` the table holds (however far it is caught up), in seq order, at
    /// most `limit`.
    public static func neighbours(_ log: EventLog, of node: String, upstream: Bool, limit: Int = .max) throws -> [Neighbour] {
        try entries(log, of: node, upstream: upstream, limit: limit).values
    }

    /// The table's neighbours of `node`, at most `limit`, and how many it holds in all.
    static func entries(_ log: EventLog, of node: String, upstream: Bool, limit: Int) throws -> (values: [Neighbour], count: Int) {
        let prefix: [UInt8] = [upstream ? UInt8(ascii: "<") : UInt8(ascii: ">")]
        let r = try log.tableValues(table, key: Array(node.utf8), prefix: prefix, limit: limit)
        return (r.values.compactMap { decode($0).map { Neighbour(node: $0.other, kind: $0.kind, seq: $0.seq) } }, r.count)
    }

    static func encode(upstream: Bool, _ seq: UInt64, _ kind: String, _ other: String) -> [UInt8] {
        var out: [UInt8] = [upstream ? UInt8(ascii: "<") : UInt8(ascii: ">")]
        out.reserveCapacity(10 + kind.utf8.count + other.utf8.count)
        for i in (0 ..< 8).reversed() { out.append(UInt8(truncatingIfNeeded: seq >> (UInt64(i) * 8))) }
        out += Array(kind.utf8)
        out.append(0)
        out += Array(other.utf8)
        return out
    }

    static func decode(_ v: [UInt8]) -> (seq: UInt64, kind: String, other: String)? {
        guard v.count > 10 else { return nil }
        var seq: UInt64 = 0
        for i in 1 ... 8 { seq = seq << 8 | UInt64(v[i]) }
        guard let z = v[9...].firstIndex(of: 0) else { return nil }
        return (seq, String(decoding: v[9 ..< z], as: UTF8.self), String(decoding: v[(z + 1)...], as: UTF8.self))
    }
}

/// A neighbour of a node: the edge's kind and seq, and the node at its other end.
public struct Neighbour: Sendable, Hashable {
    public var node: String
    public var kind: String
    public var seq: UInt64
}

/// Read-only access to the lineage graph as of `asOf` (default: the head): the table up to its
/// checkpoint plus the tail folded in memory when the reader is made.
public final class LineageGraph: @unchecked Sendable {
    // @unchecked Sendable: immutable after init.
    public let log: EventLog
    public let asOf: UInt64
    /// The seq the table covered when the graph was opened, and the tail's edge count.
    public let tableSeq: UInt64
    public let tailEvents: Int
    /// The tail's events of edge types whose payloads do not decode (they add no edge; the table
    /// stops before the first of them, see `LineageIndex.catchUp`).
    public let undecodable: [DecodingFailure]
    let tail: [String: (up: [Neighbour], down: [Neighbour])]

    public init(log: EventLog, asOf: UInt64? = nil) throws {
        self.log = log
        let head = try log.lastSeq()
        let at = min(asOf ?? head, head)
        self.asOf = at
        let covered = try log.checkpoint(LineageIndex.checkpoint)
        tableSeq = covered
        var tail: [String: (up: [Neighbour], down: [Neighbour])] = [:]
        var n = 0
        var undecodable: [DecodingFailure] = []
        if covered < at {
            let events = try LineageIndex.relevantEvents(log, after: covered, through: at)
            n = events.count
            for e in events {
                let edges = LineageEdges.edges(of: e)
                if let failure = edges.failure { undecodable.append(failure) }
                for edge in edges {
                    tail[edge.to, default: ([], [])].up.append(Neighbour(node: edge.from, kind: edge.kind, seq: edge.seq))
                    tail[edge.from, default: ([], [])].down.append(Neighbour(node: edge.to, kind: edge.kind, seq: edge.seq))
                }
            }
        }
        self.tail = tail
        tailEvents = n
        self.undecodable = undecodable
    }

    /// The upstream (or downstream) neighbours of `node` in seq order, at most `limit`, and how
    /// many there are in all.
    public func neighbours(of node: String, upstream: Bool, limit: Int = .max) throws -> (nodes: [Neighbour], total: Int) {
        // The table may be ahead of an as-of reader (edges after it do not exist yet), or have
        // been caught up since this reader folded its tail (those edges are in the tail).
        let (table, count) = try LineageIndex.entries(log, of: node, upstream: upstream, limit: limit)
        var out = table.filter { $0.seq <= min(asOf, tableSeq) }
        var total = count == table.count ? out.count : count
        let extra = (upstream ? tail[node]?.up : tail[node]?.down) ?? []
        for nb in extra where out.count < limit { out.append(nb) }
        total += extra.count
        return (out, total)
    }
}
