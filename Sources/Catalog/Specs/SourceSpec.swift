import Domain

/// A named input: a SQLite table or query, or CSV or JSON Lines files.
public struct SourceSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.source

    /// A SQLite table or query read (validation requires exactly one of them).
    public struct SQLiteRead: Sendable, Hashable {
        /// The SQLite file (relative to the project folder).
        public var database: String
        /// Table to read (or `query`).
        public var table: String?
        /// SELECT to run (or `table`).
        public var query: String?

        /// A value with these fields.
        public init(database: String, table: String? = nil, query: String? = nil) {
            self.database = database
            self.table = table
            self.query = query
        }
    }

    /// CSV files read: a file, or the files of a folder.
    public struct CSVFiles: Sendable, Hashable {
        /// The file or folder (relative to the project folder).
        public var path: String
        /// Files to read in a folder (default *.csv).
        public var pattern: String?
        /// One character (default `,`).
        public var delimiter: String?
        /// The first line names the columns (default true).
        public var header: Bool?

        /// A value with these fields.
        public init(path: String, pattern: String? = nil, delimiter: String? = nil, header: Bool? = nil) {
            self.path = path
            self.pattern = pattern
            self.delimiter = delimiter
            self.header = header
        }
    }

    /// JSON Lines files read: a file, or the files of a folder.
    public struct JSONLinesFiles: Sendable, Hashable {
        /// The file or folder (relative to the project folder).
        public var path: String
        /// Files to read in a folder (default *.jsonl).
        public var pattern: String?

        /// A value with these fields.
        public init(path: String, pattern: String? = nil) {
            self.path = path
            self.pattern = pattern
        }
    }

    /// The input, by type.
    public enum Input: Sendable, Hashable {
        case sqlite(SQLiteRead)
        case csv(CSVFiles)
        case jsonl(JSONLinesFiles)
        /// A Parquet file or folder: read by spark stages only.
        case parquet(path: String)
    }

    /// Free text for people.
    public var description: String?
    /// Where rows come from.
    public var input: Input

    /// A value with these fields.
    public init(description: String? = nil, input: Input) {
        self.description = description
        self.input = input
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        switch try f.string("type") {
        case "sqlite":
            input = .sqlite(SQLiteRead(database: try f.string("database"), table: try f.string(opt: "table"), query: try f.string(opt: "query")))
        case "csv":
            input = .csv(CSVFiles(path: try f.string("path"), pattern: try f.string(opt: "pattern"), delimiter: try f.string(opt: "delimiter"),
                                  header: try f.bool(opt: "header")))
        case "jsonl":
            input = .jsonl(JSONLinesFiles(path: try f.string("path"), pattern: try f.string(opt: "pattern")))
        case "parquet":
            input = .parquet(path: try f.string("path"))
        default: throw f.failure("type", expected: "one of " + KindSchemas.outputOrSourceType.joined(separator: ", "), found: f.value("type"))
        }
    }

    /// The input's family: sqlite, csv or jsonl.
    public var type: String {
        switch input {
        case .sqlite: return "sqlite"
        case .csv: return "csv"
        case .jsonl: return "jsonl"
        case .parquet: return "parquet"
        }
    }
}
