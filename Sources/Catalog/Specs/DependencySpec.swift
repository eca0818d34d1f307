import Domain

/// Run a job after another job, or after all of several jobs, ends.
public struct DependencySpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.dependency

    /// Which outcome of the upstream runs starts the job.
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        case success, failure, completion
    }

    /// Free text for people.
    public var description: String?
    /// The job, or all of several jobs, to wait for.
    public var after: [String]
    /// Default success.
    public var on: Outcome?
    /// The job to run.
    public var run: String
    /// Parameters for the run, in name order.
    public var parameters: [Value.Member]

    /// A value with these fields.
    public init(description: String? = nil, after: [String], on: Outcome? = nil, run: String, parameters: [Value.Member] = []) {
        self.description = description
        self.after = after
        self.on = on
        self.run = run
        self.parameters = parameters
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        after = try f.oneOrMany("after")
        on = try f.choice(opt: "on")
        run = try f.string("run")
        parameters = try f.mapping(opt: "parameters")
    }
}
