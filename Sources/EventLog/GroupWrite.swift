import Domain
import Foundation
import LMDB

/// One group's write transaction on the writer thread: `check` refuses an append that cannot go
/// ahead (a stream not at its expected version, a moved checkpoint, a cause that is not an earlier
/// event) before anything of it is written; `write` assigns seqs, versions and correlations,
/// hashes and puts its events; `finish` writes the checkpoints, name counters and the tail.
struct GroupWrite {
    let core: StoreCore
    let txn: Transaction
    var tail: TailIndex
    var head: ChainHead
    /// One time for the whole group (never before the previous event's).
    let recordedAt: Int64
    var interner: Interner
    var checkpointsToWrite: [String: UInt64] = [:]
    private var canonicalHeader = ByteWriter(capacity: 256)
    private var record = ByteWriter(capacity: 512)
    /// Consecutive events often share a cause (a batch of predictions): its correlation, cached.
    private var lastCause: UInt64 = 0
    private var lastCauseCorrelation: UInt64 = 0

    init(core: StoreCore, txn: Transaction, tail: TailIndex) {
        self.core = core
        self.txn = txn
        self.tail = tail
        head = tail.head
        recordedAt = max(core.configuration.clock.nowMicros(), tail.head.recordedAtMicros)
        interner = Interner(core: core)
    }

    /// The stream's id (nil if it has none yet) and current version, as of this transaction.
    func streamState(_ name: String) throws -> (id: UInt32?, version: UInt64) {
        guard let id = try interner.pending[.stream]?[name] ?? core.id(.stream, name, txn) else { return (nil, 0) }
        if let s = tail.streams[id] { return (id, s.version) }
        let version: UInt64 = try id.withBigEndianBytes { k in
            try txn.withValue(core.dbs.streams, key: k) { v in v.map { UInt64(bigEndianBytes: $0) } ?? 0 }
        }
        return (id, version)
    }

    /// Throws why `job` cannot be written now; writes nothing.
    func check(_ job: AppendJob) throws {
        var versions: [String: UInt64] = [:]
        for part in job.streams {
            let current = try versions[part.stream] ?? streamState(part.stream).version
            guard part.expected.admits(current) else {
                throw WrongExpectedVersion(stream: part.stream, expected: part.expected, actual: current)
            }
            versions[part.stream] = current + UInt64(part.events.count)
        }
        for cp in job.checkpoints {
            guard let expected = cp.expected else { continue }
            let actual = try checkpointsToWrite[cp.name] ?? txn.checkpointValue(core.dbs, cp.name)
            guard actual == expected else { throw CheckpointConflict(name: cp.name, expected: expected, actual: actual) }
        }
        var seq = head.seq
        for part in job.streams {
            for event in part.events.source {
                seq += 1
                if let c = event.causation, c == 0 || c >= seq {
                    throw EventLogError(.invalidArgument, "event \(event.type) names causation seq \(c), which is not an earlier event (it would be seq \(seq))")
                }
                if let c = event.correlation, c == 0 || c > seq {
                    throw EventLogError(.invalidArgument, "event \(event.type) names correlation seq \(c), which is not an earlier event or itself (it would be seq \(seq))")
                }
            }
        }
    }

    /// Writes a checked job's events through `events` (a cursor on the events database).
    mutating func write(_ job: AppendJob, _ events: Cursor) throws -> AppendResult {
        let firstSeq = head.seq + 1
        let actorID = try interner.intern(.actor, job.actor, txn)
        var lastType = ""
        var lastTypeID: UInt32 = 0
        var versionsAfter: [String: UInt64] = [:]
        var appendCorrelation: UInt64?
        for part in job.streams {
            var previousCorrelation: UInt64? = job.sharedCorrelation ? appendCorrelation : nil
            var (streamID, version) = try streamState(part.stream)
            let id = try streamID ?? interner.intern(.stream, part.stream, txn)
            streamID = id
            for c in 0 ..< part.events.chunkCount {
                for event in try part.events.chunk(c) {
                    let seq = head.seq + 1
                    version += 1
                    if event.type != lastType {
                        lastTypeID = try interner.intern(.type, event.type, txn)
                        lastType = event.type
                    }
                    let correlation = try correlation(of: event, seq: seq, previous: previousCorrelation)
                    previousCorrelation = correlation
                    if appendCorrelation == nil { appendCorrelation = correlation }
                    try put(event, seq: seq, streamID: id, stream: part.stream, version: version, typeID: lastTypeID,
                            correlation: correlation, actorID: actorID, actor: job.actor, events)
                }
            }
            versionsAfter[part.stream] = version
        }
        for cp in job.checkpoints { checkpointsToWrite[cp.name] = cp.seq }
        let wrote = head.seq >= firstSeq
        return AppendResult(firstSeq: wrote ? firstSeq : nil, lastSeq: wrote ? head.seq : nil,
                            streamVersions: versionsAfter, recordedAtMicros: recordedAt)
    }

    /// An event's correlation: as given; else its cause's; else the previous event's of the same
    /// stream in this append (or of the whole append, when shared); else itself (a root).
    private mutating func correlation(of event: PreparedEvent, seq: UInt64, previous: UInt64?) throws -> UInt64 {
        if let c = event.correlation { return c }
        guard let cause = event.causation else { return previous ?? seq }
        if cause != lastCause {
            guard let header = try core.header(at: cause, txn) else {
                throw EventLogError(.invalidArgument, "causation seq \(cause) does not exist")
            }
            lastCause = cause
            lastCauseCorrelation = header.correlation
        }
        return lastCauseCorrelation
    }

    /// Hashes and puts one event at `seq`, with its chain checkpoint every 64 events.
    @inline(__always)
    private mutating func put(_ event: PreparedEvent, seq: UInt64, streamID: UInt32, stream: String, version: UInt64, typeID: UInt32,
                              correlation: UInt64, actorID: UInt32, actor: String, _ events: Cursor) throws {
        canonicalHeader.reset()
        Chain.canonicalHeader(seq: seq, recordedAtMicros: recordedAt, streamVersion: version, schemaVersion: event.schemaVersion,
                              causation: event.causation, correlation: correlation, stream: stream, type: event.type,
                              actor: actor, payloadCount: event.canonical.count, into: &canonicalHeader)
        let hash = event.canonical.withUnsafeBytes { p in Chain.next(previous: head.hash, header: canonicalHeader.bytes, payload: p) }
        let header = RecordHeader(encoding: event.encoding, dictionaryID: event.dictionaryID, typeID: typeID,
                                  schemaVersion: event.schemaVersion, streamID: streamID, streamVersion: version,
                                  causation: event.causation, correlation: correlation, actorID: actorID,
                                  recordedAtMicros: recordedAt, fingerprint: hash.fingerprint)
        record.reset()
        header.encode(seq: seq, into: &record)
        record.append(event.stored)
        try seq.withBigEndianBytes { k in
            try record.bytes.withUnsafeBytes { v in try events.put(key: k, value: v, flags: .append) }
        }
        tail.add(seq: seq, header: header)
        if seq % Chain.checkpointInterval == 0 {
            try seq.withBigEndianBytes { k in
                try hash.withUnsafeBytes { v in try txn.put(core.dbs.chain, key: k, value: v, flags: .append) }
            }
        }
        head = ChainHead(seq: seq, recordedAtMicros: recordedAt, hash: hash)
    }

    /// Writes the moved checkpoints and the name counters, and flushes the tail's postings when
    /// it has grown past its threshold.
    mutating func finish() throws {
        for (name, seq) in checkpointsToWrite {
            try seq.withBigEndianBytes { v in try Array(name.utf8).withUnsafeBytes { k in try txn.put(core.dbs.checkpoints, key: k, value: v) } }
        }
        try interner.writeCounters(txn)
        tail.head = head
        if tail.count >= TailIndex.flushThreshold { try tail.flush(core, txn) }
    }
}
