import Catalog
import Domain

/// A trigger definition, ready to evaluate: "if `condition` holds for a prediction, metric or
/// stage output, run `run` with parameters taken from the matching event".
public struct TriggerRule: Sendable {
    public var name: String
    public var version: UInt64
    /// The seq that applied this version: only events after it are evaluated.
    public var appliedSeq: UInt64
    /// predictions | metrics | stage_output
    public var source: String
    public var model: String?
    public var job: String?
    public var stage: String?
    public var condition: Expression
    public var conditionText: String
    /// The job to run.
    public var run: String
    /// Run parameter → field of the matching event.
    public var parameters: [(param: String, field: String)]
    /// once_per_run | once_per_row
    public var dedupe: String

    /// The rule of a trigger definition, or nil when its condition does not parse (apply refuses those).
    public init?(name: String, version: UInt64, appliedSeq: UInt64, spec: TriggerSpec) {
        guard let condition = try? Expression.parse(spec.condition) else { return nil }
        self.name = name
        self.version = version
        self.appliedSeq = appliedSeq
        source = spec.source.type.rawValue
        model = spec.source.model
        job = spec.source.job
        stage = spec.source.stage
        self.condition = condition
        conditionText = spec.condition
        run = spec.run
        parameters = spec.parameters.map { ($0.name, $0.field) }
        dedupe = (spec.dedupe ?? .oncePerRun).rawValue
    }

    /// The rule of a stored trigger spec; nil when it does not read as a `TriggerSpec` or its
    /// condition does not parse.
    public init?(name: String, version: UInt64, appliedSeq: UInt64, spec: Value) {
        guard let typed = try? TriggerSpec(spec) else { return nil }
        self.init(name: name, version: version, appliedSeq: appliedSeq, spec: typed)
    }

    /// Whether the condition aggregates over all the predictions of a stage (evaluated when it ends).
    public var isAggregate: Bool { condition.isAggregate }
}

/// A monitor definition: a model metric against `below` / `above`, and what to do.
public struct MonitorRule: Sendable {
    public var name: String
    public var version: UInt64
    public var appliedSeq: UInt64
    public var model: String
    public var metric: String
    public var feature: String?
    public var below: Double?
    public var above: Double?
    public var alert: String?
    public var run: String?

    /// The rule of a monitor definition.
    public init(name: String, version: UInt64, appliedSeq: UInt64, spec: MonitorSpec) {
        self.name = name
        self.version = version
        self.appliedSeq = appliedSeq
        model = spec.model
        metric = spec.metric.rawValue
        feature = spec.feature
        below = spec.below
        above = spec.above
        alert = spec.alert
        run = spec.run
    }

    /// The rule of a stored monitor spec; nil when it does not read as a `MonitorSpec`.
    public init?(name: String, version: UInt64, appliedSeq: UInt64, spec: Value) {
        guard let typed = try? MonitorSpec(spec) else { return nil }
        self.init(name: name, version: version, appliedSeq: appliedSeq, spec: typed)
    }
}

/// The rules in force in a catalog.
public struct AutomationRules: Sendable {
    public var triggers: [TriggerRule] = []
    public var monitors: [MonitorRule] = []
    /// Model → (training dataset, jobs with a train stage for it) for models that retrain on new data.
    public var retrainOnNewData: [String: (dataset: String, jobs: [String])] = [:]
    /// Trigger, monitor, model and job definitions whose spec does not read (none in a catalog
    /// whose definitions were applied: apply validates them): they make no rule.
    public var unreadable: [DecodingFailure] = []

    public init() {}

    public init(catalog: CatalogState) {
        // Model → the jobs with a train stage for it (job specs read once, when a model retrains on new data).
        var trainingJobs: [String: [String]]?
        func jobs(training model: String) -> [String] {
            if trainingJobs == nil {
                var found: [String: [String]] = [:]
                for j in catalog.entries.values where j.key.kind == .job {
                    do throws(DecodingFailure) {
                        for stage in try j.spec(as: JobSpec.self).stages {
                            if case .train(let t) = stage.variant { found[t.model, default: []].append(j.key.name) }
                        }
                    } catch {
                        unreadable.append(error)
                    }
                }
                trainingJobs = found
            }
            return Array(Set(trainingJobs?[model] ?? [])).sorted()
        }
        for entry in catalog.entries.values.sorted(by: { $0.key.name < $1.key.name }) {
            let name = entry.key.name
            do throws(DecodingFailure) {
                switch entry.key.kind {
                case .trigger:
                    if let r = TriggerRule(name: name, version: entry.version, appliedSeq: entry.seq, spec: try entry.spec(as: TriggerSpec.self)) {
                        triggers.append(r)
                    }
                case .monitor:
                    monitors.append(MonitorRule(name: name, version: entry.version, appliedSeq: entry.seq, spec: try entry.spec(as: MonitorSpec.self)))
                case .model:
                    let model = try entry.spec(as: ModelSpec.self)
                    guard model.retrain?.onNewData == true else { continue }
                    retrainOnNewData[name] = (model.trainingDataset, jobs(training: name))
                default: break
                }
            } catch {
                unreadable.append(error)
            }
        }
    }

    public var isEmpty: Bool { triggers.isEmpty && monitors.isEmpty && retrainOnNewData.isEmpty }

    /// Input columns that trigger conditions on `model` read (recorded with each prediction).
    public func inputColumns(model: String, outputs: [String]) -> [String] {
        var out: [String] = []
        for t in triggers where t.source == "predictions" && t.model == model {
            for f in t.condition.fields + t.parameters.map(\.field)
            where !outputs.contains(f) && !Automation.predictionEnvelopeFields.contains(f) && !out.contains(f) { out.append(f) }
        }
        return out
    }
}

/// A crossing waiting for its action: a run to request and/or a team to alert.
public struct PendingAction: Sendable, Hashable {
    /// The rule's stream, where its `TriggerFired` and `AlertRaised` go.
    public var stream: String
    /// The seq of the `ThresholdCrossed` (a retraining policy: of the dataset version).
    public var crossing: UInt64
    /// The crossing's correlation, which the run and the alert keep.
    public var correlation: UInt64
    /// The rule that crossed.
    public var rule: RuleRef
    /// The job to run, until its run is recorded.
    public var job: String?
    /// The run's parameters (an object).
    public var parameters: Value
    /// The team to alert, until the alert is recorded.
    public var team: String?
    /// The crossing's message.
    public var message: String

    /// A pending action.
    public init(stream: String, crossing: UInt64, correlation: UInt64, rule: RuleRef, job: String?, parameters: Value, team: String?, message: String) {
        self.stream = stream
        self.crossing = crossing
        self.correlation = correlation
        self.rule = rule
        self.job = job
        self.parameters = parameters
        self.team = team
        self.message = message
    }
}

/// The automation state, folded from the log: which dedupe keys each rule has used, and the
/// crossings whose run or alert is still to be recorded.
public struct AutomationState: Sendable, Hashable {
    /// Rule stream → dedupe keys already crossed.
    public var keys: [String: Set<String>] = [:]
    /// Stream → its version.
    public var streamVersions: [String: UInt64] = [:]
    /// Crossing seq → what it still needs.
    public var pending: [UInt64: PendingAction] = [:]
    /// Retraining policy stream → dataset-version seqs already acted on.
    public var consumedSources: [String: Set<UInt64>] = [:]
    public var lastSeq: UInt64 = 0

    public init() {}

    /// Folds one event in. The stream version of every automation event counts (appends to its
    /// stream expect it); one that does not decode changes nothing else.
    public mutating func evolve(_ e: RecordedEvent) {
        defer { lastSeq = max(lastSeq, e.seq) }
        guard MLEvents.automationTypes.contains(e.type) else { return }
        streamVersions[e.stream] = e.streamVersion
        switch e.type {
        case ThresholdCrossed.type:
            guard let c = try? e.decode(ThresholdCrossed.self) else { return }
            keys[e.stream, default: []].insert(c.dedupeKey)
            let job = c.action.run
            let team = c.action.alert
            if job != nil || team != nil {
                pending[e.seq] = PendingAction(stream: e.stream, crossing: e.seq, correlation: e.correlation, rule: c.rule, job: job,
                                               parameters: c.action.parameters ?? .members([]), team: team, message: c.message)
            }
        case TriggerFired.type:
            guard let f = try? e.decode(TriggerFired.self) else { return }
            let c = f.crossing
            if e.stream.hasPrefix("retrain/") { consumedSources[e.stream, default: []].insert(c) }
            pending[c]?.job = nil
            if let a = pending[c], a.team == nil { pending[c] = nil }
        case AlertRaised.type:
            guard let r = try? e.decode(AlertRaised.self) else { return }
            let c = r.crossing
            pending[c]?.team = nil
            if let a = pending[c], a.job == nil { pending[c] = nil }
        default: break
        }
    }
}

/// The trigger and monitor decisions. Pure: an event and the rules in, the `ThresholdCrossed`
/// events it causes out (each once per dedupe key, across the whole log). An event that does not
/// decode fails the decision (naming its seq and field): the reactor never skips one.
public enum Automation {
    /// Fields a condition may read from any prediction besides its outputs and inputs.
    public static let predictionEnvelopeFields: Set<String> = ["entity", "entity_key", "model", "model_version", "run", "stage", "attempt"]


    /// A new crossing, to append to `stream` (at most one per dedupe key).
    public struct Crossing: Sendable {
        public var stream: String
        public var key: String
        public var event: NewEvent
    }

    /// The crossings caused by a `PredictionRecorded` event (row-level trigger conditions).
    public static func crossings(prediction e: RecordedEvent, rules: AutomationRules, state: AutomationState,
                                 seen: inout [String: Set<String>]) throws(DecodingFailure) -> [Crossing] {
        let p = try e.decode(PredictionRecorded.self)
        var out: [Crossing] = []
        for r in rules.triggers where r.source == "predictions" && r.model == p.model && !r.isAggregate && e.seq > r.appliedSeq {
            guard r.condition.evaluate({ p.field($0) }) == .bool(true) else { continue }
            let key = r.dedupe == "once_per_row" ? "\(p.run)/\(p.entity)" : p.run
            if let c = crossing(trigger: r, key: key, subject: p.entity, sourceRun: p.run, source: e, field: { p.field($0) }, state: state, seen: &seen) {
                out.append(c)
            }
        }
        return out
    }

    /// The crossings of aggregate trigger conditions over all the predictions one stage of a run
    /// recorded for `model` (evaluated when the stage has succeeded).
    public static func crossings(aggregateOver predictions: [PredictionRecorded], model: String, run: String, stageEnd: RecordedEvent,
                                 rules: AutomationRules, state: AutomationState, seen: inout [String: Set<String>]) -> [Crossing] {
        var out: [Crossing] = []
        for r in rules.triggers where r.source == "predictions" && r.model == model && r.isAggregate && stageEnd.seq > r.appliedSeq {
            let value = r.condition.evaluate(rows: predictions) { p, name in p.field(name) }
            guard value == .bool(true) else { continue }
            let last = predictions.last
            let observed = Value.object([("predictions", .int(Int64(predictions.count))), ("value", value)])
            if let c = crossing(trigger: r, key: run, subject: "run \(run)", sourceRun: run, source: stageEnd,
                                field: { last?.field($0) }, observed: observed, state: state, seen: &seen) {
                out.append(c)
            }
        }
        return out
    }

    /// The crossings caused by a `MetricObserved` event: metric triggers and monitors.
    public static func crossings(metric e: RecordedEvent, rules: AutomationRules, state: AutomationState,
                                 seen: inout [String: Set<String>]) throws(DecodingFailure) -> [Crossing] {
        let o = try e.decode(MetricObserved.self)
        let model = o.model, metric = o.metric, value = o.value, feature = o.feature
        let run = o.run ?? ""
        let key = run.isEmpty ? "seq\(e.seq)" : "\(run)/\(metric)" + (feature.map { ":\($0)" } ?? "")
        var out: [Crossing] = []
        let field: (String) -> Value? = { o.field($0) }
        for r in rules.triggers where r.source == "metrics" && r.model == model && e.seq > r.appliedSeq {
            guard r.condition.evaluate(field) == .bool(true) else { continue }
            if let c = crossing(trigger: r, key: key, subject: model, sourceRun: run, source: e, field: field, state: state, seen: &seen) { out.append(c) }
        }
        for m in rules.monitors where m.model == model && m.metric == metric && (m.feature == nil || m.feature == feature) && e.seq > m.appliedSeq {
            var threshold: ThresholdCrossed.Threshold?
            var side = "", limit = 0.0
            if let b = m.below, value < b { threshold = .below(b); (side, limit) = ("below", b) }
            if let a = m.above, value > a { threshold = .above(a); (side, limit) = ("above", a) }
            guard let threshold else { continue }
            let stream = MLEvents.stream(rule: "monitor", m.name)
            guard !(state.keys[stream]?.contains(key) ?? false), !(seen[stream]?.contains(key) ?? false) else { continue }
            seen[stream, default: []].insert(key)
            let what = metric + (feature.map { "(\($0))" } ?? "")
            let message = "monitor \(m.name): \(model) v\(o.modelVersion) \(what) = \(format(value)), \(side) \(format(limit))"
            let action = ThresholdCrossed.Action(run: m.run, parameters: m.run.map { _ in .members([]) }, alert: m.alert)
            let crossed = ThresholdCrossed(rule: RuleRef(kind: "monitor", name: m.name, version: m.version), subject: model,
                                           observed: .members([Value.Member(metric, .double(value))]), threshold: threshold, sourceEvent: e.seq,
                                           sourceRun: run, dedupeKey: key, message: message, action: action)
            out.append(Crossing(stream: stream, key: key, event: crossed.event(causation: e.seq, correlation: e.correlation)))
        }
        return out
    }

    /// The crossings caused by a `StageSucceeded` of a job's stage (stage_output triggers). A
    /// `StageSucceeded` that does not decode causes none (its run's projection and the lineage
    /// table name it); `crossings(stageOutput:succeeded:…)` takes one already decoded.
    public static func crossings(stageOutput e: RecordedEvent, job: String, run: String, rules: AutomationRules, state: AutomationState,
                                 seen: inout [String: Set<String>]) -> [Crossing] {
        guard rules.triggers.contains(where: { $0.source == "stage_output" && $0.job == job && e.seq > $0.appliedSeq }),
              let succeeded = try? e.decode(StageSucceeded.self) else { return [] }
        return crossings(stageOutput: e, succeeded: succeeded, job: job, run: run, rules: rules, state: state, seen: &seen)
    }

    /// The crossings caused by `succeeded`, recorded as `e`, of a job's stage (stage_output triggers).
    public static func crossings(stageOutput e: RecordedEvent, succeeded: StageSucceeded, job: String, run: String, rules: AutomationRules,
                                 state: AutomationState, seen: inout [String: Set<String>]) -> [Crossing] {
        let stage = succeeded.stage
        var out: [Crossing] = []
        let fields = StageOutputFields(succeeded, recorded: e.payload)
        let field: (String) -> Value? = { fields.field($0) }
        for r in rules.triggers where r.source == "stage_output" && r.job == job && (r.stage == nil || r.stage == stage) && e.seq > r.appliedSeq {
            guard r.condition.evaluate(field) == .bool(true) else { continue }
            let key = r.dedupe == "once_per_row" ? "\(run)/\(stage)" : run
            if let c = crossing(trigger: r, key: key, subject: "\(job).\(stage)", sourceRun: run, source: e, field: field, state: state, seen: &seen) {
                out.append(c)
            }
        }
        return out
    }

    static func crossing(trigger r: TriggerRule, key: String, subject: String, sourceRun: String, source e: RecordedEvent,
                         field: (String) -> Value?, observed: Value? = nil, state: AutomationState, seen: inout [String: Set<String>]) -> Crossing? {
        let stream = MLEvents.stream(rule: "trigger", r.name)
        guard !(state.keys[stream]?.contains(key) ?? false), !(seen[stream]?.contains(key) ?? false) else { return nil }
        seen[stream, default: []].insert(key)
        let observed = observed ?? Value.object(r.condition.fields.map { ($0, field($0) ?? .null) })
        let params = Value.object(r.parameters.map { ($0.param, field($0.field) ?? .null) })
        let crossed = ThresholdCrossed(rule: RuleRef(kind: "trigger", name: r.name, version: r.version), subject: subject, observed: observed,
                                       threshold: .condition(r.conditionText), sourceEvent: e.seq, sourceRun: sourceRun, dedupeKey: key,
                                       message: "trigger \(r.name): \(r.conditionText) held for \(subject)",
                                       action: ThresholdCrossed.Action(run: r.run, parameters: params))
        return Crossing(stream: stream, key: key, event: crossed.event(causation: e.seq, correlation: e.correlation))
    }

    /// The `TriggerFired` that records the run a crossing requested (`run` nil with `error` when the
    /// request was refused, so that it is not retried forever).
    public static func fired(_ a: PendingAction, run: String?, error: String? = nil) -> NewEvent {
        TriggerFired(rule: a.rule, crossing: a.crossing, job: a.job ?? "", run: run, error: error).event(causation: a.crossing, correlation: a.correlation)
    }

    /// The `AlertRaised` for a crossing's team.
    public static func alert(_ a: PendingAction) -> NewEvent {
        AlertRaised(team: a.team ?? "", rule: a.rule, crossing: a.crossing, message: a.message).event(causation: a.crossing, correlation: a.correlation)
    }

    static func format(_ d: Double) -> String {
        let s = String(format: "%.4f", d)
        var t = Substring(s)
        while t.hasSuffix("0") { t = t.dropLast() }
        if t.hasSuffix(".") { t = t.dropLast() }
        return String(t)
    }
}

/// What a stage_output trigger reads of a stage's end: a member of its reported outputs (free-form:
/// each executor reports its own values), else a dotted path into the event (`stage`, `attempt`,
/// `duration_ms`, `outputs.rows_written`, `datasets`, …). The one place Models reads a
/// `StageSucceeded`'s outputs.
struct StageOutputFields {
    let succeeded: StageSucceeded
    /// The event as recorded, for paths into the members the rules do not know the shape of.
    let recorded: Value

    init(_ succeeded: StageSucceeded, recorded: Value) {
        self.succeeded = succeeded
        self.recorded = recorded
    }

    /// The field `name` (nil when the stage reported no such value).
    func field(_ name: String) -> Value? {
        if let v = Self.member(succeeded.outputs, name) { return v }
        var parts = name.split(separator: ".").makeIterator()
        var cur = parts.next().flatMap { member(String($0)) }
        while let part = parts.next() { cur = Self.member(cur, String(part)) }
        return cur
    }

    /// The event's member `key`: the typed ones from the decoded event, the others as recorded.
    func member(_ key: String) -> Value? {
        switch key {
        case "stage": return .string(succeeded.stage)
        case "attempt": return .int(Int64(succeeded.attempt))
        case "duration_ms": return .int(succeeded.durationMs)
        case "outputs": return succeeded.outputs
        default: return Self.member(recorded, key)
        }
    }

    /// The member `key` of an open object (nil when it is not an object or has no such member).
    static func member(_ v: Value?, _ key: String) -> Value? {
        v?[key]
    }
}
