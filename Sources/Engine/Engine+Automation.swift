import Catalog
import Domain
import EventLog
import Executors
import Foundation
import Models
import Projections
import Runs

/// Appends an attempt's in-flight events (an inference stage's predictions) straight to the log.
public struct LogRecorder: EventRecorder {
    let log: EventLog
    let actor: String
    public init(log: EventLog, actor: String) {
        self.log = log
        self.actor = actor
    }
    public func record(_ events: [NewEvent], to stream: String) throws {
        try log.append(events, to: stream, expectedVersion: .any, actor: actor)
    }
    public func record(_ appends: [StreamAppend]) throws {
        _ = try log.append(appends, actor: actor)
    }
    public func events(of stream: String) throws -> [RecordedEvent] {
        try log.read(stream: stream)
    }
}

/// The ML part of the loop: registering trained versions and observed metrics with an attempt's
/// outcome, and the automation reactor (triggers, monitors, retraining on new data) deciding in
/// the same append as the other reactors, with its own checkpoint.
extension Engine {
    /// The event types the automation reactor decides on.
    static let automationInputs: [String] = [PredictionRecorded.type, MetricObserved.type, RunEvents.stageSucceeded,
                                             RunEvents.datasetVersionWritten]

    /// The registry and the automation state as of `head`, each from its newest snapshot (the
    /// engine writes them: Engine+History) and the events after it. Reads only the log, so `load`
    /// runs it on a thread of its own while the runs fold (on a first start, both are long folds).
    struct AutomationFold: Sendable {
        var models: ProjectionRunner<ModelsProjection>.Fold
        var automation: ProjectionRunner<AutomationProjection>.Fold
        var modelsSeconds: Double
        var automationSeconds: Double
    }

    static func foldAutomation(_ log: EventLog, head: UInt64) throws -> AutomationFold {
        let started = Date()
        let m = try ProjectionRunner(log: log, projection: ModelsProjection()).state(at: head)
        let between = Date()
        let a = try ProjectionRunner(log: log, projection: AutomationProjection()).state(at: head)
        return AutomationFold(models: m, automation: a, modelsSeconds: between.timeIntervalSince(started), automationSeconds: Date().timeIntervalSince(between))
    }

    /// Takes the registry and the automation state folded by `foldAutomation`, and queues the
    /// events after the automation checkpoint that the reactor has not decided on.
    func loadAutomation(head: UInt64, _ fold: AutomationFold) throws {
        let m = fold.models, a = fold.automation
        models = m.state
        automation = a.state
        history.debt.models = m.folded
        history.debt.automation = a.folded
        noteLoaded("models", fromSnapshot: m.fromSnapshot, folded: m.folded, seconds: fold.modelsSeconds)
        noteLoaded("automation", fromSnapshot: a.fromSnapshot, folded: a.folded, seconds: fold.automationSeconds)
        for why in [m.rejectedSnapshot, a.rejectedSnapshot].compactMap({ $0 }) { options.report(why, .warning, component: "snapshots") }
        let from = (checkpointValues[Engine.automationCheckpoint] ?? 0) + 1
        var pending: [RecordedEvent] = []
        if from <= head {
            for t in Engine.automationInputs { pending += try log.read(type: t, from: from).filter { $0.seq <= head } }
        }
        automationInbox = pending.sorted { $0.seq < $1.seq }
    }

    /// Folds one new event into the registry and automation state and queues it for the reactor.
    func observe(_ e: RecordedEvent) {
        if MLEvents.registryTypes.contains(e.type) { models.evolve(e) }
        if MLEvents.automationTypes.contains(e.type) { automation.evolve(e) }
        if Engine.automationInputs.contains(e.type) { automationInbox.append(e) }
    }

    /// Adds a finished attempt's model versions, metrics and reported predictions to the step:
    /// each registration numbered after those already registered (and those earlier in this step),
    /// metrics of a version registered here get its number; the version goes into the outputs.
    /// A registration, metric or reported prediction that is not a valid event is reported and
    /// left out (naming the field).
    func recordModelResults(_ result: inout StageResult, key: AttemptKey, run: RunState, batch: inout Batch) {
        let started = run.stage(key.stage)?.attempts.last?.startedSeq
        let attempt = "run \(key.run) stage \(key.stage) attempt \(key.attempt)"
        var registered: [String: UInt64] = [:]
        for r in result.registrations {
            let stream = MLEvents.stream(model: r.model)
            let pending = UInt64(batch.pendingVersions(r.model))
            do throws(DecodingFailure) {
                let (version, events, expected) = try ModelDecider.register(models, r, pending: pending, causation: started, correlation: run.correlation,
                                                                            by: actor)
                batch.add(stream, events, expected: .exact(expected))
                batch.registerVersion(r.model)
                registered[r.model] = version
            } catch {
                options.report("\(attempt): model '\(r.model)' not registered: \(error)", .error, component: "automation", run: key.run)
            }
        }
        for m in result.metrics {
            do throws(DecodingFailure) {
                let o = try MetricObserved(reported: m) { registered[$0] }
                batch.add(MLEvents.stream(metricsOf: o.model), [o.event(causation: started, correlation: run.correlation)], expected: .any)
            } catch {
                options.report("\(attempt): metric not recorded: \(error)", .error, component: "automation", run: key.run)
            }
        }
        if !result.predictions.isEmpty {
            // Predictions a script stage reported: {entity, model, model_version, outputs} or flat fields.
            var events: [NewEvent] = []
            events.reserveCapacity(result.predictions.count)
            for (i, row) in result.predictions.enumerated() {
                do throws(DecodingFailure) {
                    let p = try PredictionRecorded(reported: row, index: i, run: key.run, stage: key.stage, attempt: UInt64(key.attempt))
                    events.append(p.event(causation: started, correlation: run.correlation))
                } catch {
                    options.report("\(attempt): prediction not recorded: \(error)", .error, component: "automation", run: key.run)
                }
            }
            if !events.isEmpty { batch.add(MLEvents.stream(predictionsOfRun: key.run), events, expected: .any) }
        }
        if let (model, version) = registered.first, var o = result.outputs {
            o = o.setting("model_version", to: .int(Int64(version))).setting("model", to: .string(model))
            result.outputs = o
        }
    }

    /// Rules as of the current catalog (rebuilt when it changes).
    func currentRules() -> AutomationRules {
        if rulesAt != catalog.lastChangeSeq {
            rules = AutomationRules(catalog: catalog)
            rulesAt = catalog.lastChangeSeq
        }
        return rules
    }

    /// The automation reactor's decisions for the events queued since its checkpoint, and the
    /// actions of crossings already recorded (runs requested, alerts raised). Fails the step on a
    /// queued event that does not decode (naming its seq, type and field) or a read that fails,
    /// instead of deciding without it.
    func automate(_ batch: inout Batch) throws {
        let rules = currentRules()
        var seen: [String: Set<String>] = [:]
        var crossings: [Automation.Crossing] = []
        var retrains: [(model: String, job: String, source: RecordedEvent)] = []
        if !rules.isEmpty {
            for e in automationInbox {
                switch e.type {
                case PredictionRecorded.type:
                    crossings += try Automation.crossings(prediction: e, rules: rules, state: automation, seen: &seen)
                case MetricObserved.type:
                    crossings += try Automation.crossings(metric: e, rules: rules, state: automation, seen: &seen)
                case StageSucceeded.type:
                    guard let runID = RunEvents.run(ofStream: e.stream), let run = runs.runs[runID] else { continue }
                    crossings += Automation.crossings(stageOutput: e, job: run.job, run: runID, rules: rules, state: automation, seen: &seen)
                    // Aggregates over a stage's predictions: decoded only when such a rule exists.
                    guard rules.triggers.contains(where: { $0.source == "predictions" && $0.isAggregate }) else { continue }
                    let succeeded = try e.decode(StageSucceeded.self)
                    if let model = ReportedOutputs(succeeded.outputs).model,
                       rules.triggers.contains(where: { $0.source == "predictions" && $0.model == model && $0.isAggregate }) {
                        // A failed read fails the step (the checkpoint stays): crossings are never lost.
                        var predictions: [PredictionRecorded] = []
                        for p in try log.read(stream: MLEvents.stream(predictionsOfRun: runID)) {
                            let prediction = try p.decode(PredictionRecorded.self)
                            if prediction.stage == succeeded.stage && prediction.model == model { predictions.append(prediction) }
                        }
                        crossings += Automation.crossings(aggregateOver: predictions, model: model, run: runID, stageEnd: e, rules: rules,
                                                          state: automation, seen: &seen)
                    }
                case DatasetVersionWritten.type:
                    guard !rules.retrainOnNewData.isEmpty, let dataset = RunEvents.dataset(ofStream: e.stream) else { continue }
                    let writer = runs.runs[try e.decode(DatasetVersionWritten.self).run]?.job
                    for (model, policy) in rules.retrainOnNewData.sorted(by: { $0.key < $1.key }) where policy.dataset == dataset {
                        guard let job = policy.jobs.first, let writer, !policy.jobs.contains(writer),
                              !(automation.consumedSources[MLEvents.stream(rule: "retrain", model)]?.contains(e.seq) ?? false) else { continue }
                        retrains.append((model, job, e))
                    }
                default: break
                }
            }
        }
        for c in crossings {
            batch.add(c.stream, [c.event], expected: .exact(automation.streamVersions[c.stream] ?? 0))
        }

        // Actions of recorded crossings, and retraining runs.
        for a in automation.pending.values.sorted(by: { $0.crossing < $1.crossing }) {
            let expected = ExpectedVersion.exact(automation.streamVersions[a.stream] ?? 0)
            var events: [NewEvent] = []
            if let job = a.job {
                var trigger = RunTrigger(.trigger, by: a.rule.by)
                trigger.rule = a.rule
                trigger.crossing = a.crossing
                let params = (a.parameters.objectMembers ?? []).map { ($0.key, $0.value) }
                switch requestRun(job: job, parameters: params, trigger: trigger, causation: a.crossing, correlation: a.correlation, batch: &batch) {
                case .success(let id): events.append(Automation.fired(a, run: id))
                case .failure(let why):
                    options.report("\(a.message): no run started: \(why)", .warning, component: "automation")
                    events.append(Automation.fired(a, run: nil, error: why.description))
                }
            }
            if a.team != nil {
                events.append(Automation.alert(a))
                options.report("alert for team \(a.team ?? ""): \(a.message)", .warning, component: "automation")
            }
            batch.add(a.stream, events, expected: expected)
        }
        for r in retrains {
            let stream = MLEvents.stream(rule: "retrain", r.model)
            let rule = RuleRef(kind: "retrain_policy", name: r.model)
            var trigger = RunTrigger(.retrain, by: rule.by)
            trigger.model = r.model
            trigger.dataset = RunEvents.dataset(ofStream: r.source.stream)
            trigger.datasetVersion = r.source.streamVersion
            let pending = PendingAction(stream: stream, crossing: r.source.seq, correlation: r.source.correlation, rule: rule, job: r.job,
                                        parameters: .members([]), team: nil, message: "retrain \(r.model)")
            let fired: NewEvent
            switch requestRun(job: r.job, parameters: [], trigger: trigger, causation: r.source.seq, correlation: r.source.correlation, batch: &batch) {
            case .success(let id): fired = Automation.fired(pending, run: id)
            case .failure(let why): fired = Automation.fired(pending, run: nil, error: why.description)
            }
            batch.add(stream, [fired], expected: .exact(automation.streamVersions[stream] ?? 0))
        }
    }
}
