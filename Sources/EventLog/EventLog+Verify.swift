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
                            if let p = try core.checkRecord(seq: key, record: e.value, &reader, txn, anchor: anchor, recordedAt: &lastAt) { return p }
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

}

extension StoreCore {
    /// Checks one stored event: its header decodes, its names exist, its payload decompresses and
    /// decodes, its hash (rolled from `reader`'s) matches its fingerprint, the stored full hash
    /// at multiples of 64 and the anchor. Nil when all holds.
    func checkRecord(seq: UInt64, record: UnsafeRawBufferPointer, _ reader: inout EventReader, _ txn: Transaction,
                     anchor: (seq: UInt64, hash: ChainHash)?, recordedAt: inout Int64) throws -> VerifyReport.Problem? {
        let core = self
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

extension StoreCore {
    /// The cheap structural check a writable open makes (milliseconds whatever the store's size):
    /// the meta facts are there and agree with the log (store id, index watermark ≤ last seq, name
    /// counters past every interned id), the last indexed event is where every index and its
    /// stream's head say it is, and the last 1–64 events verify against the newest stored chain
    /// hash before them. A description of the first problem, or nil.
    func structuralProblem(_ txn: Transaction) throws -> String? {
        guard try txn.meta(dbs, MetaKey.storeID) != nil else { return "its meta database has no store id" }
        let last = try txn.lastSeq(dbs)
        let watermark = try txn.indexedWatermark(dbs)
        if watermark > last { return "the index watermark (\(watermark)) is past the last event (\(last))" }
        for kind in NameKind.allCases {
            let next = try txn.meta(dbs, MetaKey.nextID(kind)).map { $0.withUnsafeBytes { UInt32(bigEndianBytes: $0) } } ?? 1
            let largest: UInt32? = try txn.withCursor(dbs.ids) { c in
                let after = [kind.rawValue + 1]
                let e = try after.withUnsafeBytes { try c.seek(atLeast: $0) } != nil ? try c.previous() : try c.last()
                guard let e, e.key.count == 5, e.key[0] == kind.rawValue else { return nil }
                return UInt32(bigEndianBytes: UnsafeRawBufferPointer(rebasing: e.key[1 ..< 5]))
            }
            if let largest, largest >= next {
                return "the name counter of kind '\(Character(Unicode.Scalar(kind.rawValue)))' (\(next)) is not past the largest interned id (\(largest))"
            }
        }
        if watermark > 0 {
            guard let h = try header(at: watermark, txn) else { return "event \(watermark) (the index watermark) is missing" }
            let head: (UInt64, UInt64)? = try h.streamID.withBigEndianBytes { k in
                try txn.withValue(dbs.streams, key: k) { v in v.flatMap { $0.count == 16 ? (UInt64(bigEndianBytes: $0), UInt64(bigEndianBytes: UnsafeRawBufferPointer(rebasing: $0[8...]))) : nil } }
            }
            if head.map({ $0 != (h.streamVersion, watermark) }) ?? true {
                return "the 'streams' database does not hold the stream head of event \(watermark) (the last indexed event)"
            }
            for (kind, key) in [(IndexKind.stream, UInt64(h.streamID)), (.correlation, h.correlation), (.type, UInt64(h.typeID))] {
                let db = dbs.index(kind)
                let end: UInt64? = try withIndexKey(PostingBuilder.Key(index: kind, key: key)) { k in
                    try txn.withCursor(db) { c in
                        guard try c.seek(exactly: k) != nil, let lastRun = try c.lastDuplicate(), lastRun.value.count == 12 else { return nil }
                        return Posting(lastRun.value).end
                    }
                }
                if end != watermark + 1 {
                    return "the 'index.\(kind)' database does not list event \(watermark) (the last indexed event)"
                }
            }
        }
        guard last > 0 else { return nil }
        let start = (last - 1) / Chain.checkpointInterval * Chain.checkpointInterval
        return try decompressors.with { decompressor -> String? in
            var reader = EventReader(core: self, decompressor: decompressor, options: ReadOptions(hashes: false, upcast: false))
            if start == 0 {
                reader.rolledSeq = 0
                reader.rolledHash = .genesis
            } else {
                let stored = try start.withBigEndianBytes { k in try txn.withValue(dbs.chain, key: k) { $0.map { Array($0) } } }
                guard let stored, stored.count == 32 else { return "the chain checkpoint at seq \(start) is missing" }
                reader.rolledSeq = start
                reader.rolledHash = ChainHash(bytes: stored)
            }
            var at: Int64 = 0
            for seq in start + 1 ... last {
                let problem: VerifyReport.Problem? = try seq.withBigEndianBytes { k in
                    try txn.withValue(dbs.events, key: k) { v in
                        guard let v else { return .init(seq: seq, reason: "event \(seq) is missing") }
                        return try checkRecord(seq: seq, record: v, &reader, txn, anchor: nil, recordedAt: &at)
                    }
                }
                if let problem { return "event \(seq) of the last ones does not verify (\(problem.reason))" }
            }
            return nil
        }
    }
}

/// What `verifyIndexes` found wrong in one derived database.
public struct IndexProblem: Sendable, Hashable, CustomStringConvertible {
    /// The database: `index.stream`, `index.correlation`, `index.type`, `streams` or `names`.
    public let database: String
    /// The first mismatch found in it.
    public let reason: String
    public var description: String { "\(database): \(reason)" }
}

/// The outcome of `verifyIndexes`.
public struct IndexReport: Sendable {
    /// Events whose index entries were rebuilt and compared (1 … the index watermark).
    public let eventsIndexed: UInt64
    /// The first mismatch of each database that has one.
    public let problems: [IndexProblem]
    public var ok: Bool { problems.isEmpty }
}

extension EventLog {
    /// Rebuilds from the events' headers what the secondary indexes (stream, correlation, type
    /// postings), the stream heads and the stream versions should hold for events 1 … the index
    /// watermark, checks the names tables map both ways, and compares; reports the first mismatch
    /// of each. Reads headers only (no payload), in one read transaction.
    public func verifyIndexes() throws -> IndexReport {
        try core.read { txn in
            let dbs = core.dbs
            let watermark = try txn.indexedWatermark(dbs)
            var problems: [IndexProblem] = []
            // Expected postings (merged runs) per index key, stream heads and versions.
            var expected: [[UInt64: [Posting]]] = [[:], [:], [:]]
            var heads: [UInt32: (version: UInt64, lastSeq: UInt64)] = [:]
            var versionProblem: String?
            func add(_ i: Int, _ key: UInt64, _ seq: UInt64) {
                if var runs = expected[i].removeValue(forKey: key) {
                    if runs[runs.count - 1].end == seq { runs[runs.count - 1].count += 1 } else { runs.append(Posting(first: seq, count: 1)) }
                    expected[i][key] = runs
                } else {
                    expected[i][key] = [Posting(first: seq, count: 1)]
                }
            }
            var headerProblem: String?
            do {
                try forEachHeader(core, txn, after: 0, through: watermark) { seq, h in
                    add(Int(IndexKind.stream.rawValue), UInt64(h.streamID), seq)
                    add(Int(IndexKind.correlation.rawValue), h.correlation, seq)
                    add(Int(IndexKind.type.rawValue), UInt64(h.typeID), seq)
                    let before = heads[h.streamID]?.version ?? 0
                    if h.streamVersion != before + 1 && versionProblem == nil {
                        versionProblem = "event \(seq) is version \(h.streamVersion) of its stream (id \(h.streamID)), the one before it was \(before)"
                    }
                    heads[h.streamID] = (h.streamVersion, seq)
                }
            } catch {
                headerProblem = "\(error)"
            }
            if let headerProblem { return IndexReport(eventsIndexed: 0, problems: [IndexProblem(database: "events", reason: headerProblem)]) }
            if let versionProblem { problems.append(IndexProblem(database: "events", reason: versionProblem)) }

            func describe(_ kind: IndexKind, _ key: UInt64) -> String {
                switch kind {
                case .stream: return "stream '\((try? core.name(.stream, UInt32(truncatingIfNeeded: key), txn)) ?? "?")' (id \(key))"
                case .type: return "type '\((try? core.name(.type, UInt32(truncatingIfNeeded: key), txn)) ?? "?")' (id \(key))"
                case .correlation: return "correlation \(key)"
                }
            }
            func runs(_ r: [Posting]) -> String {
                let shown = r.prefix(3).map { $0.count == 1 ? "\($0.first)" : "\($0.first)–\($0.end - 1)" }.joined(separator: ", ")
                return r.count > 3 ? shown + ", … (\(r.count) runs)" : shown
            }
            for kind in [IndexKind.stream, .correlation, .type] {
                var stored: [UInt64: [Posting]] = [:]
                var malformed: String?
                try txn.withCursor(dbs.index(kind)) { c in
                    var e = try c.first()
                    while let entry = e {
                        let width = kind == .correlation ? 8 : 4
                        guard entry.key.count == width, entry.value.count == 12 else {
                            malformed = "an entry has a \(entry.key.count)-byte key and a \(entry.value.count)-byte posting"
                            return
                        }
                        let key = width == 8 ? UInt64(bigEndianBytes: entry.key) : UInt64(UInt32(bigEndianBytes: entry.key))
                        let p = Posting(entry.value)
                        var r = stored[key] ?? []
                        if let l = r.last, l.end == p.first { r[r.count - 1].count += p.count } else { r.append(p) }
                        stored[key] = r
                        e = try c.next()
                    }
                }
                let name = "index.\(kind)"
                if let malformed { problems.append(IndexProblem(database: name, reason: malformed)); continue }
                let want = expected[Int(kind.rawValue)]
                for key in Set(want.keys).union(stored.keys).sorted() {
                    let w = want[key] ?? [], s = stored[key] ?? []
                    if w == s { continue }
                    let reason: String
                    if s.isEmpty {
                        reason = "\(describe(kind, key)) is missing: the events put it at seq \(runs(w))"
                    } else if w.isEmpty {
                        reason = "\(describe(kind, key)) lists seq \(runs(s)), but no event up to the watermark (\(watermark)) has it"
                    } else {
                        // From the first run that differs.
                        let same = zip(w, s).prefix { $0 == $1 }.count
                        let at = same == 0 ? "" : " after \(same) matching run\(same == 1 ? "" : "s")"
                        let listed = same < s.count ? "seq \(runs(Array(s[same...])))" : "nothing more"
                        let said = same < w.count ? "seq \(runs(Array(w[same...])))" : "nothing more"
                        reason = "\(describe(kind, key)) lists \(listed)\(at), the events say \(said)"
                    }
                    problems.append(IndexProblem(database: name, reason: reason))
                    break
                }
            }
            // Stream heads.
            var storedHeads: [UInt32: (UInt64, UInt64)] = [:]
            try txn.withCursor(dbs.streams) { c in
                var e = try c.first()
                while let entry = e {
                    if entry.key.count == 4, entry.value.count == 16 {
                        storedHeads[UInt32(bigEndianBytes: entry.key)] = (UInt64(bigEndianBytes: entry.value),
                                                                         UInt64(bigEndianBytes: UnsafeRawBufferPointer(rebasing: entry.value[8...])))
                    } else {
                        storedHeads[UInt32.max] = (0, 0)
                    }
                    e = try c.next()
                }
            }
            for id in Set(heads.keys).union(storedHeads.keys).sorted() {
                let w = heads[id], s = storedHeads[id]
                if let w, let s, w.version == s.0, w.lastSeq == s.1 { continue }
                let what = describe(.stream, UInt64(id))
                let reason = s.map { "\(what) is at version \($0.0), last seq \($0.1), " } ?? "\(what) has no head, "
                problems.append(IndexProblem(database: "streams", reason: reason + (w.map { "the events say version \($0.version), last seq \($0.lastSeq)" } ?? "but no event up to the watermark has it")))
                break
            }
            // Names both ways.
            var nameProblem: String?
            var namesCount = 0
            try txn.withCursor(dbs.names) { c in
                var e = try c.first()
                while let entry = e, nameProblem == nil {
                    namesCount += 1
                    if entry.key.count >= 1, entry.value.count == 4, let kind = NameKind(rawValue: entry.key[0]) {
                        let id = UInt32(bigEndianBytes: entry.value)
                        let back = try txn.get(dbs.ids, key: idKey(kind, id))
                        if back.map({ !$0.elementsEqual(entry.key.dropFirst()) }) ?? true {
                            nameProblem = "'\(String(decoding: entry.key.dropFirst(), as: UTF8.self))' has id \(id), whose entry in 'ids' is \(back.map { "'\(String(decoding: $0, as: UTF8.self))'" } ?? "missing")"
                        }
                    } else {
                        nameProblem = "an entry has a \(entry.key.count)-byte key and a \(entry.value.count)-byte value"
                    }
                    e = try c.next()
                }
            }
            let idsCount = try txn.stat(dbs.ids).entries
            if nameProblem == nil && idsCount != namesCount { nameProblem = "'names' has \(namesCount) entries, 'ids' \(idsCount)" }
            if let nameProblem { problems.append(IndexProblem(database: "names", reason: nameProblem)) }
            return IndexReport(eventsIndexed: watermark, problems: problems)
        }
    }
}
