import Crypto
import Foundation

/// The bearer tokens the console accepts, by name, kept hashed: a file of `NAME sha256:HEX`
/// lines (`ledgerflow token create` appends one and prints the token once), or a token that is a
/// secret's value (hashed when the console starts). A write is an event whose actor is
/// `http:NAME`.
public struct ConsoleTokens: Sendable {
    public struct Token: Sendable, Hashable {
        public var name: String
        public var digest: [UInt8]
    }

    public var tokens: [Token]

    public init(_ tokens: [Token] = []) { self.tokens = tokens }

    public var isEmpty: Bool { tokens.isEmpty }

    /// The file's tokens; a line that does not read is an error naming the file and line.
    public static func load(file: String) throws -> ConsoleTokens {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        var out: [Token] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2, parts[1].hasPrefix("sha256:"), let digest = hex(parts[1].dropFirst(7)), digest.count == 32, valid(name: String(parts[0])) else {
                throw TokenFileError("\(file):\(i + 1): a token line is `NAME sha256:HEX` (64 hex digits); create tokens with `ledgerflow token create NAME`")
            }
            out.append(Token(name: String(parts[0]), digest: digest))
        }
        return ConsoleTokens(out)
    }

    /// A token named `name` whose value is `value` (a secret's).
    public static func token(name: String, value: String) -> Token {
        Token(name: name, digest: Array(SHA256.hash(data: Data(value.utf8))))
    }

    /// A new token's value (32 random bytes, hex, `lf_` in front) and its file line.
    public static func create(name: String) -> (token: String, line: String) {
        var g = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
        let token = "lf_" + bytes.map { String(format: "%02x", $0) }.joined()
        let digest = SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
        return (token, "\(name) sha256:\(digest)")
    }

    /// The name of the token `presented` is, comparing digests in constant time; nil if none.
    public func name(of presented: String) -> String? {
        let digest = Array(SHA256.hash(data: Data(presented.utf8)))
        var found: String?
        for t in tokens {
            var diff: UInt8 = 0
            for (a, b) in zip(t.digest, digest) { diff |= a ^ b }
            if diff == 0 && t.digest.count == digest.count && found == nil { found = t.name }
        }
        return found
    }

    /// Token names: letters, digits, `_`, `-`, `.` (they become the actor `http:NAME`).
    public static func valid(name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "_-.".unicodeScalars.contains($0) }
    }

    static func hex(_ text: Substring) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = text.startIndex
        while i < text.endIndex {
            let j = text.index(i, offsetBy: 2)
            guard let b = UInt8(text[i..<j], radix: 16) else { return nil }
            out.append(b)
            i = j
        }
        return out
    }
}

/// A token file that does not read: the file, the line, and what to do.
public struct TokenFileError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
