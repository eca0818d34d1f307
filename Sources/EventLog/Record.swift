import Crypto
import Foundation

/// How a payload is stored.
enum PayloadEncoding: UInt8 {
    /// The canonical bytes, uncompressed.
    case raw = 0
    /// One magicless zstd frame, no dictionary.
    case zstd = 1
    /// One magicless zstd frame, compressed with the dictionary named in the header.
    case zstdDictionary = 2
}

/// The stored record of one event (the value under its seq in the `events` database).
///
/// Layout, format 1:
/// ```
/// u8      flags: bits 0-1 payload encoding (0 raw, 1 zstd, 2 zstd + dictionary)
/// varint  dictionary id                    (only when encoding = 2)
/// varint  type id                          (names table)
/// varint  schema version
/// varint  stream id                        (names table)
/// varint  stream version
/// varint  seq - causation, or 0 when there is no causation
/// varint  seq - correlation
/// varint  actor id                         (names table)
/// zigzag  recordedAt, µs since 2020-01-01T00:00:00Z
/// u32 BE  fingerprint: the first 4 bytes of this event's chain hash
/// ...     payload (canonical value bytes, or a zstd frame of them)
/// ```
struct RecordHeader {
    var encoding: PayloadEncoding
    var dictionaryID: UInt32
    var typeID: UInt32
    var schemaVersion: UInt32
    var streamID: UInt32
    var streamVersion: UInt64
    var causation: UInt64?      // absolute seq
    var correlation: UInt64     // absolute seq
    var actorID: UInt32
    var recordedAtMicros: Int64 // since 1970
    var fingerprint: UInt32

    /// Microseconds between 1970-01-01 and 2020-01-01, the epoch of stored times.
    static let epochOffsetMicros: Int64 = 1_577_836_800_000_000

    func encode(seq: UInt64, into w: inout ByteWriter) {
        w.byte(encoding.rawValue)
        if encoding == .zstdDictionary { w.varint(UInt64(dictionaryID)) }
        w.varint(UInt64(typeID))
        w.varint(UInt64(schemaVersion))
        w.varint(UInt64(streamID))
        w.varint(streamVersion)
        w.varint(causation.map { seq - $0 } ?? 0)
        w.varint(seq - correlation)
        w.varint(UInt64(actorID))
        w.zigzag(recordedAtMicros - RecordHeader.epochOffsetMicros)
        w.u32be(fingerprint)
    }

    /// Decodes the header; `reader` is left at the first payload byte.
    static func decode(seq: UInt64, from r: inout ByteReader) throws(DecodeError) -> RecordHeader {
        let flags = try r.byte()
        guard let enc = PayloadEncoding(rawValue: flags & 0x3), flags & ~0x3 == 0 else {
            throw DecodeError.malformed("unknown record flags \(flags)")
        }
        let dict = enc == .zstdDictionary ? UInt32(truncatingIfNeeded: try r.varint()) : 0
        let typeID = UInt32(truncatingIfNeeded: try r.varint())
        let schema = UInt32(truncatingIfNeeded: try r.varint())
        let streamID = UInt32(truncatingIfNeeded: try r.varint())
        let version = try r.varint()
        let causationDelta = try r.varint()
        let correlationDelta = try r.varint()
        let actorID = UInt32(truncatingIfNeeded: try r.varint())
        let at = try r.zigzag() + RecordHeader.epochOffsetMicros
        let fp = try r.u32be()
        guard causationDelta <= seq, correlationDelta < seq else {
            throw DecodeError.malformed("causal links point before seq 1")
        }
        return RecordHeader(encoding: enc, dictionaryID: dict, typeID: typeID, schemaVersion: schema, streamID: streamID,
                            streamVersion: version, causation: causationDelta == 0 ? nil : seq - causationDelta,
                            correlation: seq - correlationDelta, actorID: actorID, recordedAtMicros: at, fingerprint: fp)
    }
}

/// The hash chain: hash(n) = SHA-256(hash(n-1) ‖ canonical(n)), hash(0) = 32 zero bytes.
///
/// canonical(n), format 1 (big-endian integers, strings as u32 length + UTF-8):
/// ```
/// u8 1 · u64 seq · i64 recordedAt µs since 1970 · u64 stream version · u32 schema version ·
/// u64 causation (0: none) · u64 correlation · str stream · str type · str actor · u32 payload
/// length · payload (canonical value bytes, uncompressed)
/// ```
/// Names are hashed as text, not as table ids, so the names tables are covered too.
enum Chain {
    /// Every event whose seq is a multiple of this has its full hash stored in `chain`.
    static let checkpointInterval: UInt64 = 64

    static func canonicalHeader(seq: UInt64, recordedAtMicros: Int64, streamVersion: UInt64, schemaVersion: UInt32,
                                causation: UInt64?, correlation: UInt64, stream: String, type: String, actor: String,
                                payloadCount: Int, into w: inout ByteWriter) {
        w.byte(1)
        w.u64be(seq)
        w.u64be(UInt64(bitPattern: recordedAtMicros))
        w.u64be(streamVersion)
        w.u32be(schemaVersion)
        w.u64be(causation ?? 0)
        w.u64be(correlation)
        w.lengthPrefixed(stream)
        w.lengthPrefixed(type)
        w.lengthPrefixed(actor)
        w.u32be(UInt32(payloadCount))
    }

    /// SHA-256(previous ‖ header ‖ payload).
    @inline(__always)
    static func next(previous: ChainHash, header: [UInt8], payload: UnsafeRawBufferPointer) -> ChainHash {
        var h = SHA256()
        previous.bytes.withUnsafeBytes { h.update(bufferPointer: $0) }
        header.withUnsafeBytes { h.update(bufferPointer: $0) }
        h.update(bufferPointer: payload)
        return ChainHash(bytes: Array(h.finalize()))
    }
}
