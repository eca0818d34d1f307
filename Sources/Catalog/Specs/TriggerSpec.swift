import Domain

/// Run a job when a condition over predictions, metrics or stage outputs holds.
public struct TriggerSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.trigger

    /// What events the condition looks at.
    public enum SourceType: String, Sendable, Hashable, CaseIterable {
        case predictions, metrics
        case stageOutput = "stage_output"
    }

    /// Fire once per source run, or once per matching row.
    public enum Dedupe: String, Sendable, Hashable, CaseIterable {
        case oncePerRun = "once_per_run"
        case oncePerRow = "once_per_row"
    }

    /// Where the matching events come from (validation checks which fields fit the type).
    public struct Source: Sendable, Hashable {
        /// What events the condition looks at.
        public var type: SourceType
        /// The model (predictions, metrics).
        public var model: String?
        /// The job and its stage (stage_output).
        public var job: String?
        /// The stage of that job.
        public var stage: String?
        /// Fields the events have beyond the known ones.
        public var fields: [String]?

        /// A value with these fields.
        public init(type: SourceType, model: String? = nil, job: String? = nil, stage: String? = nil, fields: [String]? = nil) {
            self.type = type
            self.model = model
            self.job = job
            self.stage = stage
            self.fields = fields
        }
    }

    /// A run parameter taken from a field of the matching event.
    public struct Parameter: Sendable, Hashable {
        /// The run parameter.
        public var name: String
        /// The field of the matching event.
        public var field: String

        /// A value with these fields.
        public init(name: String, field: String) {
            self.name = name
            self.field = field
        }
    }

    /// Free text for people.
    public var description: String?
    /// Where the matching events come from.
    public var source: Source
    /// The condition's text (it parsed when the definition was applied).
    public var condition: String
    /// The job to launch.
    public var run: String
    /// In parameter name order.
    public var parameters: [Parameter]
    /// Default once_per_run.
    public var dedupe: Dedupe?

    /// A value with these fields.
    public init(description: String? = nil, source: Source, condition: String, run: String, parameters: [Parameter] = [], dedupe: Dedupe? = nil) {
        self.description = description
        self.source = source
        self.condition = condition
        self.run = run
        self.parameters = parameters
        self.dedupe = dedupe
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        let s = try f.object("source")
        source = Source(type: try s.choice("type"), model: try s.string(opt: "model"), job: try s.string(opt: "job"),
                        stage: try s.string(opt: "stage"), fields: try s.strings(opt: "fields"))
        condition = try f.string("condition")
        run = try f.string("run")
        parameters = try f.textMapping(opt: "parameters").map { Parameter(name: $0.name, field: $0.text) }
        dedupe = try f.choice(opt: "dedupe")
    }
}
