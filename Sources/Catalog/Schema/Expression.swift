import Domain
import Foundation

/// A condition or computed value over an event's (or a row's) fields:
/// `churn_probability >= 0.8 and tenure_months < 6`, `count(anomaly_score > 0.9) >= 10`.
///
/// Grammar (lowest precedence first): `or` (`||`), `and` (`&&`), `not` (`!`), comparisons
/// (`== != < <= > >=`), `+ -`, `* / %`, unary `-`, then literals (numbers, 'text' or "text",
/// true, false, null), field names (`a`, `outputs.rows`), calls and parentheses.
/// Aggregates over the events of a run: `count(cond)`, `count()`, `sum(x)`, `avg(x)`, `min(x)`,
/// `max(x)`. Scalar functions: `abs(x)`, `round(x)`, `lower(s)`, `upper(s)`, `length(s)`,
/// `coalesce(a, b, …)`, `concat(a, …)`, `replace(s, a, b)`, `substring(s, start[, length])`,
/// `trim(s)`, `to_date(t)`, `date_add(d, days)`, `format_date(t, pattern)` (see `CalendarDay`).
/// A function given an argument it cannot take gives null. Comparing with null is false;
/// arithmetic with null is null.
public indirect enum Expression: Sendable, Hashable, CustomStringConvertible {
    case literal(Value)
    case field(String)
    case unary(UnaryOp, Expression)
    case binary(BinaryOp, Expression, Expression)
    case call(String, [Expression])

    public enum UnaryOp: String, Sendable { case not, negate = "-" }
    public enum BinaryOp: String, Sendable {
        case or, and, eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
        case add = "+", sub = "-", mul = "*", div = "/", mod = "%"
        var precedence: Int {
            switch self {
            case .or: return 1
            case .and: return 2
            case .eq, .ne, .lt, .le, .gt, .ge: return 4
            case .add, .sub: return 5
            case .mul, .div, .mod: return 6
            }
        }
    }

    public static let aggregates: Set<String> = ["count", "sum", "avg", "min", "max"]
    public static let scalarFunctions: [String: ClosedRange<Int>] = ["abs": 1 ... 1, "round": 1 ... 2, "lower": 1 ... 1,
                                                                     "upper": 1 ... 1, "length": 1 ... 1, "coalesce": 1 ... 16,
                                                                     "concat": 1 ... 16, "replace": 3 ... 3, "substring": 2 ... 3,
                                                                     "trim": 1 ... 1, "to_date": 1 ... 1, "date_add": 2 ... 2,
                                                                     "format_date": 2 ... 2]

    /// The deepest expression tree `parse` builds: parentheses, `not`, `-`, calls and each
    /// operator of a chain (`a + b + c` is two levels) add a level. Real expressions have a few;
    /// the limit keeps the parser, evaluation, printing and every walk over the tree (all
    /// recursive) far from the end of a thread's stack.
    public static let maxDepth = 128

    /// Parses `text`.
    public static func parse(_ text: String) throws(ExpressionError) -> Expression {
        var p = ExpressionParser(text)
        let e = try p.parseExpression(0)
        p.skipSpace()
        guard p.atEnd else { throw p.error("unexpected '\(p.peekText)'") }
        return e
    }

    /// Field names used, in first-use order.
    public var fields: [String] {
        var out: [String] = []
        func walk(_ e: Expression) {
            switch e {
            case .literal: break
            case .field(let f): if !out.contains(f) { out.append(f) }
            case .unary(_, let x): walk(x)
            case .binary(_, let a, let b): walk(a); walk(b)
            case .call(_, let args): args.forEach(walk)
            }
        }
        walk(self)
        return out
    }

    /// Whether the expression aggregates over many events (uses count/sum/avg/min/max).
    public var isAggregate: Bool {
        switch self {
        case .literal, .field: return false
        case .unary(_, let x): return x.isAggregate
        case .binary(_, let a, let b): return a.isAggregate || b.isAggregate
        case .call(let f, let args): return Expression.aggregates.contains(f) || args.contains { $0.isAggregate }
        }
    }

    /// Fields used outside any aggregate (an error in an aggregate condition: which row's value?).
    public var fieldsOutsideAggregates: [String] {
        switch self {
        case .literal: return []
        case .field(let f): return [f]
        case .unary(_, let x): return x.fieldsOutsideAggregates
        case .binary(_, let a, let b): return a.fieldsOutsideAggregates + b.fieldsOutsideAggregates
        case .call(let f, let args): return Expression.aggregates.contains(f) ? [] : args.flatMap(\.fieldsOutsideAggregates)
        }
    }

    /// Whether the value is a truth value by its form (comparison, logic, boolean literal or a field).
    public var isCondition: Bool {
        switch self {
        case .literal(.bool), .field: return true
        case .literal: return false
        case .unary(let op, _): return op == .not
        case .binary(let op, _, _): return op.precedence <= 4
        case .call(let f, _): return f == "coalesce"
        }
    }

    public var description: String {
        switch self {
        case .literal(.string(let s)): return "'" + s.replacingOccurrences(of: "'", with: "\\'") + "'"
        case .literal(let v): return v.jsonString
        case .field(let f): return f
        case .unary(.not, let x): return "not \(x.parenthesized(3))"
        case .unary(.negate, let x): return "-\(x.parenthesized(7))"
        case .binary(let op, let a, let b):
            return "\(a.parenthesized(op.precedence)) \(op.rawValue) \(b.parenthesized(op.precedence + 1))"
        case .call(let f, let args): return "\(f)(\(args.map(\.description).joined(separator: ", ")))"
        }
    }

    private func parenthesized(_ min: Int) -> String {
        if case .binary(let op, _, _) = self, op.precedence < min { return "(\(description))" }
        if case .unary(.not, _) = self, min > 3 { return "(\(description))" }
        return description
    }

    // MARK: Evaluation

    /// The value for one event or row (`field` looks a field up; aggregates see just this row).
    public func evaluate(_ field: (String) -> Value?) -> Value {
        evaluate(rows: CollectionOfOne(()), field: { _, name in field(name) })
    }

    /// The value over a group of rows (a run's predictions): aggregates fold over all of them;
    /// fields outside aggregates read the last row.
    public func evaluate<Rows: Collection>(rows: Rows, field: (Rows.Element, String) -> Value?) -> Value {
        switch self {
        case .literal(let v): return v
        case .field(let f):
            guard let last = rows.reversed().first else { return .null }
            return field(last, f) ?? .null
        case .unary(.not, let x):
            guard case .bool(let b) = x.evaluate(rows: rows, field: field) else { return .null }
            return .bool(!b)
        case .unary(.negate, let x):
            switch x.evaluate(rows: rows, field: field) {
            case .int(let i): return .int(-i)
            case .double(let d): return .double(-d)
            default: return .null
            }
        case .binary(.and, let a, let b):
            guard case .bool(true) = a.evaluate(rows: rows, field: field) else { return .bool(false) }
            return .bool(b.evaluate(rows: rows, field: field) == .bool(true))
        case .binary(.or, let a, let b):
            if case .bool(true) = a.evaluate(rows: rows, field: field) { return .bool(true) }
            return .bool(b.evaluate(rows: rows, field: field) == .bool(true))
        case .binary(let op, let a, let b):
            return Expression.apply(op, a.evaluate(rows: rows, field: field), b.evaluate(rows: rows, field: field))
        case .call(let f, let args):
            if Expression.aggregates.contains(f) { return aggregate(f, args, rows: rows, field: field) }
            let values = args.map { $0.evaluate(rows: rows, field: field) }
            return Expression.scalar(f, values)
        }
    }

    private func aggregate<Rows: Collection>(_ f: String, _ args: [Expression], rows: Rows, field: (Rows.Element, String) -> Value?) -> Value {
        if f == "count" {
            guard let cond = args.first else { return .int(Int64(rows.count)) }
            return .int(Int64(rows.reduce(0) { n, row in
                cond.evaluate(rows: CollectionOfOne(row), field: field) == .bool(true) ? n + 1 : n
            }))
        }
        guard let arg = args.first else { return .null }
        let numbers = rows.compactMap { row in arg.evaluate(rows: CollectionOfOne(row), field: field).doubleValue }
        guard !numbers.isEmpty else { return f == "sum" ? .int(0) : .null }
        switch f {
        case "sum": return .double(numbers.reduce(0, +))
        case "avg": return .double(numbers.reduce(0, +) / Double(numbers.count))
        case "min": return .double(numbers.min()!)
        default: return .double(numbers.max()!)
        }
    }

    static func apply(_ op: BinaryOp, _ a: Value, _ b: Value) -> Value {
        switch op {
        case .eq: return .bool(equal(a, b))
        case .ne: return .bool(!equal(a, b) && a != .null && b != .null)
        case .lt, .le, .gt, .ge:
            let c: Int
            if let x = a.doubleValue, let y = b.doubleValue {
                if x.isNaN || y.isNaN { return .bool(false) }
                c = x < y ? -1 : (x > y ? 1 : 0)
            } else if case .string(let x) = a, case .string(let y) = b {
                c = x < y ? -1 : (x > y ? 1 : 0)
            } else {
                return .bool(false)
            }
            switch op {
            case .lt: return .bool(c < 0)
            case .le: return .bool(c <= 0)
            case .gt: return .bool(c > 0)
            default: return .bool(c >= 0)
            }
        case .add:
            if case .string(let x) = a, case .string(let y) = b { return .string(x + y) }
            fallthrough
        case .sub, .mul, .div, .mod:
            if case .int(let x) = a, case .int(let y) = b, op != .div {
                switch op {
                case .add: let (r, o) = x.addingReportingOverflow(y); return o ? .double(Double(x) + Double(y)) : .int(r)
                case .sub: let (r, o) = x.subtractingReportingOverflow(y); return o ? .double(Double(x) - Double(y)) : .int(r)
                case .mul: let (r, o) = x.multipliedReportingOverflow(by: y); return o ? .double(Double(x) * Double(y)) : .int(r)
                default: return y == 0 ? .null : .int(x % y)
                }
            }
            guard let x = a.doubleValue, let y = b.doubleValue else { return .null }
            switch op {
            case .add: return .double(x + y)
            case .sub: return .double(x - y)
            case .mul: return .double(x * y)
            case .div: return y == 0 ? .null : .double(x / y)
            default: return y == 0 ? .null : .double(x.truncatingRemainder(dividingBy: y))
            }
        case .and, .or: return .null // handled with short-circuit above
        }
    }

    static func equal(_ a: Value, _ b: Value) -> Bool {
        if a == .null || b == .null { return false }
        if let x = a.doubleValue, let y = b.doubleValue { return x == y }
        return a == b
    }

    static func scalar(_ f: String, _ v: [Value]) -> Value {
        switch f {
        case "abs":
            if case .int(let i) = v[0] { return i == .min ? .double(-Double(i)) : .int(Swift.abs(i)) }
            return v[0].doubleValue.map { .double(Swift.abs($0)) } ?? .null
        case "round":
            guard let x = v[0].doubleValue else { return .null }
            let places = v.count > 1 ? Double(v[1].intValue ?? 0) : 0
            let m = pow10(places)
            return .double((x * m).rounded() / m)
        case "lower": return v[0].stringValue.map { .string($0.lowercased()) } ?? .null
        case "upper": return v[0].stringValue.map { .string($0.uppercased()) } ?? .null
        case "length": return v[0].stringValue.map { .int(Int64($0.count)) } ?? (v[0].arrayValue.map { .int(Int64($0.count)) } ?? .null)
        case "coalesce": return v.first { $0 != .null } ?? .null
        case "concat":
            var out = ""
            for x in v {
                switch x {
                case .null: continue
                case .string(let t): out += t
                case .int, .double, .bool: out += x.jsonString
                default: return .null
                }
            }
            return .string(out)
        case "replace":
            guard let t = v[0].stringValue, let a = v[1].stringValue, !a.isEmpty, let b = v[2].stringValue else { return .null }
            return .string(t.replacingOccurrences(of: a, with: b))
        case "substring":
            guard let t = v[0].stringValue, let start = v[1].intValue, start >= 0 else { return .null }
            let chars = Array(t)
            let from = Swift.min(Int(start), chars.count)
            let length = v.count > 2 ? (v[2].intValue.map(Int.init) ?? -1) : chars.count - from
            guard length >= 0 else { return .null }
            return .string(String(chars[from ..< Swift.min(chars.count, from + length)]))
        case "trim": return v[0].stringValue.map { .string($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? .null
        case "to_date": return v[0].stringValue.flatMap(CalendarDay.init(text:)).map { .string($0.text) } ?? .null
        case "date_add":
            guard let d = v[0].stringValue.flatMap(CalendarDay.init(text:)), let n = v[1].intValue, Swift.abs(n) < 3_000_000 else { return .null }
            return .string(CalendarDay(days: d.days + n).text)
        case "format_date":
            guard let t = v[0].stringValue, let moment = CalendarDay.moment(t), let pattern = v[1].stringValue else { return .null }
            return .string(moment.formatted(pattern))
        default: return .null
        }
    }

    private static func pow10(_ n: Double) -> Double {
        var r = 1.0
        for _ in 0 ..< Int(Swift.max(0, Swift.min(15, n))) { r *= 10 }
        return r
    }
}

/// An expression that does not parse: what and at which character (1-based).
public struct ExpressionError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public let offset: Int
    public var description: String { "\(message) at character \(offset)" }
}

struct ExpressionParser {
    let chars: [Character]
    var i = 0
    /// Open parentheses, calls, `not` and `-` around the current position (bounds the recursion).
    var nesting = 0

    /// An expression and the height of its tree.
    typealias Parsed = (e: Expression, height: Int)

    init(_ text: String) { chars = Array(text) }

    var atEnd: Bool { i >= chars.count }
    var peekText: String { String(chars[i ..< Swift.min(chars.count, i + 8)]) }

    func error(_ m: String) -> ExpressionError { ExpressionError(message: m, offset: i + 1) }

    mutating func skipSpace() { while i < chars.count, chars[i].isWhitespace { i += 1 } }

    var tooDeep: ExpressionError {
        error("the expression nests more than \(Expression.maxDepth) levels deep (each parenthesis, not, minus, call and chained operator adds one)")
    }

    /// Enters one more level of nesting (each `enter` is paired with `nesting -= 1`).
    mutating func enter() throws(ExpressionError) {
        nesting += 1
        guard nesting <= Expression.maxDepth else { throw tooDeep }
    }

    /// `e` with the height `height`, which must be within the limit.
    func checked(_ e: Expression, _ height: Int) throws(ExpressionError) -> Parsed {
        guard height <= Expression.maxDepth else { throw tooDeep }
        return (e, height)
    }

    mutating func parseExpression(_ minPrec: Int) throws(ExpressionError) -> Expression {
        try parseTree(minPrec).e
    }

    /// Precedence climbing over binary operators; `not` binds between `and` and comparisons.
    mutating func parseTree(_ minPrec: Int) throws(ExpressionError) -> Parsed {
        var left = try parseUnary()
        while true {
            skipSpace()
            let save = i
            guard let op = binaryOp(), op.precedence >= minPrec else { i = save; return left }
            if op.precedence == 4, case .binary(let prev, _, _) = left.e, prev.precedence == 4 {
                i = save
                throw error("comparisons cannot be chained; join them with 'and'")
            }
            let right = try parseTree(op.precedence + 1)
            do throws(ExpressionError) {
                left = try checked(.binary(op, left.e, right.e), max(left.height, right.height) + 1)
            } catch {
                i = save
                throw error
            }
        }
    }

    mutating func binaryOp() -> Expression.BinaryOp? {
        skipSpace()
        guard i < chars.count else { return nil }
        for (text, op) in [(">=", Expression.BinaryOp.ge), ("<=", .le), ("==", .eq), ("!=", .ne), ("&&", .and), ("||", .or),
                           (">", .gt), ("<", .lt), ("+", .add), ("-", .sub), ("*", .mul), ("/", .div), ("%", .mod)] {
            if matches(text) { i += text.count; return op }
        }
        if matches("=") { return nil }
        for (word, op) in [("and", Expression.BinaryOp.and), ("or", .or)] where matchesWord(word) {
            i += word.count
            return op
        }
        return nil
    }

    func matches(_ s: String) -> Bool {
        let c = Array(s)
        return chars.count - i >= c.count && Array(chars[i ..< i + c.count]) == c
    }

    func matchesWord(_ w: String) -> Bool {
        guard matches(w) else { return false }
        let end = i + w.count
        return end >= chars.count || !(chars[end].isLetter || chars[end].isNumber || chars[end] == "_")
    }

    mutating func parseUnary() throws(ExpressionError) -> Parsed {
        skipSpace()
        guard i < chars.count else { throw error("expected a value") }
        if matchesWord("not") || (chars[i] == "!" && !matches("!=")) {
            try enter()
            defer { nesting -= 1 }
            i += chars[i] == "!" ? 1 : 3
            let x = try parseTree(3)
            return try checked(.unary(.not, x.e), x.height + 1)
        }
        if chars[i] == "-" {
            try enter()
            defer { nesting -= 1 }
            i += 1
            let x = try parseUnary()
            if case .literal(.int(let v)) = x.e { return (.literal(.int(-v)), 1) }
            if case .literal(.double(let v)) = x.e { return (.literal(.double(-v)), 1) }
            return try checked(.unary(.negate, x.e), x.height + 1)
        }
        return try parsePrimary()
    }

    mutating func parsePrimary() throws(ExpressionError) -> Parsed {
        skipSpace()
        guard i < chars.count else { throw error("expected a value") }
        let c = chars[i]
        if c == "(" {
            try enter()
            defer { nesting -= 1 }
            i += 1
            let e = try parseTree(0)
            skipSpace()
            guard i < chars.count, chars[i] == ")" else { throw error("expected ')'") }
            i += 1
            return e
        }
        if c == "'" || c == "\"" {
            i += 1
            var s = ""
            while i < chars.count, chars[i] != c {
                if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                s.append(chars[i])
                i += 1
            }
            guard i < chars.count else { throw error("unterminated text: close it with \(c)") }
            i += 1
            return (.literal(.string(s)), 1)
        }
        if c.isNumber || (c == "." && i + 1 < chars.count && chars[i + 1].isNumber) {
            let start = i
            while i < chars.count, chars[i].isNumber || chars[i] == "." || chars[i] == "_" { i += 1 }
            if i < chars.count, chars[i] == "e" || chars[i] == "E" {
                i += 1
                if i < chars.count, chars[i] == "+" || chars[i] == "-" { i += 1 }
                while i < chars.count, chars[i].isNumber { i += 1 }
            }
            let text = String(chars[start ..< i]).replacingOccurrences(of: "_", with: "")
            if let v = Int64(text) { return (.literal(.int(v)), 1) }
            if let d = Double(text) { return (.literal(.double(d)), 1) }
            i = start
            throw error("'\(text)' is not a number")
        }
        if c.isLetter || c == "_" {
            let start = i
            while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" || chars[i] == "." { i += 1 }
            let name = String(chars[start ..< i])
            switch name {
            case "true": return (.literal(.bool(true)), 1)
            case "false": return (.literal(.bool(false)), 1)
            case "null": return (.literal(.null), 1)
            case "and", "or", "not": i = start; throw error("expected a value before '\(name)'")
            default: break
            }
            skipSpace()
            if i < chars.count, chars[i] == "(" {
                let at = start + 1
                try enter()
                defer { nesting -= 1 }
                i += 1
                var args: [Expression] = []
                var height = 0
                skipSpace()
                if i < chars.count, chars[i] == ")" {
                    i += 1
                } else {
                    while true {
                        let arg = try parseTree(0)
                        args.append(arg.e)
                        height = max(height, arg.height)
                        skipSpace()
                        guard i < chars.count else { throw error("expected ')' to close \(name)(") }
                        if chars[i] == "," { i += 1; continue }
                        if chars[i] == ")" { i += 1; break }
                        throw error("expected ',' or ')' in \(name)(…)")
                    }
                }
                try checkCall(name, args, at: at)
                return try checked(.call(name, args), height + 1)
            }
            return (.field(name), 1)
        }
        if c == "=" { throw error("use '==' to compare") }
        throw error("unexpected '\(c)'")
    }

    func checkCall(_ name: String, _ args: [Expression], at: Int) throws(ExpressionError) {
        if Expression.aggregates.contains(name) {
            let ok = name == "count" ? args.count <= 1 : args.count == 1
            guard ok else { throw ExpressionError(message: "\(name)() takes \(name == "count" ? "zero or one argument" : "one argument")", offset: at) }
            if args.contains(where: \.isAggregate) { throw ExpressionError(message: "aggregates cannot be nested in \(name)()", offset: at) }
            return
        }
        guard let arity = Expression.scalarFunctions[name] else {
            let known = (Expression.aggregates.sorted() + Expression.scalarFunctions.keys.sorted())
            let hint = Suggest.closest(to: name, in: known).map { "; did you mean '\($0)'?" } ?? " (functions: \(known.joined(separator: ", ")))"
            throw ExpressionError(message: "unknown function '\(name)'\(hint)", offset: at)
        }
        guard arity.contains(args.count) else {
            throw ExpressionError(message: "\(name)() takes \(arity.lowerBound == arity.upperBound ? "\(arity.lowerBound)" : "\(arity.lowerBound)–\(arity.upperBound)") argument(s), got \(args.count)", offset: at)
        }
    }
}
