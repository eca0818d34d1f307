/// A glob on one file name (a sensor's `pattern`): `*` any run of characters, `?` one character,
/// `[abc]` / `[a-z]` one of, `[!a-z]` (or `[^a-z]`) one not of, `\x` the character x itself.
/// As in the shell, a leading `.` of a name is matched only by a `.` written in the pattern, so
/// hidden files (e.g. `.part.done` while it is being written) match only patterns that start
/// with `.`. Matching is on Unicode scalars; it never reads the disk.
public struct FileGlob: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public let text: String
    let tokens: [Token]

    enum Token: Sendable, Hashable {
        case literal(Unicode.Scalar)
        case one
        case star
        case set(ranges: [ClosedRange<UInt32>], negated: Bool)
    }

    /// Why a pattern can never match a file name.
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
        /// What to write instead.
        public let fix: String
    }

    /// The longest file name, in bytes, that file systems allow (NAME_MAX).
    public static let maxNameBytes = 255

    /// Parses `pattern`; fails when it is malformed or can never match a file name: empty, holding
    /// `/` or NUL (no name does), `.` or `..` alone, an unclosed `[`, a set that holds no character,
    /// a trailing lone `\`, or needing more than 255 bytes.
    public init(_ pattern: String) throws(Problem) {
        text = pattern
        if pattern.isEmpty { throw Problem(description: "is empty, so it matches no file", fix: "write a pattern such as *.done") }
        if pattern.contains("/") {
            throw Problem(description: "contains '/', but it is matched against one file name, never a path",
                          fix: "match the name only (e.g. *.done) and set `recursive: true` to look in subfolders")
        }
        if pattern.unicodeScalars.contains("\u{0}") {
            throw Problem(description: "contains a NUL character, which no file name has", fix: "remove it")
        }
        if pattern == "." || pattern == ".." {
            throw Problem(description: "names a folder entry, never a file", fix: "write a pattern such as *.done")
        }
        var tokens: [Token] = []
        let s = Array(pattern.unicodeScalars)
        var i = 0
        while i < s.count {
            let c = s[i]
            switch c {
            case "*":
                if tokens.last != .star { tokens.append(.star) }
                i += 1
            case "?":
                tokens.append(.one)
                i += 1
            case "\\":
                guard i + 1 < s.count else {
                    throw Problem(description: "ends with a lone '\\'", fix: "write '\\\\' for a backslash, or remove it")
                }
                tokens.append(.literal(s[i + 1]))
                i += 2
            case "[":
                var j = i + 1
                var negated = false
                if j < s.count, s[j] == "!" || s[j] == "^" {
                    negated = true
                    j += 1
                }
                var ranges: [ClosedRange<UInt32>] = []
                var first = true
                var closed = false
                var empty: String?
                while j < s.count {
                    var lo = s[j]
                    if lo == "]" && !first {
                        closed = true
                        break
                    }
                    first = false
                    if lo == "\\", j + 1 < s.count {
                        j += 1
                        lo = s[j]
                    }
                    if j + 2 < s.count, s[j + 1] == "-", s[j + 2] != "]" {
                        var hi = s[j + 2]
                        var next = j + 3
                        if hi == "\\", j + 3 < s.count {
                            hi = s[j + 3]
                            next = j + 4
                        }
                        if lo.value <= hi.value { ranges.append(lo.value ... hi.value) } else { empty = "\(lo)-\(hi)" }
                        j = next
                    } else {
                        ranges.append(lo.value ... lo.value)
                        j += 1
                    }
                }
                guard closed else {
                    throw Problem(description: "has a '[' that is never closed", fix: "close the set with ']', or write '\\[' for a bracket")
                }
                if ranges.isEmpty, let empty {
                    throw Problem(description: "has a set [\(negated ? "!" : "")\(empty)] that runs backwards, so it matches no character",
                                  fix: "write the range low to high")
                }
                tokens.append(.set(ranges: ranges, negated: negated))
                i = j + 1
            default:
                tokens.append(.literal(c))
                i += 1
            }
        }
        self.tokens = tokens
        let least = tokens.reduce(0) { n, t in
            switch t {
            case .literal(let c): return n + String(c).utf8.count
            case .one, .set: return n + 1
            case .star: return n
            }
        }
        if least > FileGlob.maxNameBytes {
            throw Problem(description: "needs names of at least \(least) bytes, longer than a file name can be (\(FileGlob.maxNameBytes))",
                          fix: "shorten it or use * for the varying part")
        }
    }

    public var description: String { text }

    /// Whether the file name `name` matches.
    public func matches(_ name: String) -> Bool {
        let n = Array(name.unicodeScalars)
        // Iterative matching with one backtrack point (the last star): linear in practice,
        // O(name × pattern) at worst.
        var ti = 0, ni = 0
        var starT = -1, starN = 0
        func ok(_ t: Token, _ c: Unicode.Scalar, at index: Int) -> Bool {
            if index == 0 && c == "." {
                if case .literal(".") = t { return true }
                return false
            }
            switch t {
            case .literal(let l): return l == c
            case .one: return true
            case .set(let ranges, let negated): return ranges.contains { $0.contains(c.value) } != negated
            case .star: return false
            }
        }
        while ni < n.count {
            if ti < tokens.count, tokens[ti] == .star, !(ni == 0 && n[0] == ".") {
                starT = ti
                starN = ni
                ti += 1
            } else if ti < tokens.count, ok(tokens[ti], n[ni], at: ni) {
                ti += 1
                ni += 1
            } else if starT >= 0 {
                ti = starT + 1
                starN += 1
                ni = starN
            } else {
                return false
            }
        }
        while ti < tokens.count, tokens[ti] == .star { ti += 1 }
        return ti == tokens.count
    }
}
