import Domain
import Foundation
import LMDB

/// The outcome of walking the hash chain.
public struct VerifyReport: Sendable {
    /// The first event that fails verification, and why.
    public struct Problem: Sendable, Hashable {
        public let seq: UInt64
        public let reason: String
    }
    /// Events checked.
    public let eventsChecked: UInt64
    /// The seq of the last event when the walk began.
    public let lastSeq: UInt64
    /// The recomputed head (seq, time, hash) when the whole chain verified; nil otherwise.
    public let head: ChainHead?
    /// The anchor checked, if one was given.
    public let anchor: (seq: UInt64, hash: ChainHash)?
    /// The first problem found, or nil when the chain verifies.
    public let problem: Problem?
    /// Whether everything verified.
    public var ok: Bool { problem == nil }
}

extension EventLog {
    /// Recomputes every event's chain hash from seq 1 and checks it against the fingerprint stored
    /// in each record, the full hashes stored every 64 events, the head, and (when given) an anchor
    /// kept elsewhere. Stops at the first problem and names its seq.
    public func verify(anchor: (seq: UInt64, hash: ChainHash)? = nil) throws -> VerifyReport {
        let last = try lastSeq()
        func report(_ checked: UInt64, _ problem: VerifyReport.Problem?, _ head: ChainHead? = nil) -> VerifyReport {
            VerifyReport(eventsChecked: checked, lastSeq: last, head: problem == nil ? head : nil, anchor: anchor, problem: problem)
        }
        if let anchor, anchor.seq > last {
            return report(0, .init(seq: anchor.seq, reason: "the anchor is at seq \(anchor.seq) but the log ends at seq \(last): events were removed"))
        }
        if let anchor, anchor.seq == 0, anchor.hash != .genesis {
            return report(0, .init(seq: 0, reason: "an anchor at seq 0 must be the genesis hash"))
        }
        return try core.decompressors.with { decompressor in
            var reader = EventReader(core: core, decompressor: decompressor, options: ReadOptions(hashes: false, upcast: false))
            reader.rolledSeq = 0
            reader.rolledHash = .genesis
            var seq: UInt64 = 0
            let chunk: UInt64 = 65_536
            var lastAt: Int64 = 0
            while seq < last {
                let problem: VerifyReport.Problem? = try core.read { txn in
                    try txn.withCursor(core.dbs.events) { c in
                        var entry = try (seq + 1).withBigEndianBytes { try c.seek(atLeast: $0) }
                        let stop = min(last, seq + chunk)
                        while seq < stop {
                            let expected = seq + 1
                            guard let e = entry else {
                                return .init(seq: expected, reason: "event \(expected) is missing (the log ends early)")
                            }
                            let key = UInt64(bigEndianBytes: e.key)
                            guard e.key.count == 8, key == expected else {
                                return .init(seq: expected, reason: "event \(expected) is missing (next stored key is \(key))")
                            }
                            if let p = try check(seq: key, record: e.value, &reader, txn, anchor: anchor, recordedAt: &lastAt) { return p }
                            seq = key
                            entry = try c.next()
                        }
                        return nil
                    }
                }
                if let problem { return report(seq, problem) }
            }
            return report(seq, nil, ChainHead(seq: last, recordedAtMicros: lastAt, hash: reader.rolledHash))
        }
    }

    private func check(seq: UInt64, record: UnsafeRawBufferPointer, _ reader: inout EventReader, _ txn: Transaction,
                       anchor: (seq: UInt64, hash: ChainHash)?, recordedAt: inout Int64) throws -> VerifyReport.Problem? {
        var r = ByteReader(record)
        let h: RecordHeader
        do {
            h = try RecordHeader.decode(seq: seq, from: &r)
        } catch {
            return .init(seq: seq, reason: "the record header cannot be decoded (\(error))")
        }
        recordedAt = h.recordedAtMicros
        let stream: String, type: String, actor: String
        do {
            stream = try reader.name(.stream, h.streamID, txn)
            type = try reader.name(.type, h.typeID, txn)
            actor = try reader.name(.actor, h.actorID, txn)
        } catch {
            return .init(seq: seq, reason: "\(error)")
        }
        var hash = ChainHash.genesis
        var decodeProblem: String?
        do {
            var me = reader
            try reader.withPayload(seq: seq, header: h, stored: r.rest(), txn) { p in
                do {
                    _ = try ValueCodec.decode(p)
                } catch {
                    decodeProblem = "the payload cannot be decoded (\(error))"
                }
                hash = try me.chainHash(seq: seq, header: h, stream: stream, type: type, actor: actor, payload: p, txn)
            }
            reader = me
        } catch {
            return .init(seq: seq, reason: "\(error)")
        }
        if hash.fingerprint != h.fingerprint {
            return .init(seq: seq, reason: "the event's content does not match its hash (the record was changed after it was written)")
        }
        if let decodeProblem { return .init(seq: seq, reason: decodeProblem) }
        if seq % Chain.checkpointInterval == 0 {
            let stored = try seq.withBigEndianBytes { k in try txn.withValue(core.dbs.chain, key: k) { $0.map { Array($0) } } }
            guard let stored, stored.count == 32 else { return .init(seq: seq, reason: "the chain checkpoint at seq \(seq) is missing") }
            if ChainHash(bytes: stored) != hash {
                return .init(seq: seq, reason: "the chain hash at seq \(seq) differs from the stored checkpoint (events \(seq - Chain.checkpointInterval + 1)–\(seq) or the checkpoint were changed)")
            }
        }
        if let anchor, anchor.seq == seq, anchor.hash != hash {
            return .init(seq: seq, reason: "the chain hash at seq \(seq) is \(hash.hex), not the anchor's \(anchor.hash.hex): the log up to the anchor was rewritten")
        }
        return nil
    }
}
