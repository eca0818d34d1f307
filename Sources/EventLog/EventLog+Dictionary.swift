import Domain
import Foundation
import LMDB
import Zstd

/// A compression dictionary stored in the log.
public struct DictionaryInfo: Sendable, Hashable {
    /// Its id (recorded in the header of every event compressed with it).
    public let id: UInt32
    /// Its size in bytes.
    public let bytes: Int
    /// The log's head seq when it was installed.
    public let installedAtSeq: UInt64
    /// How many event payloads it was trained on.
    public let samples: Int
    /// When it was installed, µs since 1970.
    public let createdAtMicros: Int64
    /// Whether new events are compressed with it.
    public let isCurrent: Bool
}

extension EventLog {
    /// Trains a compression dictionary from a sample of the log's own payloads (spread evenly over
    /// the whole log) and makes it current. Events already written keep the dictionary they were
    /// written with. Returns the new dictionary's id, or nil when there are too few events.
    @discardableResult
    public func trainDictionary() throws -> UInt32? {
        guard let writer else { throw EventLogError(.readOnly, "the store at \(path) was opened read-only") }
        guard let trained = try DictionaryTrainingRun(core: core).train() else { return nil }
        let done = DispatchSemaphore(value: 0)
        let box = Locked<Result<UInt32, any Error>?>(nil)
        writer.submit(DictionaryJob(bytes: trained.bytes, samples: trained.samples) { r in
            box.withLock { $0 = r }
            done.signal()
        })
        done.wait()
        return try box.withLock { $0! }.get()
    }

    /// The dictionaries stored in the log, oldest first.
    public func dictionaries() throws -> [DictionaryInfo] {
        try core.read { txn in
            let current = try txn.meta(core.dbs, MetaKey.currentDictionary).map { $0.withUnsafeBytes { UInt32(bigEndianBytes: $0) } } ?? 0
            var out: [DictionaryInfo] = []
            try txn.withCursor(core.dbs.dictionaries) { c in
                var e = try c.first()
                while let entry = e {
                    let v = entry.value
                    guard v.count >= 20 else { throw EventLogError(.corrupt, "dictionary record too short") }
                    let id = UInt32(bigEndianBytes: entry.key)
                    out.append(DictionaryInfo(id: id, bytes: v.count - 20, installedAtSeq: UInt64(bigEndianBytes: v),
                                              samples: Int(UInt32(bigEndianBytes: UnsafeRawBufferPointer(rebasing: v[8 ..< 12]))),
                                              createdAtMicros: Int64(bitPattern: UInt64(bigEndianBytes: UnsafeRawBufferPointer(rebasing: v[12 ..< 20]))),
                                              isCurrent: id == current))
                    e = try c.next()
                }
            }
            return out
        }
    }
}

/// Samples payloads from the log and trains a dictionary (no writes; the writer installs it).
struct DictionaryTrainingRun {
    let core: StoreCore
    /// At most this many samples, at most this many bytes in all (zstd advises ~100× the dictionary).
    /// The first dictionary of a store is trained on fewer, so that it arrives quickly.
    var maxSamples = 8192
    var maxBytes = 4 << 20

    func train() throws -> (bytes: [UInt8], samples: Int)? {
        var run = self
        if core.dictionaries.currentDictionary() == nil {
            run.maxSamples = 2048
            run.maxBytes = 512 << 10
        }
        return try run.trainWithLimits()
    }

    private func trainWithLimits() throws -> (bytes: [UInt8], samples: Int)? {
        let samples: [[UInt8]] = try core.decompressors.with { decompressor in
            try core.read { txn in
                let headSeq = try txn.lastSeq(core.dbs)
                guard headSeq >= 64 else { return [] }
                let stride = max(1, headSeq / UInt64(maxSamples))
                var out: [[UInt8]] = []
                var total = 0
                let reader = EventReader(core: core, decompressor: decompressor, options: ReadOptions())
                try txn.withCursor(core.dbs.events) { c in
                    var seq: UInt64 = 1
                    while seq <= headSeq && total < maxBytes {
                        guard let e = try seq.withBigEndianBytes({ try c.seek(exactly: $0) }) else { break }
                        var r = ByteReader(e.value)
                        let s = seq
                        let h = try RecordHeader.read(seq: s, from: &r)
                        try reader.withPayload(seq: seq, header: h, stored: r.rest(), txn) { p in
                            out.append(Array(p))
                            total += p.count
                        }
                        seq += stride
                    }
                }
                return out
            }
        }
        guard samples.count >= 64 else { return nil }
        do {
            let dict = try DictionaryTrainer.train(samples: samples, capacity: core.configuration.dictionaryCapacity)
            return (dict, samples.count)
        } catch {
            return nil
        }
    }
}
