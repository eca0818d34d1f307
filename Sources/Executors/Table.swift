import Crypto
import Domain
import EventLog
import Foundation

/// Rows in memory: named columns, values per row (null, bool, int, double or string), and where
/// each row came from (for error messages that name the file, row and column).
public struct Table: Sendable {
    public var columns: [String]
    public var rows: [[Value]]
    /// Per row: index into `files` and the row's number there (1-based, the header not counted
    /// for CSV; the line for JSON Lines; the result row for SQLite).
    public var origins: [(file: Int32, row: Int32)]
    public var files: [String]

    public init(columns: [String], rows: [[Value]] = [], origins: [(file: Int32, row: Int32)] = [], files: [String] = []) {
        self.columns = columns
        self.rows = rows
        self.origins = origins
        self.files = files
    }

    /// `data/x.csv, row 17` for row `i`.
    public func origin(of i: Int) -> String {
        guard i < origins.count else { return "row \(i + 1)" }
        let o = origins[i]
        let file = Int(o.file) < files.count ? files[Int(o.file)] : "?"
        return "\(file), row \(o.row)"
    }

    /// Appends `other`'s rows (columns matched by name; missing ones null, new ones added).
    public mutating func append(_ other: Table) {
        if columns.isEmpty && rows.isEmpty { self = other; return }
        var map: [Int] = []
        for c in other.columns {
            if let i = columns.firstIndex(of: c) { map.append(i) } else {
                columns.append(c)
                for r in rows.indices { rows[r].append(.null) }
                map.append(columns.count - 1)
            }
        }
        let base = Int32(files.count)
        files += other.files
        for (r, row) in other.rows.enumerated() {
            var out = [Value](repeating: .null, count: columns.count)
            for (j, v) in row.enumerated() where j < map.count { out[map[j]] = v }
            rows.append(out)
            if r < other.origins.count { origins.append((other.origins[r].file + base, other.origins[r].row)) }
        }
    }

    /// The type name of a value as schemas report it.
    public static func typeName(_ v: Value) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "double"
        case .string: return "string"
        case .array, .members: return "json"
        }
    }

    /// Each column's type: the type of its non-null values (int and double together make
    /// double; anything else mixed makes string; all null makes null).
    public var schema: [(name: String, type: String)] {
        columns.indices.map { c in
            var t = "null"
            for row in rows {
                let v = Table.typeName(row[c])
                if v == "null" || v == t { continue }
                if t == "null" { t = v } else if (t == "int" && v == "double") || (t == "double" && v == "int") { t = "double" } else { t = "string"; break }
            }
            return (columns[c], t)
        }
    }

    /// SHA-256 (hex) over the columns and every row in order, each value in the log's canonical
    /// encoding: the same rows give the same hash whatever the file format.
    public var contentHash: String {
        var h = SHA256()
        h.update(data: Value.array(columns.map { .string($0) }).canonicalBytes)
        for row in rows { h.update(data: Value.array(row).canonicalBytes) }
        return Hex.lowercase(h.finalize())
    }

    /// Text of a value as CSV writes it (null is empty).
    public static func text(_ v: Value) -> String {
        switch v {
        case .null: return ""
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : String(d)
        case .string(let s): return s
        case .array, .members: return v.jsonString
        }
    }
}
