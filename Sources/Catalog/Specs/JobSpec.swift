import Domain

/// A job: parameters with their defaults, and stages (native or mapped from a seed JSON job).
public struct JobSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.job

    /// Free text for people.
    public var description: String?
    /// The team that owns the job.
    public var owner: String?
    /// Parameter name → default value, in name order.
    public var parameters: [Value.Member]
    /// The stages, in the order written.
    public var stages: [StageSpec]
    /// Stage attempts of one run at once.
    public var maxParallel: Int64?
    /// The seed table's numeric id (seed JSON jobs).
    public var jobID: Int64?

    /// A value with these fields.
    public init(description: String? = nil, owner: String? = nil, parameters: [Value.Member] = [], stages: [StageSpec],
                maxParallel: Int64? = nil, jobID: Int64? = nil) {
        self.description = description
        self.owner = owner
        self.parameters = parameters
        self.stages = stages
        self.maxParallel = maxParallel
        self.jobID = jobID
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        owner = try f.string(opt: "owner")
        parameters = try f.mapping(opt: "parameters")
        // Typed declarations are checked here, so that a bad one is an apply error (file:line).
        _ = try JobParameter.declarations(parameters, owner: Self.owner)
        stages = []
        for s in try f.objects("stages") { stages.append(try StageSpec(s)) }
        maxParallel = try f.int(opt: "max_parallel")
        jobID = try f.int(opt: "job_id")
    }

    /// The stage named `name`.
    public func stage(named name: String) -> StageSpec? { stages.first { $0.name == name } }

    /// A job read without what each stage type adds: what requesting and planning a run needs
    /// (a stage's own fields are read by its executor when it runs).
    public struct Outline: Sendable, Hashable {
        /// Parameter name → default value (or typed declaration), in name order.
        public var parameters: [Value.Member]
        /// The parameters as declared (typed or not), in name order.
        public var declared: [JobParameter]
        /// The stages, in the order written.
        public var stages: [StageSpec.Common]
        /// Stage attempts of one run at once.
        public var maxParallel: Int64?

        /// A value with these fields.
        public init(parameters: [Value.Member] = [], stages: [StageSpec.Common], maxParallel: Int64? = nil) {
            self.parameters = parameters
            self.declared = (try? JobParameter.declarations(parameters, owner: JobSpec.owner)) ?? []
            self.stages = stages
            self.maxParallel = maxParallel
        }

        /// Reads a stored job spec's outline.
        public init(_ spec: Value) throws(DecodingFailure) {
            let f = try Fields(JobSpec.owner, spec)
            parameters = try f.mapping(opt: "parameters")
            declared = try JobParameter.declarations(parameters, owner: JobSpec.owner)
            stages = []
            for s in try f.objects("stages") { stages.append(try StageSpec.Common(s)) }
            maxParallel = try f.int(opt: "max_parallel")
        }
    }

    /// This job's outline.
    public var outline: Outline { Outline(parameters: parameters, stages: stages.map(\.common), maxParallel: maxParallel) }
}

extension JobSpec {
    /// The stored spec of stage `name` in a stored job spec (what an attempt's context carries and
    /// its executor reads as a `StageSpec`); nil when the job has no such stage.
    public static func storedStage(_ name: String, of spec: Value) throws(DecodingFailure) -> Value? {
        // A scan of the stored items (no `Fields` per stage: this runs for every attempt launched).
        for item in try Fields(owner, spec).array("stages") {
            if case .members(let m) = item, m.contains(where: { $0.key == "name" && $0.value == .string(name) }) { return item }
        }
        return nil
    }
}
