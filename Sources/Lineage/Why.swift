import Catalog
import Domain
import EventLog
import Foundation
import Models
import Runs

/// One link of a causal chain: what happened, where in the log, and the data behind the words.
public struct WhyStep: Sendable, Hashable {
    /// run, manual, schedule, sensor, dependency, rerun, rule, prediction, metric, stage_output,
    /// dataset, model, catalog.
    public var kind: String
    public var seq: UInt64?
    public var text: String
    public var data: Value
    /// A side branch (e.g. how the model that made a prediction came to be).
    public var branch: [WhyStep]

    public init(kind: String, seq: UInt64?, text: String, data: Value, branch: [WhyStep] = []) {
        self.kind = kind
        self.seq = seq
        self.text = text
        self.data = data
        self.branch = branch
    }

    public var value: Value {
        var m: [(String, Value)] = [("kind", .string(kind)), ("seq", seq.map { .int(Int64($0)) } ?? .null), ("text", .string(text)), ("data", data)]
        if !branch.isEmpty { m.append(("branch", .array(branch.map(\.value)))) }
        return .object(m)
    }
}

/// Why a run ran: its causal chain back to the root, read from the log by following each
/// event's causation (a handful of point reads, whatever the size of the log). A triggered run
/// leads to its rule's crossing, the prediction, metric or stage output that crossed, the model
/// version that made it (trained in which run, on which dataset version, under which catalog
/// version), and the run that made it, and so on up to whoever or whatever started the first run
/// (a person, a schedule, a sensor). Read-only: works while an engine appends.
public struct Why: Sendable {
    public let log: EventLog
    public init(log: EventLog) { self.log = log }

    /// The chain for run `id`, starting with the run itself.
    public func explain(run id: String) throws -> [WhyStep] {
        var seen: Set<String> = []
        return try chain(run: id, seen: &seen)
    }

    /// `{run, chain}`: the chain for run `id` as JSON (`why --json` and the console).
    public func explainValue(run id: String) throws -> Value {
        .object([("run", .string(id)), ("chain", .array(try explain(run: id).map(\.value)))])
    }

    func chain(run id: String, seen: inout Set<String>) throws -> [WhyStep] {
        guard seen.insert(id).inserted, seen.count <= 64 else { return [] }
        guard let requested = try log.read(stream: RunEvents.stream(run: id), limit: 1).first, requested.type == RunEvents.runRequested else {
            throw WhyError("no run '\(id)' in the log; `ledgerflow runs` lists them")
        }
        let r: RunRequested
        do throws(DecodingFailure) {
            r = try requested.decode(RunRequested.self)
        } catch {
            // The chain stops here, saying why.
            return [WhyStep(kind: "run", seq: requested.seq, text: "run \(id): its request cannot be read (\(error))",
                            data: .object([("run", .string(id)), ("error", .string(error.description)), ("actor", .string(requested.actor))]))]
        }
        var steps = [WhyStep(kind: "run", seq: requested.seq,
                             text: "run \(id) of job \(r.job) (job version \(r.jobVersion), catalog seq \(r.catalogSeq)), requested \(Timestamp.rfc3339(micros: requested.recordedAtMicros))",
                             data: .object([("run", .string(id)), ("job", .string(r.job)), ("job_version", .int(Int64(r.jobVersion))),
                                            ("catalog_seq", .int(Int64(r.catalogSeq))), ("parameters", r.parameters), ("actor", .string(requested.actor))]))]
        let t = r.trigger
        let trigger = t.value
        let by = t.by ?? requested.actor
        switch t.kind {
        case .trigger:
            guard let crossingSeq = t.crossing, let crossing = try log.event(at: crossingSeq) else {
                steps.append(WhyStep(kind: "rule", seq: nil, text: "started by \(by) (its crossing is not in the log)", data: trigger))
                return steps
            }
            steps.append(Self.ruleStep(crossing))
            if let cause = crossing.causation, let source = try log.event(at: cause) { steps += try chain(source: source, seen: &seen) }
        case .dependency:
            let upstream = t.afterRuns ?? []
            steps.append(WhyStep(kind: "dependency", seq: requested.causation,
                                 text: "dependency \(t.dependency ?? "?") after run \(upstream.joined(separator: ", ")) finished", data: trigger))
            if let last = upstream.last { steps += try chain(run: last, seen: &seen) }
        case .rerun:
            let of = t.rerunOf ?? "?"
            steps.append(WhyStep(kind: "rerun", seq: requested.causation, text: "rerun of run \(of) from its failure, asked by \(by)", data: trigger))
            if of != "?" { steps += try chain(run: of, seen: &seen) }
        case .retrain:
            steps.append(WhyStep(kind: "rule", seq: requested.causation,
                                 text: "retraining policy of model \(t.model ?? "?"): a new version of its training dataset", data: trigger))
            if let cause = requested.causation, let source = try log.event(at: cause) { steps += try chain(source: source, seen: &seen) }
        case .schedule:
            steps.append(try scheduleStep(run: id, requested: requested, trigger: t))
        case .sensor:
            steps.append(try sensorStep(run: id, requested: requested, trigger: t))
        case .parent:
            let parent = t.parentRun ?? "?"
            steps.append(WhyStep(kind: "parent", seq: requested.causation,
                                 text: "child run of " + (t.parentItem.map { "item \($0) of " } ?? "") + "stage \(t.parentStage ?? "?") (attempt \(t.parentAttempt ?? 1)) of run \(parent)", data: trigger))
            if parent != "?" { steps += try chain(run: parent, seen: &seen) }
        case .manual:
            steps.append(WhyStep(kind: "manual", seq: nil, text: "requested by \(by)", data: trigger))
        }
        return steps
    }

    /// The step of a scheduled run: the schedule and the version that decided, the nominal time in
    /// UTC and local time, and whether it ran late (catch-up) or waited in the queue. The tick's
    /// event is in the same append as the RunRequested: found by reading the schedule's stream
    /// backwards from its version at that seq (a few events).
    func scheduleStep(run id: String, requested: RecordedEvent, trigger t: RunTrigger) throws -> WhyStep {
        let name = t.schedule ?? "?"
        let stream = ScheduleEvents.stream(schedule: name)
        var ticked: (RecordedEvent, ScheduleTicked)?
        var released: (RecordedEvent, ScheduleTickReleased)?
        // The engine appends a schedule's events before the runs they request, in one append.
        var version = try log.streamVersion(stream, asOf: requested.seq)
        var chunk: UInt64 = 64
        search: while version > 0 {
            let from = version > chunk ? version - chunk + 1 : 1
            for e in try log.read(stream: stream, fromVersion: from, limit: Int(version - from + 1)).reversed() {
                if released == nil, ticked == nil, let r = try? e.decodeIf(ScheduleTickReleased.self), r.run == id {
                    released = (e, r)
                } else if let k = try? e.decodeIf(ScheduleTicked.self), k.run == id || (released != nil && k.nominal == released?.1.nominal) {
                    ticked = (e, k)
                    break search
                }
            }
            version = from - 1
            chunk *= 2
        }
        // How it ticks, from the definition version that decided.
        let model = ScheduleEvents.model(ofSchedule: name)
        var how = ""
        if let v = t.scheduleVersion,
           let d = try log.read(stream: model.map { CatalogEvents.stream(kind: "model", name: $0) } ?? CatalogEvents.stream(kind: "schedule", name: name),
                                fromVersion: v, limit: 1).first,
           let applied = try? d.decode(DefinitionApplied.self) {
            if let m = model, let spec = try? ModelSpec(applied.spec) {
                how = " (model \(m)'s retraining schedule, cron '\(spec.retrain?.schedule ?? "?")' in \(spec.retrain?.timezone ?? "UTC"))"
            } else if model == nil, let spec = try? ScheduleSpec(applied.spec) {
                let when = spec.cron.map { "cron '\($0)'" } ?? spec.every.map { "every \(DurationText.text($0))" } ?? "?"
                how = " (\(when) in \(spec.timezone ?? "UTC"))"
            }
        }
        let v = t.scheduleVersion.map { " v\($0)" } ?? ""
        guard let (tickEvent, tick) = ticked else {
            return WhyStep(kind: "schedule", seq: nil, text: "schedule \(name)\(v)\(how) ticked for \(t.tick ?? "?") (its tick event was not found)",
                           data: t.value)
        }
        var text = "schedule \(name)\(v)\(how) ticked for \(ScheduleEvents.timeText(tick.nominal)) (\(tick.local) \(tick.timezone))"
        if let wall = tick.wallTime, let a = tick.adjustment {
            text += a == .shiftedPastGap ? "; its local time \(wall) did not exist (clocks sprang forward): fired at the end of the gap"
                                         : "; its local time \(wall) occurred twice (clocks fell back): fired at the first"
        }
        if tick.catchUp == true { text += "; caught up: it ran late (missed while the engine was down, or a newer tick was due)" }
        var data: [(String, Value)] = [("schedule", .string(name)), ("tick", tick.payload), ("tick_seq", .int(Int64(tickEvent.seq)))]
        if let (re, r) = released {
            text += "; queued behind run \(tick.waitingFor ?? r.after ?? "?"), its run requested \(ScheduleEvents.timeText(r.releasedAt)) once run \(r.after ?? "?") had ended"
            data += [("released", r.payload), ("released_seq", .int(Int64(re.seq)))]
        }
        return WhyStep(kind: "schedule", seq: released?.0.seq ?? tickEvent.seq, text: text, data: .object(data))
    }

    /// The step of the crossing at `c`; when it does not decode, a step that says so (the chain
    /// goes on from its causation).
    static func ruleStep(_ c: RecordedEvent) -> WhyStep {
        do throws(DecodingFailure) {
            return ruleStep(try c.decode(ThresholdCrossed.self), c)
        } catch {
            return WhyStep(kind: "event", seq: c.seq, text: "\(c.type) in \(c.stream) cannot be read (\(error))", data: c.payload)
        }
    }

    /// The step of crossing `crossed`, recorded as `c`.
    static func ruleStep(_ crossed: ThresholdCrossed, _ c: RecordedEvent) -> WhyStep {
        let observed = members(crossed.observed)
        let threshold: String
        switch crossed.threshold {
        case .condition(let text): threshold = text
        case .below, .above: threshold = members(crossed.threshold.value)
        }
        let rule = crossed.rule
        return WhyStep(kind: "rule", seq: c.seq, text: "\(rule.kind) \(rule.name) v\(rule.version ?? 0): \(threshold) (\(observed))", data: c.payload)
    }

    /// An open object's members as `key value, …` (values shortened).
    static func members(_ v: Value?) -> String {
        (v?.objectMembers ?? []).map { "\($0.key) \(Why.short($0.value))" }.joined(separator: ", ")
    }

    /// The chain from the event a crossing (or a retraining) came from.
    func chain(source e: RecordedEvent, seen: inout Set<String>) throws -> [WhyStep] {
        let p = e.payload
        switch e.type {
        case MLEvents.predictionRecorded:
            let prediction: PredictionRecorded
            do throws(DecodingFailure) { prediction = try e.decode(PredictionRecorded.self) } catch { return [unreadable(e, error)] }
            let model = prediction.model, version = prediction.modelVersion ?? 0, run = prediction.run
            var steps = [WhyStep(kind: "prediction", seq: e.seq,
                                 text: "prediction for \(prediction.entity) by \(model) v\(version) in run \(run), stage \(prediction.stage) (\(Self.members(prediction.outputs)))",
                                 data: p, branch: try modelChain(model, version))]
            steps += try chain(run: run, seen: &seen)
            return steps
        case MLEvents.metricObserved:
            let metric: MetricObserved
            do throws(DecodingFailure) { metric = try e.decode(MetricObserved.self) } catch { return [unreadable(e, error)] }
            let model = metric.model, version = metric.modelVersion
            var steps = [WhyStep(kind: "metric", seq: e.seq,
                                 text: "\(metric.metric)\(metric.feature.map { "(\($0))" } ?? "") = \(Why.short(.double(metric.value))) for \(model) v\(version) (\(metric.source))",
                                 data: p, branch: try modelChain(model, version))]
            if let run = metric.run { steps += try chain(run: run, seen: &seen) }
            return steps
        case RunEvents.stageSucceeded, RunEvents.datasetVersionWritten:
            let run: String, text: String
            do throws(DecodingFailure) {
                if let s = try e.decodeIf(StageSucceeded.self) {
                    run = String(e.stream.dropFirst(RunEvents.runStreamPrefix.count))
                    text = "stage \(s.stage) of run \(run) succeeded with outputs \(Why.short(s.outputs ?? .null))"
                } else {
                    let d = try e.decode(DatasetVersionWritten.self)
                    run = d.run
                    text = "dataset \(d.dataset) v\(e.streamVersion) written by run \(run), stage \(d.stage) (\(d.rows) rows)"
                }
            } catch {
                return [unreadable(e, error)]
            }
            return [WhyStep(kind: e.type == RunEvents.stageSucceeded ? "stage_output" : "dataset", seq: e.seq, text: text, data: p)] + (try chain(run: run, seen: &seen))
        default:
            return [WhyStep(kind: "event", seq: e.seq, text: "\(e.type) in \(e.stream)", data: p)]
        }
    }

    /// The step of an event the chain cannot read: the chain stops there, saying why.
    func unreadable(_ e: RecordedEvent, _ failure: DecodingFailure) -> WhyStep {
        WhyStep(kind: "event", seq: e.seq, text: "\(e.type) in \(e.stream) cannot be read (\(failure))", data: e.payload)
    }

    /// How version `version` of `model` came to be: its training run, data, feature spec and catalog version.
    func modelChain(_ model: String, _ version: UInt64) throws -> [WhyStep] {
        let node = LineageEdges.model(model, Int64(version))
        let seqs = try LineageIndex.neighbours(log, of: node, upstream: true, limit: 1).map(\.seq)
        guard let r = try ModelLookup(log: log, asOf: .max).registered(model, Int64(version), edgeSeqs: seqs) else { return [] }
        let m = r.registered
        let ds = m.trainingDataset
        let data = ds.name + (ds.version.map { " v\($0)" } ?? "")
        let features = m.featureSpec.map { ", feature spec \($0.name) v\($0.version)" } ?? ""
        return [WhyStep(kind: "model", seq: r.event.seq, text: "model \(model) v\(version) trained in run \(m.run) on \(data)\(features)", data: r.event.payload),
                WhyStep(kind: "catalog", seq: m.catalogSeq,
                        text: "catalog seq \(m.catalogSeq) (model definition v\(m.modelDefinitionVersion))",
                        data: .object([("catalog_seq", .int(Int64(m.catalogSeq))), ("model_definition_version", .int(Int64(m.modelDefinitionVersion)))]))]
    }

    static func short(_ v: Value) -> String {
        if case .double(let d) = v { return String(format: "%.4g", d) }
        let s = v.stringValue ?? v.jsonString
        return s.count > 80 ? String(s.prefix(77)) + "…" : s
    }
}

/// Why the chain cannot be told (unknown run): one line.
public struct WhyError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
