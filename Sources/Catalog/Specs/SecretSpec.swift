import Domain

/// Where a secret's value comes from (validation requires exactly one of the two); the value is
/// read only when a stage runs.
public struct SecretSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.secret

    /// Free text for people.
    public var description: String?
    /// Environment variable holding the value.
    public var fromEnv: String?
    /// File holding the value.
    public var fromFile: String?

    /// A value with these fields.
    public init(description: String? = nil, fromEnv: String? = nil, fromFile: String? = nil) {
        self.description = description
        self.fromEnv = fromEnv
        self.fromFile = fromFile
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        fromEnv = try f.string(opt: "from_env")
        fromFile = try f.string(opt: "from_file")
    }
}
