import Domain

/// Run a job when a marker file arrives in a folder.
public struct SensorSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.sensor

    /// Free text for people.
    public var description: String?
    /// Folder watched.
    public var path: String
    /// Marker file pattern (default *.done).
    public var pattern: String?
    /// The job to run per marker.
    public var job: String
    /// Seconds between looks (default 5).
    public var pollInterval: Double?
    /// Parameters for the run, in name order.
    public var parameters: [Value.Member]

    /// A value with these fields.
    public init(description: String? = nil, path: String, pattern: String? = nil, job: String, pollInterval: Double? = nil, parameters: [Value.Member] = []) {
        self.description = description
        self.path = path
        self.pattern = pattern
        self.job = job
        self.pollInterval = pollInterval
        self.parameters = parameters
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        path = try f.string("path")
        pattern = try f.string(opt: "pattern")
        job = try f.string("job")
        pollInterval = try f.duration(opt: "poll_interval")
        parameters = try f.mapping(opt: "parameters")
    }
}
