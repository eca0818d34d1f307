import Domain
import EventLog
import Foundation

/// Runs a projection over a log: catches up from its checkpoint (the newest snapshot), follows
/// new events, takes snapshots, and computes the state as of any seq or time from the nearest
/// earlier snapshot.
///
/// Snapshots live in the store's `snapshots` database under the projection's name; the
/// checkpoint `projection:<name>` is the seq of the newest one, written in the same transaction.
/// A runner on a read-only log computes everything but writes nothing.
public struct ProjectionRunner<P: Projection>: Sendable {
    public let log: EventLog
    public let projection: P
    /// A snapshot is taken after this many folded events (events of the projection's types).
    public var snapshotEvery: Int
    /// The checkpoint's name.
    public var checkpointName: String { "projection:\(projection.name)" }

    public init(log: EventLog, projection: P, snapshotEvery: Int = 5_000) {
        self.log = log
        self.projection = projection
        self.snapshotEvery = max(1, snapshotEvery)
    }

    /// What a fold did.
    public struct Fold: Sendable {
        public var state: P.State
        /// The state covers the log through this seq.
        public var through: UInt64
        /// The snapshot it started from (nil: from the first event).
        public var fromSnapshot: UInt64?
        /// Events folded after the snapshot.
        public var folded: Int
        /// Snapshots written on the way.
        public var snapshotsWritten: Int
        /// Why the newest snapshot was not used (it did not decode), when it was not.
        public var rejectedSnapshot: String? = nil
    }

    /// The state as of `seq` (inclusive): the nearest snapshot at or before it, then the events
    /// after it. With `useSnapshots` false, folds from the first event.
    public func state(at seq: UInt64, useSnapshots: Bool = true) throws -> Fold {
        var state = projection.initial
        var from: UInt64 = 1
        var snap: UInt64?
        var rejected: String?
        if useSnapshots {
            // A snapshot is a cache: one that does not read (decompress, decode) is passed over and
            // the log folded instead.
            do {
                if let (info, value) = try log.snapshot(projection.name, atOrBefore: seq, version: projection.version) {
                    do {
                        state = try projection.decode(value)
                        from = info.seq + 1
                        snap = info.seq
                    } catch {
                        rejected = "the \(projection.name) snapshot at seq \(info.seq) does not decode (\(error)); folded from the log instead"
                    }
                }
            } catch {
                rejected = "the newest \(projection.name) snapshot at or before seq \(seq) does not read (\(error)); folded from the log instead"
            }
        }
        var folded = 0
        try forEachEvent(from: from, through: seq) { e in
            projection.evolve(&state, e)
            folded += 1
        }
        return Fold(state: state, through: seq, fromSnapshot: snap, folded: folded, snapshotsWritten: 0, rejectedSnapshot: rejected)
    }

    /// The state as of `time`: as of the last event recorded at or before it.
    public func state(asOf time: Date, useSnapshots: Bool = true) throws -> Fold {
        try state(at: try log.lastSeq(recordedAtOrBefore: time), useSnapshots: useSnapshots)
    }

    /// The current state: from the newest snapshot through the head; on a writable log, takes a
    /// snapshot (and moves the checkpoint) when enough events were folded since the last one.
    public func current() throws -> Fold {
        let head = try log.lastSeq()
        var fold = try state(at: head)
        if !log.isReadOnly, fold.folded >= snapshotEvery {
            try writeSnapshot(fold.state, at: head)
            fold.snapshotsWritten = 1
        }
        return fold
    }

    /// Deletes the projection's snapshots and folds the whole log again from seq 1, taking a
    /// snapshot every `snapshotEvery` folded events and one at the end.
    public func rebuild() throws -> Fold {
        try log.deleteSnapshots(projection.name)
        try log.setCheckpoint(checkpointName, to: 0)
        let head = try log.lastSeq()
        var state = projection.initial
        var folded = 0, sinceSnapshot = 0, written = 0
        var lastSnapshot: UInt64 = 0
        try forEachEvent(from: 1, through: head) { e in
            projection.evolve(&state, e)
            folded += 1
            sinceSnapshot += 1
            if sinceSnapshot >= snapshotEvery {
                try writeSnapshot(state, at: e.seq)
                sinceSnapshot = 0
                lastSnapshot = e.seq
                written += 1
            }
        }
        // The last snapshot covers the whole log read (events after the last folded one are of
        // other types), so the checkpoint ends at the head.
        if head > 0 && lastSnapshot != head {
            try writeSnapshot(state, at: head)
            written += 1
        }
        return Fold(state: state, through: head, fromSnapshot: nil, folded: folded, snapshotsWritten: written)
    }

    /// Stores a snapshot at `seq` and moves the checkpoint to it.
    public func writeSnapshot(_ state: P.State, at seq: UInt64) throws {
        try log.writeSnapshot(projection.name, seq: seq, version: projection.version, state: projection.encode(state),
                              checkpoint: checkpointName)
    }

    /// Follows the log from `fold`, calling `body` with the state after each folded event until
    /// `body` returns false or the task is cancelled; snapshots as it goes on a writable log.
    public func follow(from fold: Fold, _ body: (P.State, RecordedEvent) async throws -> Bool) async throws {
        var state = fold.state
        var sinceSnapshot = 0
        let filter = projection.eventTypes.flatMap { $0.count == 1 ? EventFilter(type: $0.first!) : nil } ?? .all
        for try await e in log.subscribe(after: fold.through, filter: filter) {
            if let types = projection.eventTypes, !types.contains(e.type) { continue }
            projection.evolve(&state, e)
            sinceSnapshot += 1
            if !log.isReadOnly && sinceSnapshot >= snapshotEvery {
                try writeSnapshot(state, at: e.seq)
                sinceSnapshot = 0
            }
            if try await !body(state, e) { return }
        }
    }

    /// Calls `body` for each event of the projection's types from `from` through `through`, in
    /// seq order: through the type index when the projection names its types, else by a full
    /// scan (see `EventLog.forEachEvent(ofTypes:from:through:prepare:_:)`).
    public func forEachEvent(from: UInt64, through: UInt64, _ body: (RecordedEvent) throws -> Void) throws {
        guard from <= through else { return }
        guard let types = projection.eventTypes else {
            try log.scan(from: from, through: through) { e in try body(e); return true }
            return
        }
        try log.forEachEvent(ofTypes: types, from: from, through: through, prepare: { _ in () }) { e, _ in try body(e) }
    }
}

extension EventLog {
    /// Calls `body` for each event of `types` from `from` through `through`, in seq order, with
    /// what `prepare` made of it: through the type index, window by window (2^16 seqs), each
    /// window's parts read, decoded and prepared on all cores, then handed over in order. (The
    /// engine's first start decodes its run events in `prepare`.)
    public func forEachEvent<T: Sendable>(ofTypes types: Set<String>, from: UInt64, through: UInt64, prepare: @escaping @Sendable (RecordedEvent) -> T,
                                          _ body: (RecordedEvent, T) throws -> Void) throws {
        guard from <= through else { return }
        let sorted = types.sorted()
        let log = self
        let window: UInt64 = 1 << 16
        let workers = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
        var start = from
        while start <= through {
            let end = through - start < window ? through : start + window - 1
            let span = end - start + 1
            let parts = span < 4_096 ? 1 : workers
            let results = ResultSlots<[(RecordedEvent, T)]>(count: parts)
            let first = start
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                let a = first + span * UInt64(p) / UInt64(parts)
                let b = first + span * UInt64(p + 1) / UInt64(parts) - 1
                results.set(p, Result {
                    var batch: [RecordedEvent] = []
                    for t in sorted {
                        try log.scan(from: a, through: b, filter: EventFilter(type: t)) { e in batch.append(e); return true }
                    }
                    if sorted.count > 1 { batch.sort { $0.seq < $1.seq } }
                    return batch.map { ($0, prepare($0)) }
                })
            }
            for p in 0 ..< parts {
                for (e, x) in try results.get(p) { try body(e, x) }
            }
            if end == through { break }
            start = end + 1
        }
    }
}

/// One result slot per worker of a parallel read: each slot is written by one worker and read
/// after all workers finished.
struct ResultSlots<T: Sendable>: Sendable {
    private let slots: Locked<[Result<T, any Error>?]>
    init(count: Int) { slots = Locked(Array(repeating: nil, count: count)) }
    func set(_ i: Int, _ r: Result<T, any Error>) { slots.withLock { $0[i] = r } }
    func get(_ i: Int) throws -> T {
        guard let r = slots.withLock({ $0[i] }) else { preconditionFailure("result slot \(i) read before its worker finished") }
        return try r.get()
    }
}
