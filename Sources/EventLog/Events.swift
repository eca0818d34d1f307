import Domain
import Foundation
import LMDB

/// What an append wrote.
public struct AppendResult: Sendable, Hashable {
    /// Seq of the first event written (nil when the append held no events).
    public let firstSeq: UInt64?
    /// Seq of the last event written (nil when the append held no events).
    public let lastSeq: UInt64?
    /// The version of each stream after the append.
    public let streamVersions: [String: UInt64]
    /// The recorded-at time shared by the events of this append, µs since 1970.
    public let recordedAtMicros: Int64
}

/// The append was refused because a stream was not at the expected version; nothing was written.
public struct WrongExpectedVersion: Error, Sendable, Hashable, CustomStringConvertible {
    public let stream: String
    public let expected: ExpectedVersion
    /// The stream's actual version (0: it does not exist).
    public let actual: UInt64
    public var description: String {
        "stream '\(stream)' is at version \(actual), but the append expected \(expected); nothing was written: read the stream again and retry"
    }
}

/// The append was refused because a checkpoint had moved; nothing was written.
public struct CheckpointConflict: Error, Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let expected: UInt64
    public let actual: UInt64
    public var description: String {
        "checkpoint '\(name)' is at \(actual), but the append expected \(expected); nothing was written (another instance of this handler is running?)"
    }
}

/// A failure of the event log, with what went wrong and what to do.
public struct EventLogError: Error, Sendable, CustomStringConvertible {
    /// The broad kind of failure.
    public enum Kind: Sendable { case noStore, storeExists, readOnly, invalidArgument, corrupt, incompatible, io }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}

extension EventLogError {
    /// A storage failure as the log reports it: LMDB's code and name, what it was doing and what
    /// to do about it (`LMDBError`'s description carries that advice). Nothing above the log sees
    /// `LMDBError` itself.
    init(_ e: LMDBError) {
        let kind: Kind
        switch e {
        case .noSuchFile: kind = .noStore
        case .accessDenied: kind = .readOnly
        case .incompatible: kind = .incompatible
        default: kind = [LMDBError.corrupted, .pageNotFound, .invalid, .panic].contains(e) ? .corrupt : .io
        }
        self.init(kind, "\(e)")
    }

    /// `error` as the log reports it: an `LMDBError` wrapped, anything else as it is.
    static func wrapping(_ error: any Error) -> any Error {
        if let t = error as? LMDBTruncatedFile { return EventLogError(.corrupt, t.description) }
        return (error as? LMDBError).map { EventLogError($0) } ?? error
    }
}

extension StoreCore {
    /// A read transaction whose storage failures come out as `EventLogError`.
    func read<T>(_ body: (Transaction) throws -> T) throws -> T {
        do {
            return try mapGate.shared {
                defer { resident.touched(1, env) }
                return try env.read(body)
            }
        } catch let e as LMDBError { throw EventLogError(e) }
    }
}
