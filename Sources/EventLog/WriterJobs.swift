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
