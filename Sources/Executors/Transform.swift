import Catalog
import Domain
import EventLog

/// The row transforms of etl and storage stages, applied in this order: rename; the PII
/// transforms mask, hash, redact, drop (so that nothing after them sees a raw value); cast,
/// derive, filter, select.
public struct Transform: Sendable {
    /// The stage, for messages.
    public var stage = ""
    public var rename: [(from: String, to: String)] = []
    /// The PII transforms, resolved (salts read), in the order they apply.
    public var protect: [(column: String, protection: Protection)] = []
    public var cast: [(column: String, type: String)] = []
    public var derive: [(column: String, expression: Expression)] = []
    public var filter: Expression?
    public var select: [String]?

    public init() {}

    /// The transforms of etl or storage stage `stage`; `secret` reads the value of a secret
    /// definition (a `hash` salt) and is called only when the stage hashes.
    public init(_ spec: TransformSpec, stage: String = "",
                secret: (String) throws(StageError) -> String = { name throws(StageError) in throw StageError("secret '\(name)' cannot be read here") }) throws(StageError) {
        self.stage = stage
        rename = spec.rename.map { ($0.from, $0.to) }
        protect = try Transform.protections(spec, secret: secret)
        cast = spec.cast.map { ($0.column, $0.type.rawValue) }
        for d in spec.derive {
            do { derive.append((d.column, try Expression.parse(d.expression))) } catch {
                throw StageError("derive '\(d.column)': \(error)")
            }
        }
        if let f = spec.filter {
            do { filter = try Expression.parse(f) } catch { throw StageError("filter: \(error)") }
        }
        select = spec.select
    }

    public var isEmpty: Bool { rename.isEmpty && protect.isEmpty && cast.isEmpty && derive.isEmpty && filter == nil && select == nil }

    /// Applies the transforms; a value that does not cast, or a column that does not exist, fails
    /// with the file, row and column named.
    public func apply(_ input: Table, cancellation: Cancellation) throws(StageError) -> Table {
        var t = input
        for (from, to) in rename {
            guard let i = t.columns.firstIndex(of: from) else { throw StageError("rename: no column '\(from)' in \(columnsPhrase(t))") }
            t.columns[i] = to
        }
        try protect(&t, cancellation: cancellation)
        for (column, type) in cast {
            guard let c = t.columns.firstIndex(of: column) else { throw StageError("cast: no column '\(column)' in \(columnsPhrase(t))") }
            for r in t.rows.indices {
                if r % 8192 == 0 { try cancellation.check() }
                let v = t.rows[r][c]
                guard let cv = Transform.cast(v, to: type) else {
                    throw StageError("\(t.origin(of: r)), column \(column): cannot cast \(v.jsonString) to \(type); fix the value or the stage's cast")
                }
                t.rows[r][c] = cv
            }
        }
        for (column, e) in derive {
            for f in e.fields where !t.columns.contains(f) { throw StageError("derive '\(column)': no column '\(f)' in \(columnsPhrase(t))") }
            let index = Dictionary(t.columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            let target = t.columns.firstIndex(of: column)
            if target == nil { t.columns.append(column) }
            for r in t.rows.indices {
                if r % 8192 == 0 { try cancellation.check() }
                let row = t.rows[r]
                let v = e.evaluate { name in index[name].map { row[$0] } }
                if let target { t.rows[r][target] = v } else { t.rows[r].append(v) }
            }
        }
        if let filter {
            for f in filter.fields where !t.columns.contains(f) { throw StageError("filter: no column '\(f)' in \(columnsPhrase(t))") }
            let index = Dictionary(t.columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            var rows: [[Value]] = []
            var origins: [(file: Int32, row: Int32)] = []
            for (r, row) in t.rows.enumerated() {
                if r % 8192 == 0 { try cancellation.check() }
                if filter.evaluate({ name in index[name].map { row[$0] } }) == .bool(true) {
                    rows.append(row)
                    if r < t.origins.count { origins.append(t.origins[r]) }
                }
            }
            t.rows = rows
            t.origins = origins
        }
        if let select {
            var idx: [Int] = []
            for s in select {
                guard let i = t.columns.firstIndex(of: s) else { throw StageError("select: no column '\(s)' in \(columnsPhrase(t))") }
                idx.append(i)
            }
            t.columns = idx.map { t.columns[$0] }
            t.rows = t.rows.map { row in idx.map { row[$0] } }
        }
        return t
    }

    func columnsPhrase(_ t: Table) -> String {
        t.columns.isEmpty ? "the rows (they have no columns)" : "the rows (columns: \(t.columns.joined(separator: ", ")))"
    }

    /// `v` as `type` (string, int, double, bool), or nil when it does not convert. Null stays null.
    public static func cast(_ v: Value, to type: String) -> Value? {
        if v == .null { return .null }
        switch type {
        case "string":
            return .string(v.stringValue ?? Table.text(v))
        case "int":
            switch v {
            case .int: return v
            case .double(let d): return d == d.rounded() && abs(d) < 9e18 ? .int(Int64(d)) : nil
            case .bool(let b): return .int(b ? 1 : 0)
            case .string(let s):
                let t = s.trimmingCharacters(in: .whitespaces)
                if t.isEmpty { return .null }
                if let i = Int64(t) { return .int(i) }
                if let d = Double(t), d == d.rounded(), abs(d) < 9e18 { return .int(Int64(d)) }
                return nil
            default: return nil
            }
        case "double":
            switch v {
            case .double: return v
            case .int(let i): return .double(Double(i))
            case .bool(let b): return .double(b ? 1 : 0)
            case .string(let s):
                let t = s.trimmingCharacters(in: .whitespaces)
                if t.isEmpty { return .null }
                return Double(t).flatMap { $0.isFinite ? .double($0) : nil }
            default: return nil
            }
        case "bool":
            switch v {
            case .bool: return v
            case .int(let i): return i == 0 || i == 1 ? .bool(i == 1) : nil
            case .string(let s):
                switch s.lowercased().trimmingCharacters(in: .whitespaces) {
                case "true", "yes", "1", "y", "t": return .bool(true)
                case "false", "no", "0", "n", "f": return .bool(false)
                case "": return .null
                default: return nil
                }
            default: return nil
            }
        default: return nil
        }
    }
}
