import Domain

/// Rows of the module configuration table.
public struct ConfigTableSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.configTable

    /// One row; (module_name, submodule, client_code) is unique in the table.
    public struct Row: Sendable, Hashable {
        /// Path of the module.
        public var modulePath: String
        /// The module.
        public var moduleName: String
        /// The submodule, if any.
        public var submodule: String?
        /// The client.
        public var clientCode: String
        /// Default true.
        public var active: Bool?
        /// The product.
        public var productCode: String

        /// A value with these fields.
        public init(modulePath: String, moduleName: String, submodule: String? = nil, clientCode: String, active: Bool? = nil, productCode: String) {
            self.modulePath = modulePath
            self.moduleName = moduleName
            self.submodule = submodule
            self.clientCode = clientCode
            self.active = active
            self.productCode = productCode
        }

        init(_ f: Fields) throws(DecodingFailure) {
            self.init(modulePath: try f.string("module_path"), moduleName: try f.string("module_name"), submodule: try f.string(opt: "submodule"),
                      clientCode: try f.string("client_code"), active: try f.bool(opt: "active"), productCode: try f.string("product_code"))
        }
    }

    /// Free text for people.
    public var description: String?
    /// The rows.
    public var rows: [Row]

    /// A value with these fields.
    public init(description: String? = nil, rows: [Row]) {
        self.description = description
        self.rows = rows
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        rows = []
        for r in try f.objects("rows") { rows.append(try Row(r)) }
    }
}
