import Domain

/// Run a job on a cron schedule (UTC).
public struct ScheduleSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.schedule

    /// What happens to ticks missed while the engine was down.
    public enum CatchUp: String, Sendable, Hashable, CaseIterable {
        case none, latest, all
    }

    /// Free text for people.
    public var description: String?
    /// The 5-field cron expression (it parsed when the definition was applied).
    public var cron: String
    /// The job to run.
    public var job: String
    /// Default latest.
    public var catchUp: CatchUp?
    /// Parameters for the run, in name order.
    public var parameters: [Value.Member]

    /// A value with these fields.
    public init(description: String? = nil, cron: String, job: String, catchUp: CatchUp? = nil, parameters: [Value.Member] = []) {
        self.description = description
        self.cron = cron
        self.job = job
        self.catchUp = catchUp
        self.parameters = parameters
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        cron = try f.string("cron")
        job = try f.string("job")
        catchUp = try f.choice(opt: "catch_up")
        parameters = try f.mapping(opt: "parameters")
    }
}
