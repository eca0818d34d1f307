/// Reads the members of one object of a payload or spec, naming the owner, the field's path and
/// what was expected when a member is missing or of the wrong shape. Typed events and specs decode
/// through it; nothing else looks payload fields up by name.
///
/// Absent and `null` members are the same: `string("x")` fails on both, `string(opt: "x")` gives nil
/// for both. A member of the wrong JSON type fails in both forms.
public struct Fields: Sendable {
    /// The event type or spec kind, for failures.
    public let owner: String
    /// The path of this object inside the payload (`""` for the payload, `trigger.` below it).
    public let path: String
    public let members: [Value.Member]

    /// The fields of `value`, which must be an object.
    public init(_ owner: String, _ value: Value, path: String = "") throws(DecodingFailure) {
        guard case .members(let m) = value else {
            throw DecodingFailure(eventType: owner, field: path.hasSuffix(".") ? String(path.dropLast()) : path,
                                  expected: "an object", found: Fields.describe(value))
        }
        self.owner = owner
        self.path = path
        self.members = m
    }

    /// The member `key`, nil when absent or null.
    @inline(__always)
    public func value(_ key: String) -> Value? {
        for m in members where m.key == key {
            if case .null = m.value { return nil }
            return m.value
        }
        return nil
    }

    /// Whether `key` is present and not null.
    public func has(_ key: String) -> Bool { value(key) != nil }

    /// A failure at `key`.
    public func failure(_ key: String, expected: String, found: Value?) -> DecodingFailure {
        DecodingFailure(eventType: owner, field: path + key, expected: expected, found: found.map(Fields.describe) ?? "nothing")
    }

    // MARK: required

    public func string(_ key: String) throws(DecodingFailure) -> String {
        guard let v = value(key), case .string(let s) = v else { throw failure(key, expected: "text", found: value(key)) }
        return s
    }

    public func int(_ key: String) throws(DecodingFailure) -> Int64 {
        guard let v = value(key), let i = v.intValue else { throw failure(key, expected: "an integer", found: value(key)) }
        return i
    }

    /// A non-negative integer (a seq, version or count).
    public func uint(_ key: String) throws(DecodingFailure) -> UInt64 {
        guard let v = value(key), let i = v.intValue, i >= 0 else { throw failure(key, expected: "a non-negative integer", found: value(key)) }
        return UInt64(i)
    }

    public func double(_ key: String) throws(DecodingFailure) -> Double {
        guard let v = value(key), let d = v.doubleValue else { throw failure(key, expected: "a number", found: value(key)) }
        return d
    }

    public func bool(_ key: String) throws(DecodingFailure) -> Bool {
        guard let v = value(key), case .bool(let b) = v else { throw failure(key, expected: "true or false", found: value(key)) }
        return b
    }

    /// Any value (object, list, scalar), but present.
    public func any(_ key: String) throws(DecodingFailure) -> Value {
        guard let v = value(key) else { throw failure(key, expected: "a value", found: nil) }
        return v
    }

    /// An object, kept as a value (open content: parameters, specs, outputs).
    public func objectValue(_ key: String) throws(DecodingFailure) -> Value {
        guard let v = value(key), case .members = v else { throw failure(key, expected: "an object", found: value(key)) }
        return v
    }

    public func object(_ key: String) throws(DecodingFailure) -> Fields {
        guard let v = value(key) else { throw failure(key, expected: "an object", found: nil) }
        return try Fields(owner, v, path: path + key + ".")
    }

    public func array(_ key: String) throws(DecodingFailure) -> [Value] {
        guard let v = value(key), case .array(let a) = v else { throw failure(key, expected: "a list", found: value(key)) }
        return a
    }

    /// A list of texts.
    public func strings(_ key: String) throws(DecodingFailure) -> [String] {
        var out: [String] = []
        for (i, item) in try array(key).enumerated() {
            guard case .string(let s) = item else { throw failure("\(key)[\(i)]", expected: "text", found: item) }
            out.append(s)
        }
        return out
    }

    /// A list of objects, each as `Fields`.
    public func objects(_ key: String) throws(DecodingFailure) -> [Fields] {
        var out: [Fields] = []
        for (i, item) in try array(key).enumerated() { out.append(try Fields(owner, item, path: "\(path)\(key)[\(i)].")) }
        return out
    }

    // MARK: optional (absent or null: nil)

    // One lookup each (these run per event on hot paths): absent or null is nil, a member of
    // another shape fails.
    public func string(opt key: String) throws(DecodingFailure) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw failure(key, expected: "text", found: v) }
        return s
    }
    public func int(opt key: String) throws(DecodingFailure) -> Int64? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue else { throw failure(key, expected: "an integer", found: v) }
        return i
    }
    public func uint(opt key: String) throws(DecodingFailure) -> UInt64? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue, i >= 0 else { throw failure(key, expected: "a non-negative integer", found: v) }
        return UInt64(i)
    }
    public func double(opt key: String) throws(DecodingFailure) -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.doubleValue else { throw failure(key, expected: "a number", found: v) }
        return d
    }
    public func bool(opt key: String) throws(DecodingFailure) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw failure(key, expected: "true or false", found: v) }
        return b
    }
    public func object(opt key: String) throws(DecodingFailure) -> Fields? { has(key) ? try object(key) : nil }
    public func objectValue(opt key: String) throws(DecodingFailure) -> Value? {
        guard let v = value(key) else { return nil }
        guard case .members = v else { throw failure(key, expected: "an object", found: v) }
        return v
    }
    public func array(opt key: String) throws(DecodingFailure) -> [Value]? { has(key) ? try array(key) : nil }
    public func strings(opt key: String) throws(DecodingFailure) -> [String]? { has(key) ? try strings(key) : nil }
    public func objects(opt key: String) throws(DecodingFailure) -> [Fields]? { has(key) ? try objects(key) : nil }

    /// The object's members as (key, value) pairs in key order.
    public var pairs: [(String, Value)] { members.map { ($0.key, $0.value) } }

    /// What a value is, for failures: its JSON type and a short rendering.
    public static func describe(_ v: Value) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return "\(b)"
        case .int(let i): return "the integer \(i)"
        case .double(let d): return "the number \(d)"
        case .string(let s): return "the text \"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
        case .array(let a): return "a list of \(a.count)"
        case .members: return "an object"
        }
    }
}

/// Builds a payload object: members in canonical key order, optional members left out when nil.
public struct PayloadBuilder: Sendable {
    private var members: [Value.Member] = []

    public init() {}

    public init(_ pairs: [(String, Value)]) {
        members = pairs.map { Value.Member($0.0, $0.1) }
    }

    /// Sets `key` (a later set of the same key wins).
    public mutating func set(_ key: String, _ value: Value) {
        if let i = members.firstIndex(where: { $0.key == key }) { members[i].value = value } else { members.append(Value.Member(key, value)) }
    }

    public mutating func set(_ key: String, _ value: Value?) { if let value { set(key, value) } }
    public mutating func set(_ key: String, _ value: String?) { if let value { set(key, .string(value)) } }
    public mutating func set(_ key: String, _ value: Int64?) { if let value { set(key, .int(value)) } }
    public mutating func set(_ key: String, _ value: Int?) { if let value { set(key, .int(Int64(value))) } }
    public mutating func set(_ key: String, _ value: UInt64?) { if let value { set(key, .int(Int64(value))) } }
    public mutating func set(_ key: String, _ value: Double?) { if let value { set(key, .double(value)) } }
    public mutating func set(_ key: String, _ value: Bool?) { if let value { set(key, .bool(value)) } }
    public mutating func set(_ key: String, _ value: [String]?) { if let value { set(key, .array(value.map { .string($0) })) } }

    /// The object.
    public var value: Value { .members(members.sorted { Value.keyPrecedes($0.key, $1.key) }) }
}
