import Domain
import Foundation
import Zstd

extension EventLog {
    /// Appends `events` to `stream` atomically and durably; returns once they are committed.
    ///
    /// - Parameters:
    ///   - expectedVersion: where the stream must be; otherwise `WrongExpectedVersion` is thrown and
    ///     nothing is written.
    ///   - actor: who or what appends (stored with each event).
    ///   - checkpoint: a named checkpoint moved in the same transaction (exactly-once handlers).
    @discardableResult
    public func append(_ events: [NewEvent], to stream: String, expectedVersion: ExpectedVersion = .any,
                       actor: String = "system", checkpoint: CheckpointUpdate? = nil) throws -> AppendResult {
        try append([StreamAppend(stream: stream, expectedVersion: expectedVersion, events: events)], actor: actor, checkpoint: checkpoint)
    }

    /// Appends to several streams in one transaction: all of it is written, or none.
    ///
    /// - Parameter correlation: `.shared` makes every event without an explicit correlation or
    ///   causation take the first event's correlation, across streams (one causal tree for the
    ///   whole append, e.g. the definitions of one `apply`); `.perStream` (the default) starts a
    ///   tree at each stream's first such event.
    @discardableResult
    public func append(_ streams: [StreamAppend], actor: String = "system", checkpoint: CheckpointUpdate? = nil,
                       correlation: AppendCorrelation = .perStream) throws -> AppendResult {
        try append(streams, actor: actor, checkpoints: checkpoint.map { [$0] } ?? [], correlation: correlation)
    }

    /// Appends to several streams and moves several checkpoints, all in one transaction (several
    /// exactly-once handlers whose reactions are committed together). A checkpoint whose
    /// `expected` does not hold refuses the whole append.
    @discardableResult
    public func append(_ streams: [StreamAppend], actor: String = "system", checkpoints: [CheckpointUpdate],
                       correlation: AppendCorrelation = .perStream) throws -> AppendResult {
        let job = try makeJob(streams, actor: actor, checkpoints: checkpoints)
        let done = DispatchSemaphore(value: 0)
        let box = Locked<Result<AppendResult, any Error>?>(nil)
        try submit(job.streams, actor: actor, checkpoints: checkpoints, shared: correlation == .shared) { result in
            box.withLock { $0 = result }
            done.signal()
        }
        job.prepareRemaining()
        done.wait()
        return try box.withLock { $0! }.get()
    }

    /// Appends `events` to `stream`; suspends (without blocking a thread) until committed.
    @discardableResult
    public func append(_ events: [NewEvent], to stream: String, expectedVersion: ExpectedVersion = .any,
                       actor: String = "system", checkpoint: CheckpointUpdate? = nil) async throws -> AppendResult {
        try await append([StreamAppend(stream: stream, expectedVersion: expectedVersion, events: events)], actor: actor, checkpoint: checkpoint)
    }

    /// Appends to several streams in one transaction; suspends until committed.
    @discardableResult
    public func append(_ streams: [StreamAppend], actor: String = "system", checkpoint: CheckpointUpdate? = nil,
                       correlation: AppendCorrelation = .perStream) async throws -> AppendResult {
        let checkpoints = checkpoint.map { [$0] } ?? []
        let job = try makeJob(streams, actor: actor, checkpoints: checkpoints)
        return try await withCheckedThrowingContinuation { continuation in
            do {
                try submit(job.streams, actor: actor, checkpoints: checkpoints, shared: correlation == .shared) { continuation.resume(with: $0) }
                job.prepareRemaining()
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// Moves a named checkpoint without appending events. With `expected`, fails with
    /// `CheckpointConflict` unless the checkpoint is at that value.
    public func setCheckpoint(_ name: String, to seq: UInt64, expected: UInt64? = nil) throws {
        try append([], actor: "system", checkpoint: CheckpointUpdate(name: name, expected: expected, seq: seq))
    }

    private func submit(_ streams: [PreparedStream], actor: String, checkpoints: [CheckpointUpdate], shared: Bool = false,
                        completion: @escaping @Sendable (Result<AppendResult, any Error>) -> Void) throws {
        guard let writer else {
            throw EventLogError(.readOnly, "the store at \(path) was opened read-only; nothing was written")
        }
        writer.submit(AppendJob(streams: streams, checkpoints: checkpoints, actor: actor, sharedCorrelation: shared, completion: completion))
    }

    /// An append ready for the writer; large ones still have payload chunks to prepare.
    private struct Job {
        let streams: [PreparedStream]
        let pending: [(stream: String, events: PreparedEvents, chunk: Int)]
        let core: StoreCore
        let dictionary: CompressionDictionary?

        /// Prepares the chunks not prepared yet, in order, on this thread and the pool's (the writer
        /// consumes them as they are filled).
        func prepareRemaining() {
            guard !pending.isEmpty else { return }
            let pending = self.pending, core = self.core, dictionary = self.dictionary
            DispatchQueue.concurrentPerform(iterations: pending.count) { i in
                let (stream, events, c) = pending[i]
                do {
                    let prepared = try core.compressors.with { comp in
                        try PayloadPreparer.prepare(events.sourceChunk(c), stream: stream, compressor: comp, dictionary: dictionary)
                    }
                    events.fill(c, prepared)
                } catch {
                    events.fail(error)
                }
            }
        }
    }

    /// Chunk size of payload preparation.
    static let preparationChunk = 1024

    /// Validates an append on the caller's thread and prepares small ones at once; large ones are
    /// prepared by `Job.prepareRemaining` after they have been handed to the writer.
    private func makeJob(_ streams: [StreamAppend], actor: String, checkpoints: [CheckpointUpdate]) throws -> Job {
        guard writer != nil else {
            throw EventLogError(.readOnly, "the store at \(path) was opened read-only; nothing was written")
        }
        guard !actor.isEmpty else { throw EventLogError(.invalidArgument, "an append needs an actor (who or what appends)") }
        if checkpoints.contains(where: { $0.name.isEmpty }) { throw EventLogError(.invalidArgument, "a checkpoint needs a name") }
        var prepared: [PreparedStream] = []
        prepared.reserveCapacity(streams.count)
        var pending: [(stream: String, events: PreparedEvents, chunk: Int)] = []
        let dictionary = core.dictionaries.currentDictionary()
        let total = streams.reduce(0) { $0 + $1.events.count }
        for part in streams {
            guard !part.stream.isEmpty else { throw EventLogError(.invalidArgument, "an event stream needs a name") }
            for e in part.events where e.type.isEmpty {
                throw EventLogError(.invalidArgument, "an event appended to \(part.stream) has no type")
            }
            let events = PreparedEvents(source: part.events, chunkSize: EventLog.preparationChunk)
            if total <= EventLog.preparationChunk {
                if events.chunkCount > 0 {
                    events.fill(0, try core.compressors.with { c in try PayloadPreparer.prepare(part.events[...], stream: part.stream, compressor: c, dictionary: dictionary) })
                }
            } else {
                for c in 0 ..< events.chunkCount { pending.append((part.stream, events, c)) }
            }
            prepared.append(PreparedStream(stream: part.stream, expected: part.expectedVersion, events: events))
        }
        return Job(streams: prepared, pending: pending, core: core, dictionary: dictionary)
    }
}

extension EventLog {
    /// The largest payload an event may have: 16 MiB of canonical bytes (`ValueCodec`). Larger
    /// appends are refused whole. Events are metadata (a dataset's rows, a model's weights belong
    /// in files the events point at); the bound keeps one record a bounded run of LMDB overflow
    /// pages and one read's decompression buffer bounded.
    public static let maxPayloadBytes = 16 << 20
}

/// Encodes payloads to canonical bytes and compresses them, all into two shared buffers.
enum PayloadPreparer {
    /// Payloads shorter than this are stored raw: a zstd frame would not be smaller.
    static let minimumCompressible = 24

    /// Refuses a payload whose canonical bytes exceed `EventLog.maxPayloadBytes` (the whole append
    /// then writes nothing).
    static func prepare(_ events: ArraySlice<NewEvent>, stream: String, compressor: Compressor,
                        dictionary: CompressionDictionary?) throws -> [PreparedEvent] {
        var canonical = ByteWriter(capacity: events.count * 96)
        var bounds: [Range<Int>] = []
        bounds.reserveCapacity(events.count)
        for e in events {
            let start = canonical.count
            ValueCodec.encode(e.payload, into: &canonical)
            if canonical.count - start > EventLog.maxPayloadBytes {
                throw EventLogError(.invalidArgument, "a \(e.type) event for stream \(stream) has a payload of \(canonical.count - start) bytes, over the limit of \(EventLog.maxPayloadBytes) bytes (16 MiB); nothing was written: keep large data in a dataset or artifact and put its reference in the event")
            }
            bounds.append(start ..< canonical.count)
        }
        let canonicalBytes = canonical.bytes
        var stored = [UInt8]()
        stored.reserveCapacity(canonicalBytes.count + 64)
        var storedBounds: [(Range<Int>, PayloadEncoding)] = []
        storedBounds.reserveCapacity(events.count)
        try canonicalBytes.withUnsafeBytes { all in
            for r in bounds {
                let src = UnsafeRawBufferPointer(rebasing: all[r])
                let start = stored.count
                if src.count >= minimumCompressible {
                    // A bare block up to the block size of these parameters (with a dictionary
                    // often 32 KiB, not 128: zstd refuses a larger block), a frame beyond.
                    let block = src.count <= compressor.blockLimit(dictionary: dictionary)
                    let bound = Compressor.bound(src.count)
                    stored.append(contentsOf: repeatElement(0, count: bound))
                    let n = try stored.withUnsafeMutableBytes { dst in
                        let out = UnsafeMutableRawBufferPointer(rebasing: dst[start ..< start + bound])
                        return block ? try compressor.compressBlock(src, into: out, dictionary: dictionary)
                                     : try compressor.compress(src, into: out, dictionary: dictionary)
                    }
                    if n > 0 && n < src.count {
                        stored.removeLast(bound - n)
                        storedBounds.append((start ..< start + n, block ? .block : .frame))
                        continue
                    }
                    stored.removeLast(bound)
                }
                stored.append(contentsOf: src)
                storedBounds.append((start ..< stored.count, .raw))
            }
        }
        var out: [PreparedEvent] = []
        out.reserveCapacity(events.count)
        for (i, e) in events.enumerated() {
            let (r, enc) = storedBounds[i]
            out.append(PreparedEvent(type: e.type, schemaVersion: e.schemaVersion, causation: e.causation, correlation: e.correlation,
                                     encoding: enc, dictionaryID: enc == .raw ? 0 : dictionary?.id ?? 0,
                                     canonical: canonicalBytes[bounds[i]], stored: stored[r]))
        }
        return out
    }
}
