import Catalog
import Domain
import EventLog
import Foundation
import Lineage
import Models
import Projections
import Runs
import Synchronization
import Testing
import TestSupport
@testable import Engine

/// The repository folder (Tests/EngineTests/X.swift → ../..).
func repoPath(_ relative: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(relative).path
}

extension Project {
    func registry() throws -> ModelsState {
        try ProjectionRunner(log: log, projection: ModelsProjection()).state(at: try log.lastSeq()).state
    }
    func write(_ relative: String, _ text: String) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
    func run(_ job: String, _ params: [(String, Value)] = []) throws -> (String, RunsState) {
        let id = try RunCommands.request(log, job: job, parameters: params, trigger: RunTrigger(.manual), actor: "test")
        return (id, try runAll())
    }
}

/// A small churn table: customers with tenure, charges, plan; churn likelier for short tenure and the basic plan.
func churnCSV(rows: Int, seed: Int = 1) -> String {
    var lines = ["customer_id,tenure_months,monthly_charges,plan,churned"]
    for i in 1 ... rows {
        let tenure = 1 + (i * 7919 + seed) % 60
        let charges = 20 + Double((i * 104_729 + seed) % 8000) / 100
        let plan = ["basic", "standard", "premium"][(i * 37) % 3]
        let noise = Double((i * 2_654_435_761) % 1000) / 1000 * 2 - 1
        let z = 1.2 - 0.08 * Double(tenure) + (plan == "basic" ? 1.0 : 0) + 0.01 * (charges - 60) + noise
        lines.append("\(i),\(tenure),\(charges),\(plan),\(z > 0 ? 1 : 0)")
    }
    return lines.joined(separator: "\n") + "\n"
}

let churnDefinitions = """
kind: source
name: customers
type: csv
path: data/customers.csv
---
kind: output
name: scores
type: jsonl
path: out/scores
---
kind: features
name: churn_features
steps:
  - {op: standard_scale, columns: [tenure_months, monthly_charges]}
  - {op: one_hot, columns: [plan], unknown: ignore}
---
kind: model
name: churn
type: logistic_regression
features: churn_features
target: churned
training_dataset: customers
prediction_fields: [churn_probability, churn_label]
aliases: [production]
---
kind: job
name: train_churn
stages:
  - {name: train, type: train, model: churn}
---
kind: job
name: score_churn
stages:
  - {name: score, type: inference, model: churn@production, entity_key: customer_id, inputs: [customers], destination: scores}
---
kind: job
name: followup
parameters: {customer_id: null, p: null}
stages:
  - {name: offer, type: script, command: [sh, -c, "echo $LEDGERFLOW_PARAM_CUSTOMER_ID >> offers.txt"]}
---
kind: job
name: wave
stages:
  - {name: note, type: script, command: [sh, -c, "echo wave >> waves.txt"]}
---
kind: trigger
name: high_churn
source: {type: predictions, model: churn}
condition: churn_probability > 0.9 and tenure_months < 8
run: followup
parameters: {customer_id: entity_key, p: churn_probability}
dedupe: once_per_row
---
kind: trigger
name: churn_wave
source: {type: predictions, model: churn}
condition: count(churn_probability > 0.5) >= 10
run: wave
"""

/// The engine runs stages on worker threads: every test has a time limit.
@Suite(.timeLimit(.minutes(1))) struct MLEngineTests {
    /// Logistic regression through the features and train stages on breast cancer, rows 0–399 to
    /// train and 400–568 held out, against scikit-learn's figures stored with the fixture.
    @Test func breastCancerThroughStagesMatchesScikitLearn() throws {
        let p = try Project()
        try FileManager.default.createDirectory(atPath: p.root + "/data", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: repoPath("fixtures/ml/breast_cancer.csv"), toPath: p.root + "/data/bc.csv")
        let header = try String(contentsOfFile: repoPath("fixtures/ml/breast_cancer.csv"), encoding: .utf8).split(separator: "\n")[0]
        let features = header.split(separator: ",").map(String.init).filter { $0 != "target" }
        try p.apply("""
        kind: source
        name: bc
        type: csv
        path: data/bc.csv
        ---
        kind: features
        name: scaled
        steps:
          - {op: standard_scale, columns: [\(features.joined(separator: ", "))]}
        ---
        kind: model
        name: cancer
        type: logistic_regression
        features: scaled
        target: target
        training_dataset: bc
        holdout: \(169.0 / 569.0)
        split: tail
        hyperparameters: {C: 1.0, max_iter: 100}
        ---
        kind: job
        name: fit
        stages:
          - {name: train, type: train, model: cancer}
        """)
        let (id, state) = try p.run("fit")
        #expect(state.runs[id]?.status == .succeeded)
        let v = try #require(try p.registry().models["cancer"]?.latest)
        let ref = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: repoPath("fixtures/ml/reference.json")))) as? [String: Any]
        let logistic = try #require(ref?["logistic"] as? [String: Any])
        let accuracy = try #require(logistic["test_accuracy"] as? Double)
        let logLoss = try #require(logistic["test_log_loss"] as? Double)
        #expect(v.metrics["holdout_rows"] == 169 && v.metrics["training_rows"] == 400)
        #expect(v.metrics["accuracy"]?.doubleValue == accuracy)
        #expect(abs((v.metrics["log_loss"]?.doubleValue ?? 9) - logLoss) < 0.001)
        #expect(v.columns.count == 30 && v.version == 1)
    }

    @Test func trainScoreTriggerAndAggregateRunEachOnceWithTheCausalChain() throws {
        let p = try Project()
        try p.write("data/customers.csv", churnCSV(rows: 300))
        try p.apply(churnDefinitions)
        let (train, s1) = try p.run("train_churn")
        #expect(s1.runs[train]?.status == .succeeded)
        let reg = try p.registry()
        let v1 = try #require(reg.models["churn"]?.latest)
        #expect(v1.version == 1 && reg.models["churn"]?.aliases["production"] == 1)
        #expect(v1.trainingDataset == "customers" && v1.featureSpec == "churn_features" && v1.featureSpecVersion == 1)
        #expect(FileManager.default.fileExists(atPath: p.store + "/artifacts/sha256/" + v1.artifact))
        #expect((v1.metrics["accuracy"]?.doubleValue ?? 0) > 0.7)

        let (score, s2) = try p.run("score_churn")
        #expect(s2.runs[score]?.status == .succeeded)
        let started = try #require(try p.events(score).first { $0.type == RunEvents.stageStarted })
        let predictions = try p.log.read(stream: MLEvents.stream(predictionsOfRun: score))
        let recorded = try predictions.map { try $0.decode(PredictionRecorded.self) }
        #expect(predictions.count == 300)
        #expect(predictions.allSatisfy { $0.causation == started.seq && $0.correlation == started.correlation })
        #expect(recorded.allSatisfy { $0.modelVersion == 1 && $0.model == "churn" && $0.run == score && $0.stage == "score" })
        // Every prediction that meets the condition started one follow-up with its customer.
        let hot = zip(predictions, recorded).filter { _, p in
            (p.outputs["churn_probability"]?.doubleValue ?? 0) > 0.9 && (p.inputs?["tenure_months"]?.intValue ?? 99) < 8
        }.map(\.0)
        #expect(!hot.isEmpty)
        let crossings = try p.log.read(stream: "trigger/high_churn").filter { $0.type == MLEvents.thresholdCrossed }
        #expect(crossings.count == hot.count)
        #expect(Set(crossings.compactMap(\.causation)) == Set(hot.map(\.seq)))
        let followups = s2.runs.values.filter { $0.job == "followup" }
        #expect(followups.count == hot.count && followups.allSatisfy { $0.status == .succeeded })
        for r in followups {
            // run ← ThresholdCrossed ← PredictionRecorded, all in the scoring run's causal tree.
            let crossing = try #require(crossings.first { (r.trigger.crossing ?? 0) == $0.seq })
            let requested = try #require(try p.events(r.id).first)
            #expect(requested.causation == crossing.seq && requested.correlation == started.correlation)
            let prediction = try #require(predictions.first { $0.seq == crossing.causation })
            #expect(r.parameters["customer_id"]?.stringValue == (try prediction.decode(PredictionRecorded.self)).entity)
        }
        // why: follow-up ← rule ← prediction (← model ← catalog) ← scoring run ← who asked.
        let chain = try Why(log: p.log).explain(run: try #require(followups.first).id)
        #expect(chain.map(\.kind) == ["run", "rule", "prediction", "run", "manual"])
        #expect(chain[2].branch.map(\.kind) == ["model", "catalog"] && chain[2].branch[0].seq == v1.seq)
        #expect(chain[3].data["run"]?.stringValue == score && chain[4].text == "requested by test")
        #expect(throws: WhyError.self) { try Why(log: p.log).explain(run: "999") }
        let offers = try String(contentsOfFile: p.root + "/offers.txt", encoding: .utf8).split(separator: "\n")
        #expect(offers.count == hot.count)
        // The aggregate trigger fired once for the scoring run.
        #expect(s2.runs.values.filter { $0.job == "wave" }.count == 1)
        // A second engine over the same log decides nothing more.
        let before = try p.log.lastSeq()
        _ = try p.engine().run { _ in true }
        #expect(try p.log.lastSeq() == before)
        #expect(try p.log.checkpoint(Engine.automationCheckpoint) >= crossings.map(\.seq).max() ?? 0)
        // The engine brought the lineage table up to the head when it went idle: a follow-up's
        // crossing is a neighbour read from the table, with no tail left to fold.
        #expect(try p.log.checkpoint(LineageIndex.checkpoint) == before)
        let graph = try LineageGraph(log: p.log)
        #expect(graph.tailEvents == 0)
        let first = try #require(followups.first)
        let causes = try graph.neighbours(of: "run:\(first.id)", upstream: true).nodes
        #expect(causes.contains { $0.node == "crossing:\(first.trigger.crossing ?? 0)" && $0.kind == "triggered-by" })
    }

    /// The automation reactor does not decide without a queued event it cannot read: the step
    /// fails naming the event's seq, type and field, and the checkpoint stays before it.
    @Test func theReactorFailsTheStepOnAPredictionItCannotRead() throws {
        let p = try Project()
        try p.apply(churnDefinitions)
        let bad = PredictionRecorded.example.payload.removing("entity")
        let seq = try #require(try p.log.append([NewEvent(type: PredictionRecorded.type, payload: bad)], to: MLEvents.stream(predictionsOfRun: "x")).firstSeq)
        // The step fails (logged, retried with backoff) until the engine is stopped; nothing is
        // appended past the prediction and the reactor's checkpoint stays before it.
        let reports = Reports()
        var o = Engine.Options()
        o.pollInterval = 0.01
        o.log = { reports.add($0.message) }
        let engine = Engine(log: p.log, store: p.store, options: o)
        let failure = DecodingFailure(eventType: "PredictionRecorded", field: "entity", expected: "text", found: "nothing", seq: seq)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? engine.run()
            done.signal()
        }
        try waitFor("two failed steps", timeout: 30) { reports.lines.filter { $0.hasPrefix("step failed") }.count >= 2 }
        engine.stop()
        #expect(done.wait(timeout: .now() + 30) == .success)
        let failed = reports.lines.filter { $0.hasPrefix("step failed") }
        #expect(failed.count >= 2)
        #expect(failed.allSatisfy { $0.contains(failure.description) }, "\(failed)")
        #expect(try p.log.checkpoint(Engine.automationCheckpoint) < seq)
    }

    /// Predictions a script stage reports are recorded as before; a row that is no prediction is
    /// reported and left out.
    @Test func predictionsAScriptReportsAreRecorded() throws {
        let p = try Project()
        try p.write("report.sh", """
        cat > "$LEDGERFLOW_REPORT" <<'JSON'
        {"predictions": [{"entity": "a", "model": "baseline", "model_version": 3, "outputs": {"risk": 0.2}}, {"entity": 7, "risk": 0.4},
                         {"entity": "b", "model_version": "latest"}]}
        JSON
        """)
        try p.apply("""
        kind: job
        name: report
        stages:
          - {name: score, type: script, command: [sh, report.sh]}
        """)
        let reports = Reports()
        var o = Engine.Options()
        o.pollInterval = 0.01
        o.log = { reports.add($0.message) }
        let id = try RunCommands.request(p.log, job: "report", parameters: [], trigger: RunTrigger(.manual), actor: "test")
        let state = try Engine(log: p.log, store: p.store, options: o).run { $0.active.isEmpty && !$0.runs.isEmpty }
        #expect(state.runs[id]?.status == .succeeded)
        let predictions = try p.log.read(stream: MLEvents.stream(predictionsOfRun: id))
        let decoded = try predictions.map { try $0.decode(PredictionRecorded.self) }
        #expect(decoded.map(\.entity) == ["a", "7"] && decoded.map(\.model) == ["baseline", "score"] && decoded.map(\.modelVersion) == [3, nil])
        #expect(predictions.map(\.payload.canonicalBytes) == [
            Value.object([("run", .string(id)), ("stage", "score"), ("attempt", 1), ("model", "baseline"), ("model_version", 3), ("entity", "a"),
                          ("outputs", ["risk": 0.2])]).canonicalBytes,
            Value.object([("run", .string(id)), ("stage", "score"), ("attempt", 1), ("model", "score"), ("model_version", .null), ("entity", "7"),
                          ("outputs", ["risk": 0.4])]).canonicalBytes,
        ])
        #expect(reports.lines.contains { $0.contains("prediction not recorded") && $0.contains("predictions[2].model_version") }, "\(reports.lines)")
    }

    @Test func promoteSwapsTheVersionAJobScoresWith() throws {
        let p = try Project()
        try p.write("data/customers.csv", churnCSV(rows: 120))
        try p.apply(churnDefinitions)
        _ = try p.run("train_churn")
        try p.write("data/customers.csv", churnCSV(rows: 150, seed: 5))
        _ = try p.run("train_churn")
        var reg = try p.registry()
        #expect(reg.models["churn"]?.versions.count == 2 && reg.models["churn"]?.aliases["production"] == 1)
        let e = try ModelDecider.promote(reg, model: "churn", version: 2, alias: "production", by: "test")
        try p.log.append([e], to: MLEvents.stream(model: "churn"), expectedVersion: .exact(reg.models["churn"]?.streamVersion ?? 0))
        reg = try p.registry()
        #expect(reg.models["churn"]?.aliases["production"] == 2)
        let (score, state) = try p.run("score_churn")
        #expect(state.runs[score]?.stage("score")?.outputs?["model_version"] == 2)
        #expect(try p.log.read(stream: MLEvents.stream(predictionsOfRun: score)).allSatisfy { try $0.decode(PredictionRecorded.self).modelVersion == 2 })
    }

    @Test func monitorsAlertAndRunOnDriftAndOnLabels() throws {
        let p = try Project()
        // The alert team's mailbox: a real SMTP server on 127.0.0.1.
        let sink = try MailSink(folder: p.dir.sub("mailbox"))
        try p.write("data/customers.csv", churnCSV(rows: 200))
        try p.apply(churnDefinitions + """

        ---
        \(sink.notifierYAML())---
        kind: team
        name: ml
        emails: [ml@example.com]
        ---
        kind: monitor
        name: tenure_drift
        model: churn
        metric: psi
        feature: tenure_months
        above: 0.2
        alert: ml
        run: train_churn
        ---
        kind: monitor
        name: accuracy_floor
        model: churn
        metric: accuracy
        below: 0.99
        alert: ml
        ---
        kind: source
        name: labels
        type: csv
        path: data/labels.csv
        ---
        kind: job
        name: evaluate_churn
        stages:
          - {name: labels, type: evaluate, model: churn, entity_key: customer_id, label: churned, inputs: [labels]}
        """)
        _ = try p.run("train_churn")
        // New customers with much longer tenures: their distribution drifts from training.
        let drifted = churnCSV(rows: 200).split(separator: "\n").enumerated().map { i, line -> String in
            guard i > 0 else { return String(line) }
            var f = line.split(separator: ",").map(String.init)
            f[1] = String(60 + Int(f[1])! % 40)
            return f.joined(separator: ",")
        }.joined(separator: "\n") + "\n"
        try p.write("data/customers.csv", drifted)
        let (score, state) = try p.run("score_churn")
        #expect(state.runs[score]?.status == .succeeded)
        let metrics = try p.log.read(stream: MLEvents.stream(metricsOf: "churn")).map { ($0, try $0.decode(MetricObserved.self)) }
        let psi = metrics.first { $0.1.feature == "tenure_months" }
        #expect(psi?.1.metric == "psi" && psi?.1.source == "drift" && (psi?.1.value ?? 0) > 0.2)
        let drift = try p.log.read(stream: "monitor/tenure_drift")
        #expect(drift.map(\.type) == [MLEvents.thresholdCrossed, MLEvents.triggerFired, MLEvents.alertRaised])
        #expect(drift[0].causation == psi?.0.seq)
        #expect(state.runs.values.filter { $0.job == "train_churn" }.count == 2, "the monitor started a retraining run")
        // Labels arrive: accuracy of the scored version, observed and checked against the floor.
        try p.write("data/labels.csv", churnCSV(rows: 200))
        let (eval, s3) = try p.run("evaluate_churn")
        #expect(s3.runs[eval]?.status == .succeeded)
        let observed = try p.log.read(stream: MLEvents.stream(metricsOf: "churn")).map { ($0, try $0.decode(MetricObserved.self)) }
        let labelled = observed.last { $0.1.metric == "accuracy" && $0.1.source == "labels" }
        let accuracy = labelled?.0
        #expect(labelled?.1.modelVersion == 1 && labelled?.1.n == 200)
        // The floor is crossed by the holdout accuracy of both training runs and by the labels'.
        let floor = try p.log.read(stream: "monitor/accuracy_floor")
        #expect(floor.filter { $0.type == MLEvents.thresholdCrossed }.count == 3)
        let crossed = try #require(floor.first { $0.type == MLEvents.thresholdCrossed && $0.causation == accuracy?.seq })
        #expect(try floor.contains { try $0.decodeIf(AlertRaised.self)?.team == "ml" && $0.causation == crossed.seq })
        let floorCrossing = try crossed.decode(ThresholdCrossed.self)
        #expect(floorCrossing.threshold == .below(0.99) && floorCrossing.rule == RuleRef(kind: "monitor", name: "accuracy_floor", version: 1))
        // Each alert reached the monitor's team by mail, once, saying which monitor and why.
        let alerts = try p.log.read(type: AlertRaised.type).map { try $0.decode(AlertRaised.self) }
        #expect(alerts.count == 4, "drift once, the accuracy floor three times")
        let mails = try sink.messages()
        #expect(mails.count == alerts.count)
        #expect(mails.allSatisfy { $0.recipients == ["ml@example.com"] })
        for a in alerts {
            let matching = mails.filter { $0.header("Subject") == "[ledgerflow] alert for ml: \(a.message)" }
            #expect(matching.count == 1, "\(a.message)")
            #expect(matching.first?.decodedBody.contains("Alert for team ml from monitor \(a.rule.name)") == true)
        }
    }

    @Test func newTrainingDataStartsTheTrainingJobOnceWhenThePolicySaysSo() throws {
        let p = try Project()
        try p.write("data/raw.csv", churnCSV(rows: 100))
        try p.apply("""
        kind: source
        name: raw
        type: csv
        path: data/raw.csv
        ---
        kind: output
        name: training_set
        type: jsonl
        path: lake/training_set
        ---
        kind: model
        name: churn
        type: logistic_regression
        target: churned
        training_dataset: training_set
        feature_columns: [tenure_months, monthly_charges]
        retrain: {on_new_data: true}
        ---
        kind: job
        name: land
        stages:
          - {name: copy, type: etl, source: raw, destination: training_set}
        ---
        kind: job
        name: retrain
        stages:
          - {name: train, type: train, model: churn, inputs: [training_set]}
        """)
        let (_, s1) = try p.run("land")
        let retrains = s1.runs.values.filter { $0.job == "retrain" }
        #expect(retrains.count == 1 && retrains.first?.status == .succeeded)
        #expect(retrains.first?.trigger.kind == .retrain && retrains.first?.trigger.datasetVersion == 1)
        #expect(try p.registry().models["churn"]?.latest?.trainingDatasetVersion == 1)
        let retrain = try #require(retrains.first)
        #expect(try Why(log: p.log).explain(run: retrain.id).map(\.kind) == ["run", "rule", "dataset", "run", "manual"])
        let (_, s2) = try p.run("land")
        #expect(s2.runs.values.filter { $0.job == "retrain" }.count == 2)
        #expect(try p.log.read(stream: "retrain/churn").filter { $0.type == MLEvents.triggerFired }.count == 2)
    }

    @Test func mergeMapsEachProductsColumnsAndReportsGaps() throws {
        let p = try Project()
        try p.write("data/p10.csv", "cust_id,tenure,mrr,product_code\n1,5,20.5,P10\n2,7,30,P10\n")
        try p.write("data/p11.csv", "client,months,extra\n3,9,x\n")
        try p.apply("""
        kind: source
        name: p10
        type: csv
        path: data/p10.csv
        ---
        kind: source
        name: p11
        type: csv
        path: data/p11.csv
        ---
        kind: output
        name: merged
        type: csv
        path: out/merged
        ---
        kind: column_mapping
        name: p11_columns
        product: P11
        columns: {client: customer_id, months: tenure_months}
        ---
        kind: column_mapping
        name: p10_columns
        product: P10
        columns: {cust_id: customer_id, tenure: tenure_months, mrr: monthly_charges}
        ---
        kind: job
        name: combine
        stages:
          - {name: merge, type: merge, mapping: p11_columns, inputs: [p10, p11], destination: merged}
        """)
        let (id, state) = try p.run("combine")
        let stage = try #require(state.runs[id]?.stage("merge"))
        #expect(state.runs[id]?.status == .succeeded)
        #expect(stage.outputs?["rows_written"] == 3)
        #expect(stage.outputs?["unmapped"]?["P11"] == ["p11.extra"])
        #expect(stage.outputs?["missing"]?["P11"] == ["monthly_charges"])
        let files = try FileManager.default.contentsOfDirectory(atPath: p.root + "/out/merged")
        let text = try files.map { try String(contentsOfFile: p.root + "/out/merged/" + $0, encoding: .utf8) }.joined()
        #expect(text.contains("product_code,") && text.contains("P11,") && text.contains("P10,"))
    }

    /// `strict: true`: an input lacking a source column its product's mapping names fails the
    /// stage naming the column and the mapping; the same inputs merge without strict.
    @Test func aStrictMergeFailsOnAnInputLackingAMappedColumn() throws {
        let p = try Project()
        try p.write("data/p11.csv", "client,extra\n3,x\n")
        try p.apply("""
        kind: source
        name: p11
        type: csv
        path: data/p11.csv
        ---
        kind: output
        name: merged
        type: csv
        path: out/merged
        ---
        kind: column_mapping
        name: p11_columns
        product: P11
        columns: {client: customer_id, months: tenure_months}
        ---
        kind: job
        name: strict
        stages: [{name: merge, type: merge, mapping: p11_columns, inputs: [p11], destination: merged, strict: true}]
        ---
        kind: job
        name: lenient
        stages: [{name: merge, type: merge, mapping: p11_columns, inputs: [p11], destination: merged}]
        """)
        let (id, state) = try p.run("strict")
        #expect(state.runs[id]?.status == .failed)
        let error = state.runs[id]?.stage("merge")?.error ?? ""
        #expect(error.contains("lacks column months that column mapping p11_columns (product P11) maps") && error.contains("client, extra"), "\(error)")
        let (ok, after) = try p.run("lenient")
        #expect(after.runs[ok]?.status == .succeeded)
        #expect(after.runs[ok]?.stage("merge")?.outputs?["missing"]?["P11"] == ["tenure_months"])
    }

    @Test func inferenceWithAnUnknownAliasFailsWithOneClearLine() throws {
        let p = try Project()
        try p.write("data/customers.csv", churnCSV(rows: 50))
        try p.apply(churnDefinitions)
        let (id, state) = try p.run("score_churn")
        #expect(state.runs[id]?.status == .failed)
        let error = state.runs[id]?.stage("score")?.error ?? ""
        #expect(error.contains("model 'churn' has no registered version"))
        #expect(try p.log.read(stream: MLEvents.stream(predictionsOfRun: id)).isEmpty)
    }

    /// A script model: its command trains (writes the artifact) and scores (writes one line per
    /// row); the version, its artifact and every prediction are recorded like a built-in's.
    @Test func scriptModelTrainsAndScoresThroughItsCommand() throws {
        let p = try Project()
        try p.write("data/customers.csv", churnCSV(rows: 40))
        try p.write("model.py", """
        import json, os
        mode = os.environ["LEDGERFLOW_MODE"]
        if mode == "train":
            rows = [json.loads(l) for l in open(os.environ["LEDGERFLOW_TRAINING_DATA"])]
            rate = sum(r[os.environ["LEDGERFLOW_TARGET"]] for r in rows) / len(rows)
            json.dump({"rate": rate}, open(os.environ["LEDGERFLOW_ARTIFACT"], "w"))
            json.dump({"metrics": {"base_rate": rate}}, open(os.environ["LEDGERFLOW_REPORT"], "w"))
        else:
            rate = json.load(open(os.environ["LEDGERFLOW_ARTIFACT"]))["rate"]
            with open(os.environ["LEDGERFLOW_OUTPUT"], "w") as out:
                for l in open(os.environ["LEDGERFLOW_INPUT"]):
                    r = json.loads(l)
                    out.write(json.dumps({"risk": rate + r["tenure_months"] / 1000}) + "\\n")
        """)
        try p.apply("""
        kind: source
        name: customers
        type: csv
        path: data/customers.csv
        ---
        kind: model
        name: baseline
        type: script
        command: [python3, model.py]
        target: churned
        training_dataset: customers
        prediction_fields: [risk]
        aliases: [production]
        ---
        kind: job
        name: fit
        stages: [{name: train, type: train, model: baseline}]
        ---
        kind: job
        name: score
        stages: [{name: score, type: inference, model: baseline@production, entity_key: customer_id, inputs: [customers]}]
        """)
        let (fit, s1) = try p.run("fit")
        #expect(s1.runs[fit]?.status == .succeeded, "\(s1.runs[fit]?.stage("train")?.error ?? "")")
        let v = try #require(try p.registry().models["baseline"]?.latest)
        let rate = Double(churnCSV(rows: 40).split(separator: "\n").dropFirst().filter { $0.hasSuffix(",1") }.count) / 40
        #expect(abs((v.metrics["base_rate"]?.doubleValue ?? -1) - rate) < 1e-12)
        #expect(v.type == "script" && FileManager.default.fileExists(atPath: p.store + "/artifacts/sha256/" + v.artifact))
        let (score, s2) = try p.run("score")
        #expect(s2.runs[score]?.status == .succeeded, "\(s2.runs[score]?.stage("score")?.error ?? "")")
        let predictions = try p.log.read(stream: MLEvents.stream(predictionsOfRun: score))
        #expect(predictions.count == 40)
        let first = try #require(predictions.first).decode(PredictionRecorded.self)
        #expect(first.entity == "1" && first.model == "baseline" && first.modelVersion == 1)
        #expect(abs((first.outputs["risk"]?.doubleValue ?? 0) - (rate + 0.001)) < 1e-9, "customer 1 has tenure 1")
    }

    func reference(_ section: String, _ key: String) throws -> Double {
        let ref = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: repoPath("fixtures/ml/reference.json")))) as? [String: Any]
        return try #require((ref?[section] as? [String: Any])?[key] as? Double)
    }

    /// Linear regression (diabetes, last 92 rows held out) and k-means (iris, standardised by a
    /// features step) through train stages, against scikit-learn; then the k-means version and a
    /// z-score detector score rows through inference stages.
    @Test func linearKMeansAndZScoreThroughStages() throws {
        let p = try Project()
        try FileManager.default.createDirectory(atPath: p.root + "/data", withIntermediateDirectories: true)
        for f in ["diabetes", "iris"] { try FileManager.default.copyItem(atPath: repoPath("fixtures/ml/\(f).csv"), toPath: p.root + "/data/\(f).csv") }
        try p.apply("""
        kind: source
        name: diabetes
        type: csv
        path: data/diabetes.csv
        ---
        kind: source
        name: iris
        type: csv
        path: data/iris.csv
        ---
        kind: output
        name: clusters
        type: csv
        path: out/clusters
        ---
        kind: output
        name: outliers
        type: jsonl
        path: out/outliers
        ---
        kind: model
        name: progression
        type: linear_regression
        target: target
        training_dataset: diabetes
        holdout: \(92.0 / 442.0)
        split: tail
        ---
        kind: features
        name: iris_scaled
        steps:
          - {op: standard_scale, columns: [sepal_length, sepal_width, petal_length, petal_width]}
        ---
        kind: model
        name: species
        type: kmeans
        features: iris_scaled
        training_dataset: iris
        holdout: 0
        hyperparameters: {k: 3, n_init: 10, seed: 0}
        ---
        kind: model
        name: odd_flowers
        type: zscore_anomaly
        training_dataset: iris
        holdout: 0
        hyperparameters: {threshold: 2.5}
        ---
        kind: job
        name: fit
        stages:
          - {name: linear, type: train, model: progression}
          - {name: kmeans, type: train, model: species}
          - {name: zscore, type: train, model: odd_flowers}
        ---
        kind: job
        name: apply
        stages:
          - {name: cluster, type: inference, model: species, inputs: [iris], destination: clusters}
          - {name: outliers, type: inference, model: odd_flowers, inputs: [iris], destination: outliers}
        """)
        let (fit, s1) = try p.run("fit")
        #expect(s1.runs[fit]?.status == .succeeded, "\(s1.runs[fit]?.stages.compactMap(\.error) ?? [])")
        let reg = try p.registry()
        let linear = try #require(reg.models["progression"]?.latest)
        #expect(abs((linear.metrics["r2"]?.doubleValue ?? 0) - (try reference("linear", "r2"))) < 1e-6)
        #expect(abs((linear.metrics["rmse"]?.doubleValue ?? 0) - (try reference("linear", "rmse"))) < 1e-6)
        let kmeans = try #require(reg.models["species"]?.latest)
        let inertia = try reference("kmeans", "inertia")
        #expect(abs((kmeans.metrics["inertia"]?.doubleValue ?? 0) - inertia) / inertia < 0.005)
        #expect(kmeans.columns == ["sepal_length", "sepal_width", "petal_length", "petal_width"], "the species text column is no feature")

        let (apply, s2) = try p.run("apply")
        #expect(s2.runs[apply]?.status == .succeeded, "\(s2.runs[apply]?.stages.compactMap(\.error) ?? [])")
        let predictions = try p.log.read(stream: MLEvents.stream(predictionsOfRun: apply)).map { try $0.decode(PredictionRecorded.self) }
        let clusters = predictions.filter { $0.model == "species" }
        #expect(clusters.count == 150)
        // k-means on standardised iris puts setosa (rows 1–50) in one cluster of its own.
        let setosa = Set(clusters.prefix(50).compactMap { $0.outputs["cluster"]?.intValue })
        let others = Set(clusters.dropFirst(50).compactMap { $0.outputs["cluster"]?.intValue })
        #expect(setosa.count == 1 && others.isDisjoint(with: setosa))
        let zscores = predictions.filter { $0.model == "odd_flowers" }
        #expect(zscores.count == 150)
        #expect(zscores.allSatisfy { ($0.outputs["is_anomaly"]?.boolValue ?? false) == (($0.outputs["anomaly_score"]?.doubleValue ?? 0) >= 2.5) })
        #expect(zscores.contains { $0.outputs["is_anomaly"] == true })
        let csv = try FileManager.default.contentsOfDirectory(atPath: p.root + "/out/clusters")
        #expect(!csv.isEmpty)
    }

    /// A features stage fitted on its input writes the transformed rows; one that applies a
    /// model's fitted parameters uses the training-time values, not the new data's.
    @Test func featuresStageFitsOrAppliesAModelsFittedParameters() throws {
        let p = try Project()
        try p.write("data/train.csv", "x,plan\n1,a\n2,b\n3,a\n")
        try p.write("data/new.csv", "x,plan\n10,c\n")
        try p.apply("""
        kind: source
        name: train
        type: csv
        path: data/train.csv
        ---
        kind: source
        name: fresh
        type: csv
        path: data/new.csv
        ---
        kind: output
        name: fitted_out
        type: jsonl
        path: out/fitted
        ---
        kind: output
        name: applied_out
        type: jsonl
        path: out/applied
        ---
        kind: features
        name: f
        steps:
          - {op: standard_scale, columns: [x]}
          - {op: one_hot, columns: [plan], unknown: ignore}
        ---
        kind: model
        name: m
        type: zscore_anomaly
        features: f
        training_dataset: train
        holdout: 0
        ---
        kind: job
        name: prep
        stages:
          - {name: fit, type: features, spec: f, fit: true, inputs: [train], destination: fitted_out}
          - {name: train, type: train, model: m}
          - {name: apply, type: features, spec: f, model: m, inputs: [fresh], destination: applied_out, after: [train]}
        """)
        let (id, state) = try p.run("prep")
        #expect(state.runs[id]?.status == .succeeded, "\(state.runs[id]?.stages.compactMap(\.error) ?? [])")
        func rows(_ folder: String) throws -> [Value] {
            let dir = p.root + "/" + folder
            return try FileManager.default.contentsOfDirectory(atPath: dir).sorted().flatMap { f in
                try String(contentsOfFile: dir + "/" + f, encoding: .utf8).split(separator: "\n").map { try Value(json: String($0)) }
            }
        }
        let fitted = try rows("out/fitted")
        let sd = (2.0 / 3.0).squareRoot()
        #expect(fitted.count == 3 && abs((fitted[0]["x"]?.doubleValue ?? 0) - (-1 / sd)) < 1e-12)
        #expect(fitted[0]["plan=a"]?.doubleValue == 1 && fitted[1]["plan=b"]?.doubleValue == 1)
        #expect(state.runs[id]?.stage("fit")?.outputs?["fitted"]?.arrayValue?.count == 2)
        let applied = try rows("out/applied")
        // Training mean 2 and std √(2/3): 10 → 8/√(2/3); the unseen plan c gives zeros.
        #expect(applied.count == 1 && abs((applied[0]["x"]?.doubleValue ?? 0) - 8 / sd) < 1e-12)
        #expect(applied[0]["plan=a"]?.doubleValue == 0 && applied[0]["plan=b"]?.doubleValue == 0)
        #expect(state.runs[id]?.stage("apply")?.outputs?["model_version"] == 1)
    }
}

/// What an engine reported, collected across its threads.
final class Reports: Sendable {
    private let items = Mutex<[String]>([])
    func add(_ line: String) { items.withLock { $0.append(line) } }
    var lines: [String] { items.withLock { $0 } }
}
