import Domain
import Foundation
import LMDB

/// The secondary indexes (stream, correlation and type postings) and the stream heads are written
/// in batches, not with every commit: they cover events 1 … `indexed` (the watermark in `meta`), and
/// the events after it (the tail, a few thousand at most) are indexed in the writer's memory and
/// found by readers with a scan of their headers. A commit therefore dirties few pages (the events
/// B-tree and, every 64 events, the chain); the indexes are flushed every `TailIndex.flushThreshold`
/// events, when the writer is idle, and when the log is closed. Everything in memory is derivable
/// from the log, so after a crash the next writer rebuilds it by scanning the tail.
struct TailIndex {
    /// Events in the tail that trigger a flush.
    static let flushThreshold: UInt64 = 4096

    /// The last event: seq, recorded time and chain hash.
    var head = ChainHead.empty
    /// The index watermark: the indexes cover events 1 … watermark.
    var watermark: UInt64 = 0
    /// Postings of the tail.
    var postings = PostingBuilder()
    /// Stream heads changed in the tail, by stream id: version and last seq.
    var streams: [UInt32: (version: UInt64, lastSeq: UInt64)] = [:]

    var count: UInt64 { head.seq - watermark }

    mutating func add(seq: UInt64, header h: RecordHeader) {
        postings.add(.stream, UInt64(h.streamID), seq)
        postings.add(.correlation, h.correlation, seq)
        postings.add(.type, UInt64(h.typeID), seq)
        streams[h.streamID] = (h.streamVersion, seq)
    }

    /// Rebuilds the tail state from the store: reads the watermark, scans the headers after it and
    /// recomputes the head's hash from the nearest chain checkpoint.
    static func load(_ core: StoreCore, _ txn: Transaction) throws -> TailIndex {
        var tail = TailIndex()
        tail.watermark = try txn.indexedWatermark(core.dbs)
        let last = try txn.lastSeq(core.dbs)
        guard last >= tail.watermark else {
            throw EventLogError(.corrupt, "the index watermark (\(tail.watermark)) is past the last event (\(last)); run `ledgerflow audit verify`")
        }
        try forEachHeader(core, txn, after: tail.watermark, through: last) { seq, h in tail.add(seq: seq, header: h) }
        tail.head = try core.head(txn)
        return tail
    }

    /// Writes the tail's postings and stream heads and moves the watermark to the head.
    mutating func flush(_ core: StoreCore, _ txn: Transaction) throws {
        guard head.seq > watermark else { return }
        try postings.flush(txn, core.dbs)
        for (id, s) in streams {
            var w = ByteWriter(capacity: 16)
            w.u64be(s.version)
            w.u64be(s.lastSeq)
            try id.withBigEndianBytes { k in try w.bytes.withUnsafeBytes { v in try txn.put(core.dbs.streams, key: k, value: v) } }
        }
        var w = ByteWriter(capacity: 8)
        w.u64be(head.seq)
        try txn.setMeta(core.dbs, MetaKey.indexed, w.bytes)
        watermark = head.seq
        postings = PostingBuilder()
        streams = [:]
    }
}

/// Calls `body` with the header of every event in (after, through].
func forEachHeader(_ core: StoreCore, _ txn: Transaction, after: UInt64, through: UInt64,
                   _ body: (UInt64, RecordHeader) throws -> Void) throws {
    guard through > after else { return }
    try txn.withCursor(core.dbs.events) { c in
        var entry = try (after + 1).withBigEndianBytes { try c.seek(atLeast: $0) }
        while let e = entry {
            let seq = UInt64(bigEndianBytes: e.key)
            if seq > through { return }
            var r = ByteReader(e.value)
            let h = try RecordHeader.read(seq: seq, from: &r)
            try body(seq, h)
            entry = try c.next()
        }
    }
}

extension Transaction {
    /// The seq of the last event (0 for an empty log).
    func lastSeq(_ dbs: StoreDatabases) throws -> UInt64 {
        try withCursor(dbs.events) { c in try c.last().map { UInt64(bigEndianBytes: $0.key) } ?? 0 }
    }

    /// The index watermark: the secondary indexes and stream heads cover events 1 … this.
    func indexedWatermark(_ dbs: StoreDatabases) throws -> UInt64 {
        try Array(MetaKey.indexed.utf8).withUnsafeBytes { k in
            try withValue(dbs.meta, key: k) { v in v.map { UInt64(bigEndianBytes: $0) } ?? 0 }
        }
    }
}

extension StoreCore {
    /// The header of the stored event `seq` (visible to the transaction that wrote it), or nil.
    func header(at seq: UInt64, _ txn: Transaction) throws -> RecordHeader? {
        try seq.withBigEndianBytes { k in
            try txn.withValue(dbs.events, key: k) { v in
                guard let v else { return nil }
                var r = ByteReader(v)
                return try RecordHeader.read(seq: seq, from: &r)
            }
        }
    }

    /// The head: the last event's seq and time, and its chain hash, rolled forward from the nearest
    /// stored checkpoint (at most 63 events).
    func head(_ txn: Transaction) throws -> ChainHead {
        let last = try txn.lastSeq(dbs)
        guard last > 0 else { return .empty }
        return try decompressors.with { d in
            var reader = EventReader(core: self, decompressor: d, options: ReadOptions(hashes: true, upcast: false))
            try reader.rollTo(last, txn)
            guard let at = try header(at: last, txn)?.recordedAtMicros else { throw EventLogError(.corrupt, "event \(last) is missing") }
            return ChainHead(seq: last, recordedAtMicros: at, hash: reader.rolledHash)
        }
    }
}
