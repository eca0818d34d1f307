import Domain

/// Run a job on a cron schedule (UTC).
public struct ScheduleSpec: KindSpec {
    public static let kind = DefinitionKind.schedule

    /// What happens to ticks missed while the engine was down.
    public enum CatchUp: String, Sendable, Hashable, CaseIterable {
        case none, latest, all
    }

    public var description: String?
    /// The 5-field cron expression (it parsed when the definition was applied).
    public var cron: String
    public var job: String
    /// Default latest.
    public var catchUp: CatchUp?
    /// Parameters for the run, in name order.
    public var parameters: [Value.Member]

    public init(description: String? = nil, cron: String, job: String, catchUp: CatchUp? = nil, parameters: [Value.Member] = []) {
        self.description = description
        self.cron = cron
        self.job = job
        self.catchUp = catchUp
        self.parameters = parameters
    }

    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        cron = try f.string("cron")
        job = try f.string("job")
        catchUp = try f.choice(opt: "catch_up")
        parameters = try f.mapping(opt: "parameters")
    }
}
