import Domain

/// The row transforms of an etl or storage stage (applied rename; the PII transforms mask, hash,
/// redact, drop; cast, derive, filter, select) and the columns its writes are partitioned by.
public struct TransformSpec: Sendable, Hashable {
    /// A column computed from an expression over the row.
    public struct DerivedColumn: Sendable, Hashable {
        /// The column.
        public var column: String
        /// The expression's text (it parsed when the definition was applied).
        public var expression: String

        /// A value with these fields.
        public init(column: String, expression: String) {
            self.column = column
            self.expression = expression
        }
    }

    /// Columns to keep, in order (nil: all).
    public var select: [String]?
    /// Old column name → new name.
    public var rename: [ColumnRename]
    /// Column → type.
    public var cast: [ColumnCast]
    /// Keep rows where this expression holds.
    public var filter: String?
    /// New columns, each from an expression over the row.
    public var derive: [DerivedColumn]
    /// Write one partition per distinct value of these columns.
    public var partitionBy: [String]
    /// Columns masked (all but their last characters replaced).
    public var mask: Mask?
    /// Columns replaced by a salted SHA-256.
    public var hash: Hash?
    /// Columns replaced by a fixed text or null.
    public var redact: Redact?
    /// Columns removed.
    public var drop: [String]

    /// A value with these fields.
    public init(select: [String]? = nil, rename: [ColumnRename] = [], cast: [ColumnCast] = [], filter: String? = nil,
                derive: [DerivedColumn] = [], partitionBy: [String] = [], mask: Mask? = nil, hash: Hash? = nil, redact: Redact? = nil,
                drop: [String] = []) {
        self.select = select
        self.rename = rename
        self.cast = cast
        self.filter = filter
        self.derive = derive
        self.partitionBy = partitionBy
        self.mask = mask
        self.hash = hash
        self.redact = redact
        self.drop = drop
    }

    init(_ f: Fields) throws(DecodingFailure) {
        select = try f.strings(opt: "select")
        rename = try f.object(opt: "rename").map { m throws(DecodingFailure) in try ColumnRename.list(m) } ?? []
        cast = try f.object(opt: "cast").map { m throws(DecodingFailure) in try ColumnCast.list(m) } ?? []
        filter = try f.string(opt: "filter")
        derive = try f.textMapping(opt: "derive").map { DerivedColumn(column: $0.name, expression: $0.text) }
        partitionBy = try f.strings(opt: "partition_by") ?? []
        mask = try f.object(opt: "mask").map { m throws(DecodingFailure) in try Mask(m) }
        hash = try f.object(opt: "hash").map { h throws(DecodingFailure) in try Hash(h) }
        redact = try f.object(opt: "redact").map { r throws(DecodingFailure) in try Redact(r) }
        drop = try f.strings(opt: "drop") ?? []
    }
}
