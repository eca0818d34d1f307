import Domain

/// A named sink: a SQLite table, or a folder of CSV or JSON Lines files.
public struct OutputSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.output

    /// How a write treats what is there.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        case append, replace, upsert
    }

    /// A SQLite table written.
    public struct SQLiteTable: Sendable, Hashable {
        /// The SQLite file (relative to the project folder).
        public var database: String
        /// The table.
        public var table: String
        /// Default append.
        public var mode: Mode?
        /// Key columns of an upsert.
        public var keys: [String]?

        /// A value with these fields.
        public init(database: String, table: String, mode: Mode? = nil, keys: [String]? = nil) {
            self.database = database
            self.table = table
            self.mode = mode
            self.keys = keys
        }
    }

    /// A folder of files written.
    public struct Folder: Sendable, Hashable {
        /// The file or folder (relative to the project folder).
        public var path: String
        /// Partition columns (folders col=value).
        public var partitionBy: [String]?
        /// Default replace (append or replace).
        public var mode: Mode?

        /// A value with these fields.
        public init(path: String, partitionBy: [String]? = nil, mode: Mode? = nil) {
            self.path = path
            self.partitionBy = partitionBy
            self.mode = mode
        }
    }

    /// The sink, by type.
    public enum Sink: Sendable, Hashable {
        case sqlite(SQLiteTable)
        case csv(Folder)
        case jsonl(Folder)
        /// Written by spark stages only.
        case parquet(Folder)
    }

    /// Free text for people.
    public var description: String?
    /// Where rows go.
    public var sink: Sink

    /// A value with these fields.
    public init(description: String? = nil, sink: Sink) {
        self.description = description
        self.sink = sink
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        switch try f.string("type") {
        case "sqlite":
            sink = .sqlite(SQLiteTable(database: try f.string("database"), table: try f.string("table"), mode: try f.choice(opt: "mode"),
                                       keys: try f.strings(opt: "keys")))
        case "csv": sink = .csv(try Folder(f))
        case "jsonl": sink = .jsonl(try Folder(f))
        case "parquet": sink = .parquet(try Folder(f))
        default: throw f.failure("type", expected: "one of " + KindSchemas.outputOrSourceType.joined(separator: ", "), found: f.value("type"))
        }
    }

    /// The sink's family: sqlite, csv or jsonl.
    public var type: String {
        switch sink {
        case .sqlite: return "sqlite"
        case .csv: return "csv"
        case .jsonl: return "jsonl"
        case .parquet: return "parquet"
        }
    }

    /// The path as written (the database for sqlite), before substitution.
    public var path: String {
        switch sink {
        case .sqlite(let t): return t.database
        case .csv(let f), .jsonl(let f), .parquet(let f): return f.path
        }
    }

    /// True when the path holds a fact of the attempt that writes it (`${run}`, `${run.id}`,
    /// `${stage}`, `${attempt}`): each write goes to a place of its own, which only the log knows
    /// afterwards (a reader's own substitution would name its own run).
    public var pathNamesWriter: Bool {
        ["${run}", "${run.id}", "${stage}", "${attempt}"].contains { path.contains($0) }
    }

    /// The write mode as written (nil: the family's default).
    public var mode: Mode? {
        switch sink {
        case .sqlite(let t): return t.mode
        case .csv(let f), .jsonl(let f), .parquet(let f): return f.mode
        }
    }
}

extension OutputSpec.Folder {
    init(_ f: Fields) throws(DecodingFailure) {
        self.init(path: try f.string("path"), partitionBy: try f.strings(opt: "partition_by"), mode: try f.choice(opt: "mode"))
    }
}
