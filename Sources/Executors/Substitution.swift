import Catalog
import Domain
import Foundation

/// `${params.NAME}`, `${params.NAME:raw}`, `${run}`, `${stage}`, `${attempt}`, `${run.id}`,
/// `${run.job}`, `${run.scheduled_time}` and `${stages.STAGE.outputs.FIELD}` (an output of a stage
/// the run has finished; `FIELD` may be a dotted path) in definition texts. A reference the run
/// cannot give a value for (no such output, a run no schedule started) fails the stage, naming it;
/// apply already refuses one to a parameter the job does not declare or a stage it does not follow.
///
/// Paths and plain texts get the values as they are. Texts that a program parses get them quoted
/// for where each placeholder stands, so that a value reaches the program as literal text:
/// - the command text of a shell (`sh`, `bash`, `dash`, `zsh`, `ksh` with `-c`, `-ec`, …):
///   unquoted → one single-quoted word; inside "…" → `"`, `\`, `$` and backtick escaped; inside
///   '…' → each `'` closed, escaped and reopened. Where quoting cannot be made safe (backticks,
///   `$'…'`, `${…}`, `$((…))`, after a here-document) the stage fails and says what to do;
/// - a SQLite source's `query`: unquoted → a string literal (numbers given as numbers stay
///   numbers); inside '…' → quotes doubled; inside "…" / `…` identifiers → those quotes doubled;
///   inside a comment or [...] → refused.
/// `${params.NAME:raw}` inserts the value verbatim everywhere: the definition's author takes on
/// its quoting. `${run}`, `${stage}` and `${attempt}` are ledgerflow's own words (digits and
/// stage names) and are inserted verbatim.
enum Substitution {
    /// A placeholder found in a text.
    struct Placeholder {
        var range: Range<Int>
        /// The text of a parameter's value, or of run/stage/attempt.
        var value: String
        /// The parameter's value, nil for run/stage/attempt.
        var parameter: Value?
        var name: String
        var raw: Bool
        /// Why the reference has no value (the stage fails with it).
        var problem: String?
    }

    /// The known placeholder starting at `i` (`chars[i] == "$"`), or nil.
    static func placeholder(_ chars: [Character], at i: Int, _ ctx: StageContext, _ params: [String: Value]) -> Placeholder? {
        guard i + 1 < chars.count, chars[i] == "$", chars[i + 1] == "{", let close = chars[(i + 2)...].firstIndex(of: "}") else { return nil }
        let inner = String(chars[(i + 2)..<close])
        let range = i..<(close + 1)
        switch inner {
        case "run": return Placeholder(range: range, value: ctx.run, name: "run", raw: true)
        case "stage": return Placeholder(range: range, value: ctx.stage, name: "stage", raw: true)
        case "attempt": return Placeholder(range: range, value: String(ctx.attempt), name: "attempt", raw: true)
        default: break
        }
        if inner.hasPrefix("run.") {
            switch inner {
            case "run.id": return Placeholder(range: range, value: ctx.run, name: inner, raw: true)
            case "run.job", "run.scheduled_time":
                guard let v = field(inner, ctx, params), v != .null else {
                    return Placeholder(range: range, value: "", name: inner, raw: false, problem: "run \(ctx.run) was not started by a schedule, so ${run.scheduled_time} has no value")
                }
                return Placeholder(range: range, value: v.stringValue ?? v.jsonString, parameter: v, name: inner, raw: false)
            default: return nil
            }
        }
        if inner.hasPrefix("stages.") {
            let parts = inner.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 4, parts[2] == "outputs" else { return nil }
            guard let outputs = ctx.upstreamOutputs[parts[1]] else {
                return Placeholder(range: range, value: "", name: inner, raw: false,
                                   problem: "${\(inner)}: stage '\(parts[1])' has not succeeded in run \(ctx.run) (or reported no outputs)")
            }
            guard let v = field(inner, ctx, params), v != .null else {
                let known = (outputs.objectMembers ?? []).map(\.key)
                return Placeholder(range: range, value: "", name: inner, raw: false,
                                   problem: "${\(inner)}: stage '\(parts[1])' reported no output '\(parts[3...].joined(separator: "."))' (it reported \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
            }
            return Placeholder(range: range, value: v.stringValue ?? v.jsonString, parameter: v, name: inner, raw: false)
        }
        if let call = expressionCall(inner) {
            return call.placeholder(range: range, ctx, params)
        }
        guard inner.hasPrefix("params.") else { return nil }
        var name = String(inner.dropFirst("params.".count))
        var raw = false
        if name.hasSuffix(":raw") { name.removeLast(4); raw = true }
        guard let v = params[name] else { return nil }
        return Placeholder(range: range, value: v.stringValue ?? v.jsonString, parameter: v, name: name, raw: raw)
    }

    /// `inner` as a call of an expression function (`${date_add(params.day, -1)}`,
    /// `${concat('batch-', run.id)}`), or nil when it is not one (a shell's own `${…}` is not).
    static func expressionCall(_ inner: String) -> ExpressionCall? {
        let name = inner.prefix { $0.isLetter || $0 == "_" }
        guard !name.isEmpty, inner.dropFirst(name.count).first == "(", Catalog.Expression.scalarFunctions[String(name)] != nil else { return nil }
        return ExpressionCall(text: inner)
    }

    /// A function call inside `${…}`: evaluated over the run's parameters and facts and the
    /// outputs of stages the run finished; a result of null (an argument missing or of another
    /// type than the function takes) fails the stage, naming the expression and its arguments.
    struct ExpressionCall {
        var text: String

        func placeholder(range: Range<Int>, _ ctx: StageContext, _ params: [String: Value]) -> Placeholder {
            let expression: Catalog.Expression
            do throws(ExpressionError) { expression = try Catalog.Expression.parse(text) } catch {
                return Placeholder(range: range, value: "", name: text, raw: false, problem: "${\(text)} does not read: \(error)")
            }
            func field(_ name: String) -> Value? { Substitution.field(name, ctx, params) }
            let value = expression.evaluate(field)
            guard value != .null else {
                let args = expression.fields.map { "\($0) = \(field($0).map { $0.jsonString } ?? "nothing")" }
                return Placeholder(range: range, value: "", name: text, raw: false,
                                   problem: "${\(text)} has no value: an argument is missing or not of the type its function takes" + (args.isEmpty ? "" : " (\(args.joined(separator: ", ")))"))
            }
            return Placeholder(range: range, value: value.stringValue ?? value.jsonString, parameter: value, name: text, raw: false)
        }
    }

    /// A field of the run an attempt belongs to (`StageFields`): its parameters, `run.id|job|
    /// scheduled_time`, and the outputs of the run's succeeded stages.
    static func field(_ name: String, _ ctx: StageContext, _ params: [String: Value]) -> Value? {
        StageFields.value(name, params: params,
                          run: ["id": .string(ctx.run), "job": .string(ctx.job), "scheduled_time": params["scheduled_time"] ?? .null],
                          outputs: { ctx.upstreamOutputs[$0] })
    }

    /// The run's parameters by name.
    static func parameters(_ ctx: StageContext) -> [String: Value] {
        var out: [String: Value] = [:]
        for m in ctx.parameters.objectMembers ?? [] { out[m.key] = m.value }
        return out
    }

    /// `text` with every known placeholder replaced by `quote(placeholder, at: index)`.
    static func render(_ text: String, _ ctx: StageContext, quote: (Placeholder) throws(StageError) -> String) throws(StageError) -> String {
        guard text.contains("${") else { return text }
        let chars = Array(text)
        let params = parameters(ctx)
        var out = ""
        var i = 0
        while i < chars.count {
            if chars[i] == "$", let p = placeholder(chars, at: i, ctx, params) {
                if let problem = p.problem { throw StageError("stage '\(ctx.stage)': \(problem)") }
                out += try quote(p)
                i = p.range.upperBound
            } else {
                out.append(chars[i])
                i += 1
            }
        }
        return out
    }

    // MARK: shell

    static let shells: Set<String> = ["sh", "bash", "dash", "zsh", "ksh"]

    /// The index of the command text in `argv` when it runs a shell with `-c` (optionally through
    /// `env`), else nil.
    static func shellCommandIndex(_ argv: [String]) -> Int? {
        var i = 0
        func base(_ s: String) -> String { (s as NSString).lastPathComponent }
        if let first = argv.first, base(first) == "env" {
            i = 1
            while i < argv.count, argv[i].hasPrefix("-") || argv[i].contains("=") { i += 1 }
        }
        guard i < argv.count, shells.contains(base(argv[i])) else { return nil }
        i += 1
        var command = false
        while i < argv.count {
            let a = argv[i]
            if a == "--" || a == "-" { i += 1; break }
            guard a.count > 1, a.hasPrefix("-") || a.hasPrefix("+") else { break }
            i += 1
            if a.hasPrefix("--") { continue }
            let letters = a.dropFirst()
            if a.hasPrefix("-") && letters.contains("c") { command = true }
            if letters.contains("o") || letters.contains("O") { i += 1 }
        }
        return command && i < argv.count ? i : nil
    }

    /// Where a placeholder stands in shell text.
    enum ShellFrame {
        case plain(depth: Int, substitution: Bool), single, double, backtick, dollarSingle, brace(depth: Int), arithmetic(depth: Int), comment
    }

    /// The frames open at `end` in shell text `chars` (the last is innermost), and whether a
    /// here-document operator came before.
    static func shellFrames(_ chars: [Character], upTo end: Int, skipping placeholders: [Range<Int>]) -> (frames: [ShellFrame], heredoc: Bool) {
        var stack: [ShellFrame] = [.plain(depth: 0, substitution: false)]
        var heredoc = false
        var i = 0
        var holes = placeholders.makeIterator()
        var hole = holes.next()
        func at(_ k: Int) -> Character? { k < end ? chars[k] : nil }
        while i < end {
            if let h = hole, i >= h.lowerBound {
                i = h.upperBound
                hole = holes.next()
                continue
            }
            let c = chars[i]
            let next = at(i + 1)
            switch stack[stack.count - 1] {
            case .single:
                if c == "'" { stack.removeLast() }
            case .comment:
                if c == "\n" { stack.removeLast() }
            case .dollarSingle:
                if c == "\\" { i += 1 } else if c == "'" { stack.removeLast() }
            case .backtick:
                if c == "\\" { i += 1 } else if c == "`" { stack.removeLast() }
            case .double:
                if c == "\\" { i += 1 }
                else if c == "\"" { stack.removeLast() }
                else if c == "`" { stack.append(.backtick) }
                else if c == "$" && next == "(" {
                    if at(i + 2) == "(" { stack.append(.arithmetic(depth: 0)); i += 1 } else { stack.append(.plain(depth: 0, substitution: true)) }
                    i += 1
                } else if c == "$" && next == "{" { stack.append(.brace(depth: 0)); i += 1 }
            case .brace(let depth):
                if c == "\\" { i += 1 }
                else if c == "{" { stack[stack.count - 1] = .brace(depth: depth + 1) }
                else if c == "}" { if depth == 0 { stack.removeLast() } else { stack[stack.count - 1] = .brace(depth: depth - 1) } }
                else if c == "\"" { stack.append(.double) }
            case .arithmetic(let depth):
                if c == "(" { stack[stack.count - 1] = .arithmetic(depth: depth + 1) }
                else if c == ")" {
                    if depth == 0 { stack.removeLast(); i += 1 } else { stack[stack.count - 1] = .arithmetic(depth: depth - 1) }
                }
            case .plain(let depth, let substitution):
                let wordStart = i == 0 || " \t\n;&|()".contains(chars[i - 1])
                if c == "\\" { i += 1 }
                else if c == "'" { stack.append(.single) }
                else if c == "\"" { stack.append(.double) }
                else if c == "`" { stack.append(.backtick) }
                else if c == "$" && next == "'" { stack.append(.dollarSingle); i += 1 }
                else if c == "$" && next == "(" {
                    if at(i + 2) == "(" { stack.append(.arithmetic(depth: 0)); i += 1 } else { stack.append(.plain(depth: 0, substitution: true)) }
                    i += 1
                } else if c == "$" && next == "{" { stack.append(.brace(depth: 0)); i += 1 }
                else if c == "(" { stack[stack.count - 1] = .plain(depth: depth + 1, substitution: substitution) }
                else if c == ")" {
                    if depth > 0 { stack[stack.count - 1] = .plain(depth: depth - 1, substitution: substitution) }
                    else if substitution { stack.removeLast() }
                } else if c == "#" && wordStart { stack.append(.comment) } else if c == "<" && next == "<" { heredoc = true; i += 1 }
            }
            i += 1
        }
        return (stack, heredoc)
    }

    /// `value` as one single-quoted shell word.
    static func singleQuoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Where the placeholders of `chars` stand, found first so that the quote scans skip them (a
    /// `'` in a value or the `}` of a placeholder is not shell or SQL syntax).
    static func placeholderRanges(_ chars: [Character], _ ctx: StageContext, _ params: [String: Value]) -> [Range<Int>] {
        var holes: [Range<Int>] = []
        var k = 0
        while k < chars.count {
            if chars[k] == "$", let p = placeholder(chars, at: k, ctx, params) { holes.append(p.range); k = p.range.upperBound } else { k += 1 }
        }
        return holes
    }

    /// The command text `text` of a shell with every parameter quoted for where it stands.
    static func shellText(_ text: String, _ ctx: StageContext) throws(StageError) -> String {
        let chars = Array(text)
        let params = parameters(ctx)
        let holes = placeholderRanges(chars, ctx, params)
        return try render(text, ctx) { (p: Placeholder) throws(StageError) -> String in
            if p.raw { return p.value }
            if p.value.contains("\0") { throw StageError("stage '\(ctx.stage)': parameter '\(p.name)' holds a NUL character, which no command argument can carry") }
            let (frames, heredoc) = shellFrames(chars, upTo: p.range.lowerBound, skipping: holes.filter { $0.upperBound <= p.range.lowerBound })
            func refuse(_ place: String) -> StageError {
                StageError("stage '\(ctx.stage)': ${params.\(p.name)} stands \(place) in the shell command, where ledgerflow cannot quote it safely; use \"$LEDGERFLOW_PARAM_\(p.name.uppercased())\" there, or write ${params.\(p.name):raw} to insert it unquoted")
            }
            if heredoc { throw refuse("after a here-document (<<)") }
            switch frames.last! {
            case .plain: return singleQuoted(p.value)
            case .single: return p.value.replacingOccurrences(of: "'", with: "'\\''")
            case .double:
                var out = ""
                for ch in p.value {
                    if ch == "\"" || ch == "\\" || ch == "$" || ch == "`" { out.append("\\") }
                    out.append(ch)
                }
                return out
            case .comment:
                // A newline would end the comment and run the rest.
                return String(p.value.map { $0.isNewline ? " " : $0 })
            case .backtick: throw refuse("inside backticks")
            case .dollarSingle: throw refuse("inside $'…'")
            case .brace: throw refuse("inside ${…}")
            case .arithmetic: throw refuse("inside $((…))")
            }
        }
    }

    // MARK: SQL

    enum SQLFrame { case plain, single, double, backtick, bracket, lineComment, blockComment }

    /// Calls `step` with each position of `chars` before `end` outside the placeholders `holes`
    /// (sorted), in order; `step` returns how many characters after that position it also read.
    static func scan(_ chars: [Character], upTo end: Int, skipping holes: [Range<Int>], _ step: (Int) -> Int) {
        var i = 0
        var it = holes.makeIterator()
        var hole = it.next()
        while i < end {
            if let h = hole, i >= h.lowerBound { i = h.upperBound; hole = it.next(); continue }
            i += 1 + step(i)
        }
    }

    /// Where `end` stands in SQL text.
    static func sqlFrame(_ chars: [Character], upTo end: Int, skipping holes: [Range<Int>]) -> SQLFrame {
        var frame = SQLFrame.plain
        scan(chars, upTo: end, skipping: holes) { i in
            let c = chars[i]
            let next: Character? = i + 1 < end ? chars[i + 1] : nil
            switch frame {
            case .plain:
                if c == "'" { frame = .single }
                else if c == "\"" { frame = .double }
                else if c == "`" { frame = .backtick }
                else if c == "[" { frame = .bracket }
                else if c == "-" && next == "-" { frame = .lineComment; return 1 }
                else if c == "/" && next == "*" { frame = .blockComment; return 1 }
            case .single: if c == "'" { frame = .plain }   // a doubled '' closes and reopens
            case .double: if c == "\"" { frame = .plain }
            case .backtick: if c == "`" { frame = .plain }
            case .bracket: if c == "]" { frame = .plain }
            case .lineComment: if c == "\n" { frame = .plain }
            case .blockComment: if c == "*" && next == "/" { frame = .plain; return 1 }
            }
            return 0
        }
        return frame
    }

    /// A SQLite `query` with every parameter quoted for where it stands.
    static func sqlText(_ text: String, _ ctx: StageContext, source: String) throws(StageError) -> String {
        let chars = Array(text)
        let params = parameters(ctx)
        let holes = placeholderRanges(chars, ctx, params)
        return try render(text, ctx) { (p: Placeholder) throws(StageError) -> String in
            if p.raw { return p.value }
            func refuse(_ place: String) -> StageError {
                StageError("source '\(source)': ${params.\(p.name)} stands \(place) in the query, where ledgerflow cannot quote it safely; move it into a string literal or an unquoted place, or write ${params.\(p.name):raw} to insert it verbatim")
            }
            if p.value.contains("\0") { throw refuse("with a NUL character in its value") }
            switch sqlFrame(chars, upTo: p.range.lowerBound, skipping: holes.filter { $0.upperBound <= p.range.lowerBound }) {
            case .plain:
                switch p.parameter {
                case .int(let i)?: return String(i)
                case .double(let d)? where d.isFinite: return "\(d)"
                case .bool(let b)?: return b ? "1" : "0"
                default: return "'" + p.value.replacingOccurrences(of: "'", with: "''") + "'"
                }
            case .single: return p.value.replacingOccurrences(of: "'", with: "''")
            case .double: return p.value.replacingOccurrences(of: "\"", with: "\"\"")
            case .backtick: return p.value.replacingOccurrences(of: "`", with: "``")
            case .bracket: throw refuse("inside [...]")
            case .lineComment, .blockComment: throw refuse("inside a comment")
            }
        }
    }
}

// MARK: expressions

extension Substitution {
    /// The quote (`'` or `"`) a place in an expression's text stands inside, or nil.
    static func expressionQuote(_ chars: [Character], upTo end: Int, skipping holes: [Range<Int>]) -> Character? {
        var quote: Character?
        scan(chars, upTo: end, skipping: holes) { i in
            let c = chars[i]
            if let q = quote {
                if c == "\\" { return 1 }
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
            }
            return 0
        }
        return quote
    }

    /// An etl or storage stage's `derive` or `filter` expression with every placeholder inserted
    /// as data: inside '…' or "…" → the value's text with that quote and `\` escaped; elsewhere →
    /// a number or boolean as itself, null as `null`, anything else as a quoted text. A value can
    /// therefore never change what the expression computes, only the literal it holds.
    static func expressionText(_ text: String, _ ctx: StageContext) throws(StageError) -> String {
        let chars = Array(text)
        let holes = placeholderRanges(chars, ctx, parameters(ctx))
        func escaped(_ s: String, _ q: Character) -> String {
            s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: String(q), with: "\\\(q)")
        }
        return try render(text, ctx) { (p: Placeholder) throws(StageError) -> String in
            if p.raw { return p.value }
            if let q = expressionQuote(chars, upTo: p.range.lowerBound, skipping: holes.filter { $0.upperBound <= p.range.lowerBound }) {
                return escaped(p.value, q)
            }
            switch p.parameter {
            case .int(let i)?: return String(i)
            case .double(let d)? where d.isFinite: return "\(d)"
            case .bool(let b)?: return b ? "true" : "false"
            case .null?: return "null"
            default: return "'" + escaped(p.value, "'") + "'"
            }
        }
    }
}

extension StageContext {
    /// An etl or storage stage's `derive` or `filter` expression with its placeholders inserted
    /// as literals of the expression language (see `Substitution.expressionText`):
    /// `derive: {product_code: "'${params.product_code}'"}` labels every row with the run's product.
    public func expressionWithValues(_ expression: String) throws(StageError) -> String {
        guard expression.contains("${") else { return expression }
        return try Substitution.expressionText(expression, self)
    }

    /// `spec` with the placeholders of its `derive` and `filter` expressions inserted.
    public func transformWithValues(_ spec: TransformSpec) throws(StageError) -> TransformSpec {
        var out = spec
        for i in out.derive.indices { out.derive[i].expression = try expressionWithValues(out.derive[i].expression) }
        if let f = out.filter { out.filter = try expressionWithValues(f) }
        return out
    }
}

extension StageContext {
    /// A script's argv with placeholders replaced: a shell's command text (`sh -c TEXT`) gets
    /// each parameter quoted for where it stands (see `Substitution`); other arguments get the
    /// values as they are (they reach the program as one argument each, never parsed by a shell).
    public func substitute(command argv: [String]) throws(StageError) -> [String] {
        let text = Substitution.shellCommandIndex(argv)
        var out: [String] = []
        for (i, a) in argv.enumerated() {
            out.append(i == text ? try Substitution.shellText(a, self) : substitute(a))
        }
        return out
    }

    /// A SQLite source's query with placeholders replaced, each parameter quoted for where it
    /// stands (see `Substitution`).
    public func substitute(query: String, source: String) throws(StageError) -> String {
        try Substitution.sqlText(query, self, source: source)
    }
}

extension StageContext {
    /// A value with its texts' placeholders replaced (a job stage's parameters for its child): a
    /// text that is one placeholder takes the referenced value as it is (a number stays a
    /// number), other texts get the values as text. A reference without a value fails, naming it.
    public func substitute(value: Value) throws(StageError) -> Value {
        switch value {
        case .string(let text):
            guard text.contains("${") else { return value }
            let chars = Array(text)
            if let p = Substitution.placeholder(chars, at: 0, self, Substitution.parameters(self)), p.range == 0..<chars.count {
                if let problem = p.problem { throw StageError("stage '\(stage)': \(problem)") }
                return p.parameter ?? .string(p.value)
            }
            return .string(try Substitution.render(text, self) { $0.value })
        case .array(let items):
            var out: [Value] = []
            for v in items { out.append(try substitute(value: v)) }
            return .array(out)
        case .members(let members):
            var out: [Value.Member] = []
            for m in members { out.append(Value.Member(m.key, try substitute(value: m.value))) }
            return .members(out)
        default:
            return value
        }
    }
}
