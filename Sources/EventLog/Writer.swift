import Domain
import Foundation
import LMDB
import Zstd

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
        // A dictionary training started in the background still reads the store: wait for it (its
        // install then fails at once, the log being closed), so that nothing of this log reads the
        // files after close — a caller may move, copy or cut them (a test truncated data.mdb under
        // a training that was still reading: SIGBUS).
        while core.training.withLock({ $0.running }) { usleep(1_000) }
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
                transactionJob.completion(Result { try core.env.write { txn in try transactionJob.body(txn) } }.mapError(EventLogError.wrapping))
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
                    // Only while no read transaction of this process walks the map (LMDB's rule).
                    let grown = try core.mapGate.exclusive(timeout: 30) { try core.env.setMapSize(size * 2) }
                    if !grown {
                        throw EventLogError(.io, "the store at \(core.canonicalPath) is full (map of \(size) bytes) and could not grow: read transactions of this process held it for 30 s; nothing of this write was committed: retry")
                    }
                } catch {
                    for job in group { job.completion(.failure(EventLogError.wrapping(error))) }
                    return
                }
            } catch {
                tail = nil
                for job in group { job.completion(.failure(EventLogError.wrapping(error))) }
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

    /// Writes a group inside `txn`: each job is checked in full, then written — a refused job
    /// leaves no trace; the others of the group go ahead.
    private func write(_ group: [AppendJob], _ txn: Transaction, newNames: inout [(NameKind, String, UInt32)])
        throws -> ([Result<AppendResult, any Error>], ChainHead) {
        var g = try GroupWrite(core: core, txn: txn, tail: currentTail(txn))
        var results: [Result<AppendResult, any Error>] = []
        results.reserveCapacity(group.count)
        try txn.withCursor(core.dbs.events) { events in
            for job in group {
                do {
                    try g.check(job)
                } catch {
                    results.append(.failure(error))
                    continue
                }
                results.append(.success(try g.write(job, events)))
            }
        }
        try g.finish()
        pendingTail = g.tail
        newNames = g.interner.created
        return (results, g.head)
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
            job.completion(.failure(EventLogError.wrapping(error)))
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
