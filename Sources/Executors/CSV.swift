import Domain
import EventLog
import Foundation

/// RFC 4180 CSV: quoted fields with doubled quotes and embedded delimiters and newlines, a header
/// row naming the columns. Column types are inferred per column: all whole numbers → int, all
/// numbers → double, `true`/`false` → bool, otherwise text; empty fields are null.
public enum CSV {
    /// Reads one file.
    public static func read(file: String, delimiter: UInt8 = UInt8(ascii: ","), header: Bool = true) throws(StageError) -> Table {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw StageError("cannot read \(file): no such file or no permission")
        }
        var records: [[String]] = []
        var lines: [Int32] = []
        var field: [UInt8] = []
        var record: [String] = []
        var inQuotes = false
        var line: Int32 = 1
        var recordLine: Int32 = 1
        var atFieldStart = true
        var afterQuote = false
        func endField() throws(StageError) {
            guard let s = String(validating: field, as: UTF8.self) else { throw StageError("\(file), line \(line): not UTF-8 text") }
            record.append(s)
            field.removeAll(keepingCapacity: true)
            atFieldStart = true
            afterQuote = false
        }
        let bytes = [UInt8](data)
        var i = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") { field.append(b); i += 1 } else { inQuotes = false; afterQuote = true }
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                }
            } else if b == UInt8(ascii: "\"") && atFieldStart {
                inQuotes = true
                atFieldStart = false
            } else if b == delimiter {
                try endField()
            } else if b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
                if b == UInt8(ascii: "\r") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n") { i += 1 }
                if !(record.isEmpty && field.isEmpty && atFieldStart) {
                    try endField()
                    records.append(record)
                    lines.append(recordLine)
                }
                record = []
                line += 1
                recordLine = line
            } else {
                if afterQuote { throw StageError("\(file), line \(line): text after a closing quote; quote the whole field and double the quotes inside") }
                field.append(b)
                atFieldStart = false
            }
            i += 1
        }
        if inQuotes { throw StageError("\(file), line \(recordLine): a quoted field is not closed before the end of the file") }
        if !record.isEmpty || !field.isEmpty { try endField(); records.append(record); lines.append(recordLine) }
        guard !records.isEmpty else { return Table(columns: [], files: [file]) }
        let columns: [String]
        var body = records[...]
        var bodyLines = lines[...]
        if header {
            columns = records[0]
            body = records.dropFirst()
            bodyLines = lines.dropFirst()
            if let dup = Dictionary(grouping: columns, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
                throw StageError("\(file), line 1: column '\(dup)' appears twice in the header")
            }
        } else {
            columns = (1...records[0].count).map { "column_\($0)" }
        }
        var texts: [[String]] = []
        texts.reserveCapacity(body.count)
        var origins: [(Int32, Int32)] = []
        for (r, (rec, ln)) in zip(body, bodyLines).enumerated() {
            guard rec.count == columns.count else {
                throw StageError("\(file), row \(r + 1) (line \(ln)): \(rec.count) fields where the header has \(columns.count); quote fields that contain '\(Character(UnicodeScalar(delimiter)))'")
            }
            texts.append(rec)
            origins.append((0, Int32(r + 1)))
        }
        let types = columns.indices.map { c in inferType(texts.lazy.map { $0[c] }) }
        let rows = texts.map { rec in rec.indices.map { convert(rec[$0], types[$0]) } }
        return Table(columns: columns, rows: rows, origins: origins.map { ($0.0, $0.1) }, files: [file])
    }

    enum Inferred { case int, double, bool, text }

    static func inferType<S: Sequence>(_ values: S) -> Inferred where S.Element == String {
        var t: Inferred? = nil
        for v in values where !v.isEmpty {
            let this: Inferred = Int64(v) != nil ? .int : (Double(v).map { $0.isFinite } ?? false) ? .double : (v == "true" || v == "false") ? .bool : .text
            switch (t, this) {
            case (nil, _): t = this
            case (.int?, .double), (.double?, .int): t = .double
            case (let a?, let b) where a == b: break
            default: return .text
            }
        }
        return t ?? .text
    }

    static func convert(_ s: String, _ t: Inferred) -> Value {
        if s.isEmpty { return .null }
        switch t {
        case .int: return Int64(s).map(Value.int) ?? .string(s)
        case .double: return Double(s).map(Value.double) ?? .string(s)
        case .bool: return .bool(s == "true")
        case .text: return .string(s)
        }
    }

    /// The CSV text of a table (header first, `\n` line ends, quoting where needed).
    public static func write(_ t: Table, rows: some Sequence<Int>) -> Data {
        var out = ""
        func field(_ s: String) {
            if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || s.hasPrefix(" ") || s.hasSuffix(" ") {
                out += "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            } else { out += s }
        }
        for (i, c) in t.columns.enumerated() { if i > 0 { out += "," }; field(c) }
        out += "\n"
        for r in rows {
            for (i, v) in t.rows[r].enumerated() { if i > 0 { out += "," }; field(Table.text(v)) }
            out += "\n"
        }
        return Data(out.utf8)
    }
}

/// JSON Lines: one JSON object per line. Written in the table's column order; read back with
/// columns in the order of first appearance (members of one object sorted by name).
public enum JSONLines {
    /// Reads one file.
    public static func read(file: String) throws(StageError) -> Table {
        guard let data = FileManager.default.contents(atPath: file) else { throw StageError("cannot read \(file): no such file or no permission") }
        guard let text = String(data: data, encoding: .utf8) else { throw StageError("\(file): not UTF-8 text") }
        var columns: [String] = []
        var index: [String: Int] = [:]
        var objects: [[Value.Member]] = []
        var origins: [(file: Int32, row: Int32)] = []
        var n: Int32 = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            n += 1
            let l = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if l.isEmpty { continue }
            let v: Value
            do { v = try Value(json: l) } catch { throw StageError("\(file), line \(n): \(error)") }
            guard let members = v.objectMembers else { throw StageError("\(file), line \(n): expected a JSON object, got \(Table.typeName(v))") }
            for m in members where index[m.key] == nil {
                index[m.key] = columns.count
                columns.append(m.key)
            }
            objects.append(members)
            origins.append((0, n))
        }
        let rows = objects.map { members -> [Value] in
            var row = [Value](repeating: .null, count: columns.count)
            for m in members { row[index[m.key]!] = m.value }
            return row
        }
        return Table(columns: columns, rows: rows, origins: origins, files: [file])
    }

    /// The JSON Lines text of a table's rows (null columns are written as null).
    public static func write(_ t: Table, rows: some Sequence<Int>) -> Data {
        var out: [UInt8] = []
        for r in rows {
            out.append(UInt8(ascii: "{"))
            for (i, (c, v)) in zip(t.columns, t.rows[r]).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Value.writeJSONString(c, into: &out)
                out.append(UInt8(ascii: ":"))
                Value.writeJSON(v, into: &out)
            }
            out.append(contentsOf: "}\n".utf8)
        }
        return Data(out)
    }
}
