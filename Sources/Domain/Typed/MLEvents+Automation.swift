/// A trigger's condition held, or a monitored metric crossed its limit (`trigger/<name>`,
/// `monitor/<name>`): once per dedupe key, with what it saw and the action it asks for.
public struct ThresholdCrossed: DomainEvent {
    /// The stored type name.
    public static var type: String { "ThresholdCrossed" }

    /// What was crossed: a trigger's condition as written, or a monitor's limit.
    public enum Threshold: Sendable, Hashable {
        /// A trigger's condition (stored as its text).
        case condition(String)
        /// A monitor's lower limit (stored as `{below: number}`).
        case below(Double)
        /// A monitor's upper limit (stored as `{above: number}`).
        case above(Double)

        /// The stored value.
        public var value: Value {
            switch self {
            case .condition(let text): return .string(text)
            case .below(let d): return .members([Value.Member("below", .double(d))])
            case .above(let d): return .members([Value.Member("above", .double(d))])
            }
        }

        init(_ f: Fields, _ key: String) throws(DecodingFailure) {
            let v = f.value(key)
            if case .string(let text)? = v { self = .condition(text); return }
            if case .members(let m)? = v, m.count == 1, let d = m[0].value.doubleValue {
                switch m[0].key {
                case "below": self = .below(d); return
                case "above": self = .above(d); return
                default: break
                }
            }
            throw f.failure(key, expected: "the condition as text, or {below: number} or {above: number}", found: v)
        }
    }

    /// What the crossing asks for: a run of a job (with parameters) and/or an alert to a team.
    public struct Action: Sendable, Hashable {
        /// The job to run.
        public var run: String?
        /// The run's parameters (an object; set with `run`).
        public var parameters: Value?
        /// The team to alert.
        public var alert: String?

        /// An action.
        public init(run: String? = nil, parameters: Value? = nil, alert: String? = nil) {
            self.run = run
            self.parameters = parameters
            self.alert = alert
        }

        init(_ f: Fields) throws(DecodingFailure) {
            run = try f.string(opt: "run")
            parameters = try f.objectValue(opt: "parameters")
            alert = try f.string(opt: "alert")
        }

        /// The stored object (only the members that are set).
        public var value: Value {
            var m: [Value.Member] = []
            if let alert { m.append(Value.Member("alert", .string(alert))) }
            if let parameters { m.append(Value.Member("parameters", parameters)) }
            if let run { m.append(Value.Member("run", .string(run))) }
            return .members(m)
        }
    }

    /// The rule that decided.

    public var rule: RuleRef
    /// The entity (row-level triggers), `run R` (aggregates), `job.stage` (stage outputs) or the model (metrics).
    public var subject: String
    /// The values the condition read (an object; open).
    public var observed: Value
    /// The condition or limit crossed.
    public var threshold: Threshold
    /// The seq of the event that crossed (a prediction, a metric, a stage's end).
    public var sourceEvent: UInt64
    /// The run of that event ("" when it had none).
    public var sourceRun: String
    /// At most one crossing per rule and dedupe key, across the whole log.
    public var dedupeKey: String
    /// One line for people.
    public var message: String
    /// What it asks for.
    public var action: Action

    /// A crossing.
    public init(rule: RuleRef, subject: String, observed: Value, threshold: Threshold, sourceEvent: UInt64, sourceRun: String,
                dedupeKey: String, message: String, action: Action) {
        self.rule = rule
        self.subject = subject
        self.observed = observed
        self.threshold = threshold
        self.sourceEvent = sourceEvent
        self.sourceRun = sourceRun
        self.dedupeKey = dedupeKey
        self.message = message
        self.action = action
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        rule = try RuleRef(f.object("rule"))
        subject = try f.string("subject")
        observed = try f.objectValue("observed")
        threshold = try Threshold(f, "threshold")
        sourceEvent = try f.uint("source_event")
        sourceRun = try f.string("source_run")
        dedupeKey = try f.string("dedupe_key")
        message = try f.string("message")
        action = try Action(f.object("action"))
    }

    public var payload: Value {
        .members([Value.Member("action", action.value), Value.Member("dedupe_key", .string(dedupeKey)), Value.Member("message", .string(message)),
                  Value.Member("observed", observed), Value.Member("rule", rule.value), Value.Member("source_event", MLPayload.int(sourceEvent)),
                  Value.Member("source_run", .string(sourceRun)), Value.Member("subject", .string(subject)),
                  Value.Member("threshold", threshold.value)])
    }

    public static let documentation = EventDocumentation(
        "A trigger's condition held, or a monitored metric crossed its limit: recorded once per dedupe key, with what it saw and the action it asks for.",
        stream: "trigger/<name> | monitor/<name>",
        fields: [
            FieldDocumentation("rule", "object", "The rule that decided.", fields: RuleRef.fieldDocumentation),
            FieldDocumentation("subject", "text", "What crossed: the entity, `run R` (aggregates), `job.stage` (stage outputs) or the model (metrics)."),
            FieldDocumentation("observed", "object", "The values the condition read (aggregates: predictions and value; monitors: the metric)."),
            FieldDocumentation("threshold", "text or object", "A trigger's condition as written, or a monitor's {below: number} or {above: number}."),
            FieldDocumentation("source_event", "integer", "The seq of the event that crossed (prediction, metric, stage end)."),
            FieldDocumentation("source_run", "text", "The run of that event (\"\" when none)."),
            FieldDocumentation("dedupe_key", "text", "The rule crosses at most once per key, across the whole log."),
            FieldDocumentation("message", "text", "One line for people."),
            FieldDocumentation("action", "object", "What it asks for.", fields: [
                .optional("run", "text", "The job to run."),
                .optional("parameters", "object", "The run's parameters, taken from the crossing event (with run)."),
                .optional("alert", "text", "The team to alert."),
            ]),
        ])

    public static let example = ThresholdCrossed(
        rule: RuleRef(kind: "monitor", name: "accuracy_floor", version: 1), subject: "churn",
        observed: .object([("accuracy", .double(0.61))]), threshold: .below(0.7), sourceEvent: 812, sourceRun: "17",
        dedupeKey: "17/accuracy", message: "monitor accuracy_floor: churn v2 accuracy = 0.61, below 0.7",
        action: Action(run: "train_churn", parameters: .object([]), alert: "ml"))
}

/// A crossing's run was requested, or refused (`trigger/<name>`, `monitor/<name>`); a retraining
/// policy's run for a new version of its training data (`retrain/<model>`).
public struct TriggerFired: DomainEvent {
    /// The stored type name.
    public static var type: String { "TriggerFired" }

    /// The rule whose crossing (or retraining policy) asked for the run.

    public var rule: RuleRef
    /// The seq of the `ThresholdCrossed` (a retraining policy: of the `DatasetVersionWritten`).
    public var crossing: UInt64
    /// The job whose run was requested.
    public var job: String
    /// The run requested (nil when refused; stored as null).
    public var run: String?
    /// Why no run was started.
    public var error: String?

    /// A fired trigger.
    public init(rule: RuleRef, crossing: UInt64, job: String, run: String?, error: String? = nil) {
        self.rule = rule
        self.crossing = crossing
        self.job = job
        self.run = run
        self.error = error
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        rule = try RuleRef(f.object("rule"))
        crossing = try f.uint("crossing")
        job = try f.string("job")
        run = try f.string(opt: "run")
        error = try f.string(opt: "error")
    }

    public var payload: Value {
        var m: [Value.Member] = [Value.Member("crossing", MLPayload.int(crossing))]
        if let error { m.append(Value.Member("error", .string(error))) }
        m += [Value.Member("job", .string(job)), Value.Member("rule", rule.value), Value.Member("run", run.map { .string($0) } ?? .null)]
        return .members(m)
    }

    public static let documentation = EventDocumentation(
        "The run a crossing asked for was requested (or refused, so that it is not retried); for a retraining policy, the run for a new version of the training data.",
        stream: "trigger/<name> | monitor/<name> | retrain/<model>",
        fields: [
            FieldDocumentation("rule", "object", "The rule (a retraining policy: kind retrain_policy, the model's name, no version).",
                               fields: RuleRef.fieldDocumentation),
            FieldDocumentation("crossing", "integer", "The seq of the ThresholdCrossed (a retraining policy: of the DatasetVersionWritten)."),
            FieldDocumentation("job", "text", "The job whose run was requested."),
            FieldDocumentation("run", "text or null", "The run requested (null: refused)."),
            .optional("error", "text", "Why no run was started."),
        ])

    public static let example = TriggerFired(rule: RuleRef(kind: "trigger", name: "high_churn", version: 3), crossing: 905, job: "retention_followup",
                                             run: "18", error: "job 'retention_followup' is not in the catalog")
}

/// A crossing's team was alerted (`trigger/<name>`, `monitor/<name>`).
public struct AlertRaised: DomainEvent {
    /// The stored type name.
    public static var type: String { "AlertRaised" }

    /// The team alerted.

    public var team: String
    /// The rule that crossed.
    public var rule: RuleRef
    /// The seq of the `ThresholdCrossed`.
    public var crossing: UInt64
    /// The crossing's message.
    public var message: String

    /// An alert.
    public init(team: String, rule: RuleRef, crossing: UInt64, message: String) {
        self.team = team
        self.rule = rule
        self.crossing = crossing
        self.message = message
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        team = try f.string("team")
        rule = try RuleRef(f.object("rule"))
        crossing = try f.uint("crossing")
        message = try f.string("message")
    }

    public var payload: Value {
        .members([Value.Member("crossing", MLPayload.int(crossing)), Value.Member("message", .string(message)), Value.Member("rule", rule.value),
                  Value.Member("team", .string(team))])
    }

    public static let documentation = EventDocumentation(
        "A crossing's team was alerted.",
        stream: "trigger/<name> | monitor/<name>",
        fields: [
            FieldDocumentation("team", "text", "The team alerted."),
            FieldDocumentation("rule", "object", "The rule that crossed.", fields: RuleRef.fieldDocumentation),
            FieldDocumentation("crossing", "integer", "The seq of the ThresholdCrossed."),
            FieldDocumentation("message", "text", "The crossing's message."),
        ])

    public static let example = AlertRaised(team: "ml", rule: RuleRef(kind: "monitor", name: "tenure_drift", version: 1), crossing: 907,
                                            message: "monitor tenure_drift: churn v2 psi(tenure_months) = 0.27, above 0.2")
}
