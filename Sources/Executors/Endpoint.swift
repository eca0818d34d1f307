import Catalog
import Domain
import EventLog
import Foundation

/// Where rows are read from or written to, resolved from a source or output definition, or
/// from a seed stage's system names.
public struct Endpoint: Sendable, Hashable {
    public enum Format: String, Sendable { case sqlite, csv, jsonl, parquet }
    /// The dataset's name (the definition's name, or the seed stage's object).
    public var name: String
    public var format: Format
    /// SQLite file, or the csv/jsonl file or folder (absolute).
    public var path: String
    public var table: String?
    public var query: String?
    public var pattern: String?
    public var delimiter: UInt8 = UInt8(ascii: ",")
    public var header = true
    public var mode: String
    public var keys: [String] = []
    public var partitionBy: [String] = []
    /// The version this endpoint writes of a `Delta Table` stand-in (its path is that version's folder).
    public var deltaVersion: UInt64?
    /// The version of the dataset this endpoint reads when a stage names one (`NAME@N`): what is
    /// read must be what the log recorded of it.
    public var pinned: PinnedVersion?

    /// The location as events record it.
    public var location: String {
        format == .sqlite ? "\(path)#\(table ?? "query")" : path
    }

    /// The endpoint of a source definition.
    public static func from(source name: String, _ spec: SourceSpec, context: StageContext) throws(StageError) -> Endpoint {
        switch spec.input {
        case .sqlite(let read):
            var query: String?
            if let q = read.query { query = try context.substitute(query: q, source: name) }
            return Endpoint(name: name, format: .sqlite, path: context.resolve(context.substitute(read.database)), table: read.table,
                            query: query, mode: "append")
        case .csv(let files):
            var e = Endpoint(name: name, format: .csv, path: context.resolve(context.substitute(files.path)), pattern: files.pattern, mode: "replace")
            if let b = files.delimiter?.utf8.first { e.delimiter = b }
            e.header = files.header ?? true
            return e
        case .jsonl(let files):
            return Endpoint(name: name, format: .jsonl, path: context.resolve(context.substitute(files.path)), pattern: files.pattern, mode: "replace")
        case .parquet(let path):
            return Endpoint(name: name, format: .parquet, path: context.resolve(context.substitute(path)), mode: "replace")
        }
    }

    /// The endpoint of an output definition.
    public static func from(output name: String, _ spec: OutputSpec, context: StageContext) -> Endpoint {
        switch spec.sink {
        case .sqlite(let t):
            return Endpoint(name: name, format: .sqlite, path: context.resolve(context.substitute(t.database)), table: t.table,
                            mode: (t.mode ?? .append).rawValue, keys: t.keys ?? [])
        case .csv(let folder):
            return Endpoint(name: name, format: .csv, path: context.resolve(context.substitute(folder.path)), mode: (folder.mode ?? .replace).rawValue,
                            partitionBy: folder.partitionBy ?? [])
        case .jsonl(let folder):
            return Endpoint(name: name, format: .jsonl, path: context.resolve(context.substitute(folder.path)), mode: (folder.mode ?? .replace).rawValue,
                            partitionBy: folder.partitionBy ?? [])
        case .parquet(let folder):
            return Endpoint(name: name, format: .parquet, path: context.resolve(context.substitute(folder.path)), mode: (folder.mode ?? .replace).rawValue,
                            partitionBy: folder.partitionBy ?? [])
        }
    }

    /// Seed systems and their local stand-ins: databases become SQLite files under `data/`, the
    /// lake becomes folders of JSON Lines under `data/lake/`, a Delta table a versioned folder of
    /// JSON Lines under `data/delta/` (`DeltaTable`).
    public static let seedSystems: [String: (format: Format, place: String)] = [
        "sql server": (.sqlite, "data/sql_server.sqlite"),
        "azure sql": (.sqlite, "data/azure_sql.sqlite"),
        "synapse": (.sqlite, "data/synapse.sqlite"),
        "adls gen2": (.jsonl, "data/lake"),
        "blob storage": (.jsonl, "data/blob"),
        DeltaTable.system: (.jsonl, DeltaTable.place),
    ]

    /// The endpoint of a seed stage's `source` or `destination` system for its `object`.
    public static func seed(system: String, object: String, context: StageContext, isOutput: Bool) throws(StageError) -> Endpoint {
        guard let s = seedSystems[system.lowercased()] else {
            throw StageError("seed system '\(system)' has no local stand-in; known systems: \(seedSystems.keys.sorted().joined(separator: ", ")) (or give the stage a `source:`/`destination:` definition)")
        }
        if system.lowercased() == DeltaTable.system { return try DeltaTable.endpoint(table: object, context: context, isOutput: isOutput) }
        switch s.format {
        case .sqlite:
            return Endpoint(name: object, format: .sqlite, path: context.resolve(s.place), table: object, mode: isOutput ? "replace" : "append")
        case .csv, .jsonl, .parquet:
            return Endpoint(name: object, format: s.format, path: context.resolve("\(s.place)/\(object)"), mode: "replace")
        }
    }

    /// Reads every row: one file, or the files of a folder that match the pattern (sorted, hidden
    /// files and folders skipped, partition folders included). `check` is called with every file
    /// before it is opened (the store guard); cancellation is checked while reading (every MiB,
    /// every 4,096 SQLite rows), and a CSV record, JSON line or SQLite value longer than `limit`
    /// bytes fails naming the file and line.
    public func read(cancellation: Cancellation, limit: Int = ReadLimits.maxRecordBytes,
                     check: (String) throws(StageError) -> Void = { _ in }) throws(StageError) -> Table {
        try check(path)
        switch format {
        case .sqlite:
            return try SQLite.read(database: path, table: table, query: query, cancellation: cancellation, limit: limit)
        case .parquet:
            throw StageError("\(name) is Parquet (\(path)), which spark stages read; stages in process read csv, jsonl and sqlite: read it in a spark stage, or have the spark stage that writes it write csv or jsonl")
        case .csv, .jsonl:
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                throw StageError("\(format.rawValue) source \(name): \(path) does not exist; deliver the data there or fix the path")
            }
            let files = isDir.boolValue ? Endpoint.files(in: path, pattern: pattern ?? "*.\(format.rawValue)") : [path]
            var table = Table(columns: [])
            for f in files {
                try cancellation.check()
                try check(f)
                // Each file's rows name file 0 of their table; `append` renumbers them.
                table.append(format == .csv ? try CSV.read(file: f, delimiter: delimiter, header: header, cancellation: cancellation, limit: limit)
                                            : try JSONLines.read(file: f, cancellation: cancellation, limit: limit))
            }
            return table
        }
    }

    /// Files under `folder` whose name matches `pattern` (fnmatch), sorted, hidden ones skipped.
    static func files(in folder: String, pattern: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: folder) else { return [] }
        var out: [String] = []
        for case let rel as String in e {
            if rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            let name = (rel as NSString).lastPathComponent
            if fnmatch(pattern, name, 0) == 0 { out.append((folder as NSString).appendingPathComponent(rel)) }
        }
        return out.sorted()
    }
}
