/// An append-only byte buffer with LEB128 varints and fixed-width big-endian integers.
package struct ByteWriter {
    package var bytes: [UInt8]

    package init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable package mutating func reset() { bytes.removeAll(keepingCapacity: true) }
    @inlinable package var count: Int { bytes.count }

    @inlinable package mutating func byte(_ b: UInt8) { bytes.append(b) }

    @inlinable package mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inlinable package mutating func zigzag(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    @inlinable package mutating func u64be(_ value: UInt64) {
        var shift: UInt64 = 56
        while true {
            bytes.append(UInt8(truncatingIfNeeded: value >> shift))
            if shift == 0 { return }
            shift -= 8
        }
    }

    @inlinable package mutating func u32be(_ value: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 24))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    @inlinable package mutating func u64le(_ value: UInt64) {
        var v = value
        for _ in 0 ..< 8 {
            bytes.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    @inlinable package mutating func append(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count))
    }
    @inlinable package mutating func append(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }
    @inlinable package mutating func append(_ raw: ArraySlice<UInt8>) { bytes.append(contentsOf: raw) }

    /// Length-prefixed (u32 big-endian) UTF-8, as the canonical header uses.
    @inlinable package mutating func lengthPrefixed(_ s: String) {
        var s = s
        s.withUTF8 { u in
            u32be(UInt32(u.count))
            bytes.append(contentsOf: u)
        }
    }
}

/// A cursor over bytes that throws `DecodeError` instead of reading past the end.
package struct ByteReader {
    package let base: UnsafeRawBufferPointer
    package var position = 0

    package init(_ base: UnsafeRawBufferPointer) { self.base = base }

    @inlinable package var remaining: Int { base.count - position }
    @inlinable package var isAtEnd: Bool { position >= base.count }

    @inlinable package mutating func byte() throws(DecodeError) -> UInt8 {
        guard position < base.count else { throw DecodeError.truncated }
        let b = base[position]
        position += 1
        return b
    }

    @inlinable package mutating func varint() throws(DecodeError) -> UInt64 {
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

    @inlinable package mutating func zigzag() throws(DecodeError) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    @inlinable package mutating func u64le() throws(DecodeError) -> UInt64 {
        guard remaining >= 8 else { throw DecodeError.truncated }
        let v = base.loadUnaligned(fromByteOffset: position, as: UInt64.self)
        position += 8
        return UInt64(littleEndian: v)
    }

    @inlinable package mutating func u32be() throws(DecodeError) -> UInt32 {
        guard remaining >= 4 else { throw DecodeError.truncated }
        let v = base.loadUnaligned(fromByteOffset: position, as: UInt32.self)
        position += 4
        return UInt32(bigEndian: v)
    }

    @inlinable package mutating func slice(_ n: Int) throws(DecodeError) -> UnsafeRawBufferPointer {
        guard n >= 0, remaining >= n else { throw DecodeError.truncated }
        let s = UnsafeRawBufferPointer(rebasing: base[position ..< position + n])
        position += n
        return s
    }

    @inlinable package mutating func rest() -> UnsafeRawBufferPointer {
        let s = UnsafeRawBufferPointer(rebasing: base[position...])
        position = base.count
        return s
    }
}

/// Why stored bytes could not be decoded.
package enum DecodeError: Error, CustomStringConvertible {
    case truncated
    case malformed(String)

    package var description: String {
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

    package static let digits = Array("0123456789abcdef".utf8)
}
