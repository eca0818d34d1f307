/// One problem found in definition files: where it is, what is wrong and how to fix it.
///
/// Printed as one line: `file:line:column: what is wrong; how to fix it`.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible, Comparable {
    public var location: SourceLocation
    /// What is wrong.
    public var message: String
    /// How to fix it (may be empty when the message says it).
    public var fix: String

    public init(_ location: SourceLocation, _ message: String, fix: String = "") {
        self.location = location
        self.message = message
        self.fix = fix
    }

    public var description: String {
        fix.isEmpty ? "\(location): \(message)" : "\(location): \(message); \(fix)"
    }

    /// `text` for quoting in a message, which is one line: line breaks and other control
    /// characters escaped, and cut after `limit` characters (`…` marks the cut).
    public static func excerpt(_ text: String, limit: Int = 60) -> String {
        var out = ""
        var n = 0
        for c in text.unicodeScalars {
            if n == limit { return out + "…" }
            switch c {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where c.value < 0x20 || c.value == 0x7F || c == "\u{2028}" || c == "\u{2029}" || c == "\u{85}":
                out += "\\u{\(String(c.value, radix: 16))}"
            default: out.unicodeScalars.append(c)
            }
            n += 1
        }
        return out
    }

    public static func < (a: Diagnostic, b: Diagnostic) -> Bool {
        (a.location, a.message) < (b.location, b.message)
    }
}

/// The errors of a failed load, validation or apply: all of them, sorted by file and position.
public struct DefinitionErrors: Error, Sendable, CustomStringConvertible {
    public let diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics.sorted() }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// "Did you mean" suggestions by edit distance.
public enum Suggest {
    /// The closest candidate to `word`, if close enough to be a likely typo.
    public static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        let w = word.lowercased()
        var best: (String, Int)?
        for c in candidates {
            let d = distance(w, c.lowercased())
            if best == nil || d < best!.1 { best = (c, d) }
        }
        guard let (c, d) = best else { return nil }
        let limit = max(1, min(3, (max(w.count, c.count) + 1) / 3))
        if d <= limit { return c }
        // A prefix or containment ("stage" for "stages", "parallel" for "max_parallel").
        if w.count >= 4, c.lowercased().contains(w) || w.contains(c.lowercased()) { return c }
        return nil
    }

    /// "; did you mean 'x'?" or the list of valid choices.
    public static func fix(for word: String, in candidates: [String], noun: String = "one of") -> String {
        if let c = closest(to: word, in: candidates) { return "did you mean '\(c)'?" }
        if candidates.isEmpty { return "" }
        let list = candidates.count > 12 ? candidates.prefix(12).joined(separator: ", ") + ", …" : candidates.joined(separator: ", ")
        return "use \(noun): \(list)"
    }

    /// Levenshtein distance (with transpositions counted as one edit).
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var prev2 = [Int](repeating: 0, count: y.count + 1)
        var prev = Array(0 ... y.count)
        var cur = [Int](repeating: 0, count: y.count + 1)
        for i in 1 ... x.count {
            cur[0] = i
            for j in 1 ... y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] { cur[j] = min(cur[j], prev2[j - 2] + 1) }
            }
            (prev2, prev, cur) = (prev, cur, prev2)
        }
        return prev[y.count]
    }
}
