import Domain
import Crypto
import Foundation

/// How a payload is stored.
enum PayloadEncoding: UInt8 {
    /// The canonical bytes, uncompressed.
    case raw = 0
    /// One magicless zstd frame (payloads over 128 KiB).
    case frame = 1
    /// One bare zstd block, no frame header (payloads up to 128 KiB).
    case block = 2
}

/// The stored record of one event (the value under its seq in the `events` database).
///
/// Layout, format 1:
/// ```
/// u8      flags: bits 0-1 payload encoding (0 raw, 1 zstd frame, 2 zstd block),
///                bit 2 compressed with a dictionary, bit 3 schema version is not 1,
///                bit 4 has a causation; bits 5-7 zero
/// varint  dictionary id                    (bit 2)
/// varint  type id                          (names table)
/// varint  schema version                   (bit 3; otherwise 1)
/// varint  stream id                        (names table)
/// varint  stream version
/// varint  seq - causation                  (bit 4)
/// zigzag  causation - correlation          (bit 4), or seq - correlation
/// varint  actor id                         (names table)
/// zigzag  recordedAt, µs since 2020-01-01T00:00:00Z
/// u32 BE  fingerprint: the first 4 bytes of this event's chain hash
/// ...     payload: canonical value bytes, or zstd of them
/// ```
struct RecordHeader {
    var encoding: PayloadEncoding
    var dictionaryID: UInt32    // 0: none
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
    static let hasDictionary: UInt8 = 1 << 2, schemaNotOne: UInt8 = 1 << 3, hasCausation: UInt8 = 1 << 4

    func encode(seq: UInt64, into w: inout ByteWriter) {
        var flags = encoding.rawValue
        if dictionaryID != 0 { flags |= RecordHeader.hasDictionary }
        if schemaVersion != 1 { flags |= RecordHeader.schemaNotOne }
        if causation != nil { flags |= RecordHeader.hasCausation }
        w.byte(flags)
        if dictionaryID != 0 { w.varint(UInt64(dictionaryID)) }
        w.varint(UInt64(typeID))
        if schemaVersion != 1 { w.varint(UInt64(schemaVersion)) }
        w.varint(UInt64(streamID))
        w.varint(streamVersion)
        if let causation {
            w.varint(seq - causation)
            w.zigzag(Int64(bitPattern: causation &- correlation))
        } else {
            w.zigzag(Int64(bitPattern: seq &- correlation))
        }
        w.varint(UInt64(actorID))
        w.zigzag(recordedAtMicros - RecordHeader.epochOffsetMicros)
        w.u32be(fingerprint)
    }

    /// Decodes the header of event `seq`; a failure is an `EventLogError` naming the seq.
    @inline(__always)
    static func read(seq: UInt64, from r: inout ByteReader) throws -> RecordHeader {
        do {
            return try decode(seq: seq, from: &r)
        } catch {
            throw EventLogError(.corrupt, "event \(seq) cannot be decoded: \(error)")
        }
    }

    /// Decodes the header; `reader` is left at the first payload byte.
    static func decode(seq: UInt64, from r: inout ByteReader) throws(DecodeError) -> RecordHeader {
        let flags = try r.byte()
        guard let enc = PayloadEncoding(rawValue: flags & 0x3), flags & 0xE0 == 0 else {
            throw DecodeError.malformed("unknown record flags \(flags)")
        }
        let dict = flags & hasDictionary != 0 ? UInt32(truncatingIfNeeded: try r.varint()) : 0
        let typeID = UInt32(truncatingIfNeeded: try r.varint())
        let schema = flags & schemaNotOne != 0 ? UInt32(truncatingIfNeeded: try r.varint()) : 1
        let streamID = UInt32(truncatingIfNeeded: try r.varint())
        let version = try r.varint()
        var causation: UInt64?
        let correlation: UInt64
        if flags & hasCausation != 0 {
            let delta = try r.varint()
            guard delta > 0, delta < seq else { throw DecodeError.malformed("the causation points outside the log") }
            causation = seq - delta
            correlation = causation! &- UInt64(bitPattern: try r.zigzag())
        } else {
            correlation = seq &- UInt64(bitPattern: try r.zigzag())
        }
        guard correlation >= 1, correlation <= seq else { throw DecodeError.malformed("the correlation points outside the log") }
        let actorID = UInt32(truncatingIfNeeded: try r.varint())
        let at = try r.zigzag() + RecordHeader.epochOffsetMicros
        let fp = try r.u32be()
        return RecordHeader(encoding: enc, dictionaryID: dict, typeID: typeID, schemaVersion: schema, streamID: streamID,
                            streamVersion: version, causation: causation, correlation: correlation, actorID: actorID,
                            recordedAtMicros: at, fingerprint: fp)
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
        previous.withUnsafeBytes { h.update(bufferPointer: $0) }
        header.withUnsafeBytes { h.update(bufferPointer: $0) }
        h.update(bufferPointer: payload)
        return h.finalize().withUnsafeBytes { ChainHash(raw: $0) }
    }
}
