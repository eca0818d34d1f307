import Domain

/// Where something is in a definition file: 1-based line and column (columns count Unicode scalars).
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible, Comparable {
    public var file: String
    public var line: Int
    public var column: Int

    /// A location; line and column 0 mean "the file as a whole".
    public init(file: String, line: Int = 0, column: Int = 0) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, or just `file` when the position is unknown.
    public var description: String { line > 0 ? "\(file):\(line):\(column)" : file }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// A parsed YAML or JSON node with its location: the common input of definition loading, so that
/// every error can name the file, line and column it is about.
public struct SourceNode: Sendable, Hashable {
    /// The shape and content of a node.
    public enum Content: Sendable, Hashable {
        /// A scalar's text; `quoted` for quoted YAML scalars and JSON strings (always strings).
        case scalar(String, quoted: Bool)
        /// Key/value pairs in file order.
        case mapping([(key: SourceNode, value: SourceNode)])
        case sequence([SourceNode])

        public static func == (a: Content, b: Content) -> Bool {
            switch (a, b) {
            case let (.scalar(x, q1), .scalar(y, q2)): return x == y && q1 == q2
            case let (.sequence(x), .sequence(y)): return x == y
            case let (.mapping(x), .mapping(y)):
                return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            default: return false
            }
        }

        public func hash(into h: inout Hasher) {
            switch self {
            case let .scalar(s, q): h.combine(0); h.combine(s); h.combine(q)
            case let .sequence(items): h.combine(1); h.combine(items)
            case let .mapping(pairs): h.combine(2); for p in pairs { h.combine(p.key); h.combine(p.value) }
            }
        }
    }

    public var content: Content
    public var location: SourceLocation

    public init(_ content: Content, at location: SourceLocation) {
        self.content = content
        self.location = location
    }

    /// What a plain scalar means under the YAML 1.2 core schema (quoted scalars are strings).
    public enum Scalar: Sendable, Hashable {
        case null, bool(Bool), int(Int64), double(Double), string(String)
    }

    /// The meaning of this scalar, or nil for mappings and sequences.
    public var scalar: Scalar? {
        guard case let .scalar(text, quoted) = content else { return nil }
        return quoted ? .string(text) : SourceNode.resolvePlain(text)
    }

    /// The scalar's text (for string-typed fields, any plain scalar is taken as written: `NO`,
    /// `101` and `1.10` stay text), or nil.
    public var text: String? {
        guard case let .scalar(text, quoted) = content else { return nil }
        if !quoted, SourceNode.resolvePlain(text) == .null { return nil }
        return text
    }

    /// A short name for the node's shape, for messages ("a mapping", "a list", "the number 3").
    public var shapeDescription: String {
        switch content {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar:
            switch scalar {
            case .null?: return "nothing (null)"
            case .bool(let b)?: return "the boolean \(b)"
            case .int(let i)?: return "the number \(i)"
            case .double(let d)?: return "the number \(d)"
            case .string(let s)?: return "the text \(s.debugDescription)"
            case nil: return "a scalar"
            }
        }
    }

    /// The member `key` of a mapping, if present.
    public subscript(key: String) -> SourceNode? {
        guard case .mapping(let pairs) = content else { return nil }
        return pairs.first { $0.key.text == key }?.value
    }

    /// Resolves a plain scalar by the YAML 1.2 core schema.
    static func resolvePlain(_ s: String) -> Scalar {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
        case ".nan", ".NaN", ".NAN": return .double(.nan)
        default: break
        }
        let u = Array(s.utf8)
        var i = 0
        if u[0] == UInt8(ascii: "-") || u[0] == UInt8(ascii: "+") { i = 1 }
        if i < u.count, u[i...].allSatisfy({ $0 >= 48 && $0 <= 57 }), let v = Int64(s.hasPrefix("+") ? String(s.dropFirst()) : s) {
            return .int(v)
        }
        if s.hasPrefix("0x"), let v = Int64(s.dropFirst(2), radix: 16) { return .int(v) }
        if s.hasPrefix("0o"), let v = Int64(s.dropFirst(2), radix: 8) { return .int(v) }
        if isFloatLiteral(u, from: i), let d = Double(s) { return .double(d) }
        return .string(s)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` from `start`.
    private static func isFloatLiteral(_ u: [UInt8], from start: Int) -> Bool {
        func digit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        var i = start
        var mantissa = 0
        while i < u.count, digit(u[i]) { i += 1; mantissa += 1 }
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            while i < u.count, digit(u[i]) { i += 1; mantissa += 1 }
        }
        guard mantissa > 0 else { return false }
        if i < u.count, u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E") {
            i += 1
            if i < u.count, u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+") { i += 1 }
            var exp = 0
            while i < u.count, digit(u[i]) { i += 1; exp += 1 }
            guard exp > 0 else { return false }
        }
        return i == u.count
    }

    /// The node as a plain `Value` (scalars resolved by the core schema; keys as text).
    public var value: Value {
        switch content {
        case .scalar:
            switch scalar {
            case .null?, nil: return .null
            case .bool(let b)?: return .bool(b)
            case .int(let i)?: return .int(i)
            case .double(let d)?: return .double(d)
            case .string(let s)?: return .string(s)
            }
        case .sequence(let items): return .array(items.map(\.value))
        case .mapping(let pairs): return .object(pairs.map { ($0.key.text ?? "", $0.value.value) })
        }
    }
}
