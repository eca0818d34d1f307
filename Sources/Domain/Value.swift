import Foundation

/// A JSON-shaped value: the payload of every event.
///
/// Objects keep their members sorted by the UTF-8 bytes of their keys, with unique keys, so that
/// one value has exactly one binary encoding (the canonical bytes that the hash chain covers).
/// Build objects with `Value.object(_:)` from a dictionary or pairs; both sort.
public enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([Value])
    /// Members sorted by key (UTF-8 byte order), keys unique. Use `Value.object(_:)` to build one.
    case members([Member])

    /// One key/value pair of an object.
    public struct Member: Sendable, Hashable {
        public var key: String
        public var value: Value
        public init(_ key: String, _ value: Value) {
            self.key = key
            self.value = value
        }
    }

    /// An object from a dictionary (keys sorted).
    public static func object(_ dictionary: [String: Value]) -> Value {
        .members(dictionary.map { Member($0.key, $0.value) }.sorted { Value.keyPrecedes($0.key, $1.key) })
    }

    /// An object from pairs; a later duplicate key replaces an earlier one; keys sorted.
    public static func object(_ pairs: [(String, Value)]) -> Value {
        var dict: [String: Value] = [:]
        for (k, v) in pairs { dict[k] = v }
        return object(dict)
    }

    /// Canonical key order: UTF-8 bytes, lexicographic.
    @inline(__always)
    public static func keyPrecedes(_ a: String, _ b: String) -> Bool {
        let r: Bool? = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in
                let n = Swift.min(x.count, y.count)
                let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                return c < 0 || (c == 0 && x.count < y.count)
            }
        } ?? nil
        return r ?? a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// The member `key` of an object, or nil.
    public subscript(key: String) -> Value? {
        guard case .members(let members) = self else { return nil }
        for m in members where m.key == key { return m.value }
        return nil
    }

    /// The member `key` of an object (nil when absent or null, or when this is not an object): for
    /// reading open content such as a stage's reported outputs, not a typed payload's fields.
    public func member(_ key: String) -> Value? {
        guard let v = self[key], v != .null else { return nil }
        return v
    }

    /// The element at `index` of an array, or nil.
    public subscript(index: Int) -> Value? {
        guard case .array(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }

    /// The string, if this is a string.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The integer, if this is an integer (or an integral double).
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.2e18: return Int64(d)
        default: return nil
        }
    }
    /// The number as a double, if this is a number.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    /// The boolean, if this is a boolean.
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    /// The members, if this is an object.
    public var objectMembers: [Member]? { if case .members(let m) = self { return m } else { return nil } }
    /// The elements, if this is an array.
    public var arrayValue: [Value]? { if case .array(let a) = self { return a } else { return nil } }

    /// A copy of this object with `key` set to `value` (sorted position kept). Non-objects are
    /// returned unchanged.
    public func setting(_ key: String, to value: Value) -> Value {
        guard case .members(var members) = self else { return self }
        if let i = members.firstIndex(where: { $0.key == key }) {
            members[i].value = value
        } else {
            let i = members.firstIndex(where: { Value.keyPrecedes(key, $0.key) }) ?? members.count
            members.insert(Member(key, value), at: i)
        }
        return .members(members)
    }

    /// A copy of this object without `key`.
    public func removing(_ key: String) -> Value {
        guard case .members(let members) = self else { return self }
        return .members(members.filter { $0.key != key })
    }
}

extension Value: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: Value...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, Value)...) { self = .object(elements) }
}
