import Domain

/// Per product, which source column is which canonical column.
public struct ColumnMappingSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.columnMapping

    /// Free text for people.
    public var description: String?
    /// Product code the mapping applies to.
    public var product: String
    /// Source column → canonical column, in source column order.
    public var columns: [ColumnRename]

    /// A value with these fields.
    public init(description: String? = nil, product: String, columns: [ColumnRename]) {
        self.description = description
        self.product = product
        self.columns = columns
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        product = try f.string("product")
        columns = try ColumnRename.list(try f.object("columns"))
    }
}
