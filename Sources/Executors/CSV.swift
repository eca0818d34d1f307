import Domain
import EventLog
import Foundation

/// RFC 4180 CSV: quoted fields with doubled quotes and embedded delimiters and newlines, a header
/// row naming the columns. Column types are inferred per column: all whole numbers → int, all
/// numbers → double, `true`/`false` → bool, otherwise text; empty fields are null.
public enum CSV {
    /// Reads one file, a MiB at a time (cancellation checked after each); a record longer than
    /// `limit` bytes fails naming the file and line.
    public static func read(file: String, delimiter: UInt8 = UInt8(ascii: ","), header: Bool = true,
                            cancellation: Cancellation = Cancellation(), limit: Int = ReadLimits.maxRecordBytes) throws(StageError) -> Table {
        let input = try FileInput(file)
        var records: [[String]] = []
        var lines: [Int32] = []
        var field: [UInt8] = []
        var record: [String] = []
        var recordBytes = 0
        var inQuotes = false
        var quoteInQuotes = false   // a `"` inside quotes: a doubled quote or the closing one
        var afterCR = false
        var line: Int32 = 1
        var recordLine: Int32 = 1
        var atFieldStart = true
        var afterQuote = false
        var first = true
        func endField() throws(StageError) {
            guard let s = String(validating: field, as: UTF8.self) else { throw StageError("\(file), line \(line): not UTF-8 text") }
            record.append(s)
            field.removeAll(keepingCapacity: true)
            atFieldStart = true
            afterQuote = false
        }
        let quote = UInt8(ascii: "\""), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        while let chunk = try input.next(cancellation) {
            var i = chunk.startIndex
            if first {
                first = false
                if chunk.starts(with: [0xEF, 0xBB, 0xBF]) { i += 3 }
            }
            while i < chunk.endIndex {
                let b = chunk[i]
                i += 1
                recordBytes += 1
                if recordBytes > limit {
                    throw StageError("\(file), line \(recordLine): a record longer than \(ReadLimits.phrase(limit)), the most ledgerflow reads in one CSV record; split it, or close the quoted field that runs on")
                }
                if afterCR {
                    afterCR = false
                    if b == lf { recordBytes = 0; continue }
                }
                if quoteInQuotes {
                    quoteInQuotes = false
                    if b == quote { field.append(b); continue }
                    inQuotes = false
                    afterQuote = true
                }
                if inQuotes {
                    if b == quote { quoteInQuotes = true } else {
                        if b == lf { line += 1 }
                        field.append(b)
                    }
                } else if b == quote && atFieldStart {
                    inQuotes = true
                    atFieldStart = false
                } else if b == delimiter {
                    try endField()
                } else if b == lf || b == cr {
                    if b == cr { afterCR = true }
                    if !(record.isEmpty && field.isEmpty && atFieldStart) {
                        try endField()
                        records.append(record)
                        lines.append(recordLine)
                    }
                    record = []
                    recordBytes = 0
                    line += 1
                    recordLine = line
                } else {
                    if afterQuote { throw StageError("\(file), line \(line): text after a closing quote; quote the whole field and double the quotes inside") }
                    field.append(b)
                    atFieldStart = false
                }
            }
        }
        if quoteInQuotes { inQuotes = false; afterQuote = true }
        if inQuotes { throw StageError("\(file), line \(recordLine): a quoted field is not closed before the end of the file") }
        if !record.isEmpty || !field.isEmpty || afterQuote { try endField(); records.append(record); lines.append(recordLine) }
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
        try cancellation.check()
        let types = columns.indices.map { c in inferType(texts.lazy.map { $0[c] }) }
        try cancellation.check()
        var rows: [[Value]] = []
        rows.reserveCapacity(texts.count)
        for (n, rec) in texts.enumerated() {
            if n % 65_536 == 0 { try cancellation.check() }
            rows.append(rec.indices.map { convert(rec[$0], types[$0]) })
        }
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
    /// Reads one file, a MiB at a time (cancellation checked after each); a line longer than
    /// `limit` bytes fails naming the file and line.
    public static func read(file: String, cancellation: Cancellation = Cancellation(), limit: Int = ReadLimits.maxRecordBytes) throws(StageError) -> Table {
        let input = try FileInput(file)
        var columns: [String] = []
        var index: [String: Int] = [:]
        var objects: [[Value.Member]] = []
        var origins: [(file: Int32, row: Int32)] = []
        var n: Int32 = 0
        var bytes: [UInt8] = []
        func endLine() throws(StageError) {
            n += 1
            defer { bytes.removeAll(keepingCapacity: true) }
            guard bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D && $0 != 0x0A }) else { return }
            guard let text = String(validating: bytes, as: UTF8.self) else { throw StageError("\(file), line \(n): not UTF-8 text") }
            let l = text.trimmingCharacters(in: .whitespacesAndNewlines)
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
        while let chunk = try input.next(cancellation) {
            var rest = chunk[...]
            while !rest.isEmpty {
                let end = rest.firstIndex(of: UInt8(ascii: "\n"))
                let piece = rest[..<(end ?? rest.endIndex)]
                if bytes.count + piece.count > limit {
                    throw StageError("\(file), line \(n + 1): a line longer than \(ReadLimits.phrase(limit)), the most ledgerflow reads in one JSON Lines record; split the record")
                }
                bytes.append(contentsOf: piece)
                guard let end else { break }
                try endLine()
                rest = rest[(end + 1)...]
            }
        }
        if !bytes.isEmpty { try endLine() }
        try cancellation.check()
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

/// How much one read may take at once.
public enum ReadLimits {
    /// The longest CSV record, JSON Lines line or SQLite value read: 64 MiB.
    public static let maxRecordBytes = 64 << 20
    /// The size of each read from a file; cancellation is checked after each.
    static let chunkBytes = 1 << 20

    /// `64 MiB`, or `1000 bytes`.
    static func phrase(_ bytes: Int) -> String {
        bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }
}

/// A file read a chunk at a time (a pipe too), closed when released.
final class FileInput {
    let file: String
    let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: ReadLimits.chunkBytes)
    /// Bytes read so far.
    private(set) var bytesRead = 0

    init(_ file: String) throws(StageError) {
        self.file = file
        fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StageError("cannot read \(file): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// The next chunk, or nil at the end; fails when the attempt is cancelled.
    func next(_ cancellation: Cancellation) throws(StageError) -> ArraySlice<UInt8>? {
        try cancellation.check()
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw StageError("cannot read \(file): \(String(cString: strerror(errno)))") }
            if n == 0 { return nil }
            bytesRead += n
            return buffer[0..<n]
        }
    }
}
