/// The canonical binary encoding of `Value` (the stored payload format, version 1).
///
/// Tags: 0 null, 1 false, 2 true, 3 integer (zig-zag LEB128), 4 double (8 bytes, IEEE-754 little
/// endian; every NaN stored as 0x7FF8000000000000), 5 string (LEB128 length + UTF-8), 6 array (LEB128
/// count + items), 7 object (LEB128 count + (LEB128 key length, UTF-8 key, value) sorted by key
/// bytes, keys unique), 8 short decimal double (zig-zag LEB128 mantissa m, u8 exponent e: the double
/// m / 10^e). A double is written with tag 8 when some e in 0...9 gives an integer m with |m| < 2^53
/// and m / 10^e reproduces it bit for bit (the smallest such e); otherwise with tag 4. Scores such
/// as 0.8731 take 3 bytes instead of 9. One value has exactly one encoding, so hashes are stable.
package enum ValueCodec {
    package static let tagNull: UInt8 = 0, tagFalse: UInt8 = 1, tagTrue: UInt8 = 2, tagInt: UInt8 = 3
    package static let tagDouble: UInt8 = 4, tagString: UInt8 = 5, tagArray: UInt8 = 6, tagObject: UInt8 = 7, tagDecimal: UInt8 = 8
    package static let powersOfTen: [Double] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000]

    /// The short decimal form (m, e) of `d`, if it has one.
    @inline(__always)
    package static func decimal(_ d: Double) -> (Int64, UInt8)? {
        guard d.isFinite, !(d == 0 && d.sign == .minus) else { return nil }
        var e = 0
        while e < powersOfTen.count {
            let scaled = (d * powersOfTen[e]).rounded()
            if abs(scaled) < 9_007_199_254_740_992, scaled / powersOfTen[e] == d {
                return (Int64(scaled), UInt8(e))
            }
            e += 1
        }
        return nil
    }

    package static func encode(_ value: Value, into w: inout ByteWriter) {
        switch value {
        case .null: w.byte(tagNull)
        case .bool(let b): w.byte(b ? tagTrue : tagFalse)
        case .int(let i):
            w.byte(tagInt)
            w.zigzag(i)
        case .double(let d):
            if let (m, e) = decimal(d) {
                w.byte(tagDecimal)
                w.zigzag(m)
                w.byte(e)
            } else {
                w.byte(tagDouble)
                w.u64le(d.isNaN ? 0x7FF8_0000_0000_0000 : d.bitPattern)
            }
        case .string(let s):
            w.byte(tagString)
            writeString(s, into: &w)
        case .array(let items):
            w.byte(tagArray)
            w.varint(UInt64(items.count))
            for item in items { encode(item, into: &w) }
        case .members(let members):
            w.byte(tagObject)
            if isCanonical(members) {
                w.varint(UInt64(members.count))
                for m in members {
                    writeString(m.key, into: &w)
                    encode(m.value, into: &w)
                }
            } else {
                // Built by hand out of order or with duplicates: sort, last duplicate wins.
                var dict: [String: Value] = [:]
                for m in members { dict[m.key] = m.value }
                let sorted = dict.sorted { Value.keyPrecedes($0.key, $1.key) }
                w.varint(UInt64(sorted.count))
                for (k, v) in sorted {
                    writeString(k, into: &w)
                    encode(v, into: &w)
                }
            }
        }
    }

    @inline(__always)
    private static func isCanonical(_ members: [Value.Member]) -> Bool {
        var i = 1
        while i < members.count {
            if !Value.keyPrecedes(members[i - 1].key, members[i].key) { return false }
            i += 1
        }
        return true
    }

    @inline(__always)
    private static func writeString(_ s: String, into w: inout ByteWriter) {
        let utf8 = s.utf8
        // Native strings are contiguous UTF-8: copy them in one go.
        let done: Void? = utf8.withContiguousStorageIfAvailable { u in
            w.varint(UInt64(u.count))
            w.bytes.append(contentsOf: u)
        }
        if done == nil {
            w.varint(UInt64(utf8.count))
            w.bytes.append(contentsOf: utf8)
        }
    }

    package static func encode(_ value: Value) -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        encode(value, into: &w)
        return w.bytes
    }

    package static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> Value {
        var r = ByteReader(bytes)
        let v = try decode(&r, depth: 0)
        guard r.isAtEnd else { throw DecodeError.malformed("\(r.remaining) bytes after the payload") }
        return v
    }

    package static func decode(_ bytes: [UInt8]) throws -> Value {
        try bytes.withUnsafeBytes { b in try decode(b) }
    }

    private static func decode(_ r: inout ByteReader, depth: Int) throws(DecodeError) -> Value {
        guard depth < 512 else { throw DecodeError.malformed("payload nested deeper than 512 levels") }
        let tag = try r.byte()
        switch tag {
        case tagNull: return .null
        case tagFalse: return .bool(false)
        case tagTrue: return .bool(true)
        case tagInt: return .int(try r.zigzag())
        case tagDouble: return .double(Double(bitPattern: try r.u64le()))
        case tagDecimal:
            let m = try r.zigzag()
            let e = Int(try r.byte())
            guard e < powersOfTen.count else { throw DecodeError.malformed("decimal exponent \(e) out of range") }
            return .double(Double(m) / powersOfTen[e])
        case tagString: return .string(try readString(&r))
        case tagArray:
            let n = try r.varint()
            guard n <= UInt64(r.remaining) else { throw DecodeError.truncated }
            var items: [Value] = []
            items.reserveCapacity(Int(n))
            var k: UInt64 = 0
            while k < n { items.append(try decode(&r, depth: depth + 1)); k += 1 }
            return .array(items)
        case tagObject:
            let n = try r.varint()
            guard n <= UInt64(r.remaining) else { throw DecodeError.truncated }
            var members: [Value.Member] = []
            members.reserveCapacity(Int(n))
            var k: UInt64 = 0
            while k < n {
                let key = try readString(&r)
                members.append(Value.Member(key, try decode(&r, depth: depth + 1)))
                k += 1
            }
            return .members(members)
        default:
            throw DecodeError.malformed("unknown value tag \(tag)")
        }
    }

    @inline(__always)
    private static func readString(_ r: inout ByteReader) throws(DecodeError) -> String {
        let n = try r.varint()
        let raw = try r.slice(Int(clamping: n))
        // The writer stores only valid UTF-8 (Swift strings), and the hash chain covers every byte;
        // decoding takes the specialised fast path (invalid bytes would be replaced, not trusted).
        return String(decoding: raw.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
    }
}

extension Value {
    /// The canonical binary encoding (what the log stores, before compression, and hashes).
    public var canonicalBytes: [UInt8] { ValueCodec.encode(self) }

    /// Decodes a value from its canonical binary encoding.
    public init(canonicalBytes bytes: [UInt8]) throws {
        self = try ValueCodec.decode(bytes)
    }
}

