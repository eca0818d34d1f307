import Foundation

/// An event to append: its type, schema version, payload and causal links.
public struct NewEvent: Sendable, Hashable {
    /// The event type, a stored identifier (never rename one that has shipped).
    public var type: String
    /// The payload's schema version (1 unless the type has been revised).
    public var schemaVersion: UInt32
    /// The payload.
    public var payload: Value
    /// The seq of the event that caused this one, if any.
    public var causation: UInt64?
    /// The seq of the root of this event's causal tree. When nil: the causation's correlation if a
    /// causation is given, else the previous event's in the same stream of the same append, else the
    /// event's own seq (a root).
    public var correlation: UInt64?

    /// Creates an event to append.
    public init(type: String, schemaVersion: UInt32 = 1, payload: Value, causation: UInt64? = nil, correlation: UInt64? = nil) {
        self.type = type
        self.schemaVersion = schemaVersion
        self.payload = payload
        self.causation = causation
        self.correlation = correlation
    }
}

/// An event as recorded in the log, with its full envelope.
public struct RecordedEvent: Sendable, Hashable {
    /// Global position: dense, from 1.
    public let seq: UInt64
    /// When the log recorded it, in microseconds since 1970-01-01 UTC (never decreases along seq).
    public let recordedAtMicros: Int64
    /// The stream it belongs to.
    public let stream: String
    /// Its version within the stream: dense, from 1.
    public let streamVersion: UInt64
    /// The event type.
    public let type: String
    /// The schema version of `payload` (after upcasting, the current one).
    public let schemaVersion: UInt32
    /// The schema version the event was written with.
    public let storedSchemaVersion: UInt32
    /// The seq of the event that caused it, if any.
    public let causation: UInt64?
    /// The seq of the root of its causal tree.
    public let correlation: UInt64
    /// Who or what appended it.
    public let actor: String
    /// The payload (upcast to the current schema version).
    public let payload: Value
    /// The id of the compression dictionary its payload was written with (0: none).
    public let dictionaryID: UInt32
    /// Its chain hash, when it was read with hashes (`ReadOptions.hashes`).
    public package(set) var hash: ChainHash?

    /// `recordedAtMicros` as a `Date`.
    public var recordedAt: Date { Date(timeIntervalSince1970: Double(recordedAtMicros) / 1_000_000) }

    /// An event with every envelope field given: for pure tests of projections and deciders
    /// (given these recorded events …) without a store.
    public init(seq: UInt64, recordedAtMicros: Int64, stream: String, streamVersion: UInt64, type: String,
                schemaVersion: UInt32 = 1, storedSchemaVersion: UInt32? = nil, causation: UInt64? = nil,
                correlation: UInt64? = nil, actor: String = "test", payload: Value, dictionaryID: UInt32 = 0, hash: ChainHash? = nil) {
        self.seq = seq
        self.recordedAtMicros = recordedAtMicros
        self.stream = stream
        self.streamVersion = streamVersion
        self.type = type
        self.schemaVersion = schemaVersion
        self.storedSchemaVersion = storedSchemaVersion ?? schemaVersion
        self.causation = causation
        self.correlation = correlation ?? seq
        self.actor = actor
        self.payload = payload
        self.dictionaryID = dictionaryID
        self.hash = hash
    }
}

/// Where a stream must be for an append to go ahead (optimistic concurrency).
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// No check.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream must exist.
    case exists
    /// The stream must be at exactly this version (0 means it must not exist).
    case exact(UInt64)

    public var description: String {
        switch self {
        case .any: return "any"
        case .noStream: return "no stream"
        case .exists: return "an existing stream"
        case .exact(let v): return "version \(v)"
        }
    }

    package func admits(_ current: UInt64) -> Bool {
        switch self {
        case .any: return true
        case .noStream: return current == 0
        case .exists: return current > 0
        case .exact(let v): return current == v
        }
    }
}

/// Events for one stream, with the version the stream must be at.
public struct StreamAppend: Sendable {
    public var stream: String
    public var expectedVersion: ExpectedVersion
    public var events: [NewEvent]
    /// Creates a stream append.
    public init(stream: String, expectedVersion: ExpectedVersion = .any, events: [NewEvent]) {
        self.stream = stream
        self.expectedVersion = expectedVersion
        self.events = events
    }
}

/// How an append assigns default correlations (see `EventLog.append(_:actor:checkpoint:correlation:)`).
public enum AppendCorrelation: Sendable, Hashable {
    /// Each stream's first event without a correlation or causation is a root.
    case perStream
    /// The whole append is one causal tree rooted at its first such event.
    case shared
}

/// Moves a named checkpoint in the same transaction as an append (the exactly-once contract).
public struct CheckpointUpdate: Sendable, Hashable {
    /// The checkpoint's name (a stored identifier).
    public var name: String
    /// The value the checkpoint must have now; nil skips the check.
    public var expected: UInt64?
    /// The new value.
    public var seq: UInt64
    /// Creates a checkpoint update.
    public init(name: String, expected: UInt64?, seq: UInt64) {
        self.name = name
        self.expected = expected
        self.seq = seq
    }
}

/// A SHA-256 chain hash (32 bytes, held inline: no allocation per event).
public struct ChainHash: Sendable, Hashable, CustomStringConvertible {
    /// The 32 bytes as four big-endian words.
    package let w0, w1, w2, w3: UInt64

    /// The hash before the first event: 32 zero bytes.
    public static let genesis = ChainHash(w0: 0, w1: 0, w2: 0, w3: 0)

    package init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    /// Wraps 32 bytes.
    public init(bytes: [UInt8]) {
        precondition(bytes.count == 32, "a chain hash has 32 bytes")
        self = bytes.withUnsafeBytes { ChainHash(raw: $0) }
    }

    /// Reads 32 bytes.
    package init(raw: UnsafeRawBufferPointer) {
        w0 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// Calls `body` with the 32 bytes.
    @inline(__always)
    public func withUnsafeBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        var words = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)
        return try Swift.withUnsafeBytes(of: &words) { try body($0) }
    }

    /// The 32 bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Parses 64 hex digits.
    public init?(hex: String) {
        let chars = Array(hex.utf8)
        guard chars.count == 64 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(32)
        var i = 0
        while i < 64 {
            guard let hi = ChainHash.nibble(chars[i]), let lo = ChainHash.nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        self.init(bytes: out)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0") ... UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a") ... UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A") ... UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Lower-case hex.
    public var hex: String { Hex.lowercase(bytes) }

    public var description: String { hex }

    /// The first 4 bytes, as stored in each record to locate tampering.
    package var fingerprint: UInt32 { UInt32(truncatingIfNeeded: w0 >> 32) }
}
