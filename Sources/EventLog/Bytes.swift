/// An append-only byte buffer with LEB128 varints and fixed-width big-endian integers.
struct ByteWriter {
    var bytes: [UInt8]

    init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inline(__always) mutating func reset() { bytes.removeAll(keepingCapacity: true) }
    @inline(__always) var count: Int { bytes.count }

    @inline(__always) mutating func byte(_ b: UInt8) { bytes.append(b) }

    @inline(__always) mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inline(__always) mutating func zigzag(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    @inline(__always) mutating func u64be(_ value: UInt64) {
        var shift: UInt64 = 56
        while true {
            bytes.append(UInt8(truncatingIfNeeded: value >> shift))
            if shift == 0 { return }
            shift -= 8
        }
    }

    @inline(__always) mutating func u32be(_ value: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 24))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    @inline(__always) mutating func u64le(_ value: UInt64) {
        var v = value
        for _ in 0 ..< 8 {
            bytes.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    @inline(__always) mutating func append(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count))
    }
    @inline(__always) mutating func append(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }
    @inline(__always) mutating func append(_ raw: ArraySlice<UInt8>) { bytes.append(contentsOf: raw) }

    /// Length-prefixed (u32 big-endian) UTF-8, as the canonical header uses.
    @inline(__always) mutating func lengthPrefixed(_ s: String) {
        var s = s
        s.withUTF8 { u in
            u32be(UInt32(u.count))
            bytes.append(contentsOf: u)
        }
    }
}

/// A cursor over bytes that throws `DecodeError` instead of reading past the end.
struct ByteReader {
    let base: UnsafeRawBufferPointer
    var position = 0

    init(_ base: UnsafeRawBufferPointer) { self.base = base }

    @inline(__always) var remaining: Int { base.count - position }
    @inline(__always) var isAtEnd: Bool { position >= base.count }

    @inline(__always) mutating func byte() throws(DecodeError) -> UInt8 {
        guard position < base.count else { throw DecodeError.truncated }
        let b = base[position]
        position += 1
        return b
    }

    @inline(__always) mutating func varint() throws(DecodeError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < base.count else { throw DecodeError.truncated }
            let b = base[position]
            position += 1
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw DecodeError.malformed("varint longer than 10 bytes") }
        }
    }

    @inline(__always) mutating func zigzag() throws(DecodeError) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    @inline(__always) mutating func u64le() throws(DecodeError) -> UInt64 {
        guard remaining >= 8 else { throw DecodeError.truncated }
        let v = base.loadUnaligned(fromByteOffset: position, as: UInt64.self)
        position += 8
        return UInt64(littleEndian: v)
    }

    @inline(__always) mutating func u32be() throws(DecodeError) -> UInt32 {
        guard remaining >= 4 else { throw DecodeError.truncated }
        let v = base.loadUnaligned(fromByteOffset: position, as: UInt32.self)
        position += 4
        return UInt32(bigEndian: v)
    }

    @inline(__always) mutating func slice(_ n: Int) throws(DecodeError) -> UnsafeRawBufferPointer {
        guard n >= 0, remaining >= n else { throw DecodeError.truncated }
        let s = UnsafeRawBufferPointer(rebasing: base[position ..< position + n])
        position += n
        return s
    }

    @inline(__always) mutating func rest() -> UnsafeRawBufferPointer {
        let s = UnsafeRawBufferPointer(rebasing: base[position...])
        position = base.count
        return s
    }
}

/// Why stored bytes could not be decoded.
enum DecodeError: Error, CustomStringConvertible {
    case truncated
    case malformed(String)

    var description: String {
        switch self {
        case .truncated: return "record ends early"
        case .malformed(let why): return why
        }
    }
}

/// Bytes as lower-case hex (digests, hashes, ids): a table lookup per nibble, no formatting.
public enum Hex {
    public static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static let digits = Array("0123456789abcdef".utf8)
}
