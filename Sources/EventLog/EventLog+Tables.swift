import Domain
import Foundation
import LMDB

/// Derived tables kept on disk for projections whose state is too large to fold per query (the
/// lineage graph): rows of a named table, each a key with a sorted set of values, in the store's
/// `tables` database (key: table name ‖ 0x00 ‖ row key; values dup-sorted, ≤ 511 bytes each).
///
/// Like snapshots they are a cache: derivable from the log, not covered by the chain, deletable.
/// A table is written together with a named checkpoint (the seq its rows cover) in one write
/// transaction, so a reader knows which events it still has to fold itself. Adding a pair that
/// is already there changes nothing, so two writers that fold the same events agree.
extension EventLog {
    /// Adds `pairs` to table `name` and moves `checkpoint` to `seq` (never backwards) in one write
    /// transaction on the writer thread.
    public func addToTable(_ name: String, _ pairs: [(key: [UInt8], value: [UInt8])], checkpoint: String, seq: UInt64) throws {
        let prefix = try Self.tablePrefix(name)
        for p in pairs where p.value.count > 511 || prefix.count + p.key.count > 511 {
            throw EventLogError(.invalidArgument, "a row of table \(name) is over 511 bytes (key \(p.key.count), value \(p.value.count))")
        }
        try writeTransaction { [core] txn in
            guard let db = core.dbs.tables else { throw EventLogError(.readOnly, "the store has no tables database") }
            for p in pairs { try txn.put(db, key: prefix + p.key, value: p.value) }
            let current = try txn.checkpointValue(core.dbs, checkpoint)
            if seq > current {
                try seq.withBigEndianBytes { v in try Array(checkpoint.utf8).withUnsafeBytes { k in try txn.put(core.dbs.checkpoints, key: k, value: v) } }
            }
        }
    }

    /// The values of row `key` of table `name` that start with `prefix`, in byte order, at most
    /// `limit`; and how many there are in all (counted up to `countLimit`).
    public func tableValues(_ name: String, key: [UInt8], prefix: [UInt8] = [], limit: Int = .max,
                            countLimit: Int = 1_000_000) throws -> (values: [[UInt8]], count: Int) {
        guard let db = core.dbs.tables else { return ([], 0) }
        let k = try Self.tablePrefix(name) + key
        return try core.read { txn in
            try txn.withCursor(db) { c in
                var values: [[UInt8]] = []
                var count = 0
                var e = try k.withUnsafeBytes { kb in
                    prefix.isEmpty ? try c.seek(exactly: kb) : try prefix.withUnsafeBytes { pb in try c.seek(key: kb, valueAtLeast: pb) }
                }
                while let entry = e, entry.value.starts(with: prefix), count < countLimit {
                    if values.count < limit { values.append(Array(entry.value)) }
                    count += 1
                    core.resident.touched(1, core.env)
                    e = try c.nextDuplicate()
                }
                return (values, count)
            }
        }
    }

    /// For each of `keys`, the values of its row of table `name` that are at most `atMost` (byte
    /// order), greatest first, at most `limit` per key — all in one read transaction. A key without
    /// a row gets no values.
    public func tableValuesDescending(_ name: String, keys: [[UInt8]], atMost bound: [UInt8], limit: Int = 1) throws -> [[[UInt8]]] {
        guard let db = core.dbs.tables else { return keys.map { _ in [] } }
        let prefix = try Self.tablePrefix(name)
        return try core.read { txn in
            try txn.withCursor(db) { c in
                var out: [[[UInt8]]] = []
                out.reserveCapacity(keys.count)
                for key in keys {
                    let k = prefix + key
                    var values: [[UInt8]] = []
                    try k.withUnsafeBytes { kb in
                        // The first value at or above the bound; if it is above, start one before it.
                        var e: Cursor.Entry?
                        if let at = try bound.withUnsafeBytes({ try c.seek(key: kb, valueAtLeast: $0) }) {
                            e = at.value.elementsEqual(bound) ? at : try c.previousDuplicate()
                        } else if try c.seek(exactly: kb) != nil {
                            e = try c.lastDuplicate() // every value is below the bound
                        }
                        while let entry = e, values.count < limit {
                            values.append(Array(entry.value))
                            e = try c.previousDuplicate()
                        }
                    }
                    out.append(values)
                    core.resident.touched(1, core.env)
                }
                return out
            }
        }
    }

    /// Calls `body` with every row key and value of table `name`, in order, until it returns false.
    public func scanTable(_ name: String, _ body: ([UInt8], [UInt8]) throws -> Bool) throws {
        guard let db = core.dbs.tables else { return }
        let prefix = try Self.tablePrefix(name)
        try core.read { txn in
            try txn.withCursor(db) { c in
                var e = try prefix.withUnsafeBytes { try c.seek(atLeast: $0) }
                while let entry = e, entry.key.starts(with: prefix) {
                    guard try body(Array(entry.key.dropFirst(prefix.count)), Array(entry.value)) else { return }
                    core.resident.touched(1, core.env)
                    e = try c.next()
                }
            }
        }
    }

    /// Deletes every row of table `name` and resets `checkpoint` to 0, in one transaction; returns
    /// the number of values deleted.
    @discardableResult
    public func dropTable(_ name: String, checkpoint: String) throws -> Int {
        let prefix = try Self.tablePrefix(name)
        let deleted = Locked(0)
        try writeTransaction { [core] txn in
            guard let db = core.dbs.tables else { return }
            var keys: [[UInt8]] = []
            var n = 0
            try txn.withCursor(db) { c in
                var e = try prefix.withUnsafeBytes { try c.seek(atLeast: $0) }
                while let entry = e, entry.key.starts(with: prefix) {
                    keys.append(Array(entry.key))
                    n += 1
                    e = try c.next()
                }
            }
            var last: [UInt8]?
            for k in keys where k != last { _ = try txn.delete(db, key: k); last = k }
            try UInt64(0).withBigEndianBytes { v in try Array(checkpoint.utf8).withUnsafeBytes { k in try txn.put(core.dbs.checkpoints, key: k, value: v) } }
            deleted.withLock { $0 = n }
        }
        return deleted.withLock { $0 }
    }

    /// Folds the events of `types` after `checkpoint` (through `through`) into table `name`, in
    /// transactions of at most `chunk` events, at most `maxChunks` of them: `rows` gives each
    /// event's pairs. When `rows` throws (an event that does not decode), the table is brought up
    /// to the seq before that event and the error rethrown, so the table never silently lacks one.
    /// Returns the number of events folded.
    @discardableResult
    public func foldIntoTable(_ name: String, checkpoint: String, types: [String], through: UInt64 = .max, chunk: Int, maxChunks: Int = .max,
                              rows: (RecordedEvent) throws -> [(key: [UInt8], value: [UInt8])]) throws -> Int {
        var from = try self.checkpoint(checkpoint)
        let head = min(through, try lastSeq())
        var folded = 0
        var chunks = 0
        while from < head && chunks < maxChunks {
            chunks += 1
            let events = try self.events(ofTypes: types, after: from, through: head, limit: chunk)
            let last = events.count < chunk ? head : events.last!.seq
            var pairs: [(key: [UInt8], value: [UInt8])] = []
            for e in events {
                do { pairs += try rows(e) } catch {
                    if e.seq - 1 > from { try addToTable(name, pairs, checkpoint: checkpoint, seq: e.seq - 1) }
                    throw error
                }
            }
            try addToTable(name, pairs, checkpoint: checkpoint, seq: last)
            folded += events.count
            from = last
        }
        return folded
    }

    /// The events of `types` after `after` through `through`, in seq order, at most `limit` (through
    /// the type index).
    public func events(ofTypes types: [String], after: UInt64, through: UInt64, limit: Int = .max) throws -> [RecordedEvent] {
        var all: [RecordedEvent] = []
        for t in types.sorted() { all += try read(type: t, from: after + 1, limit: limit).filter { $0.seq <= through } }
        all.sort { $0.seq < $1.seq }
        return all.count > limit ? Array(all.prefix(limit)) : all
    }

    /// Removes checkpoint `name` (a retired reactor or table): afterwards it reads as never set.
    public func removeCheckpoint(_ name: String) throws {
        try writeTransaction { [core] txn in
            _ = try txn.delete(core.dbs.checkpoints, key: Array(name.utf8))
        }
    }

    static func tablePrefix(_ name: String) throws -> [UInt8] {
        guard !name.isEmpty, !name.utf8.contains(0), name.utf8.count <= 64 else {
            throw EventLogError(.invalidArgument, "a table name must be 1–64 bytes without NUL: \(name.debugDescription)")
        }
        return Array(name.utf8) + [0]
    }
}
