/// JSON text for values: compact, keys in canonical order, deterministic.
extension Value {
    /// Compact JSON text. Non-finite doubles are written as `null` (JSON has no NaN or infinity).
    public var jsonString: String {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        Value.writeJSON(self, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the compact JSON text of `value` to `out`.
    public static func writeJSON(_ value: Value, into out: inout String) {
        var bytes: [UInt8] = []
        writeJSON(value, into: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `s` as a JSON string literal (quoted and escaped) to `out`.
    public static func writeJSONString(_ s: String, into out: inout String) {
        var bytes: [UInt8] = []
        writeJSONString(s, into: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the compact JSON text of `value` to `out`, as UTF-8.
    public static func writeJSON(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d): out.append(contentsOf: (d.isFinite ? d.description : "null").utf8)
        case .string(let s): writeJSONString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeJSON(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .members(let members):
            out.append(UInt8(ascii: "{"))
            for (i, m) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeJSONString(m.key, into: &out)
                out.append(UInt8(ascii: ":"))
                writeJSON(m.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Appends `s` as a JSON string literal (quoted and escaped), as UTF-8. Only ASCII bytes are
    /// ever escaped, and no byte of a multi-byte UTF-8 sequence is ASCII, so escaping byte by byte
    /// is exact.
    public static func writeJSONString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var needsEscape = false
        for u in s.utf8 where u < 0x20 || u == 0x22 || u == 0x5C { needsEscape = true; break }
        if !needsEscape {
            out.append(contentsOf: s.utf8)
        } else {
            for u in s.utf8 {
                switch u {
                case 0x22: out.append(contentsOf: "\\\"".utf8)
                case 0x5C: out.append(contentsOf: "\\\\".utf8)
                case 0x0A: out.append(contentsOf: "\\n".utf8)
                case 0x0D: out.append(contentsOf: "\\r".utf8)
                case 0x09: out.append(contentsOf: "\\t".utf8)
                case ..<0x20: out.append(contentsOf: "\\u00".utf8); out.append(contentsOf: Hex.lowercase([u]).utf8)
                default: out.append(u)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Parses JSON text. Integers that fit in Int64 become `.int`, other numbers `.double`.
    public init(json text: String) throws {
        var parser = JSONParser(Array(text.utf8))
        self = try parser.parseDocument()
    }

    /// Parses JSON bytes (UTF-8).
    public init(jsonBytes bytes: [UInt8]) throws {
        var parser = JSONParser(bytes)
        self = try parser.parseDocument()
    }
}

/// A JSON syntax error with its line and column.
public struct JSONSyntaxError: Error, CustomStringConvertible, Sendable {
    public let line: Int
    public let column: Int
    public let reason: String
    public var description: String { "invalid JSON at line \(line), column \(column): \(reason)" }
}

/// A small strict JSON parser producing `Value`s (RFC 8259).
package struct JSONParser {
    let b: [UInt8]
    var i = 0

    init(_ bytes: [UInt8]) { b = bytes }

    mutating func parseDocument() throws -> Value {
        skipWhitespace()
        let v = try parseValue(depth: 0)
        skipWhitespace()
        guard i == b.count else { throw error("unexpected text after the value") }
        return v
    }

    func error(_ reason: String) -> JSONSyntaxError {
        var line = 1, col = 1
        for k in 0 ..< min(i, b.count) {
            if b[k] == 0x0A { line += 1; col = 1 } else { col += 1 }
        }
        return JSONSyntaxError(line: line, column: col, reason: reason)
    }

    mutating func skipWhitespace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    mutating func parseValue(depth: Int) throws -> Value {
        guard depth < 512 else { throw error("nested deeper than 512 levels") }
        guard i < b.count else { throw error("unexpected end of input") }
        switch b[i] {
        case UInt8(ascii: "{"):
            i += 1
            var dict: [String: Value] = [:]
            skipWhitespace()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(dict) }
            while true {
                skipWhitespace()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try parseString()
                skipWhitespace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
                i += 1
                skipWhitespace()
                dict[key] = try parseValue(depth: depth + 1)
                skipWhitespace()
                guard i < b.count else { throw error("unexpected end of input in an object") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(dict) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [Value] = []
            skipWhitespace()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard i < b.count else { throw error("unexpected end of input in an array") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            return try parseNumber()
        }
    }

    mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard i + w.count <= b.count, Array(b[i ..< i + w.count]) == w else { throw error("unexpected token") }
        i += w.count
    }

    mutating func parseNumber() throws -> Value {
        let start = i
        if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        var isInteger = true
        guard i < b.count, (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(b[i]) else { throw error("unexpected character") }
        while i < b.count {
            let c = b[i]
            if (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(c) { i += 1; continue }
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
                isInteger = false
                i += 1
                continue
            }
            break
        }
        let text = String(decoding: b[start ..< i], as: UTF8.self)
        if isInteger, let v = Int64(text) { return .int(v) }
        guard let d = Double(text) else { throw error("invalid number '\(text)'") }
        return .double(d)
    }

    mutating func parseString() throws -> String {
        do {
            return try JSONString.scan(b, at: &i)
        } catch {
            throw self.error(error.reason)
        }
    }
}

/// JSON strings (RFC 8259), shared by every JSON reader in the project.
public enum JSONString {
    /// Reads the string whose opening quote is at `b[i]`, leaving `i` after its closing quote; on
    /// an error, `i` is just past the offending byte.
    public static func scan(_ b: [UInt8], at i: inout Int) throws(JSONStringError) -> String {
        i += 1 // opening quote
        var out = [UInt8]()
        while true {
            guard i < b.count else { throw JSONStringError(reason: "unterminated string") }
            let c = b[i]
            i += 1
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 { throw JSONStringError(reason: "control character in a string") }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard i < b.count else { throw JSONStringError(reason: "unterminated escape") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(b, at: &i)
                if (0xD800 ..< 0xDC00).contains(scalar) {
                    guard i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else { throw JSONStringError(reason: "lone surrogate") }
                    i += 2
                    let low = try hex4(b, at: &i)
                    guard (0xDC00 ..< 0xE000).contains(low) else { throw JSONStringError(reason: "invalid surrogate pair") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let u = Unicode.Scalar(scalar) else { throw JSONStringError(reason: "invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw JSONStringError(reason: "invalid escape")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw JSONStringError(reason: "string is not valid UTF-8") }
        return s
    }

    static func hex4(_ b: [UInt8], at i: inout Int) throws(JSONStringError) -> UInt32 {
        guard i + 4 <= b.count else { throw JSONStringError(reason: "short \\u escape") }
        var v: UInt32 = 0
        for _ in 0 ..< 4 {
            let c = b[i]
            i += 1
            v <<= 4
            switch c {
            case UInt8(ascii: "0") ... UInt8(ascii: "9"): v |= UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a") ... UInt8(ascii: "f"): v |= UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A") ... UInt8(ascii: "F"): v |= UInt32(c - UInt8(ascii: "A") + 10)
            default: throw JSONStringError(reason: "invalid hex digit in \\u escape")
            }
        }
        return v
    }
}

/// Why a JSON string could not be read.
public struct JSONStringError: Error, Sendable {
    public let reason: String
}
