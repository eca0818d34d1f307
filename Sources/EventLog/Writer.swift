import Domain
import Foundation
import LMDB
import Zstd

/// An event whose payload has been encoded and compressed by its producer, ready for the writer.
struct PreparedEvent: Sendable {
    let type: String
    let schemaVersion: UInt32
    let causation: UInt64?
    let correlation: UInt64?
    let encoding: PayloadEncoding
    let dictionaryID: UInt32
    /// Canonical payload bytes (hashed).
    let canonical: ArraySlice<UInt8>
    /// Stored payload bytes (canonical or a zstd frame).
    let stored: ArraySlice<UInt8>
}

/// A stream's share of an append.
struct PreparedStream: Sendable {
    let stream: String
    let expected: ExpectedVersion
    let events: PreparedEvents
}

/// The events of one stream of an append, with their payloads prepared in chunks, possibly while the
/// writer is already writing the earlier chunks (large appends overlap encoding and compression on
/// the producers' threads with hashing and writing on the writer's).
final class PreparedEvents: @unchecked Sendable {
    // @unchecked Sendable: `chunks` and `failure` are guarded by `condition`; `source` is immutable.
    /// The events as given (what validation needs: types, causes, count).
    let source: [NewEvent]
    let chunkSize: Int
    private let condition = NSCondition()
    private var chunks: [[PreparedEvent]?]
    private var failure: (any Error)?

    init(source: [NewEvent], chunkSize: Int) {
        self.source = source
        self.chunkSize = chunkSize
        self.chunks = Array(repeating: nil, count: (source.count + chunkSize - 1) / chunkSize)
    }

    var count: Int { source.count }
    var chunkCount: Int { chunks.count }

    /// The events of chunk `i` (a slice of `source`).
    func sourceChunk(_ i: Int) -> ArraySlice<NewEvent> {
        source[i * chunkSize ..< min(source.count, (i + 1) * chunkSize)]
    }

    func fill(_ i: Int, _ events: [PreparedEvent]) {
        condition.lock()
        chunks[i] = events
        condition.broadcast()
        condition.unlock()
    }

    var hasFailed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return failure != nil
    }

    func fail(_ error: any Error) {
        condition.lock()
        if failure == nil { failure = error }
        condition.broadcast()
        condition.unlock()
    }

    /// Chunk `i`, waiting until a producer has prepared it.
    func chunk(_ i: Int) throws -> [PreparedEvent] {
        condition.lock()
        defer { condition.unlock() }
        while chunks[i] == nil {
            if let failure { throw PreparationFailed(underlying: failure) }
            condition.wait()
        }
        return chunks[i]!
    }
}

/// Preparing a payload failed (the writer drops that append from its group and retries the rest).
struct PreparationFailed: Error {
    let underlying: any Error
}

/// One append waiting for the writer.
final class AppendJob: @unchecked Sendable {
    // @unchecked Sendable: the lets are immutable; `completion` is called once, by the writer thread.
    let streams: [PreparedStream]
    let checkpoints: [CheckpointUpdate]
    let actor: String
    /// Events without a correlation or causation share the append's first correlation.
    let sharedCorrelation: Bool
    let eventCount: Int
    let completion: @Sendable (Result<AppendResult, any Error>) -> Void

    init(streams: [PreparedStream], checkpoints: [CheckpointUpdate], actor: String, sharedCorrelation: Bool = false,
         completion: @escaping @Sendable (Result<AppendResult, any Error>) -> Void) {
        self.streams = streams
        self.checkpoints = checkpoints
        self.actor = actor
        self.sharedCorrelation = sharedCorrelation
        self.eventCount = streams.reduce(0) { $0 + $1.events.count }
        self.completion = completion
    }
}

/// Installs a newly trained dictionary (runs on the writer thread, in its own transaction).
final class DictionaryJob: @unchecked Sendable {
    // @unchecked Sendable: immutable lets; `completion` is called once, by the writer thread.
    let bytes: [UInt8]
    let samples: Int
    let completion: @Sendable (Result<UInt32, any Error>) -> Void
    init(bytes: [UInt8], samples: Int, completion: @escaping @Sendable (Result<UInt32, any Error>) -> Void) {
        self.bytes = bytes
        self.samples = samples
        self.completion = completion
    }
}

/// A write transaction of its own that changes no events (snapshots, maintenance); runs on the
/// writer thread between groups.
final class TransactionJob: @unchecked Sendable {
    // @unchecked Sendable: `body` runs once, on the writer thread; `completion` is called once there.
    let body: (Transaction) throws -> Void
    let completion: @Sendable (Result<Void, any Error>) -> Void
    init(body: @escaping (Transaction) throws -> Void, completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        self.body = body
        self.completion = completion
    }
}

/// The single writer: one dedicated thread that drains the queue of appends, commits each group in
/// one LMDB write transaction (one fsync), and then completes every append of the group.
///
/// All write transactions of the process begin and commit on this thread (an LMDB requirement).
final class Writer: @unchecked Sendable {
    // @unchecked Sendable: `queue` and `state` are guarded by `condition`; the thread owns the rest.
    private enum Job { case append(AppendJob), dictionary(DictionaryJob), transaction(TransactionJob) }
    private enum State { case running, stopping, stopped }

    private let core: StoreCore
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var state = State.running
    /// `LEDGERFLOW_TRACE_COMMITS=1`: print each group's size and its build and commit times to stderr.
    static let traceCommits = ProcessInfo.processInfo.environment["LEDGERFLOW_TRACE_COMMITS"] != nil

    /// Appends in the last group (guides the linger above).
    private var lastGroupSize = 0
    /// How long the writer waits for stragglers of a group (a fraction of an fsync).
    static let linger: TimeInterval = 0.000_1

    /// Largest number of events committed in one group (a single larger append is one group).
    private let maxGroupEvents = 262_144

    init(core: StoreCore) {
        self.core = core
        let thread = Thread { [self] in self.run() }
        thread.name = "ledgerflow-writer"
        thread.stackSize = 4 << 20
        thread.start()
    }

    func submit(_ job: AppendJob) {
        enqueue(.append(job)) { job.completion(.failure($0)) }
    }

    func submit(_ job: DictionaryJob) {
        enqueue(.dictionary(job)) { job.completion(.failure($0)) }
    }

    func submit(_ job: TransactionJob) {
        enqueue(.transaction(job)) { job.completion(.failure($0)) }
    }

    /// Queues a job for the writer thread, or fails it when the log is closed.
    private func enqueue(_ job: Job, orFail fail: (EventLogError) -> Void) {
        condition.lock()
        guard state == .running else {
            condition.unlock()
            fail(EventLogError(.invalidArgument, "the event log is closed"))
            return
        }
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Commits what is queued, then stops the thread; returns when it has stopped.
    func stop() {
        condition.lock()
        if state == .running { state = .stopping }
        condition.broadcast()
        while state != .stopped { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && state == .running {
                if let t = tail, t.count > 0 {
                    // Idle with an unindexed tail: index it if nothing arrives for a moment.
                    if !condition.wait(until: Date().addingTimeInterval(0.025)) && queue.isEmpty {
                        condition.unlock()
                        flushTail()
                        condition.lock()
                    }
                } else {
                    condition.wait()
                }
            }
            if queue.isEmpty {
                condition.unlock()
                flushTail()
                condition.lock()
                state = .stopped
                condition.broadcast()
                condition.unlock()
                return
            }
            // Many producers waiting on their previous commit come back within microseconds of
            // each other: when fewer small appends are queued than the last group held, wait a
            // moment (at most `linger`) for the rest, so they share one fsync.
            if case .append = queue.first, queue.count < lastGroupSize, queue.count < 64 {
                let deadline = Date().addingTimeInterval(Writer.linger)
                while queue.count < lastGroupSize && state == .running {
                    if !condition.wait(until: deadline) { break }
                }
            }
            // Take a group: consecutive appends up to the size limit, or one dictionary job.
            var group: [AppendJob] = []
            var dictionaryJob: DictionaryJob?
            var transactionJob: TransactionJob?
            var events = 0
            while let first = queue.first {
                if case .append(let job) = first {
                    if !group.isEmpty && events + job.eventCount > maxGroupEvents { break }
                    group.append(job)
                    events += job.eventCount
                    queue.removeFirst()
                } else {
                    if group.isEmpty {
                        if case .dictionary(let job) = first { dictionaryJob = job }
                        if case .transaction(let job) = first { transactionJob = job }
                        queue.removeFirst()
                    }
                    break
                }
            }
            condition.unlock()
            if let dictionaryJob { install(dictionaryJob) }
            if let transactionJob {
                transactionJob.completion(Result { try core.env.write { txn in try transactionJob.body(txn) } })
            }
            if !group.isEmpty {
                lastGroupSize = group.count
                commit(group)
            }
        }
    }

    // MARK: - Committing a group

    private func commit(_ group: [AppendJob]) {
        var group = group
        var attempts = 0
        while !group.isEmpty {
            attempts += 1
            do {
                var newNames: [(NameKind, String, UInt32)] = []
                let t0 = DispatchTime.now().uptimeNanoseconds
                var t1: UInt64 = 0
                let (results, head) = try core.env.write { txn in
                    defer { t1 = DispatchTime.now().uptimeNanoseconds }
                    return try self.write(group, txn, newNames: &newNames)
                }
                if Writer.traceCommits {
                    let t2 = DispatchTime.now().uptimeNanoseconds
                    FileHandle.standardError.write(Data("group \(group.count) build \((t1 - t0) / 1000)us commit \((t2 - t1) / 1000)us\n".utf8))
                }
                tail = pendingTail
                pendingTail = nil
                for (kind, name, id) in newNames { core.names.insert(kind, name, id) }
                for (job, result) in zip(group, results) { job.completion(result) }
                core.notifier.advance(to: head.seq)
                scheduleTrainingIfDue(head: head.seq)
                return
            } catch let e as PreparationFailed {
                tail = nil
                // One append's payloads could not be prepared: fail it alone, write the others.
                for job in group where job.streams.contains(where: { $0.events.hasFailed }) {
                    job.completion(.failure(e.underlying))
                }
                group.removeAll { job in job.streams.contains(where: { $0.events.hasFailed }) }
            } catch let e as LMDBError where e == .mapFull && attempts < 8 {
                tail = nil
                // Grow the map and write the whole group again (the failed transaction was aborted).
                let size = (try? core.env.info().mapSize) ?? core.configuration.mapSize
                do {
                    try core.env.setMapSize(size * 2)
                } catch {
                    for job in group { job.completion(.failure(error)) }
                    return
                }
            } catch {
                tail = nil
                for job in group { job.completion(.failure(error)) }
                return
            }
        }
    }

    /// The tail index as of the last commit of this writer; nil when it must be loaded from the store
    /// (at start, after a failed transaction, or when another process has written since).
    private var tail: TailIndex?

    /// The tail state for this transaction: the cached one if nobody else wrote since, else loaded.
    /// Takes the cached state out of `tail` (so that mutating it copies nothing; it is put back
    /// when the transaction commits).
    private func currentTail(_ txn: Transaction) throws -> TailIndex {
        let last = try txn.lastSeq(core.dbs)
        let watermark = try txn.indexedWatermark(core.dbs)
        if let t = tail, t.head.seq == last, watermark == t.watermark {
            tail = nil
            return t
        }
        tail = nil
        return try TailIndex.load(core, txn)
    }

    /// Writes a group inside `txn`. Each job is checked in full before anything of it is written, so
    /// a refused job leaves no trace; the others of the group go ahead.
    private func write(_ group: [AppendJob], _ txn: Transaction, newNames: inout [(NameKind, String, UInt32)])
        throws -> ([Result<AppendResult, any Error>], ChainHead) {
        let dbs = core.dbs
        var tail = try currentTail(txn)
        var head = tail.head
        let recordedAt = max(core.configuration.clock.nowMicros(), head.recordedAtMicros)
        var interner = Interner(core: core)
        var checkpointsToWrite: [String: UInt64] = [:]
        var results: [Result<AppendResult, any Error>] = []
        results.reserveCapacity(group.count)
        var canonicalHeader = ByteWriter(capacity: 256)
        var record = ByteWriter(capacity: 512)
        var lastCause: UInt64 = 0
        var lastCauseCorrelation: UInt64 = 0

        /// The stream's id (nil if it has none yet) and current version.
        func streamState(_ name: String) throws -> (id: UInt32?, version: UInt64) {
            guard let id = try interner.pending[.stream]?[name] ?? core.id(.stream, name, txn) else { return (nil, 0) }
            if let s = tail.streams[id] { return (id, s.version) }
            let version: UInt64 = try id.withBigEndianBytes { k in
                try txn.withValue(dbs.streams, key: k) { v in v.map { UInt64(bigEndianBytes: $0) } ?? 0 }
            }
            return (id, version)
        }

        try txn.withCursor(dbs.events) { events in
            for job in group {
                // 1. Check everything first.
                do {
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
                        let actual = try checkpointsToWrite[cp.name] ?? txn.checkpointValue(dbs, cp.name)
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
                } catch {
                    results.append(.failure(error))
                    continue
                }

                // 2. Write.
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
                            let correlation: UInt64
                            if let c = event.correlation {
                                correlation = c
                            } else if let cause = event.causation {
                                // Consecutive events often share a cause (a batch of predictions).
                                if cause == lastCause {
                                    correlation = lastCauseCorrelation
                                } else {
                                    correlation = try self.correlation(of: cause, txn)
                                    lastCause = cause
                                    lastCauseCorrelation = correlation
                                }
                            } else {
                                correlation = previousCorrelation ?? seq
                            }
                            previousCorrelation = correlation
                            if appendCorrelation == nil { appendCorrelation = correlation }

                            canonicalHeader.reset()
                            Chain.canonicalHeader(seq: seq, recordedAtMicros: recordedAt, streamVersion: version,
                                                  schemaVersion: event.schemaVersion, causation: event.causation,
                                                  correlation: correlation, stream: part.stream, type: event.type,
                                                  actor: job.actor, payloadCount: event.canonical.count, into: &canonicalHeader)
                            let hash = event.canonical.withUnsafeBytes { p in
                                Chain.next(previous: head.hash, header: canonicalHeader.bytes, payload: p)
                            }
                            let header = RecordHeader(encoding: event.encoding, dictionaryID: event.dictionaryID, typeID: lastTypeID,
                                                      schemaVersion: event.schemaVersion, streamID: id, streamVersion: version,
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
                                    try hash.withUnsafeBytes { v in try txn.put(dbs.chain, key: k, value: v, flags: .append) }
                                }
                            }
                            head = ChainHead(seq: seq, recordedAtMicros: recordedAt, hash: hash)
                        }
                    }
                    versionsAfter[part.stream] = version
                }
                for cp in job.checkpoints { checkpointsToWrite[cp.name] = cp.seq }
                let wrote = head.seq >= firstSeq
                results.append(.success(AppendResult(firstSeq: wrote ? firstSeq : nil, lastSeq: wrote ? head.seq : nil,
                                                     streamVersions: versionsAfter, recordedAtMicros: recordedAt)))
            }
        }

        for (name, seq) in checkpointsToWrite {
            try seq.withBigEndianBytes { v in try Array(name.utf8).withUnsafeBytes { k in try txn.put(dbs.checkpoints, key: k, value: v) } }
        }
        try interner.writeCounters(txn)
        tail.head = head
        if tail.count >= TailIndex.flushThreshold { try tail.flush(core, txn) }
        pendingTail = tail
        newNames = interner.created
        return (results, head)
    }

    /// The tail state written by the transaction in progress (adopted when it commits).
    private var pendingTail: TailIndex?

    /// Writes the tail's indexes in a transaction of their own (when idle, and before stopping).
    private func flushTail() {
        guard let t = tail, t.count > 0 else { return }
        do {
            var flushed = t
            try core.env.write { txn in
                flushed = try currentTail(txn)
                try flushed.flush(core, txn)
            }
            tail = flushed
        } catch {
            tail = nil
        }
    }

    /// The correlation of the stored event `seq` (visible in this transaction even if written by it).
    private func correlation(of seq: UInt64, _ txn: Transaction) throws -> UInt64 {
        let header = try core.header(at: seq, txn)
        guard let header else { throw EventLogError(.invalidArgument, "causation seq \(seq) does not exist") }
        return header.correlation
    }

    // MARK: - Dictionaries

    private func install(_ job: DictionaryJob) {
        let dbs = core.dbs
        do {
            let (id, head): (UInt32, UInt64) = try core.env.write { txn in
                let last: UInt32 = try txn.withCursor(dbs.dictionaries) { c in try c.last().map { UInt32(bigEndianBytes: $0.key) } ?? 0 }
                let id = last + 1
                let headSeq = try txn.lastSeq(dbs)
                var w = ByteWriter(capacity: job.bytes.count + 20)
                w.u64be(headSeq)
                w.u32be(UInt32(clamping: job.samples))
                w.u64be(UInt64(core.configuration.clock.nowMicros()))
                w.append(job.bytes)
                try id.withBigEndianBytes { k in try w.bytes.withUnsafeBytes { v in try txn.put(dbs.dictionaries, key: k, value: v) } }
                var cur = ByteWriter(capacity: 4)
                cur.u32be(id)
                try txn.setMeta(dbs, MetaKey.currentDictionary, cur.bytes)
                var next = ByteWriter(capacity: 8)
                let growth: UInt64
                if case .automatic(_, let g) = core.configuration.dictionaryTraining { growth = max(2, g) } else { growth = 10 }
                next.u64be(max(headSeq, 1) * growth)
                try txn.setMeta(dbs, MetaKey.nextTraining, next.bytes)
                return (id, headSeq * growth)
            }
            let dict = try CompressionDictionary(id: id, bytes: job.bytes, level: core.configuration.compressionLevel)
            core.dictionaries.add(dict, makeCurrent: true)
            core.training.withLock { $0.nextAt = max(head, 1) }
            job.completion(.success(id))
        } catch {
            job.completion(.failure(error))
        }
    }

    private func scheduleTrainingIfDue(head: UInt64) {
        guard case .automatic = core.configuration.dictionaryTraining else { return }
        let start: Bool = core.training.withLock { t in
            guard !t.running, head >= t.nextAt else { return false }
            t.running = true
            return true
        }
        guard start else { return }
        let core = self.core
        DispatchQueue.global(qos: .userInitiated).async { [weak self] in
            guard let self else { return }
            let trained = (try? DictionaryTrainingRun(core: core).train()) ?? nil
            if let trained {
                let done = DispatchSemaphore(value: 0)
                self.submit(DictionaryJob(bytes: trained.bytes, samples: trained.samples) { _ in done.signal() })
                done.wait()
            } else {
                // Too few or too uniform samples: try again when the log has doubled.
                core.training.withLock { $0.nextAt = max(head, 1) * 2 }
            }
            core.training.withLock { $0.running = false }
        }
    }
}

/// Interns names inside a write transaction; new ids become visible to the cache only after commit.
struct Interner {
    let core: StoreCore
    var pending: [NameKind: [String: UInt32]] = [:]
    var nextIDs: [NameKind: UInt32] = [:]
    var created: [(NameKind, String, UInt32)] = []

    init(core: StoreCore) { self.core = core }

    mutating func intern(_ kind: NameKind, _ name: String, _ txn: Transaction) throws -> UInt32 {
        if let id = pending[kind]?[name] { return id }
        if let id = try core.id(kind, name, txn) { return id }
        let next: UInt32
        if let n = nextIDs[kind] {
            next = n
        } else {
            next = try txn.meta(core.dbs, MetaKey.nextID(kind)).map { $0.withUnsafeBytes { UInt32(bigEndianBytes: $0) } } ?? 1
        }
        guard next < UInt32.max else { throw EventLogError(.invalidArgument, "too many distinct names of one kind") }
        nextIDs[kind] = next + 1
        pending[kind, default: [:]][name] = next
        created.append((kind, name, next))
        try next.withBigEndianBytes { v in
            try ([kind.rawValue] + Array(name.utf8)).withUnsafeBytes { k in try txn.put(core.dbs.names, key: k, value: v) }
        }
        try txn.put(core.dbs.ids, key: idKey(kind, next), value: Array(name.utf8))
        return next
    }

    func writeCounters(_ txn: Transaction) throws {
        for (kind, next) in nextIDs {
            var w = ByteWriter(capacity: 4)
            w.u32be(next)
            try txn.setMeta(core.dbs, MetaKey.nextID(kind), w.bytes)
        }
    }
}

/// Which secondary index a posting belongs to.
enum IndexKind: UInt8 { case stream, correlation, type }

/// Collects, for one transaction, the runs of consecutive seqs per index key, then writes them.
struct PostingBuilder {
    struct Key: Hashable {
        let index: IndexKind
        let key: UInt64
    }

    private var open: [Key: Posting] = [:]
    private var closed: [(Key, Posting)] = []
    /// The run each index is extending right now (most events continue the previous event's run).
    private var current: [(key: UInt64, posting: Posting)?] = [nil, nil, nil]

    @inline(__always)
    mutating func add(_ index: IndexKind, _ key: UInt64, _ seq: UInt64) {
        let i = Int(index.rawValue)
        if let c = current[i], c.key == key, c.posting.end == seq, c.posting.count < UInt32.max {
            current[i]!.posting.count += 1
            return
        }
        if let c = current[i] { park(Key(index: index, key: c.key), c.posting) }
        // Continue this key's open run if it ends right here, else start one.
        let k = Key(index: index, key: key)
        if let p = open.removeValue(forKey: k) {
            if p.end == seq && p.count < UInt32.max {
                current[i] = (key, p)
                current[i]!.posting.count += 1
                return
            }
            closed.append((k, p))
        }
        current[i] = (key, Posting(first: seq, count: 1))
    }

    private mutating func park(_ k: Key, _ p: Posting) {
        if let old = open.updateValue(p, forKey: k) { closed.append((k, old)) }
    }

    /// Writes every run. Each key's first run extends the key's last stored run when that one ended
    /// just before it.
    mutating func flush(_ txn: Transaction, _ dbs: StoreDatabases) throws {
        for (i, c) in current.enumerated() {
            if let c, let index = IndexKind(rawValue: UInt8(i)) { park(Key(index: index, key: c.key), c.posting) }
        }
        current = [nil, nil, nil]
        var all = closed
        all.append(contentsOf: open.map { ($0.key, $0.value) })
        all.sort { $0.1.first < $1.1.first }
        var seen = Set<Key>()
        for (k, p) in all {
            let db = dbs.index(k.index)
            let isFirst = seen.insert(k).inserted
            try withIndexKey(k) { key in
                try txn.withCursor(db) { c in
                    if isFirst, try c.seek(exactly: key) != nil, let last = try c.lastDuplicate() {
                        let prior = Posting(last.value)
                        if prior.end == p.first, UInt64(prior.count) + UInt64(p.count) <= UInt64(UInt32.max) {
                            try Posting(first: prior.first, count: prior.count + p.count).withBytes { v in
                                try c.put(key: key, value: v, flags: .current)
                            }
                            return
                        }
                    }
                    try p.withBytes { v in try c.put(key: key, value: v) }
                }
            }
        }
        open = [:]
        closed = []
    }
}

/// Index keys: stream and type ids as u32 BE, correlations as u64 BE.
@inline(__always)
func withIndexKey<T>(_ k: PostingBuilder.Key, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
    switch k.index {
    case .stream, .type: return try UInt32(truncatingIfNeeded: k.key).withBigEndianBytes(body)
    case .correlation: return try k.key.withBigEndianBytes(body)
    }
}
