import Domain

/// A column renamed: `from` → `to` (an etl stage's or feature step's `rename`, a column mapping's
/// source column → canonical column).
public struct ColumnRename: Sendable, Hashable {
    /// The column as read.
    public var from: String
    /// Its new name.
    public var to: String

    /// A value with these fields.
    public init(from: String, to: String) {
        self.from = from
        self.to = to
    }

    /// The pairs of a mapping of names to texts (the mapping's own fields).
    static func list(_ mapping: Fields) throws(DecodingFailure) -> [ColumnRename] {
        var out: [ColumnRename] = []
        for m in mapping.members { out.append(ColumnRename(from: m.key, to: try mapping.string(m.key))) }
        return out
    }
}

/// A column cast to a type (an etl stage's or feature step's `cast`).
public struct ColumnCast: Sendable, Hashable {
    /// The types a column is cast to.
    public enum CastType: String, Sendable, Hashable, CaseIterable {
        case string, int, double, bool
    }

    /// The column.
    public var column: String
    /// The type it is cast to.
    public var type: CastType

    /// A value with these fields.
    public init(column: String, type: CastType) {
        self.column = column
        self.type = type
    }

    /// The casts of a mapping of columns to types (the mapping's own fields).
    static func list(_ mapping: Fields) throws(DecodingFailure) -> [ColumnCast] {
        var out: [ColumnCast] = []
        for m in mapping.members { out.append(ColumnCast(column: m.key, type: try mapping.choice(m.key))) }
        return out
    }
}
