import CYAMLCheck
import Domain
import Foundation
import Yams

/// Parses definition files (YAML or JSON) into located nodes.
public enum SourceParser {
    /// The documents of a file. JSON files (`.json`) hold one document; YAML files may hold several
    /// (`---`). A syntax error is returned as a diagnostic at its position.
    public static func parse(_ text: String, file: String) -> Result<[SourceNode], Diagnostic> {
        if file.lowercased().hasSuffix(".json") {
            var p = JSONSourceParser(text: text, file: file)
            return p.parseDocument().map { [$0] }
        }
        return parseYAML(text, file: file)
    }

    /// The deepest nesting of lists and mappings a definition file may have (YAML or JSON). Real
    /// definitions nest a few levels; the limit keeps every recursion over nodes and values (here,
    /// in validation, the codec, hashing) far from the end of the stack.
    public static let maxDepth = 128
    /// How much YAML aliases may add to a file: each node an alias repeats counts 16 plus its
    /// text's UTF-8 bytes. A 370-byte file of nested anchors otherwise expands to 10^10 scalars.
    public static let maxAliasExpansion = 4 << 20

    static func parseYAML(_ text: String, file: String) -> Result<[SourceNode], Diagnostic> {
        if let problem = precheck(text, file: file) { return .failure(problem) }
        do {
            var docs: [SourceNode] = []
            // The sequence stops at the first error and keeps it (in the iterating copy).
            var sequence = try Yams.compose_all(yaml: text)
            let converter = YAMLConverter(file: file)
            while let node = sequence.next() {
                docs.append(try converter.convert(node, depth: 0))
            }
            if let error = sequence.error { throw error }
            return .success(docs)
        } catch let e as YamlError {
            return .failure(diagnostic(e, file: file))
        } catch let d as Diagnostic {
            return .failure(d)
        } catch {
            return .failure(Diagnostic(SourceLocation(file: file), "cannot read YAML: \(error)", fix: "fix the file's syntax"))
        }
    }

    /// Nesting and alias expansion measured on libyaml's events, before Yams composes anything
    /// (its composer hashes every mapping key in full, aliases expanded: `? *bomb` would take
    /// hours). Syntax errors are left to Yams, which words them.
    static func precheck(_ text: String, file: String) -> Diagnostic? {
        var utf8 = text
        let r = utf8.withUTF8 { ledgerflow_yaml_check($0.baseAddress, $0.count, maxAliasExpansion, maxDepth) }
        let at = SourceLocation(file: file, line: r.line, column: r.column)
        switch r.status {
        case LEDGERFLOW_YAML_TOO_DEEP:
            return tooDeep(at)
        case LEDGERFLOW_YAML_ALIASES_TOO_LARGE:
            let name = withUnsafeBytes(of: r.anchor) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            return aliasBomb(at, name: name)
        case LEDGERFLOW_YAML_NO_MEMORY:
            return Diagnostic(SourceLocation(file: file), "not enough memory to read the file", fix: "make it smaller")
        default:
            return nil
        }
    }

    /// The error for an alias that makes the file expand past `maxAliasExpansion`.
    static func aliasBomb(_ at: SourceLocation, name: String) -> Diagnostic {
        Diagnostic(at, "YAML aliases expand this file past \(maxAliasExpansion >> 20) MiB (at the alias *\(name))",
                   fix: "write the repeated parts out, or use fewer and smaller aliases")
    }

    /// The error for nodes nested deeper than `maxDepth` (YAML or JSON).
    static func tooDeep(_ at: SourceLocation) -> Diagnostic {
        Diagnostic(at, "lists and mappings nest deeper than \(maxDepth) levels here",
                   fix: "flatten the definition (definitions nest a few levels; at most \(maxDepth))")
    }

    private static func diagnostic(_ e: YamlError, file: String) -> Diagnostic {
        func at(_ m: Mark) -> SourceLocation { SourceLocation(file: file, line: m.line, column: m.column) }
        switch e {
        case let .parser(_, problem, mark, _) where problem.hasPrefix("Maximum nesting level reached"):
            // libyaml's own limit, which the check lifts (and meets first): only for text over 16M levels.
            return tooDeep(at(mark))
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let what = context.map { "\(problem) \($0.text)" } ?? problem
            return Diagnostic(at(mark), "YAML syntax error: \(what)", fix: "fix the YAML at this position (indentation, a missing ':' or quote)")
        case let .reader(problem, offset, _, _):
            return Diagnostic(SourceLocation(file: file), "cannot read the file as YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "")",
                              fix: "save it as UTF-8 text")
        case let .duplicatedKeysInMapping(duplicates, context):
            return Diagnostic(at(context.mark), "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in one mapping",
                              fix: "keep one of them")
        default:
            return Diagnostic(SourceLocation(file: file), "cannot read YAML: \(e)", fix: "fix the file's syntax")
        }
    }
}

extension Diagnostic: Error {}

/// Converts Yams' nodes into located source nodes. Yams composes an alias as the anchored node
/// itself (shared, not copied), so converting expands it: `SourceParser.precheck` has measured
/// the expansion and nesting on libyaml's events before, and the depth guard here only keeps the
/// recursion bounded should a text ever reach it unchecked.
struct YAMLConverter {
    let file: String

    func location(_ node: Node) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
    }

    func convert(_ node: Node, depth: Int) throws -> SourceNode {
        let loc = location(node)
        guard depth <= SourceParser.maxDepth else { throw SourceParser.tooDeep(loc) }
        switch node {
        case .scalar(let s):
            let quoted = s.style == .singleQuoted || s.style == .doubleQuoted || s.style == .literal || s.style == .folded
                || s.tag.rawValue == Tag.Name.str.rawValue
            return SourceNode(.scalar(s.string, quoted: quoted), at: loc)
        case .sequence(let seq):
            return SourceNode(.sequence(try seq.map { try convert($0, depth: depth + 1) }), at: loc)
        case .mapping(let map):
            var pairs: [(key: SourceNode, value: SourceNode)] = []
            for (k, v) in map {
                if k.tag.rawValue == Tag.Name.merge.rawValue || k.scalar?.string == "<<" {
                    throw Diagnostic(loc, "YAML merge keys (<<) are not supported", fix: "write the fields out")
                }
                pairs.append((try convert(k, depth: depth + 1), try convert(v, depth: depth + 1)))
            }
            return SourceNode(.mapping(pairs), at: loc)
        case .alias(let a):
            throw Diagnostic(SourceLocation(file: file, line: a.mark?.line ?? 0, column: a.mark?.column ?? 0),
                             "unresolved YAML alias", fix: "define the anchor before using it")
        }
    }
}

/// A JSON parser that keeps each value's line and column (Foundation's does not).
struct JSONSourceParser {
    let file: String
    let bytes: [UInt8]
    var i = 0
    var line = 1
    var lineStart = 0

    init(text: String, file: String) {
        self.file = file
        self.bytes = Array(text.utf8)
    }

    var location: SourceLocation {
        // Columns count Unicode scalars from the line start (like YAML marks).
        let col = String(decoding: bytes[lineStart ..< min(i, bytes.count)], as: UTF8.self).unicodeScalars.count + 1
        return SourceLocation(file: file, line: line, column: col)
    }

    mutating func parseDocument() -> Result<SourceNode, Diagnostic> {
        do {
            skipSpace()
            let v = try value(depth: 0)
            skipSpace()
            guard i == bytes.count else { throw fail("unexpected text after the JSON value", fix: "remove it, or wrap several definitions in a list [...]") }
            return .success(v)
        } catch let d as Diagnostic {
            return .failure(d)
        } catch {
            return .failure(Diagnostic(SourceLocation(file: file), "\(error)"))
        }
    }

    func fail(_ what: String, fix: String = "fix the JSON at this position") -> Diagnostic {
        Diagnostic(location, "JSON syntax error: \(what)", fix: fix)
    }

    mutating func skipSpace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0D: i += 1
            case 0x0A: i += 1; line += 1; lineStart = i
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws -> SourceNode {
        guard depth <= SourceParser.maxDepth else { throw SourceParser.tooDeep(location) }
        guard i < bytes.count else { throw fail("unexpected end of file", fix: "close every { and [") }
        let loc = location
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var pairs: [(key: SourceNode, value: SourceNode)] = []
            var seen: Set<String> = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return SourceNode(.mapping(pairs), at: loc) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a quoted key") }
                let kloc = location
                let key = try string()
                if !seen.insert(key).inserted {
                    throw Diagnostic(kloc, "duplicate key '\(key)' in one object", fix: "keep one of them")
                }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after the key \"\(key)\"") }
                i += 1
                skipSpace()
                let v = try value(depth: depth + 1)
                pairs.append((SourceNode(.scalar(key, quoted: true), at: kloc), v))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of file inside an object", fix: "close it with }") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return SourceNode(.mapping(pairs), at: loc) }
                throw fail("expected ',' or '}' in an object")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [SourceNode] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return SourceNode(.sequence(items), at: loc) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of file inside a list", fix: "close it with ]") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return SourceNode(.sequence(items), at: loc) }
                throw fail("expected ',' or ']' in a list")
            }
        case UInt8(ascii: "\""):
            return SourceNode(.scalar(try string(), quoted: true), at: loc)
        case UInt8(ascii: "t"): try word("true"); return SourceNode(.scalar("true", quoted: false), at: loc)
        case UInt8(ascii: "f"): try word("false"); return SourceNode(.scalar("false", quoted: false), at: loc)
        case UInt8(ascii: "n"): try word("null"); return SourceNode(.scalar("null", quoted: false), at: loc)
        case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"):
            let start = i
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            while i < bytes.count, (bytes[i] >= 48 && bytes[i] <= 57) || bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e")
                || bytes[i] == UInt8(ascii: "E") || bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let text = String(decoding: bytes[start ..< i], as: UTF8.self)
            guard Double(text) != nil, text != "-" else { throw Diagnostic(loc, "JSON syntax error: '\(text)' is not a number", fix: "fix the number") }
            return SourceNode(.scalar(text, quoted: false), at: loc)
        default:
            throw fail("unexpected character '\(Unicode.Scalar(bytes[i]))'", fix: "JSON values are objects, lists, quoted strings, numbers, true, false or null")
        }
    }

    mutating func word(_ w: String) throws {
        let u = Array(w.utf8)
        guard bytes.count - i >= u.count, Array(bytes[i ..< i + u.count]) == u else { throw fail("expected '\(w)'") }
        i += u.count
    }

    /// A JSON string (the shared reader); errors point at the offending character.
    mutating func string() throws -> String {
        do {
            return try JSONString.scan(bytes, at: &i)
        } catch {
            if i < bytes.count { i = max(0, i - 1) } // at the offending byte (or the end)
            if i < bytes.count, bytes[i] == 0x0A {
                throw fail("line break inside a string", fix: "close the string with \" or write \\n")
            }
            if error.reason == "unterminated string" {
                throw fail("unterminated string", fix: "close it with \"")
            }
            throw fail(error.reason)
        }
    }
}
