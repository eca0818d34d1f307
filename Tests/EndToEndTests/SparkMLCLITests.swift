import Domain
import Foundation
import Testing
import TestSupport

/// `engine: spark` train and inference stages through the binary, on `local[2]`: a model trained
/// in process scores on Spark with the predictions scoring in process records (to 1e-9), one
/// trained on Spark scores in process as it does on Spark, drift is observed alike, the
/// predictions are events with the engine's model and version, and an etl stage in process reads
/// what the Spark stage wrote (JSON Lines, partitioned).
extension SparkEndToEnd {
@Suite(.serialized) struct SparkMLCLITests {
    /// Customers with a missing charge now and then and a text plan: the feature spec imputes,
    /// logs, one-hot encodes and scales.
    static func customers(_ n: Int, seed: UInt64) -> String {
        var rng = SplitMix64(seed: seed)
        var lines = ["customer_id,tenure_months,monthly_charges,plan,churned"]
        let plans = ["basic", "plus", "pro"]
        for i in 1 ... n {
            let tenure = 1 + Int(rng.next() % 72)
            let charges = rng.next() % 17 == 0 ? "" : String(format: "%.2f", 20 + Double(rng.next() % 10_000) / 100)
            let plan = plans[Int(rng.next() % 3)]
            let z = 0.8 - 0.05 * Double(tenure) + (plan == "basic" ? 0.7 : 0) + (Double(charges) ?? 60) / 80
            let churned = Double(rng.next() % 10_000) / 10_000 < 1 / (1 + exp(-z)) ? 1 : 0
            lines.append("C\(i),\(tenure),\(charges),\(plan),\(churned)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let definitions = """
    kind: source
    name: customers
    type: csv
    path: data/customers.csv
    ---
    kind: output
    name: scores_spark
    type: jsonl
    path: out/scores_spark
    partition_by: [plan]
    ---
    kind: output
    name: scores_copy
    type: sqlite
    database: out/copy.sqlite
    table: scores
    mode: replace
    ---
    kind: features
    name: churn_features
    steps:
      - {op: impute, columns: [monthly_charges], strategy: median}
      - {op: log, columns: [monthly_charges]}
      - {op: one_hot, columns: [plan]}
      - {op: standard_scale, columns: [tenure_months, monthly_charges]}
    ---
    kind: model
    name: churn
    type: logistic_regression
    target: churned
    features: churn_features
    training_dataset: customers
    holdout: 0.2
    split: tail
    aliases: [production]
    prediction_fields: [churned_probability, churned_label]
    ---
    kind: job
    name: train_here
    stages: [{name: train, type: train, model: churn}]
    ---
    kind: job
    name: train_spark
    stages: [{name: train, type: train, model: churn, engine: spark, spark: {master: "local[2]", conf: {spark.sql.shuffle.partitions: 2}}}]
    ---
    kind: job
    name: score_here
    stages: [{name: score, type: inference, model: churn@production, entity_key: customer_id, inputs: [customers]}]
    ---
    kind: job
    name: score_spark
    stages:
      - {name: score, type: inference, model: churn@production, entity_key: customer_id, inputs: [customers], destination: scores_spark,
         engine: spark, spark: {master: "local[2]", conf: {spark.sql.shuffle.partitions: 2}}}
      - {name: copy, type: etl, after: [score], inputs: [scores_spark], destination: scores_copy}
    """

    /// Each entity's prediction outputs in the run's `PredictionRecorded` events.
    static func predictions(_ p: RunCLITests.Project, run: String) throws -> [String: Value] {
        var out: [String: Value] = [:]
        for line in try p.lf(["events", "--stream", "predictions/\(run)", "--json"]).stdout.split(separator: "\n") {
            let e = try Value(json: String(line))["payload"]
            if let entity = e?["entity"]?.stringValue { out[entity] = e }
        }
        return out
    }

    /// The PSI observed per feature by run `run`.
    static func drift(_ p: RunCLITests.Project, run: String) throws -> [String: Double] {
        var out: [String: Double] = [:]
        for line in try p.lf(["events", "--stream", "metrics/churn", "--json"]).stdout.split(separator: "\n") {
            guard let e = try Value(json: String(line))["payload"], e["run"]?.stringValue == run, e["metric"] == "psi" else { continue }
            if let f = e["feature"]?.stringValue, let v = e["value"]?.doubleValue { out[f] = v }
        }
        return out
    }

    static func expectSame(_ here: [String: Value], _ spark: [String: Value], version: Int64, _ what: String) {
        #expect(here.count == 1_500 && spark.count == here.count, "\(what): \(here.count) in process, \(spark.count) on Spark")
        var worst = 0.0, labels = 0
        for (entity, h) in here {
            guard let s = spark[entity] else { Issue.record("\(what): no Spark prediction for \(entity)"); continue }
            let hp = h["outputs"]?["churned_probability"]?.doubleValue ?? .nan, sp = s["outputs"]?["churned_probability"]?.doubleValue ?? .nan
            worst = max(worst, abs(hp - sp))
            if h["outputs"]?["churned_label"] != s["outputs"]?["churned_label"] { labels += 1 }
            #expect(s["model"] == "churn" && s["model_version"] == .int(version), "\(what): \(s)")
        }
        #expect(worst <= 1e-9, "\(what): the largest probability difference is \(worst)")
        #expect(labels == 0, "\(what): \(labels) labels differ")
    }

    @Test(.timeLimit(.minutes(6))) func aModelScoresAlikeInProcessAndOnSparkWhereverItWasTrained() throws {
        _ = try SparkInstall.sparkSubmit()
        let p = try RunCLITests.Project(Self.definitions, files: ["data/customers.csv": Self.customers(1_500, seed: 20)])
        // Trained in process (version 1), scored both ways.
        for job in ["train_here", "score_here", "score_spark"] {
            let r = try p.lf(["run", job])
            #expect(r.status == 0, "\(job): \(r.stdout) \(r.stderr)")
        }
        let fields = try #require(try p.status("2")["stages"]?.arrayValue?.first?["outputs"])
        #expect(fields["predictions_recorded"] == .int(1_500))
        Self.expectSame(try Self.predictions(p, run: "2"), try Self.predictions(p, run: "3"), version: 1, "trained in process")
        let (d2, d3) = (try Self.drift(p, run: "2"), try Self.drift(p, run: "3"))
        #expect(!d2.isEmpty && Set(d2.keys) == Set(d3.keys), "\(d2) \(d3)")
        for (f, v) in d2 { #expect(abs(v - (d3[f] ?? .nan)) <= 1e-12, "psi of \(f): \(v) in process, \(d3[f] ?? .nan) on Spark") }
        let spark = try #require(try p.status("3")["stages"]?.arrayValue)
        #expect(spark[0]["outputs"]?["engine"] == "spark" && spark[0]["outputs"]?["predictions_recorded"] == .int(1_500), "\(spark[0])")
        // The scored rows, written by Spark as partitioned JSON Lines, read by the etl stage in process.
        #expect(spark[1]["status"] == "succeeded", "\(spark[1])")
        let copied = try #require(spark[1]["datasets"]?.arrayValue?.first?["rows"]?.intValue)
        #expect(copied == 1_500)
        let plans = (try? FileManager.default.contentsOfDirectory(atPath: p.root + "/out/scores_spark"))?.filter { $0.hasPrefix("plan=") }.sorted()
        #expect(plans == ["plan=basic", "plan=plus", "plan=pro"], "\(String(describing: plans))")

        // Trained on Spark (version 2): the artifact scores in process as on Spark.
        let trained = try p.lf(["run", "train_spark"])
        #expect(trained.status == 0, "\(trained.stdout) \(trained.stderr)")
        let registered = try #require(try p.status("4")["stages"]?.arrayValue?.first?["outputs"])
        #expect(registered["engine"] == "spark" && registered["metrics"]?["accuracy"]?.doubleValue != nil, "\(registered)")
        let promoted = try p.lf(["models", "promote", "churn", "2", "--alias", "production"])
        #expect(promoted.status == 0, "\(promoted.stderr)")
        for job in ["score_here", "score_spark"] {
            let r = try p.lf(["run", job])
            #expect(r.status == 0, "\(job) v2: \(r.stdout) \(r.stderr)")
        }
        Self.expectSame(try Self.predictions(p, run: "5"), try Self.predictions(p, run: "6"), version: 2, "trained on Spark")
        let models = try p.lf(["models", "show", "churn", "--json"])
        #expect(models.stdout.contains("\"version\":2") || models.stdout.contains("\"version\": 2"), "\(models.stdout.prefix(400))")
    }
}
}
