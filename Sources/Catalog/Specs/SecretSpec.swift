import Domain

/// Where a secret's value comes from (validation requires exactly one of the two); the value is
/// read only when a stage runs.
public struct SecretSpec: KindSpec {
    public static let kind = DefinitionKind.secret

    public var description: String?
    /// Environment variable holding the value.
    public var fromEnv: String?
    /// File holding the value.
    public var fromFile: String?

    public init(description: String? = nil, fromEnv: String? = nil, fromFile: String? = nil) {
        self.description = description
        self.fromEnv = fromEnv
        self.fromFile = fromFile
    }

    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        fromEnv = try f.string(opt: "from_env")
        fromFile = try f.string(opt: "from_file")
    }
}
