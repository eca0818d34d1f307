import Domain
import Foundation
import LMDB

/// Size and content figures of a store.
public struct LogStats: Sendable {
    /// One named database's figures.
    public struct DatabaseFigures: Sendable {
        public let name: String
        public let entries: Int
        public let bytes: Int
    }
    /// The store's id (a UUID chosen at `init`).
    public let storeID: String
    /// The head (last seq, time, hash).
    public let head: ChainHead
    /// Number of events.
    public var events: UInt64 { head.seq }
    /// Number of streams.
    public let streams: Int
    /// Size of `data.mdb` on disk.
    public let fileBytes: Int
    /// Bytes of pages in use (the file can be larger: LMDB grows it ahead of need and reuses pages).
    public let usedBytes: Int
    /// `fileBytes / events`.
    public var bytesPerEvent: Double { events == 0 ? 0 : Double(fileBytes) / Double(events) }
    /// Events per type, most frequent first.
    public let countsByType: [(type: String, count: UInt64)]
    /// Compression dictionaries, oldest first.
    public let dictionaries: [DictionaryInfo]
    /// Per named database.
    public let databases: [DatabaseFigures]
    /// Write transactions committed in the life of the store (LMDB's last transaction id).
    public let transactions: Int
    /// The map size and page size.
    public let mapSize: Int
    public let pageSize: Int
}

extension EventLog {
    /// The store's id: a UUID made when the store was created, never changed.
    public func storeID() throws -> String {
        try core.read { txn in try txn.meta(core.dbs, MetaKey.storeID).map { String(decoding: $0, as: UTF8.self) } ?? "?" }
    }

    /// Counts and sizes of the store.
    public func stats() throws -> LogStats {
        let info = try core.env.info()
        let dataFile = (path as NSString).appendingPathComponent("data.mdb")
        var st = stat()
        let fileBytes = stat(dataFile, &st) == 0 ? Int(st.st_size) : 0
        let dictionaries = try self.dictionaries()
        return try core.read { txn in
            let dbs = core.dbs
            let head = try core.head(txn)
            let watermark = try txn.indexedWatermark(dbs)
            let storeID = try txn.meta(dbs, MetaKey.storeID).map { String(decoding: $0, as: UTF8.self) } ?? "?"
            var counts: [(String, UInt64)] = []
            try txn.withCursor(dbs.typeIndex) { c in
                var entry = try c.first()
                var currentKey: UInt32?
                var sum: UInt64 = 0
                while let e = entry {
                    let key = UInt32(bigEndianBytes: e.key)
                    if key != currentKey {
                        if let k = currentKey { counts.append((try core.name(.type, k, txn), sum)) }
                        currentKey = key
                        sum = 0
                    }
                    sum += UInt64(Posting(e.value).count)
                    entry = try c.next()
                }
                if let k = currentKey { counts.append((try core.name(.type, k, txn), sum)) }
            }
            // The tail after the index watermark is counted from its headers (one pass).
            var tailCounts: [UInt32: UInt64] = [:]
            var tailStreams = Set<UInt32>()
            try forEachHeader(core, txn, after: watermark, through: head.seq) { _, h in
                tailCounts[h.typeID, default: 0] += 1
                if h.streamVersion == 1 { tailStreams.insert(h.streamID) }
            }
            for (typeID, n) in tailCounts {
                let name = try core.name(.type, typeID, txn)
                if let i = counts.firstIndex(where: { $0.0 == name }) { counts[i].1 += n } else { counts.append((name, n)) }
            }
            counts.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
            var figures: [LogStats.DatabaseFigures] = []
            for (name, db) in dbs.all {
                let s = try txn.stat(db)
                figures.append(.init(name: name, entries: s.entries, bytes: s.bytes))
            }
            let streams = try txn.stat(dbs.streams).entries + tailStreams.count
            return LogStats(storeID: storeID, head: head, streams: streams, fileBytes: fileBytes, usedBytes: info.usedBytes,
                            countsByType: counts.map { (type: $0.0, count: $0.1) }, dictionaries: dictionaries, databases: figures,
                            transactions: info.lastTransaction, mapSize: info.mapSize, pageSize: info.pageSize)
        }
    }
}
