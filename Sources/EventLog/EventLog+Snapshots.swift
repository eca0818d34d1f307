import Domain
import Foundation
import LMDB
import Zstd

/// A stored snapshot of a projection's state (without the state itself).
public struct SnapshotInfo: Sendable, Hashable {
    /// The projection's name.
    public let name: String
    /// The state covers the log up to and including this seq.
    public let seq: UInt64
    /// The projection's state format version when the snapshot was taken.
    public let version: UInt32
    /// When it was written, µs since 1970.
    public let createdAtMicros: Int64
    /// Bytes of the encoded state before compression.
    public let stateBytes: Int
    /// Bytes stored (compressed).
    public let storedBytes: Int
}

/// Snapshots of projection state, stored in the store's `snapshots` database.
///
/// Key: the projection's name (UTF-8) ‖ 0x00 ‖ seq (u64 BE), so one projection's snapshots are
/// adjacent and sorted by seq. Value: version (u32 BE) ‖ created µs (u64 BE) ‖ state length
/// (u64 BE) ‖ a zstd frame of the state's canonical binary encoding. Snapshots are a cache: they
/// can be deleted at any time and are rebuilt from the log; the chain does not cover them.
extension EventLog {
    /// Stores `state` as the snapshot of projection `name` at `seq` (replacing one at the same
    /// seq) and, with `keep`, deletes all but the newest `keep` snapshots of that projection.
    /// With `checkpoint`, the named checkpoint moves to `seq` in the same transaction.
    public func writeSnapshot(_ name: String, seq: UInt64, version: UInt32, state: Value, keep: Int? = nil,
                              checkpoint: String? = nil) throws {
        try Self.validateSnapshotName(name)
        let encoded = ValueCodec.encode(state)
        let compressed = try core.compressors.with { c in try c.compress(encoded, dictionary: nil) }
        var w = ByteWriter(capacity: compressed.count + 20)
        w.u32be(version)
        w.u64be(UInt64(core.configuration.clock.nowMicros()))
        w.u64be(UInt64(encoded.count))
        w.append(compressed)
        let value = w.bytes
        let key = Self.snapshotKey(name, seq)
        try writeTransaction { [core] txn in
            guard let db = core.dbs.snapshots else { throw EventLogError(.readOnly, "the store has no snapshots database") }
            try txn.put(db, key: key, value: value)
            if let keep {
                let keys = try Self.snapshotKeys(name, db, txn)
                for old in keys.dropLast(max(0, keep)) { _ = try txn.delete(db, key: old.key) }
            }
            if let checkpoint {
                try seq.withBigEndianBytes { v in try Array(checkpoint.utf8).withUnsafeBytes { k in try txn.put(core.dbs.checkpoints, key: k, value: v) } }
            }
        }
    }

    /// The newest snapshot of `name` at or before `seq` with format `version`, decoded; nil if none.
    public func snapshot(_ name: String, atOrBefore seq: UInt64 = .max, version: UInt32) throws -> (info: SnapshotInfo, state: Value)? {
        guard let db = core.dbs.snapshots else { return nil }
        let prefix = Self.snapshotPrefix(name)
        let found: (SnapshotInfo, [UInt8])? = try core.read { txn in
            try txn.withCursor(db) { c in
                // Position after the last key ≤ name‖seq, then walk back over other versions.
                let bound = Self.snapshotKey(name, seq)
                var entry: Cursor.Entry?
                if let e = try bound.withUnsafeBytes({ try c.seek(atLeast: $0) }) {
                    entry = e.key.elementsEqual(bound) ? e : try c.previous()
                } else {
                    entry = try c.last()
                }
                while let e = entry, e.key.starts(with: prefix), e.key.count == prefix.count + 8 {
                    let info = try Self.snapshotInfo(name, e.key, e.value)
                    if info.version == version { return (info, Array(e.value.dropFirst(20))) }
                    entry = try c.previous()
                }
                return nil
            }
        }
        guard let (info, compressed) = found else { return nil }
        let encoded = try core.decompressors.with { d in try d.decompress(compressed, dictionary: nil) }
        guard encoded.count == info.stateBytes else {
            throw EventLogError(.corrupt, "snapshot \(name)@\(info.seq) decompressed to \(encoded.count) bytes, expected \(info.stateBytes)")
        }
        return (info, try ValueCodec.decode(encoded))
    }

    /// Every stored snapshot of `name` (any version), oldest first.
    public func snapshots(_ name: String) throws -> [SnapshotInfo] {
        guard let db = core.dbs.snapshots else { return [] }
        return try core.read { txn in
            try Self.snapshotKeys(name, db, txn).map { try Self.snapshotInfo(name, $0.key, $0.value) }
        }
    }

    /// Names of the projections that have snapshots.
    public func snapshotNames() throws -> [String] {
        guard let db = core.dbs.snapshots else { return [] }
        return try core.read { txn in
            try txn.withCursor(db) { c in
                var names: [String] = []
                var e = try c.first()
                while let entry = e {
                    let key = Array(entry.key)
                    guard let zero = key.firstIndex(of: 0) else { break }
                    names.append(String(decoding: key[..<zero], as: UTF8.self))
                    // Skip to the first key after this name's.
                    var next = Array(key[...zero])
                    next[zero] = 1
                    e = try next.withUnsafeBytes { try c.seek(atLeast: $0) }
                }
                return names
            }
        }
    }

    /// Deletes every snapshot of `name`; returns how many were deleted.
    @discardableResult
    public func deleteSnapshots(_ name: String) throws -> Int {
        try Self.validateSnapshotName(name)
        let count = Locked(0)
        try writeTransaction { [core] txn in
            guard let db = core.dbs.snapshots else { return }
            let keys = try Self.snapshotKeys(name, db, txn)
            for k in keys { _ = try txn.delete(db, key: k.key) }
            count.withLock { $0 = keys.count }
        }
        return count.withLock { $0 }
    }

    /// Runs `body` in a write transaction of its own on the writer thread.
    func writeTransaction(_ body: @escaping (Transaction) throws -> Void) throws {
        guard let writer else {
            throw EventLogError(.readOnly, "the store at \(path) was opened read-only; nothing was written")
        }
        let done = DispatchSemaphore(value: 0)
        let box = Locked<Result<Void, any Error>?>(nil)
        writer.submit(TransactionJob(body: body) { result in
            box.withLock { $0 = result }
            done.signal()
        })
        done.wait()
        try box.withLock { $0! }.get()
    }

    private static func validateSnapshotName(_ name: String) throws {
        guard !name.isEmpty, !name.utf8.contains(0), name.utf8.count <= 200 else {
            throw EventLogError(.invalidArgument, "a projection name must be 1–200 bytes without NUL: \(name.debugDescription)")
        }
    }

    private static func snapshotPrefix(_ name: String) -> [UInt8] { Array(name.utf8) + [0] }

    private static func snapshotKey(_ name: String, _ seq: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: name.utf8.count + 9)
        w.append(Array(name.utf8))
        w.append([0])
        w.u64be(seq)
        return w.bytes
    }

    private static func snapshotKeys(_ name: String, _ db: Database, _ txn: Transaction) throws -> [(key: [UInt8], value: [UInt8])] {
        let prefix = snapshotPrefix(name)
        return try txn.withCursor(db) { c in
            var out: [(key: [UInt8], value: [UInt8])] = []
            var e = try prefix.withUnsafeBytes { try c.seek(atLeast: $0) }
            while let entry = e, entry.key.starts(with: prefix) {
                if entry.key.count == prefix.count + 8 { out.append((Array(entry.key), Array(entry.value))) }
                e = try c.next()
            }
            return out
        }
    }

    private static func snapshotInfo(_ name: String, _ key: some Collection<UInt8>, _ value: some Collection<UInt8>) throws -> SnapshotInfo {
        let k = Array(key), v = Array(value)
        guard v.count >= 20 else { throw EventLogError(.corrupt, "snapshot of \(name) is truncated (\(v.count) bytes)") }
        return v.withUnsafeBytes { b in
            k.withUnsafeBytes { kb in
                SnapshotInfo(name: name, seq: UInt64(bigEndianBytes: UnsafeRawBufferPointer(rebasing: kb[(kb.count - 8)...])),
                             version: UInt32(bigEndianBytes: UnsafeRawBufferPointer(rebasing: b[0 ..< 4])),
                             createdAtMicros: Int64(bitPattern: UInt64(bigEndianBytes: UnsafeRawBufferPointer(rebasing: b[4 ..< 12]))),
                             stateBytes: Int(UInt64(bigEndianBytes: UnsafeRawBufferPointer(rebasing: b[12 ..< 20]))),
                             storedBytes: v.count)
            }
        }
    }
}

extension EventLog {
    /// The last seq recorded at or before `time` (0 if the first event is later). Binary search over
    /// the events' headers; recordedAt never decreases along the log within one writer, and across
    /// processes the search still returns a seq whose time is ≤ `time`.
    public func lastSeq(recordedAtOrBefore time: Date) throws -> UInt64 {
        let micros = Int64((time.timeIntervalSince1970 * 1_000_000).rounded(.down))
        return try core.read { txn in
            var lo: UInt64 = 0 // time(lo) <= micros (0 = before everything)
            var hi = try txn.lastSeq(core.dbs) + 1 // time(hi) > micros (past the end)
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2
                guard let h = try core.header(at: mid, txn) else { throw EventLogError(.corrupt, "event \(mid) is missing") }
                if h.recordedAtMicros <= micros { lo = mid } else { hi = mid }
            }
            return lo
        }
    }
}
