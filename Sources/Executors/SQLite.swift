import Domain
import EventLog
import Foundation
import GRDB
import GRDBSQLite

/// SQLite through GRDB: read a table or a query; write a table in one transaction (append,
/// replace, or upsert on key columns), creating it when missing.
public enum SQLite {
    /// Reads every row of `table` or of the SELECT `query`. Cancellation interrupts the query
    /// (also one still looking for its first row) and is checked every 4,096 rows; a value longer
    /// than `limit` bytes fails.
    public static func read(database: String, table: String?, query: String?, cancellation: Cancellation = Cancellation(),
                            limit: Int = ReadLimits.maxRecordBytes) throws(StageError) -> Table {
        guard FileManager.default.fileExists(atPath: database) else {
            throw StageError("SQLite database \(database) does not exist; check the source's `database` path")
        }
        let sql = query ?? "SELECT * FROM \(quote(table ?? ""))"
        var token: UInt64?
        defer { if let token { cancellation.remove(token) } }
        do {
            var config = Configuration()
            config.readonly = true
            config.prepareDatabase { db in
                // SQLite itself refuses strings and blobs longer than this (SQLITE_TOOBIG).
                if let c = db.sqliteConnection { sqlite3_limit(c, SQLITE_LIMIT_LENGTH, Int32(clamping: limit)) }
            }
            let db = try DatabaseQueue(path: database, configuration: config)
            token = cancellation.onCancel { db.interrupt() }
            return try db.read { db in
                let statement = try db.makeStatement(sql: sql)
                let columns = statement.columnNames
                var rows: [[Value]] = []
                var origins: [(file: Int32, row: Int32)] = []
                let cursor = try Row.fetchCursor(statement)
                var n: Int32 = 0
                while let row = try cursor.next() {
                    if n % 4096 == 0 { try cancellation.check() }
                    n += 1
                    rows.append((0..<columns.count).map { value(row[$0] as DatabaseValue) })
                    origins.append((0, n))
                }
                return Table(columns: columns, rows: rows, origins: origins, files: ["\(database) (\(table.map { "table \($0)" } ?? "query"))"])
            }
        } catch let e as StageError {
            throw e
        } catch let e as DatabaseError {
            if let r = cancellation.reason { throw StageError.stopped(r, "the read of \(database)") }
            if e.resultCode == .SQLITE_TOOBIG {
                throw StageError("SQLite \(database): a value longer than \(ReadLimits.phrase(limit)), the most ledgerflow reads in one field, in `\(sql)`; select a shorter part of it (substr)")
            }
            throw StageError("SQLite \(database): \(e.message ?? "\(e.resultCode)") in `\(sql)`")
        } catch {
            throw StageError("SQLite \(database): \(error)")
        }
    }

    static func value(_ v: DatabaseValue) -> Value {
        switch v.storage {
        case .null: return .null
        case .int64(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .blob(let b): return .string(b.base64EncodedString())
        }
    }

    static func bind(_ v: Value) -> (any DatabaseValueConvertible)? {
        switch v {
        case .null: return nil
        case .bool(let b): return b ? 1 : 0
        case .int(let i): return i
        case .double(let d): return d
        case .string(let s): return s
        case .array, .members: return v.jsonString
        }
    }

    /// `"name"` with inner quotes doubled.
    static func quote(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    static func sqlType(_ t: String) -> String {
        switch t {
        case "int", "bool": return "INTEGER"
        case "double": return "REAL"
        default: return "TEXT"
        }
    }

    /// Writes `t` to `table` in one transaction: nothing is written unless everything is.
    /// - append: inserts; replace: deletes every row first; upsert: inserts, or updates the row
    ///   with the same `keys` (a unique index on them is created when missing).
    /// Columns the table lacks are added.
    public static func write(_ t: Table, database: String, table: String, mode: String, keys: [String],
                             cancellation: Cancellation) throws(StageError) {
        if mode == "upsert" {
            if keys.isEmpty { throw StageError("upsert into \(table) needs `keys`; add `keys: [column, …]` to the output") }
            for k in keys where !t.columns.contains(k) {
                throw StageError("upsert key '\(k)' is not a column of the rows written to \(table) (columns: \(t.columns.joined(separator: ", ")))")
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: (database as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let db = try DatabaseQueue(path: database)
            let schema = t.schema
            try db.write { db in
                let q = quote(table)
                if try !db.tableExists(table) {
                    let cols = schema.map { "\(quote($0.name)) \(sqlType($0.type))" }.joined(separator: ", ")
                    try db.execute(sql: "CREATE TABLE \(q) (\(cols))")
                } else {
                    let existing = Set(try db.columns(in: table).map(\.name))
                    for c in schema where !existing.contains(c.name) {
                        try db.execute(sql: "ALTER TABLE \(q) ADD COLUMN \(quote(c.name)) \(sqlType(c.type))")
                    }
                }
                if mode == "replace" { try db.execute(sql: "DELETE FROM \(q)") }
                let names = t.columns.map(quote).joined(separator: ", ")
                let marks = Array(repeating: "?", count: t.columns.count).joined(separator: ", ")
                var sql = "INSERT INTO \(q) (\(names)) VALUES (\(marks))"
                if mode == "upsert" {
                    let keyList = keys.map(quote).joined(separator: ", ")
                    let indexName = quote("ledgerflow_upsert_\(table)_\(keys.joined(separator: "_"))")
                    try db.execute(sql: "CREATE UNIQUE INDEX IF NOT EXISTS \(indexName) ON \(q) (\(keyList))")
                    let updates = t.columns.filter { !keys.contains($0) }.map { "\(quote($0)) = excluded.\(quote($0))" }
                    sql += updates.isEmpty ? " ON CONFLICT (\(keyList)) DO NOTHING" : " ON CONFLICT (\(keyList)) DO UPDATE SET \(updates.joined(separator: ", "))"
                }
                let statement = try db.makeStatement(sql: sql)
                for (i, row) in t.rows.enumerated() {
                    if i % 4096 == 0, let r = cancellation.reason { throw StageError.stopped(r, "the write to \(table)") }
                    try statement.execute(arguments: StatementArguments(row.map(bind)))
                }
            }
        } catch let e as StageError {
            throw e
        } catch let e as DatabaseError {
            throw StageError("SQLite \(database), table \(table): \(e.message ?? "\(e.resultCode)"); nothing was written")
        } catch {
            throw StageError("SQLite \(database), table \(table): \(error); nothing was written")
        }
    }
}
