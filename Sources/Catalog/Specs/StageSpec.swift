import Domain

/// One stage of a job: what every stage has (`common`: name, type, order, datasets, retry,
/// timeout, the seed row it came from; read as `stage.name`, `stage.after`, …) and what its type
/// adds (`variant`).
@dynamicMemberLookup
public struct StageSpec: Sendable, Hashable {
    /// What a stage of each type adds.
    public enum Variant: Sendable, Hashable {
        case etl(Transfer)
        case storage(Transfer)
        case features(Features)
        case train(Train)
        case inference(Inference)
        case evaluate(Evaluate)
        case merge(Merge)
        case script(Script)
        case files(Files)
        case job(ChildJob)
        case forEach(ForEach)
        case spark(Spark)
    }

    /// job: run another job with parameters and wait for its run to end (its outcome is the
    /// stage's; its stages' outputs are the stage's outputs).
    public struct ChildJob: Sendable, Hashable {
        /// The job run as a child.
        public var job: String
        /// Parameters passed to it, as written (texts may hold `${params.X}`, `${run.id}`,
        /// `${stages.S.outputs.F}`).
        public var parameters: [Value.Member]

        /// A value with these fields.
        public init(job: String, parameters: [Value.Member] = []) {
            self.job = job
            self.parameters = parameters
        }
    }

    /// etl and storage: rows from a source to a destination, transformed on the way.
    public struct Transfer: Sendable, Hashable {
        /// Source definition read (else the stage's inputs, else the seed row's system).
        public var source: String?
        /// Output definition written (else the stage's outputs, else the seed row's system).
        public var destination: String?
        /// The row transforms.
        public var transform: TransformSpec

        /// A value with these fields.
        public init(source: String? = nil, destination: String? = nil, transform: TransformSpec = TransformSpec()) {
            self.source = source
            self.destination = destination
            self.transform = transform
        }
    }

    /// features: apply a feature spec, fitted here or a model's.
    public struct Features: Sendable, Hashable {
        /// The feature spec definition.
        public var spec: String
        /// Fit the spec on this input (default false).
        public var fit: Bool
        /// `model` or `model@alias` whose fitted parameters are applied when not fitting.
        public var model: String?
        /// Output definition written.
        public var destination: String?

        /// A value with these fields.
        public init(spec: String, fit: Bool = false, model: String? = nil, destination: String? = nil) {
            self.spec = spec
            self.fit = fit
            self.model = model
            self.destination = destination
        }
    }

    /// train: fit a model definition.
    public struct Train: Sendable, Hashable {
        /// The model definition.
        public var model: String
        /// Set when it trains on Spark (`engine: spark`).
        public var spark: SparkSettings?

        /// A value with these fields.
        public init(model: String, spark: SparkSettings? = nil) {
            self.model = model
            self.spark = spark
        }
    }

    /// inference: score rows with a model version, or with a scorer program (`script`).
    public struct Inference: Sendable, Hashable {
        /// `model` or `model@alias`; nil when the stage scores with `script` (or a seed row names neither).
        public var model: String?
        /// Column that identifies a row's entity.
        public var entityKey: String?
        /// Output definition written.
        public var destination: String?
        /// The scorer program, run through the script-model protocol (relative: to the project
        /// folder; a seed row's is made absolute against the seed file's folder when applied).
        public var script: String?
        /// The program that runs `script` (nil: `python3` for a `.py` file, else the script itself).
        public var interpreter: String?
        /// Set when it scores on Spark (`engine: spark`).
        public var spark: SparkSettings?

        /// A value with these fields.
        public init(model: String?, entityKey: String? = nil, destination: String? = nil, script: String? = nil, interpreter: String? = nil,
                    spark: SparkSettings? = nil) {
            self.model = model
            self.entityKey = entityKey
            self.destination = destination
            self.script = script
            self.interpreter = interpreter
            self.spark = spark
        }
    }

    /// evaluate: compare labels with a model's earlier predictions.
    public struct Evaluate: Sendable, Hashable {
        /// The model definition.
        public var model: String
        /// Column of the labels that identifies the entity.
        public var entityKey: String
        /// Column holding the true value.
        public var label: String

        /// A value with these fields.
        public init(model: String, entityKey: String, label: String) {
            self.model = model
            self.entityKey = entityKey
            self.label = label
        }
    }

    /// merge: combine products' datasets through column mappings.
    public struct Merge: Sendable, Hashable {
        /// The column mapping definition applied to each input.
        public var mapping: String
        /// Columns that identify a row across inputs.
        public var key: [String]
        /// Output definition written.
        public var destination: String?
        /// Fail when an input lacks a column its product's mapping names (default false: the
        /// canonical column is left empty and reported under `missing`).
        public var strict: Bool

        /// A value with these fields.
        public init(mapping: String, key: [String] = [], destination: String? = nil, strict: Bool = false) {
            self.mapping = mapping
            self.key = key
            self.destination = destination
            self.strict = strict
        }
    }

    /// script: run a program.
    public struct Script: Sendable, Hashable {
        /// argv: the program and its arguments.
        public var command: [String]
        /// Working folder, relative to the project folder.
        public var workdir: String?
        /// Environment variables added, in name order.
        public var env: [EnvVariable]

        /// A value with these fields.
        public init(command: [String], workdir: String? = nil, env: [EnvVariable] = []) {
            self.command = command
            self.workdir = workdir
            self.env = env
        }
    }

    /// files: copy, move, delete files and make folders, in order (see `FileOperation`).
    public struct Files: Sendable, Hashable {
        /// The operations, applied in order.
        public var operations: [FileOperation]

        /// A value with these fields.
        public init(operations: [FileOperation]) { self.operations = operations }
    }

    /// One operation of a files stage: `{op: copy|move, from, to, pattern, overwrite, dataset}`,
    /// `{op: delete, from, pattern, dataset}` or `{op: mkdir, to}`. Folders may hold
    /// `${params.NAME}`, `${run}`, `${stage}`, `${attempt}`.
    public struct FileOperation: Sendable, Hashable {
        /// What an operation does.
        public enum Op: String, Sendable, Hashable, CaseIterable {
            case copy, move, delete, mkdir
        }

        /// The operation.
        public var op: Op
        /// Folder files are taken from (copy, move, delete).
        public var from: String?
        /// Folder files go to, or the folder made (copy, move, mkdir).
        public var to: String?
        /// Glob on the file name (default `*`; required for delete).
        public var pattern: String?
        /// Replace a destination file whose content differs (default false).
        public var overwrite: Bool
        /// Name of the dataset version that records the files (default `<job>.<stage>.<n>`).
        public var dataset: String?

        /// A value with these fields.
        public init(op: Op, from: String? = nil, to: String? = nil, pattern: String? = nil, overwrite: Bool = false, dataset: String? = nil) {
            self.op = op
            self.from = from
            self.to = to
            self.pattern = pattern
            self.overwrite = overwrite
            self.dataset = dataset
        }

        init(_ f: Fields) throws(DecodingFailure) {
            guard let op = Op(rawValue: try f.string("op")) else {
                throw f.failure("op", expected: "one of " + KindSchemas.fileOps.joined(separator: ", "), found: f.value("op"))
            }
            switch op {
            case .copy, .move:
                self.init(op: op, from: try f.string("from"), to: try f.string("to"), pattern: try f.string(opt: "pattern"),
                          overwrite: try f.bool(opt: "overwrite") ?? false, dataset: try f.string(opt: "dataset"))
            case .delete:
                self.init(op: op, from: try f.string("from"), pattern: try f.string("pattern"), dataset: try f.string(opt: "dataset"))
            case .mkdir:
                self.init(op: op, to: try f.string("to"))
            }
        }

        /// The glob on file names (`*` when none is written).
        public var glob: String { pattern ?? "*" }
    }

    /// One environment variable of a script stage.
    public struct EnvVariable: Sendable, Hashable {
        /// The variable's name.
        public var name: String
        /// Its value.
        public var value: EnvValue

        /// A value with these fields.
        public init(name: String, value: EnvValue) {
            self.name = name
            self.value = value
        }
    }

    /// An environment value: a secret reference, or a value as written (text, or a number or
    /// boolean used as text; anything else is refused by validation).
    public enum EnvValue: Sendable, Hashable {
        /// `{secret: NAME}`: resolved when the stage runs.
        case secret(String)
        /// `{secret: …}` whose name is not text (refused by validation).
        case malformedSecret(Value)
        case value(Value)

        init(_ v: Value) {
            guard case .members(let m) = v, m.count == 1, m[0].key == "secret" else {
                self = .value(v)
                return
            }
            if case .string(let name) = m[0].value { self = .secret(name) } else { self = .malformedSecret(v) }
        }

        /// The value as written.
        public var value: Value {
            switch self {
            case .secret(let name): return .object([("secret", .string(name))])
            case .malformedSecret(let v), .value(let v): return v
            }
        }
    }

    /// A stage's retry policy as written.
    public struct Retry: Sendable, Hashable {
        /// Attempts in all, the first included.
        public var attempts: Int64
        /// Seconds before the second attempt.
        public var backoff: Double?
        /// Each further wait is the previous one times this.
        public var factor: Double?
        /// Longest wait, in seconds.
        public var maxBackoff: Double?

        /// A value with these fields.
        public init(attempts: Int64, backoff: Double? = nil, factor: Double? = nil, maxBackoff: Double? = nil) {
            self.attempts = attempts
            self.backoff = backoff
            self.factor = factor
            self.maxBackoff = maxBackoff
        }

        init(_ f: Fields) throws(DecodingFailure) {
            attempts = try f.int("attempts")
            backoff = try f.duration(opt: "backoff")
            factor = try f.double(opt: "factor")
            maxBackoff = try f.duration(opt: "max_backoff")
        }
    }

    /// The stage of a seed JSON job as it was written (its text fields read; the rest kept).
    public struct SeedRow: Sendable, Hashable {
        /// The row as written.
        public var value: Value
        /// Source system (`SQL Server`, `ADLS Gen2`, …).
        public var source: String?
        /// Destination system.
        public var destination: String?
        /// The table or folder the row moves.
        public var object: String?
        /// An Inference row's model reference and entity key.
        public var model: String?
        /// Column that identifies a row's entity.
        public var entityKey: String?
        /// An Inference row's scorer program, as written.
        public var script: String?
        /// The program that runs the row's `script`.
        public var interpreter: String?
        /// The destination table (names the dataset written; a `Delta Table` row's).
        public var table: String?

        /// Reads the text fields of a seed row (any other value is kept only in `value`).
        public init(_ value: Value) {
            self.value = value
            let f = try? Fields("seed row", value)
            func text(_ key: String) -> String? { f?.value(key)?.stringValue }
            source = text("source")
            destination = text("destination")
            object = text("object")
            model = text("model")
            entityKey = text("entity_key")
            script = text("script")
            interpreter = text("interpreter")
            table = text("table")
        }

        /// The dataset the row writes: its `table`, else its `object`.
        public var written: String? { table ?? object }
    }

    /// What every stage has: enough to plan a run (the scheduler never needs what a type adds).
    public struct Common: Sendable, Hashable {
        /// Unique in the job.
        public var name: String
        /// etl, storage, features, train, inference, evaluate, merge, script, files or job.
        public var type: String
        /// Free text for people.
        public var description: String?
        /// Stages of the job that must succeed first.
        public var after: [String]
        /// Datasets read.
        public var inputs: [String]
        /// Datasets written.
        public var outputs: [String]
        /// Retry policy (default: one attempt).
        public var retry: Retry?
        /// Seconds an attempt may run.
        public var timeout: Double?
        /// The seed JSON row the stage was mapped from.
        public var seed: SeedRow?
        /// The team that owns the stage (told when it fails).
        public var owner: String?
        /// When it runs as to the stages in `after` (nil: when they succeeded).
        public var on: PlannedStage.RunOn?
        /// A condition evaluated when it could start: false skips it (with the reason recorded).
        public var when: String?

        /// A value with these fields.
        public init(name: String, type: String, description: String? = nil, after: [String] = [], inputs: [String] = [], outputs: [String] = [],
                    retry: Retry? = nil, timeout: Double? = nil, seed: SeedRow? = nil, owner: String? = nil) {
            self.name = name
            self.type = type
            self.description = description
            self.after = after
            self.inputs = inputs
            self.outputs = outputs
            self.retry = retry
            self.timeout = timeout
            self.seed = seed
            self.owner = owner
        }

        /// Reads a stage's common fields (inside a job spec, failures name the job and the path).
        init(_ f: Fields) throws(DecodingFailure) {
            name = try f.string("name")
            type = try f.string("type")
            guard KindSchemas.stageTypes.contains(type) else {
                throw f.failure("type", expected: "one of " + KindSchemas.stageTypes.joined(separator: ", "), found: f.value("type"))
            }
            description = try f.string(opt: "description")
            after = try f.strings(opt: "after") ?? []
            inputs = try f.strings(opt: "inputs") ?? []
            outputs = try f.strings(opt: "outputs") ?? []
            retry = try f.object(opt: "retry").map { r throws(DecodingFailure) in try Retry(r) }
            timeout = try f.duration(opt: "timeout")
            seed = f.value("seed").map(SeedRow.init)
            owner = try f.string(opt: "owner")
            if let text = try f.string(opt: "on") {
                guard let o = PlannedStage.RunOn(rawValue: text) else { throw f.failure("on", expected: "success, failure or completion", found: .string(text)) }
                on = o
            }
            when = try f.string(opt: "when")
        }
    }

    /// What every stage has.
    public var common: Common
    /// What the stage's type adds.
    public var variant: Variant

    /// A value with these fields.
    public init(common: Common, variant: Variant) {
        self.common = common
        self.variant = variant
    }

    /// A common field: `stage.name`, `stage.after`, `stage.type`, …
    public subscript<T>(dynamicMember path: KeyPath<Common, T>) -> T { common[keyPath: path] }

    /// Reads a stage spec on its own (an attempt's stage).
    public init(_ spec: Value) throws(DecodingFailure) {
        try self.init(try Fields("stage spec", spec))
    }

    /// Reads a stage from its fields (inside a job spec, failures name the job and the path).
    init(_ f: Fields) throws(DecodingFailure) {
        common = try Common(f)
        switch common.type {
        case "etl": variant = .etl(try Transfer(f))
        case "storage": variant = .storage(try Transfer(f))
        case "features":
            variant = .features(Features(spec: try f.string("spec"), fit: try f.bool(opt: "fit") ?? false,
                                         model: try f.string(opt: "model"), destination: try f.string(opt: "destination")))
        case "train": variant = .train(Train(model: try f.string("model"), spark: try SparkSettings.ml(f)))
        case "inference":
            variant = .inference(Inference(model: try f.string(opt: "model"), entityKey: try f.string(opt: "entity_key"),
                                           destination: try f.string(opt: "destination"), script: try f.string(opt: "script"),
                                           interpreter: try f.string(opt: "interpreter"), spark: try SparkSettings.ml(f)))
        case "evaluate":
            variant = .evaluate(Evaluate(model: try f.string("model"), entityKey: try f.string("entity_key"), label: try f.string("label")))
        case "merge":
            variant = .merge(Merge(mapping: try f.string("mapping"), key: try f.strings(opt: "key") ?? [], destination: try f.string(opt: "destination"),
                                   strict: try f.bool(opt: "strict") ?? false))
        case "script":
            var env: [EnvVariable] = []
            for m in try f.mapping(opt: "env") { env.append(EnvVariable(name: m.key, value: EnvValue(m.value))) }
            variant = .script(Script(command: try f.strings("command"), workdir: try f.string(opt: "workdir"), env: env))
        case "files":
            var operations: [FileOperation] = []
            for o in try f.objects("operations") { operations.append(try FileOperation(o)) }
            variant = .files(Files(operations: operations))
        case "job":
            variant = .job(ChildJob(job: try f.string("job"), parameters: try f.mapping(opt: "parameters")))
        case ForEach.stageType:
            variant = .forEach(try ForEach(f))
        case Spark.stageType:
            variant = .spark(try Spark(f))
        default:
            throw f.failure("type", expected: "one of " + KindSchemas.stageTypes.joined(separator: ", "), found: f.value("type"))
        }
    }

    /// The job a job or for_each stage runs as child runs (nil for other types).
    public var childJob: String? {
        switch variant {
        case .job(let c): return c.job
        case .forEach(let f): return f.job
        default: return nil
        }
    }

    /// What an etl or storage stage moves (nil for other types).
    public var transfer: Transfer? {
        switch variant {
        case .etl(let t), .storage(let t): return t
        default: return nil
        }
    }

    /// The source definition an etl or storage stage reads.
    public var source: String? { transfer?.source }

    /// The output definition the stage writes, for the types that have one.
    public var destination: String? {
        switch variant {
        case .etl(let t), .storage(let t): return t.destination
        case .features(let f): return f.destination
        case .inference(let i): return i.destination
        case .merge(let m): return m.destination
        case .train, .evaluate, .script, .files, .job, .forEach, .spark: return nil
        }
    }

    /// The transforms of an etl or storage stage (none for other types).
    public var transform: TransformSpec { transfer?.transform ?? TransformSpec() }

    /// The model the stage names (`model` or `model@alias`), for the types that name one.
    public var model: String? {
        switch variant {
        case .features(let f): return f.model
        case .train(let t): return t.model
        case .inference(let i): return i.model
        case .evaluate(let e): return e.model
        case .etl, .storage, .merge, .script, .files, .job, .forEach, .spark: return nil
        }
    }
}

extension StageSpec.Transfer {
    init(_ f: Fields) throws(DecodingFailure) {
        self.init(source: try f.string(opt: "source"), destination: try f.string(opt: "destination"), transform: try TransformSpec(f))
    }
}
