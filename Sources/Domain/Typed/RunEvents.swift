/// The run events' streams and type names. Every event of run `R` is in stream `run/R` (its
/// stream version orders the run's history); every version of dataset `D` is in stream
/// `dataset/D` (its stream version is the dataset's version). All events of a run share the
/// correlation of its `RunRequested`. The payloads are the types below (`RunRequested`, …).
public enum RunEvents {
    public static let runRequested = RunRequested.type
    public static let stageQueued = StageQueued.type
    public static let stageStarted = StageStarted.type
    public static let stageItemStarted = StageItemStarted.type
    public static let datasetVersionWritten = DatasetVersionWritten.type
    public static let stageSucceeded = StageSucceeded.type
    public static let stageFailed = StageFailed.type
    public static let stageSkipped = StageSkipped.type
    public static let stageCancelled = StageCancelled.type
    public static let runCancelRequested = RunCancelRequested.type
    public static let runSucceeded = RunSucceeded.type
    public static let runFailed = RunFailed.type
    public static let runCancelled = RunCancelled.type

    /// Every run event type, in the order of the reference.
    public static let all: [any DomainEvent.Type] = [RunRequested.self, StageQueued.self, StageStarted.self, StageItemStarted.self,
                                                     DatasetVersionWritten.self,
                                                     StageSucceeded.self, StageFailed.self, StageSkipped.self, StageCancelled.self,
                                                     RunCancelRequested.self, RunSucceeded.self, RunFailed.self, RunCancelled.self]
    /// Every type name above.
    public static let types: Set<String> = Set(all.map { $0.type })

    public static let runStreamPrefix = "run/"
    public static let datasetStreamPrefix = "dataset/"

    /// The stream of run `id`.
    public static func stream(run id: String) -> String { runStreamPrefix + id }
    /// The stream of dataset `name`.
    public static func stream(dataset name: String) -> String { datasetStreamPrefix + name }
    /// The run id of a run stream, nil for other streams.
    public static func run(ofStream stream: String) -> String? {
        stream.hasPrefix(runStreamPrefix) ? String(stream.dropFirst(runStreamPrefix.count)) : nil
    }
    /// The dataset name of a dataset stream, nil for other streams.
    public static func dataset(ofStream stream: String) -> String? {
        stream.hasPrefix(datasetStreamPrefix) ? String(stream.dropFirst(datasetStreamPrefix.count)) : nil
    }

    /// The upcasters of the run events: `StageSucceeded` 1 → 2 (a schema 1 payload is a schema 2
    /// payload whose inputs and column lineage were not recorded).
    public static func register(_ u: inout Upcasters) {
        u.register(type: stageSucceeded, from: 1) { $0 }
    }
}

// MARK: - The plan

/// A stage's retry policy: attempts in all and the wait before each further attempt.
public struct RetryPolicy: Sendable, Hashable {
    public var attempts: Int
    public var backoffSeconds: Double
    public var factor: Double
    public var maxBackoffSeconds: Double

    public init(attempts: Int = 1, backoffSeconds: Double = 10, factor: Double = 2, maxBackoffSeconds: Double = 600) {
        self.attempts = max(1, attempts)
        self.backoffSeconds = backoffSeconds
        self.factor = factor
        self.maxBackoffSeconds = maxBackoffSeconds
    }

    /// The wait after failed attempt `n` (1-based) before attempt n+1.
    public func backoff(afterAttempt n: Int) -> Double {
        var wait = backoffSeconds
        if n > 1 { for _ in 1..<n { wait *= factor; if wait >= maxBackoffSeconds { break } } }
        return min(wait, maxBackoffSeconds)
    }
}

/// One stage of a run's plan: what the scheduler needs (the full spec stays in the catalog).
public struct PlannedStage: Sendable, Hashable {
    /// When a stage runs, as to the stages it follows (`on:`): Azure Data Factory's Upon Success,
    /// Upon Failure and Upon Completion.
    public enum RunOn: String, Sendable, Hashable, CaseIterable {
        /// Every stage it follows succeeded (the default).
        case success
        /// Every stage it follows has ended, and at least one of them failed.
        case failure
        /// Every stage it follows has ended (succeeded, failed or skipped).
        case completion
    }

    public var name: String
    public var type: String
    public var after: [String]
    public var retry: RetryPolicy
    public var timeoutSeconds: Double?
    /// When it runs as to the stages it follows (nil: on success).
    public var on: RunOn?
    /// A condition (an `Expression`) evaluated when the stage could start: false skips it.
    public var when: String?

    public init(name: String, type: String, after: [String] = [], retry: RetryPolicy = RetryPolicy(), timeoutSeconds: Double? = nil,
                on: RunOn? = nil, when: String? = nil) {
        self.name = name
        self.type = type
        self.after = after
        self.retry = retry
        self.timeoutSeconds = timeoutSeconds
        self.on = on
        self.when = when
    }

    /// One item of `RunRequested.stages`.
    public var value: Value {
        var b = PayloadBuilder()
        b.set("name", .string(name))
        b.set("type", .string(type))
        b.set("after", after)
        if retry != RetryPolicy() {
            b.set("retry", .object([("attempts", .int(Int64(retry.attempts))), ("backoff_s", .double(retry.backoffSeconds)),
                                    ("factor", .double(retry.factor)), ("max_backoff_s", .double(retry.maxBackoffSeconds))]))
        }
        b.set("timeout_s", timeoutSeconds)
        b.set("on", on?.rawValue)
        b.set("when", when)
        return b.value
    }

    package init(_ f: Fields) throws(DecodingFailure) {
        var retry = RetryPolicy()
        if let r = try f.object(opt: "retry") {
            retry = RetryPolicy(attempts: Int(try r.int("attempts")), backoffSeconds: try r.double("backoff_s"),
                                factor: try r.double("factor"), maxBackoffSeconds: try r.double("max_backoff_s"))
        }
        var on: RunOn?
        if let text = try f.string(opt: "on") {
            guard let o = RunOn(rawValue: text) else { throw f.failure("on", expected: "success, failure or completion", found: .string(text)) }
            on = o
        }
        self.init(name: try f.string("name"), type: try f.string("type"), after: try f.strings(opt: "after") ?? [], retry: retry,
                  timeoutSeconds: try f.double(opt: "timeout_s"), on: on, when: try f.string(opt: "when"))
    }

    static let documentation: [FieldDocumentation] = [
        FieldDocumentation("name", "text", "the stage's name"),
        FieldDocumentation("type", "text", "its stage type (etl, script, train, …)"),
        FieldDocumentation("after", "list of text", "the stages it waits for"),
        .optional("retry", "object", "its retry policy, when not the default single attempt", fields: [
            FieldDocumentation("attempts", "integer", "attempts in all"),
            FieldDocumentation("backoff_s", "number", "wait before the second attempt"),
            FieldDocumentation("factor", "number", "each further wait is the previous times this"),
            FieldDocumentation("max_backoff_s", "number", "the longest wait"),
        ]),
        .optional("timeout_s", "number", "an attempt running longer is stopped and fails with reason timeout"),
        .optional("on", "text", "failure or completion: it runs when the stages it follows failed, or have ended (absent: when they succeeded)"),
        .optional("when", "text", "a condition evaluated when it could start; false skips it"),
    ]
}

/// Why a run runs: who or what asked for it, with what it needs to explain itself.
public struct RunTrigger: Sendable, Hashable {
    /// How the run was started.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case manual, dependency, rerun, trigger, retrain, schedule, sensor, parent
    }

    public var kind: Kind
    /// The person, reactor or rule that asked (`cli:alice`, `reactor:job-dependency`, `trigger:high_churn`).
    public var by: String?
    /// dependency: the dependency rule, what it waits for, and the upstream runs it consumed.
    public var dependency: String?
    public var on: String?
    public var afterRuns: [String]?
    /// rerun: the run it reruns from failure.
    public var rerunOf: String?
    /// trigger: the rule and the seq of its ThresholdCrossed.
    public var rule: RuleRef?
    public var crossing: UInt64?
    /// retrain: the model and the dataset version that started it.
    public var model: String?
    public var dataset: String?
    public var datasetVersion: UInt64?
    /// schedule: the schedule, its version and the tick.
    public var schedule: String?
    public var scheduleVersion: UInt64?
    public var tick: String?
    /// sensor: the sensor, its version and the file.
    public var sensor: String?
    public var sensorVersion: UInt64?
    public var file: String?
    /// parent: the run, job stage and attempt that run this one as a child (and wait for it).
    public var parentRun: String?
    public var parentStage: String?
    public var parentAttempt: Int?
    /// parent, of a for_each stage: the item (its position, from 0) this run is for.
    public var parentItem: Int?

    public init(_ kind: Kind, by: String? = nil) {
        self.kind = kind
        self.by = by
    }

    /// A run someone asked for.
    public static func manual(by: String) -> RunTrigger { RunTrigger(.manual, by: by) }

    /// A rerun from failure of `run`.
    public static func rerun(of run: String, by: String) -> RunTrigger {
        var t = RunTrigger(.rerun, by: by)
        t.rerunOf = run
        return t
    }

    /// A child run of `run`'s job stage `stage` (attempt `attempt`), or of one `item` of its
    /// for_each stage.
    public static func parent(run: String, stage: String, attempt: Int, item: Int? = nil) -> RunTrigger {
        var t = RunTrigger(.parent, by: "run:\(run)")
        t.parentRun = run
        t.parentStage = stage
        t.parentAttempt = attempt
        t.parentItem = item
        return t
    }

    public init(_ f: Fields) throws(DecodingFailure) {
        let k = try f.string("type")
        guard let kind = Kind(rawValue: k) else {
            throw f.failure("type", expected: "one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))", found: .string(k))
        }
        self.kind = kind
        by = try f.string(opt: "by")
        dependency = try f.string(opt: "dependency")
        on = try f.string(opt: "on")
        afterRuns = try f.strings(opt: "after_runs")
        rerunOf = try f.string(opt: "rerun_of")
        rule = try f.object(opt: "rule").map { r throws(DecodingFailure) in try RuleRef(r) }
        crossing = try f.uint(opt: "crossing")
        model = try f.string(opt: "model")
        dataset = try f.string(opt: "dataset")
        datasetVersion = try f.uint(opt: "dataset_version")
        schedule = try f.string(opt: "schedule")
        scheduleVersion = try f.uint(opt: "schedule_version")
        tick = try f.string(opt: "tick")
        sensor = try f.string(opt: "sensor")
        sensorVersion = try f.uint(opt: "sensor_version")
        file = try f.string(opt: "file")
        parentRun = try f.string(opt: "parent_run")
        parentStage = try f.string(opt: "parent_stage")
        parentAttempt = try f.int(opt: "parent_attempt").map { Int($0) }
        parentItem = try f.int(opt: "parent_item").map { Int($0) }
    }

    public var value: Value {
        var b = PayloadBuilder()
        b.set("type", .string(kind.rawValue))
        b.set("by", by)
        b.set("dependency", dependency)
        b.set("on", on)
        b.set("after_runs", afterRuns)
        b.set("rerun_of", rerunOf)
        b.set("rule", rule?.value)
        b.set("crossing", crossing)
        b.set("model", model)
        b.set("dataset", dataset)
        b.set("dataset_version", datasetVersion)
        b.set("schedule", schedule)
        b.set("schedule_version", scheduleVersion)
        b.set("tick", tick)
        b.set("sensor", sensor)
        b.set("sensor_version", sensorVersion)
        b.set("file", file)
        b.set("parent_run", parentRun)
        b.set("parent_stage", parentStage)
        b.set("parent_attempt", parentAttempt.map { Int64($0) })
        b.set("parent_item", parentItem.map { Int64($0) })
        return b.value
    }

    static let documentation: [FieldDocumentation] = [
        FieldDocumentation("type", "text", "manual, dependency, rerun, trigger, retrain, schedule, sensor or parent"),
        .optional("by", "text", "who or what asked (cli:USER, reactor:job-dependency, trigger:NAME, …)"),
        .optional("dependency", "text", "dependency: the dependency rule"),
        .optional("on", "text", "dependency: success, failure or completion"),
        .optional("after_runs", "list of text", "dependency: the upstream runs it consumed"),
        .optional("rerun_of", "text", "rerun: the run rerun from failure"),
        .optional("rule", "object", "trigger: the rule that crossed", fields: RuleRef.fieldDocumentation),
        .optional("crossing", "integer", "trigger: seq of the ThresholdCrossed"),
        .optional("model", "text", "retrain: the model retrained"),
        .optional("dataset", "text", "retrain: the dataset whose new version started it"),
        .optional("dataset_version", "integer", "retrain: that version"),
        .optional("schedule", "text", "schedule: the schedule"),
        .optional("schedule_version", "integer", "schedule: its definition version"),
        .optional("tick", "text", "schedule: the tick (RFC 3339)"),
        .optional("sensor", "text", "sensor: the sensor"),
        .optional("sensor_version", "integer", "sensor: its definition version"),
        .optional("file", "text", "sensor: the file that arrived"),
        .optional("parent_run", "text", "parent: the run whose job stage runs this one and waits for it"),
        .optional("parent_stage", "text", "parent: that job stage"),
        .optional("parent_attempt", "integer", "parent: that stage's attempt"),
        .optional("parent_item", "integer", "parent, a for_each stage: the item (position from 0) this run is for"),
    ]
}

/// Stage outputs a rerun takes over: the run and attempt that produced them.
public struct AttemptRef: Sendable, Hashable {
    public var run: String
    public var attempt: Int

    public init(run: String, attempt: Int) {
        self.run = run
        self.attempt = attempt
    }

    package init(_ f: Fields) throws(DecodingFailure) {
        self.init(run: try f.string("run"), attempt: Int(try f.int("attempt")))
    }

    var value: Value { .object([("attempt", .int(Int64(attempt))), ("run", .string(run))]) }

    static let documentation: [FieldDocumentation] = [
        FieldDocumentation("run", "text", "the run"),
        FieldDocumentation("attempt", "integer", "the attempt whose outputs are taken over"),
    ]
}

// MARK: - Events

/// A run of a job was requested: its number, the job and catalog version it runs under, its
/// parameters, why it runs, and the plan of its stages.
public struct RunRequested: DomainEvent {
    public static let type = "RunRequested"
    public var run: String
    public var job: String
    public var jobVersion: UInt64
    /// The catalog version (seq of its last change) the run executes under.
    public var catalogSeq: UInt64
    /// The parameters in force (the job's defaults, overridden by those given).
    public var parameters: Value
    public var trigger: RunTrigger
    public var stages: [PlannedStage]
    public var maxParallel: Int64?
    /// Stage → the run and attempt whose outputs this run takes over (reruns).
    public var reuse: [String: AttemptRef]
    /// A team told when this run fails, besides the job's owners (a for_each item's `item_owner`).
    public var owner: String?
    /// A for_each item's inline stage, as this run runs it (the item's fields in place): the
    /// run's one stage, whose spec no job definition holds (the run's job is `JOB/STAGE`).
    public var inlineStage: Value?

    public init(run: String, job: String, jobVersion: UInt64, catalogSeq: UInt64, parameters: Value, trigger: RunTrigger,
                stages: [PlannedStage], maxParallel: Int64? = nil, reuse: [String: AttemptRef] = [:], owner: String? = nil,
                inlineStage: Value? = nil) {
        self.run = run
        self.job = job
        self.jobVersion = jobVersion
        self.catalogSeq = catalogSeq
        self.parameters = parameters
        self.trigger = trigger
        self.stages = stages
        self.maxParallel = maxParallel
        self.reuse = reuse
        self.owner = owner
        self.inlineStage = inlineStage
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        run = try f.string("run")
        job = try f.string("job")
        jobVersion = try f.uint("job_version")
        catalogSeq = try f.uint("catalog_seq")
        parameters = try f.objectValue("parameters")
        trigger = try RunTrigger(try f.object("trigger"))
        var plan: [PlannedStage] = []
        for s in try f.objects("stages") { plan.append(try PlannedStage(s)) }
        stages = plan
        maxParallel = try f.int(opt: "max_parallel")
        var reuse: [String: AttemptRef] = [:]
        if let r = try f.object(opt: "reuse") {
            for m in r.members { reuse[m.key] = try AttemptRef(try r.object(m.key)) }
        }
        self.reuse = reuse
        owner = try f.string(opt: "owner")
        inlineStage = f.value("inline_stage")
        if let v = inlineStage, v.objectMembers == nil { throw f.failure("inline_stage", expected: "an object (a stage)", found: v) }
    }

    public var payload: Value {
        var b = PayloadBuilder()
        b.set("run", .string(run))
        b.set("job", .string(job))
        b.set("job_version", jobVersion)
        b.set("catalog_seq", catalogSeq)
        b.set("parameters", parameters)
        b.set("trigger", trigger.value)
        b.set("stages", .array(stages.map(\.value)))
        b.set("max_parallel", maxParallel)
        if !reuse.isEmpty { b.set("reuse", .object(reuse.map { ($0.key, $0.value.value) })) }
        b.set("owner", owner)
        b.set("inline_stage", inlineStage)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A run of a job was requested: the run's number, the job and catalog version it runs under, its parameters, why it runs and its plan.",
        stream: "run/<run>",
        fields: [
            FieldDocumentation("run", "text", "the run's number (runs are numbered 1, 2, …)"),
            FieldDocumentation("job", "text", "the job"),
            FieldDocumentation("job_version", "integer", "the job definition's version"),
            FieldDocumentation("catalog_seq", "integer", "the catalog version (seq of its last change) the run executes under"),
            FieldDocumentation("parameters", "object", "the parameters in force: the job's defaults overridden by those given"),
            FieldDocumentation("trigger", "object", "why it runs", fields: RunTrigger.documentation),
            FieldDocumentation("stages", "list of objects", "the plan: one item per stage", fields: PlannedStage.documentation),
            .optional("max_parallel", "integer", "stage attempts of this run running at once, at most"),
            .optional("reuse", "object", "stage → {run, attempt}: outputs a rerun takes over", fields: AttemptRef.documentation),
            .optional("owner", "text", "a team told when this run fails, besides the job's owners (a for_each item's item_owner)"),
            .optional("inline_stage", "object", "a for_each item's inline stage as this run runs it (the item's fields in place); the run's job is JOB/STAGE"),
        ])

    public static var example: RunRequested {
        var trigger = RunTrigger(.dependency, by: "reactor:job-dependency")
        trigger.dependency = "score_after_train"
        trigger.on = "success"
        trigger.afterRuns = ["41"]
        return RunRequested(run: "42", job: "churn_scoring", jobVersion: 3, catalogSeq: 1_207, parameters: ["as_of": "2026-12-01"],
                            trigger: trigger,
                            stages: [PlannedStage(name: "extract", type: "etl"),
                                     PlannedStage(name: "score", type: "inference", after: ["extract"],
                                                  retry: RetryPolicy(attempts: 3, backoffSeconds: 5, factor: 2, maxBackoffSeconds: 60),
                                                  timeoutSeconds: 600),
                                     PlannedStage(name: "alert", type: "script", after: ["score"], on: .failure, when: "params.as_of != ''")],
                            maxParallel: 2, reuse: ["extract": AttemptRef(run: "40", attempt: 1)], owner: "team-P1",
                            inlineStage: .object([("name", "extract"), ("type", "etl"), ("source", "sales_C001")]))
    }
}

/// A stage's attempt is queued (first, or again after a failure, not before a backoff).
public struct StageQueued: DomainEvent {
    public static let type = "StageQueued"
    public var stage: String
    public var attempt: Int
    /// µs since 1970 before which the attempt may not start.
    public var notBefore: Int64?

    public init(stage: String, attempt: Int, notBefore: Int64? = nil) {
        self.stage = stage
        self.attempt = attempt
        self.notBefore = notBefore
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(stage: try f.string("stage"), attempt: Int(try f.int("attempt")), notBefore: try f.int(opt: "not_before"))
    }

    public var payload: Value {
        var b = PayloadBuilder([("stage", .string(stage)), ("attempt", .int(Int64(attempt)))])
        b.set("not_before", notBefore)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A stage's attempt is queued: the first, or another after a failure the retry policy allows.",
        stream: "run/<run>",
        fields: [
            FieldDocumentation("stage", "text", "the stage"),
            FieldDocumentation("attempt", "integer", "the attempt's number, from 1"),
            .optional("not_before", "integer", "µs since 1970 before which it may not start (retry backoff)"),
        ])
    public static let example = StageQueued(stage: "score", attempt: 2, notBefore: 1_764_806_400_000_000)
}

/// An engine claimed a queued attempt; its side effects begin after this is committed.
public struct StageStarted: DomainEvent {
    public static let type = "StageStarted"
    public var stage: String
    public var attempt: Int
    /// The engine instance that runs it (host/pid/start).
    public var engine: String
    /// A job stage: the child run it requested in the same append (and waits for).
    public var childRun: String?
    /// A for_each stage: its items, resolved when the attempt started (in order; item i is
    /// `items[i]`), so that every later decision and a restart see the same items.
    public var items: [Value]?

    public init(stage: String, attempt: Int, engine: String, childRun: String? = nil, items: [Value]? = nil) {
        self.stage = stage
        self.attempt = attempt
        self.engine = engine
        self.childRun = childRun
        self.items = items
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(stage: try f.string("stage"), attempt: Int(try f.int("attempt")), engine: try f.string("engine"),
                  childRun: try f.string(opt: "child_run"), items: try f.array(opt: "items"))
    }

    public var payload: Value {
        var b = PayloadBuilder([("attempt", .int(Int64(attempt))), ("engine", .string(engine)), ("stage", .string(stage))])
        b.set("child_run", childRun)
        b.set("items", items.map(Value.array))
        return b.value
    }

    public static let documentation = EventDocumentation(
        "An engine claimed a queued attempt; the attempt's side effects begin only after this is committed.",
        stream: "run/<run>",
        fields: [
            FieldDocumentation("stage", "text", "the stage"),
            FieldDocumentation("attempt", "integer", "the attempt's number"),
            FieldDocumentation("engine", "text", "the engine instance that runs it (host/pid/start ms)"),
            .optional("child_run", "text", "a job stage: the child run requested in the same append, whose end ends the attempt"),
            .optional("items", "list", "a for_each stage: its items, resolved when the attempt started (item i is the i-th, from 0)"),
        ])
    /// (A job stage has `child_run`, a for_each stage `items`; the example shows both fields.)
    public static let example = StageStarted(stage: "run_report", attempt: 1, engine: "host/4242/1764806400000", childRun: "43",
                                             items: [.object([("module_name", "sales"), ("client_code", "C001")])])
}

/// A for_each stage's attempt started one of its items: the child run requested for it in the
/// same append, or why none could be (the item then counts as failed).
public struct StageItemStarted: DomainEvent {
    public static let type = "StageItemStarted"
    public var stage: String
    public var attempt: Int
    /// The item's position in the attempt's `StageStarted.items`, from 0.
    public var item: Int
    /// The child run requested for it in the same append.
    public var childRun: String?
    /// Why no child run could be requested (a parameter the item cannot give, a refused value).
    public var error: String?
    /// A rerun from failure: `child_run` is the succeeded run the rerun run's loop had for the
    /// same item, taken over (no new run).
    public var reused: Bool?

    public init(stage: String, attempt: Int, item: Int, childRun: String? = nil, error: String? = nil, reused: Bool? = nil) {
        self.stage = stage
        self.attempt = attempt
        self.item = item
        self.childRun = childRun
        self.error = error
        self.reused = reused
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(stage: try f.string("stage"), attempt: Int(try f.int("attempt")), item: Int(try f.int("item")),
                  childRun: try f.string(opt: "child_run"), error: try f.string(opt: "error"), reused: try f.bool(opt: "reused"))
    }

    public var payload: Value {
        var b = PayloadBuilder([("attempt", .int(Int64(attempt))), ("item", .int(Int64(item))), ("stage", .string(stage))])
        b.set("child_run", childRun)
        b.set("error", error)
        b.set("reused", reused)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A for_each stage's attempt started one of its items: the item's child run, requested in the same append, or why none could be (the item failed).",
        stream: "run/<run>",
        fields: [
            FieldDocumentation("stage", "text", "the for_each stage"),
            FieldDocumentation("attempt", "integer", "the stage's attempt"),
            FieldDocumentation("item", "integer", "the item's position in the attempt's items, from 0"),
            .optional("child_run", "text", "the child run requested for the item"),
            .optional("error", "text", "why no child run could be requested; the item failed"),
            .optional("reused", "boolean", "a rerun from failure: child_run is the succeeded run of the same item in the run rerun (no new run)"),
        ])
    /// (An item has `child_run` or `error`; the example shows both fields.)
    public static let example = StageItemStarted(stage: "modules", attempt: 1, item: 2, childRun: "57",
                                                 error: "parameter rows for job 'module': …", reused: true)
}

/// A column's name and type in a dataset's schema.
public struct SchemaColumn: Sendable, Hashable {
    public var name: String
    public var type: String

    public init(name: String, type: String) {
        self.name = name
        self.type = type
    }

    var value: Value { .object([("name", .string(name)), ("type", .string(type))]) }

    static func list(_ f: Fields, _ key: String, required: Bool = false) throws(DecodingFailure) -> [SchemaColumn]? {
        guard let items = required ? try f.objects(key) : try f.objects(opt: key) else { return nil }
        var out: [SchemaColumn] = []
        for c in items { out.append(SchemaColumn(name: try c.string("name"), type: try c.string("type"))) }
        return out
    }

    static let documentation: [FieldDocumentation] = [
        FieldDocumentation("name", "text", "the column"),
        FieldDocumentation("type", "text", "its type (integer, number, text, boolean, …)"),
    ]
}

/// One partition folder of a partitioned write.
public struct WrittenPartition: Sendable, Hashable {
    /// Partition column → value, as in the folder's `col=value` names.
    public var values: Value
    public var location: String
    public var rows: Int64

    public init(values: Value, location: String, rows: Int64) {
        self.values = values
        self.location = location
        self.rows = rows
    }

    var value: Value { .object([("location", .string(location)), ("rows", .int(rows)), ("values", values)]) }

    static let documentation: [FieldDocumentation] = [
        FieldDocumentation("values", "object", "partition column → value"),
        FieldDocumentation("location", "text", "the partition's folder"),
        FieldDocumentation("rows", "integer", "rows written there"),
    ]
}

/// One file a files stage copied, moved or deleted (`DatasetVersionWritten.files`).
public struct WrittenFile: Sendable, Hashable {
    /// The file's name in its folder.
    public var name: String
    /// Its size in bytes.
    public var size: Int64
    /// SHA-256 (hex) of its bytes.
    public var sha256: String
    /// Where it came from (copy, move), or nil (delete: the dataset's location is where it was).
    public var source: String?

    public init(name: String, size: Int64, sha256: String, source: String? = nil) {
        self.name = name
        self.size = size
        self.sha256 = sha256
        self.source = source
    }

    init(_ f: Fields) throws(DecodingFailure) {
        self.init(name: try f.string("name"), size: try f.int("size"), sha256: try f.string("sha256"), source: try f.string(opt: "source"))
    }

    /// The file as `DatasetVersionWritten.files` holds it.
    public var value: Value {
        var b = PayloadBuilder([("name", .string(name)), ("size", .int(size)), ("sha256", .string(sha256))])
        b.set("source", source)
        return b.value
    }

    static let documentation: [FieldDocumentation] = [
        FieldDocumentation("name", "text", "the file's name in the dataset's location"),
        FieldDocumentation("size", "integer", "its size in bytes"),
        FieldDocumentation("sha256", "text", "SHA-256 (hex) of its bytes"),
        .optional("source", "text", "the file it was copied or moved from (absent for a delete)"),
    ]
}

/// A stage attempt wrote a new version of a dataset (appended with the attempt's success).
public struct DatasetVersionWritten: DomainEvent {
    public static let type = "DatasetVersionWritten"
    public var dataset: String
    public var run: String
    public var stage: String
    public var attempt: Int
    public var location: String
    /// sqlite, csv, jsonl or file.
    public var format: String
    /// append, replace or upsert; copy, move or delete for a files stage.
    public var mode: String
    public var rows: Int64
    public var schema: [SchemaColumn]
    /// SHA-256 (hex) of the rows written in the log's canonical value encoding, or of the file's bytes.
    public var contentHash: String
    public var partitions: [WrittenPartition]
    /// The files a files stage copied, moved or deleted (empty for other stages; not written then).
    public var files: [WrittenFile]

    public init(dataset: String, run: String, stage: String, attempt: Int, location: String, format: String, mode: String,
                rows: Int64, schema: [SchemaColumn], contentHash: String, partitions: [WrittenPartition] = [], files: [WrittenFile] = []) {
        self.dataset = dataset
        self.run = run
        self.stage = stage
        self.attempt = attempt
        self.location = location
        self.format = format
        self.mode = mode
        self.rows = rows
        self.schema = schema
        self.contentHash = contentHash
        self.partitions = partitions
        self.files = files
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        var parts: [WrittenPartition] = []
        for p in try f.objects(opt: "partitions") ?? [] {
            parts.append(WrittenPartition(values: try p.objectValue("values"), location: try p.string("location"), rows: try p.int("rows")))
        }
        var files: [WrittenFile] = []
        for file in try f.objects(opt: "files") ?? [] { files.append(try WrittenFile(file)) }
        self.init(dataset: try f.string("dataset"), run: try f.string("run"), stage: try f.string("stage"), attempt: Int(try f.int("attempt")),
                  location: try f.string("location"), format: try f.string("format"), mode: try f.string("mode"), rows: try f.int("rows"),
                  schema: try SchemaColumn.list(f, "schema", required: true) ?? [], contentHash: try f.string("content_hash"), partitions: parts, files: files)
    }

    public var payload: Value {
        var b = PayloadBuilder([("dataset", .string(dataset)), ("location", .string(location)), ("format", .string(format)),
                                ("mode", .string(mode)), ("rows", .int(rows)), ("schema", .array(schema.map(\.value))),
                                ("content_hash", .string(contentHash)), ("run", .string(run)), ("stage", .string(stage)),
                                ("attempt", .int(Int64(attempt)))])
        if !partitions.isEmpty { b.set("partitions", .array(partitions.map(\.value))) }
        if !files.isEmpty { b.set("files", .array(files.map(\.value))) }
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A stage attempt wrote a new version of a dataset; appended in the same transaction as the attempt's success, at the dataset stream's next version (= the dataset's version).",
        stream: "dataset/<dataset>",
        fields: [
            FieldDocumentation("dataset", "text", "the dataset"),
            FieldDocumentation("run", "text", "the run that wrote it"),
            FieldDocumentation("stage", "text", "the stage"),
            FieldDocumentation("attempt", "integer", "the attempt"),
            FieldDocumentation("location", "text", "where it was written (a folder, or sqlite path + table)"),
            FieldDocumentation("format", "text", "sqlite, csv, jsonl, file, or files (a files stage)"),
            FieldDocumentation("mode", "text", "append, replace or upsert; copy, move or delete (a files stage)"),
            FieldDocumentation("rows", "integer", "rows written"),
            FieldDocumentation("schema", "list of objects", "the columns, in order", fields: SchemaColumn.documentation),
            FieldDocumentation("content_hash", "text", "SHA-256 (hex) of the rows in the canonical value encoding (the same rows hash the same in any format), or of the file's bytes"),
            .optional("partitions", "list of objects", "the partition folders of a partitioned write", fields: WrittenPartition.documentation),
            .optional("files", "list of objects", "the files a files stage copied, moved (mode copy, move; location: the destination folder) or deleted (mode delete; location: the folder); absent for other stages",
                      fields: WrittenFile.documentation),
        ])
    public static let example = DatasetVersionWritten(
        dataset: "churn_features", run: "42", stage: "extract", attempt: 1, location: "data/lake/churn_features", format: "jsonl",
        mode: "replace", rows: 1_000, schema: [SchemaColumn(name: "customer_id", type: "text"), SchemaColumn(name: "tenure", type: "integer")],
        contentHash: String(repeating: "ab", count: 32),
        partitions: [WrittenPartition(values: ["region": "eu"], location: "data/lake/churn_features/region=eu", rows: 600)],
        files: [WrittenFile(name: "part-0.jsonl", size: 52_113, sha256: String(repeating: "cd", count: 32), source: "staging/part-0.jsonl")])
}

/// A dataset version named in a success.
public struct DatasetRef: Sendable, Hashable {
    public var dataset: String
    public var version: UInt64
    public init(dataset: String, version: UInt64) {
        self.dataset = dataset
        self.version = version
    }

    var value: Value { .object([("dataset", .string(dataset)), ("version", .int(Int64(version)))]) }

    static let documentation: [FieldDocumentation] = [
        FieldDocumentation("dataset", "text", "the dataset"),
        FieldDocumentation("version", "integer", "the version written (its DatasetVersionWritten's stream version)"),
    ]
}

/// One dataset a stage attempt read (`StageSucceeded.inputs`).
public struct StageInput: Sendable, Hashable {
    public var dataset: String
    /// The newest version ledgerflow had written of it when the attempt started (only when read
    /// where that version was written); nil for sources ledgerflow only reads.
    public var version: UInt64?
    public var location: String
    public var format: String
    /// nil when not known (a script's declared input).
    public var rows: Int64?
    public var schema: [SchemaColumn]
    /// SHA-256 of the rows as read, when ledgerflow read them.
    public var contentHash: String?

    public init(dataset: String, version: UInt64?, location: String, format: String, rows: Int64?, schema: [SchemaColumn], contentHash: String?) {
        self.dataset = dataset
        self.version = version
        self.location = location
        self.format = format
        self.rows = rows
        self.schema = schema
        self.contentHash = contentHash
    }

    package init(_ f: Fields) throws(DecodingFailure) {
        self.init(dataset: try f.string("dataset"), version: try f.uint(opt: "version"), location: try f.string("location"),
                  format: try f.string("format"), rows: try f.int(opt: "rows"), schema: try SchemaColumn.list(f, "schema") ?? [],
                  contentHash: try f.string(opt: "content_hash"))
    }

    /// One item of `StageSucceeded.inputs`.
    public var value: Value {
        var b = PayloadBuilder([("dataset", .string(dataset)), ("location", .string(location)), ("format", .string(format))])
        b.set("version", version)
        b.set("rows", rows)
        if !schema.isEmpty { b.set("schema", .array(schema.map(\.value))) }
        b.set("content_hash", contentHash)
        return b.value
    }

    static let documentation: [FieldDocumentation] = [
        FieldDocumentation("dataset", "text", "the dataset or source read"),
        .optional("version", "integer", "the newest version ledgerflow had written when the attempt started (only when read where it was written)"),
        FieldDocumentation("location", "text", "where it was read"),
        FieldDocumentation("format", "text", "sqlite, csv, jsonl or file"),
        .optional("rows", "integer", "rows read (absent for a script's declared input)"),
        .optional("schema", "list of objects", "the columns read", fields: SchemaColumn.documentation),
        .optional("content_hash", "text", "SHA-256 of the rows as read"),
    ]
}

/// Where an output column's values come from (OpenLineage's vocabulary): a field of an input and
/// how it became the column.
public struct ColumnOrigin: Sendable, Hashable {
    public var dataset: String
    public var field: String
    /// DIRECT or INDIRECT.
    public var type: String
    /// IDENTITY, TRANSFORMATION, AGGREGATION, FILTER, JOIN, GROUP_BY, …
    public var subtype: String
    public var description: String?
    /// How the field's values were masked on their way (a PII transform): what was written
    /// holds none of them as they were read. Nil: not masked (absent in events before it existed).
    public var masking: ColumnMasking?

    public init(dataset: String, field: String, type: String = "DIRECT", subtype: String = "IDENTITY", description: String? = nil,
                masking: ColumnMasking? = nil) {
        self.dataset = dataset
        self.field = field
        self.type = type
        self.subtype = subtype
        self.description = description
        self.masking = masking
    }

    package init(_ f: Fields) throws(DecodingFailure) {
        var masking: ColumnMasking?
        if let m = try f.string(opt: "masking") {
            guard let known = ColumnMasking(rawValue: m) else {
                throw f.failure("masking", expected: "one of " + ColumnMasking.allCases.map(\.rawValue).joined(separator: ", "), found: .string(m))
            }
            masking = known
        }
        self.init(dataset: try f.string("dataset"), field: try f.string("field"), type: try f.string("type"), subtype: try f.string("subtype"),
                  description: try f.string(opt: "description"), masking: masking)
    }

    public var value: Value {
        var b = PayloadBuilder([("dataset", .string(dataset)), ("field", .string(field)), ("type", .string(type)), ("subtype", .string(subtype))])
        b.set("description", description)
        b.set("masking", masking?.rawValue)
        return b.value
    }

    static let documentation: [FieldDocumentation] = [
        FieldDocumentation("dataset", "text", "the input dataset"),
        FieldDocumentation("field", "text", "the input field"),
        FieldDocumentation("type", "text", "DIRECT or INDIRECT"),
        FieldDocumentation("subtype", "text", "IDENTITY, TRANSFORMATION, AGGREGATION, FILTER, JOIN, GROUP_BY, …"),
        .optional("description", "text", "how, in words"),
        .optional("masking", "text", "mask, hash or redact: the field's values were masked on their way by that PII transform (absent: not masked)"),
    ]
}

/// How a PII transform masked a column's values (`ColumnOrigin.masking`, a stored identifier).
public enum ColumnMasking: String, Sendable, Hashable, CaseIterable {
    /// All but the last characters replaced.
    case mask
    /// Replaced by a salted SHA-256.
    case hash
    /// Replaced by a fixed text or null.
    case redact
}

/// The column lineage of one written dataset.
public struct DatasetColumnLineage: Sendable, Hashable {
    /// Output column → its origins, in column-name order (the payload's object order).
    public var fields: [(column: String, origins: [ColumnOrigin])]
    /// The fields that decide which rows exist (filters, merge keys).
    public var dataset: [ColumnOrigin]

    public init(fields: [(column: String, origins: [ColumnOrigin])], dataset: [ColumnOrigin] = []) {
        self.fields = fields
        self.dataset = dataset
    }

    public var value: Value {
        var b = PayloadBuilder([("fields", .object(fields.map { ($0.column, .array($0.origins.map(\.value))) }))])
        if !dataset.isEmpty { b.set("dataset", .array(dataset.map(\.value))) }
        return b.value
    }

    package init(_ f: Fields) throws(DecodingFailure) {
        let cols = try f.object("fields")
        var fields: [(column: String, origins: [ColumnOrigin])] = []
        for m in cols.members {
            var origins: [ColumnOrigin] = []
            for o in try cols.objects(m.key) { origins.append(try ColumnOrigin(o)) }
            fields.append((m.key, origins))
        }
        var dataset: [ColumnOrigin] = []
        for o in try f.objects(opt: "dataset") ?? [] { dataset.append(try ColumnOrigin(o)) }
        self.init(fields: fields, dataset: dataset)
    }

    public static func == (a: DatasetColumnLineage, b: DatasetColumnLineage) -> Bool { a.value == b.value }
    public func hash(into h: inout Hasher) { h.combine(value) }

    static let documentation: [FieldDocumentation] = [
        FieldDocumentation("fields", "object", "output column → list of its origins", fields: ColumnOrigin.documentation),
        .optional("dataset", "list of objects", "the fields that decide which rows exist (filters, merge keys)", fields: ColumnOrigin.documentation),
    ]
}

/// A stage attempt succeeded (or a rerun took over an earlier attempt's outputs).
public struct StageSucceeded: DomainEvent {
    public static let type = "StageSucceeded"
    public static let schema: UInt32 = 2
    public var stage: String
    /// The attempt (0 for a stage a rerun took over).
    public var attempt: Int
    public var durationMs: Int64
    /// Reported values: metrics, counts, the model version scored with, …
    public var outputs: Value?
    public var datasets: [DatasetRef]
    public var reusedFrom: AttemptRef?
    /// What the attempt read; nil when not recorded (schema 1 events, reused stages).
    public var inputs: [StageInput]?
    /// Per dataset written, its column lineage, as stored: decoded when read (`columnLineage(of:)`,
    /// `columnLineage`), since only column traces and the OpenLineage export need it — folding
    /// runs or lineage edges does not pay for it.
    public private(set) var columnLineageValue: Value?

    public init(stage: String, attempt: Int, durationMs: Int64, outputs: Value? = nil, datasets: [DatasetRef] = [], reusedFrom: AttemptRef? = nil,
                inputs: [StageInput]? = nil, columnLineage: [(dataset: String, lineage: DatasetColumnLineage)]? = nil) {
        self.stage = stage
        self.attempt = attempt
        self.durationMs = durationMs
        self.outputs = outputs
        self.datasets = datasets
        self.reusedFrom = reusedFrom
        self.inputs = inputs
        self.columnLineageValue = columnLineage.map { cl in .object(cl.map { ($0.dataset, $0.lineage.value) }) }
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        stage = try f.string("stage")
        attempt = Int(try f.int("attempt"))
        durationMs = try f.int("duration_ms")
        outputs = f.value("outputs")
        var datasets: [DatasetRef] = []
        for d in try f.objects(opt: "datasets") ?? [] { datasets.append(DatasetRef(dataset: try d.string("dataset"), version: try d.uint("version"))) }
        self.datasets = datasets
        reusedFrom = try f.object(opt: "reused_from").map { r throws(DecodingFailure) in try AttemptRef(r) }
        if let items = try f.objects(opt: "inputs") {
            var inputs: [StageInput] = []
            for i in items { inputs.append(try StageInput(i)) }
            self.inputs = inputs
        } else {
            inputs = nil
        }
        columnLineageValue = try f.objectValue(opt: "column_lineage")
    }

    public var payload: Value {
        var b = PayloadBuilder([("stage", .string(stage)), ("attempt", .int(Int64(attempt))), ("duration_ms", .int(durationMs))])
        b.set("outputs", outputs)
        if !datasets.isEmpty { b.set("datasets", .array(datasets.map(\.value))) }
        b.set("reused_from", reusedFrom?.value)
        b.set("inputs", inputs.map { .array($0.map(\.value)) })
        b.set("column_lineage", columnLineageValue)
        return b.value
    }

    /// Per dataset written, its column lineage (nil: not recorded); fails naming the field that
    /// does not read.
    public var columnLineage: [(dataset: String, lineage: DatasetColumnLineage)]? {
        get throws(DecodingFailure) {
            guard let v = columnLineageValue else { return nil }
            let f = try Fields(Self.type, v, path: "column_lineage.")
            var out: [(dataset: String, lineage: DatasetColumnLineage)] = []
            for m in f.members { out.append((m.key, try DatasetColumnLineage(try f.object(m.key)))) }
            return out
        }
    }

    /// The column lineage of `dataset`, if recorded; fails naming the field that does not read.
    public func columnLineage(of dataset: String) throws(DecodingFailure) -> DatasetColumnLineage? {
        guard let v = columnLineageValue else { return nil }
        let f = try Fields(Self.type, v, path: "column_lineage.")
        guard f.has(dataset) else { return nil }
        return try DatasetColumnLineage(try f.object(dataset))
    }

    public static func == (a: StageSucceeded, b: StageSucceeded) -> Bool { a.payload == b.payload }
    public func hash(into h: inout Hasher) { h.combine(payload) }

    public static let documentation = EventDocumentation(
        "A stage attempt succeeded, with what it read, what it wrote and reported, and the column lineage of what it wrote; or a rerun took over an earlier attempt's outputs (attempt 0, reused_from). Schema 1 had no inputs and column_lineage: upcast unchanged, read as not recorded.",
        stream: "run/<run>",
        fields: [
            FieldDocumentation("stage", "text", "the stage"),
            FieldDocumentation("attempt", "integer", "the attempt (0: outputs taken over by a rerun)"),
            FieldDocumentation("duration_ms", "integer", "how long the attempt ran"),
            .optional("outputs", "object", "reported values: metrics, counts, model and model_version used, …"),
            .optional("datasets", "list of objects", "the dataset versions written (their DatasetVersionWritten events are in the same transaction)", fields: DatasetRef.documentation),
            .optional("reused_from", "object", "the run and attempt whose outputs a rerun took over", fields: AttemptRef.documentation),
            .optional("inputs", "list of objects", "every dataset the attempt read (absent: not recorded)", fields: StageInput.documentation),
            .optional("column_lineage", "object", "dataset written → its column lineage", fields: DatasetColumnLineage.documentation),
        ])

    public static var example: StageSucceeded {
        StageSucceeded(stage: "score", attempt: 1, durationMs: 1_250, outputs: ["rows_scored": 1_000, "model": "churn", "model_version": 3],
                       datasets: [DatasetRef(dataset: "churn_predictions", version: 7)], reusedFrom: AttemptRef(run: "40", attempt: 1),
                       inputs: [StageInput(dataset: "churn_features", version: 12, location: "data/lake/churn_features", format: "jsonl", rows: 1_000,
                                           schema: [SchemaColumn(name: "tenure", type: "integer")], contentHash: String(repeating: "cd", count: 32))],
                       columnLineage: [("churn_predictions", DatasetColumnLineage(
                           fields: [("churn_probability", [ColumnOrigin(dataset: "churn_features", field: "tenure", subtype: "TRANSFORMATION",
                                                                        description: "model churn@3")]),
                                    ("customer", [ColumnOrigin(dataset: "churn_features", field: "email", subtype: "TRANSFORMATION",
                                                               description: "hash (SHA-256 salted with secret pii_salt)", masking: .hash)])],
                           dataset: [ColumnOrigin(dataset: "churn_features", field: "active", type: "INDIRECT", subtype: "FILTER")]))])
    }
}

/// A stage attempt failed; `retry` says whether another attempt is queued.
public struct StageFailed: DomainEvent {
    public static let type = "StageFailed"
    public var stage: String
    public var attempt: Int
    /// error, timeout, interrupted or unsupported.
    public var reason: String
    public var error: String
    /// Another attempt is queued (its StageQueued follows).
    public var retry: Bool
    public var durationMs: Int64?

    public init(stage: String, attempt: Int, reason: String, error: String, retry: Bool, durationMs: Int64? = nil) {
        self.stage = stage
        self.attempt = attempt
        self.reason = reason
        self.error = error
        self.retry = retry
        self.durationMs = durationMs
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(stage: try f.string("stage"), attempt: Int(try f.int("attempt")), reason: try f.string("reason"), error: try f.string("error"),
                  retry: try f.bool("retry"), durationMs: try f.int(opt: "duration_ms"))
    }

    public var payload: Value {
        var b = PayloadBuilder([("stage", .string(stage)), ("attempt", .int(Int64(attempt))), ("reason", .string(reason)),
                                ("error", .string(error)), ("retry", .bool(retry))])
        b.set("duration_ms", durationMs)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A stage attempt failed.",
        stream: "run/<run>",
        fields: [
            FieldDocumentation("stage", "text", "the stage"),
            FieldDocumentation("attempt", "integer", "the attempt"),
            FieldDocumentation("reason", "text", "error, timeout, interrupted (its engine stopped) or unsupported (no executor)"),
            FieldDocumentation("error", "text", "what went wrong, one line"),
            FieldDocumentation("retry", "boolean", "another attempt is queued (a StageQueued follows)"),
            .optional("duration_ms", "integer", "how long the attempt ran (absent when it never started)"),
        ])
    public static let example = StageFailed(stage: "score", attempt: 1, reason: "timeout", error: "stage 'score' ran longer than 600 s",
                                            retry: true, durationMs: 600_012)
}

/// A stage will not run: a stage it waits for failed, was skipped or cancelled.
public struct StageSkipped: DomainEvent {
    public static let type = "StageSkipped"
    public var stage: String
    public var reason: String
    /// Skipped by its own condition (`when` false, or `on: failure` with nothing failed): not a
    /// failure of the run. Absent: skipped because a stage it follows failed, was skipped or
    /// cancelled.
    public var byCondition: Bool?

    public init(stage: String, reason: String, byCondition: Bool? = nil) {
        self.stage = stage
        self.reason = reason
        self.byCondition = byCondition
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(stage: try f.string("stage"), reason: try f.string("reason"), byCondition: try f.bool(opt: "by_condition"))
    }

    public var payload: Value {
        var b = PayloadBuilder([("reason", .string(reason)), ("stage", .string(stage))])
        b.set("by_condition", byCondition)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A stage will not run: a stage it waits for failed, was skipped or was cancelled; or its own condition (`when`, `on`) says so.",
        stream: "run/<run>",
        fields: [FieldDocumentation("stage", "text", "the stage"), FieldDocumentation("reason", "text", "why, naming the stage it waited for or the condition"),
                 .optional("by_condition", "boolean", "true when its own condition skipped it (not a failure of the run)")])
    public static let example = StageSkipped(stage: "store", reason: "its condition `params.full == true` is false", byCondition: true)
}

/// A stage was cancelled with its run (while pending, queued or running).
public struct StageCancelled: DomainEvent {
    public static let type = "StageCancelled"
    public var stage: String
    /// The attempt that was running, if one was.
    public var attempt: Int?

    public init(stage: String, attempt: Int? = nil) {
        self.stage = stage
        self.attempt = attempt
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(stage: try f.string("stage"), attempt: try f.int(opt: "attempt").map { Int($0) })
    }

    public var payload: Value {
        var b = PayloadBuilder([("stage", .string(stage))])
        b.set("attempt", attempt)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A stage was cancelled with its run.",
        stream: "run/<run>",
        fields: [FieldDocumentation("stage", "text", "the stage"), .optional("attempt", "integer", "the attempt that was running, if one was")])
    public static let example = StageCancelled(stage: "score", attempt: 1)
}

/// Someone asked a running run to stop.
public struct RunCancelRequested: DomainEvent {
    public static let type = "RunCancelRequested"
    public var by: String
    public var reason: String?

    public init(by: String, reason: String? = nil) {
        self.by = by
        self.reason = reason
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(by: try f.string("by"), reason: try f.string(opt: "reason"))
    }

    public var payload: Value {
        var b = PayloadBuilder([("by", .string(by))])
        b.set("reason", reason)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "Someone asked a running run to stop: what has not started is cancelled, running attempts are killed.",
        stream: "run/<run>",
        fields: [FieldDocumentation("by", "text", "who asked"), .optional("reason", "text", "why")])
    public static let example = RunCancelRequested(by: "cli:alice", reason: "wrong parameters")
}

/// A run's end that carries only its duration (`RunSucceeded`, `RunCancelled`): one codec.
public protocol RunEndedEvent: DomainEvent {
    /// From the request to this event.
    var durationMs: Int64 { get }
    init(durationMs: Int64)
    /// What the event means, for the reference.
    static var summary: String { get }
}

extension RunEndedEvent {
    public init(_ payload: Value) throws(DecodingFailure) {
        self.init(durationMs: try Fields(Self.type, payload).int("duration_ms"))
    }

    public var payload: Value { .object([("duration_ms", .int(durationMs))]) }

    public static var documentation: EventDocumentation {
        EventDocumentation(summary, stream: "run/<run>", fields: [FieldDocumentation("duration_ms", "integer", "from the request to this event")])
    }
}

/// Every stage of the run succeeded.
public struct RunSucceeded: RunEndedEvent {
    public static let type = "RunSucceeded"
    public static let summary = "Every stage of the run succeeded."
    public var durationMs: Int64
    public init(durationMs: Int64) { self.durationMs = durationMs }
    public static let example = RunSucceeded(durationMs: 93_000)
}

/// The run finished with stages that did not succeed.
public struct RunFailed: DomainEvent {
    public static let type = "RunFailed"
    public var durationMs: Int64
    /// The stages that failed, were skipped or cancelled.
    public var failedStages: [String]

    public init(durationMs: Int64, failedStages: [String]) {
        self.durationMs = durationMs
        self.failedStages = failedStages
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(durationMs: try f.int("duration_ms"), failedStages: try f.strings("failed_stages"))
    }

    public var payload: Value {
        .object([("duration_ms", .int(durationMs)), ("failed_stages", .array(failedStages.map { .string($0) }))])
    }

    public static let documentation = EventDocumentation(
        "The run finished with stages that did not succeed.", stream: "run/<run>",
        fields: [FieldDocumentation("duration_ms", "integer", "from the request to this event"),
                 FieldDocumentation("failed_stages", "list of text", "the stages that failed, were skipped or were cancelled")])
    public static let example = RunFailed(durationMs: 12_000, failedStages: ["score", "store"])
}

/// The run was cancelled and nothing of it runs any more.
public struct RunCancelled: RunEndedEvent {
    public static let type = "RunCancelled"
    public static let summary = "The run was cancelled; nothing of it runs any more."
    public var durationMs: Int64
    public init(durationMs: Int64) { self.durationMs = durationMs }
    public static let example = RunCancelled(durationMs: 4_000)
}

/// A run event, decoded: what `RunsState.evolve` switches on.
public enum RunEvent: Sendable, Hashable {
    case requested(RunRequested)
    case queued(StageQueued)
    case started(StageStarted)
    case itemStarted(StageItemStarted)
    case datasetWritten(DatasetVersionWritten)
    case succeeded(StageSucceeded)
    case failed(StageFailed)
    case skipped(StageSkipped)
    case cancelled(StageCancelled)
    case cancelRequested(RunCancelRequested)
    case runSucceeded(RunSucceeded)
    case runFailed(RunFailed)
    case runCancelled(RunCancelled)

    /// Decodes a run event of type `type`; nil for other types.
    public init?(type: String, payload: Value) throws(DecodingFailure) {
        switch type {
        case RunRequested.type: self = .requested(try RunRequested(payload))
        case StageQueued.type: self = .queued(try StageQueued(payload))
        case StageStarted.type: self = .started(try StageStarted(payload))
        case StageItemStarted.type: self = .itemStarted(try StageItemStarted(payload))
        case DatasetVersionWritten.type: self = .datasetWritten(try DatasetVersionWritten(payload))
        case StageSucceeded.type: self = .succeeded(try StageSucceeded(payload))
        case StageFailed.type: self = .failed(try StageFailed(payload))
        case StageSkipped.type: self = .skipped(try StageSkipped(payload))
        case StageCancelled.type: self = .cancelled(try StageCancelled(payload))
        case RunCancelRequested.type: self = .cancelRequested(try RunCancelRequested(payload))
        case RunSucceeded.type: self = .runSucceeded(try RunSucceeded(payload))
        case RunFailed.type: self = .runFailed(try RunFailed(payload))
        case RunCancelled.type: self = .runCancelled(try RunCancelled(payload))
        default: return nil
        }
    }

    /// Decodes a recorded run event; nil for other types.
    public init?(_ e: RecordedEvent) throws(DecodingFailure) {
        do throws(DecodingFailure) {
            try self.init(type: e.type, payload: e.payload)
        } catch {
            var failure = error
            failure.seq = e.seq
            throw failure
        }
    }

    /// The stage the event is about, if any.
    public var stage: String? {
        switch self {
        case .queued(let e): return e.stage
        case .started(let e): return e.stage
        case .itemStarted(let e): return e.stage
        case .datasetWritten(let e): return e.stage
        case .succeeded(let e): return e.stage
        case .failed(let e): return e.stage
        case .skipped(let e): return e.stage
        case .cancelled(let e): return e.stage
        case .requested, .cancelRequested, .runSucceeded, .runFailed, .runCancelled: return nil
        }
    }
}
