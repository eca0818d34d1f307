import Domain
import EventLog
import Foundation
import TestSupport
import Testing

/// The churn scenario through the binary: training, scoring with an alias, the trigger, the
/// registry commands, a v1 → v2 swap by promote — real LMDB, SQLite and processes.
/// (About ten seconds on its own, longer on a busy two-core machine: a longer limit than most tests'.)
@Suite(.timeLimit(.minutes(3))) struct ModelCLITests {
    @Test func churnScenarioTrainsScoresTriggersAndSwapsVersions() throws {
        let churn = try ChurnStore()
        let dir = churn.dir, store = churn.store
        func lf(_ args: [String]) throws -> RunResult { try churn.lf(args) }
        func json(_ args: [String]) throws -> Value { try churn.json(args) }

        // Nothing registered yet: scoring fails with the reason, and the registry says so.
        #expect(try lf(["models"]).stdout.contains("no model is registered yet"))
        let early = try lf(["run", "churn_scoring"])
        #expect(early.status == 1)
        #expect(try lf(["status", "1"]).stdout.contains("model 'churn' has no registered version"))

        let trained = try lf(["run", "churn_training"])
        #expect(trained.status == 0, "\(trained.stderr)")
        let list = try json(["models"])
        #expect(list["models"]?[0]?["name"] == "churn" && list["models"]?[0]?["versions"] == 1 && list["models"]?[0]?["aliases"]?["production"] == 1)
        let v1 = try json(["models", "show", "churn"])
        #expect(v1["versions"]?[0]?["training_dataset"]?["name"] == "customer_features")
        #expect(v1["versions"]?[0]?["training_dataset"]?["version"] != .null)
        #expect((v1["versions"]?[0]?["metrics"]?["accuracy"]?.doubleValue ?? 0) > 0.8)
        let artifact = try #require(v1["versions"]?[0]?["artifact"]?["sha256"]?.stringValue)
        #expect(FileManager.default.fileExists(atPath: store + "/artifacts/sha256/" + artifact))

        let scored = try lf(["run", "churn_scoring"])
        #expect(scored.status == 0, "\(scored.stderr)")
        let predictions = try lf(["events", "--type", "PredictionRecorded", "--json"]).lines
        #expect(predictions.count == 400)
        let crossings = try lf(["events", "--type", "ThresholdCrossed", "--json"]).lines.map { try Value(json: $0) }
        #expect(!crossings.isEmpty)
        let runs = try json(["runs", "--job", "retention_followup"])
        #expect(runs.arrayValue?.count == crossings.count)
        #expect(runs.arrayValue?.allSatisfy { $0["status"] == "succeeded" && $0["trigger"]?["type"] == "trigger" } == true)
        let customers = Set(crossings.compactMap { $0["payload"]?["subject"]?.stringValue })
        let offered = Set(try (runs.arrayValue ?? []).map { r in try json(["status", r["run"]?.stringValue ?? ""])["parameters"]?["customer_id"]?.stringValue ?? "" })
        #expect(offered == customers)
        let why = try json(["why", runs.arrayValue?.first?["run"]?.stringValue ?? ""])
        #expect((why["chain"]?.arrayValue ?? []).map { $0["kind"] } == ["run", "rule", "prediction", "run", "manual"])
        #expect(try lf(["why", "999"]).status == 1)
        let warehouse = try run("/usr/bin/sqlite3", [dir.sub("data/azure_sql.sqlite"), "select count(*), min(model_version), max(model_version) from churn_predictions"])
        #expect(warehouse.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "400|1|1")

        // Registry commands refuse what makes no sense, with one line and the right exit code.
        let again = try lf(["models", "promote", "churn", "1", "--alias", "production"])
        #expect(again.status == 1 && again.stderr.contains("already points at version 1") && again.stderr.split(separator: "\n").count == 1)
        let missing = try lf(["models", "promote", "churn", "7", "--alias", "production"])
        #expect(missing.status == 1 && missing.stderr.contains("has no version 7"))
        #expect(try lf(["models", "promote", "churn", "seven", "--alias", "production"]).status == 2)
        #expect(try lf(["models", "show", "nope"]).status == 1)
        #expect(try lf(["models", "diff", "churn"]).stderr.contains("has one version"))

        // v2 from a changed definition; production stays on v1 until promoted.
        let changed = dir.sub("changed")
        try FileManager.default.copyItem(atPath: CatalogCLITests.fixture("fixtures/demo/churn"), toPath: changed)
        let ml = try String(contentsOfFile: changed + "/ml.yaml", encoding: .utf8).replacingOccurrences(of: "C: 1.0", with: "C: 0.2")
        try ml.write(toFile: changed + "/ml.yaml", atomically: true, encoding: .utf8)
        #expect(try lf(["apply", changed]).status == 0)
        #expect(try lf(["run", "churn_training"]).status == 0)
        #expect(try json(["models", "show", "churn"])["aliases"]?["production"] == 1)
        let diff = try json(["models", "diff", "churn", "1", "2"])
        let fields = (diff["changes"]?.arrayValue ?? []).compactMap { $0["field"]?.stringValue }
        #expect(fields.contains("hyperparameters.C") && fields.contains("model_definition_version") && fields.contains("artifact"))
        let promoted = try json(["models", "promote", "churn", "2", "--alias", "production"])
        #expect(promoted["previous"] == 1 && promoted["version"] == 2)
        #expect(try lf(["run", "churn_scoring"]).status == 0)
        let after = try run("/usr/bin/sqlite3", [dir.sub("data/azure_sql.sqlite"), "select count(*), min(model_version) from churn_predictions"])
        #expect(after.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "400|2")
        // replay: the registry as it was before the promotion, the same bytes every time.
        let before = (promoted["seq"]?.intValue ?? 1) - 1
        let replay = try lf(["replay", "--at-seq", String(before), "--json"])
        let replayAgain = try lf(["replay", "--at-seq", String(before), "--json"])
        #expect(replay.status == 0 && replay.stdout == replayAgain.stdout)
        let then = try Value(json: replay.stdout)
        let churnThen = (then["projections"]?["models"]?["models"]?.arrayValue ?? []).first { $0["name"] == "churn" }
        #expect(churnThen?["aliases"]?["production"] == 1 && churnThen?["versions"]?.arrayValue?.count == 2)
        #expect(then["projections"]?["catalog"] != nil && then["projections"]?["runs"] != nil)
        let one = try Value(json: try lf(["replay", "--at-seq", String(before), "--projection", "models", "--json"]).stdout)
        #expect(one["projections"]?["models"] == then["projections"]?["models"] && one["projections"]?["runs"] == nil)
        #expect(try lf(["replay"]).status == 2)
        // Seed job 101 scores too: ETL SQL Server → lake, Inference with churn@production reading what
        // ETL wrote, Storage loading the scores into the warehouse.
        let seed = try json(["run", "101"])
        #expect(seed["status"] == "succeeded")
        let seedRun = seed["run"]?.stringValue ?? ""
        let seedStages = seed["stages"]?.arrayValue ?? []
        #expect(seedStages.map { $0["name"] } == ["etl_1", "inference_2", "storage_3"])
        #expect(seedStages[1]["outputs"]?["model_version"] == 2 && seedStages[1]["outputs"]?["predictions_recorded"] == 400)
        #expect(try lf(["events", "--stream", "predictions/\(seedRun)", "--json"]).lines.count == 400)
        #expect(FileManager.default.fileExists(atPath: dir.sub("data/lake/customer_transactions")) && FileManager.default.fileExists(atPath: dir.sub("data/lake/churn_scores")))
        let history = try json(["models", "show", "churn"])["alias_history"]?.arrayValue ?? []
        #expect(history.map { $0["version"] } == [1, 2])
        #expect(try lf(["audit", "verify"]).status == 0)

        // audit export: every line re-verifies offline with the independent Python implementation.
        let export = try lf(["audit", "export"])
        #expect(export.status == 0 && export.lines.count > 1_000)
        try export.stdout.write(toFile: dir.sub("export.jsonl"), atomically: true, encoding: .utf8)
        let verifier = CatalogCLITests.fixture("tools/verify-export.py")
        let anchor = try lf(["audit", "head"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let verified = try run("/usr/bin/env", ["python3", verifier, dir.sub("export.jsonl"), "--anchor", anchor])
        #expect(verified.status == 0 && verified.stdout.contains("verified \(export.lines.count) events"), "\(verified.stderr)")
        // One changed value in one prediction is caught, naming its seq.
        var lines = export.lines
        let i = try #require(lines.firstIndex { $0.contains("\"PredictionRecorded\"") })
        lines[i] = lines[i].replacingOccurrences(of: "\"model\":\"churn\"", with: "\"model\":\"chutney\"")
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir.sub("tampered.jsonl"), atomically: true, encoding: .utf8)
        let caught = try run("/usr/bin/env", ["python3", verifier, dir.sub("tampered.jsonl")])
        let seq = try Value(json: export.lines[i])["seq"]?.intValue ?? 0
        #expect(caught.status == 1 && caught.stderr.contains("seq \(seq) "))
        // A causal tree alone (not consecutive seqs) still verifies line by line.
        let tree = try lf(["audit", "export", "--correlation", String(crossings.first?["correlation"]?.intValue ?? 0)])
        try tree.stdout.write(toFile: dir.sub("tree.jsonl"), atomically: true, encoding: .utf8)
        #expect(tree.lines.count > 400)
        #expect(try run("/usr/bin/env", ["python3", verifier, dir.sub("tree.jsonl")]).status == 0)
        #expect(try lf(["audit", "export", "--format", "xml"]).status == 2)
    }
}

/// The automation reactor across crashes: `ledgerflow work` is SIGKILLed at random moments while
/// scoring runs record predictions and the trigger fires; every prediction that meets the
/// condition crosses exactly once (per run and entity) and starts exactly one follow-up.
/// The crash loop and the final wait take longer than the other end-to-end tests: a longer limit.
@Suite(.timeLimit(.minutes(4))) struct AutomationCrashTests {
    @Test func killedEngineFiresEachTriggerExactlyOnce() throws {
        var csv = ["customer_id,tenure_months,monthly_charges,churned"]
        for i in 1 ... 3000 {
            let tenure = 1 + (i * 7919) % 60, charges = 20 + Double((i * 104_729) % 8000) / 100
            let churned = Double(tenure) * -0.1 + (charges - 60) * 0.05 + Double((i * 2_654_435_761) % 1000) / 500 - 1 > 0 ? 1 : 0
            csv.append("\(i),\(tenure),\(charges),\(churned)")
        }
        let p = try RunCLITests.Project("""
        kind: source
        name: customers
        type: csv
        path: data/customers.csv
        ---
        kind: model
        name: churn
        type: logistic_regression
        target: churned
        training_dataset: customers
        feature_columns: [tenure_months, monthly_charges]
        prediction_fields: [p, label]
        aliases: [production]
        ---
        kind: job
        name: train
        stages: [{name: train, type: train, model: churn}]
        ---
        kind: job
        name: score
        stages: [{name: score, type: inference, model: churn@production, entity_key: customer_id, inputs: [customers], retry: {attempts: 40, backoff: 0s}}]
        ---
        kind: job
        name: followup
        parameters: {customer_id: null}
        stages: [{name: x, type: script, command: ["true"], retry: {attempts: 40, backoff: 0s}}]
        ---
        kind: trigger
        name: hot
        source: {type: predictions, model: churn}
        condition: p > 0.995
        run: followup
        parameters: {customer_id: entity_key}
        dedupe: once_per_row
        """, files: ["data/customers.csv": csv.joined(separator: "\n") + "\n"])
        #expect(try p.lf(["run", "train"]).status == 0)
        for _ in 0 ..< 6 { #expect(try p.lf(["run", "score", "--detach"]).status == 0) }
        // Kill at random moments (the delay is the point, not a synchronisation), from a seed that
        // every expectation below names.
        var rng = SplitMix64.forRun()
        for _ in 0 ..< 15 {
            let work = try p.startEngine()
            Thread.sleep(forTimeInterval: Double.random(in: 0.05 ... 0.3, using: &rng))
            work.signal(SIGKILL)
            try work.finish()
        }
        let work = try p.startEngine()
        defer { work.stop(SIGTERM) }
        try waitFor("every run to finish and every crossing to have its follow-up (\(rng))", timeout: 180, interval: 0.05) {
            let runs = try p.runs()
            let crossed = try p.lf(["events", "--type", "ThresholdCrossed", "--json"]).lines.count
            return runs.count > 7 && runs.allSatisfy { $0["status"] != .string("running") } && crossed == runs.filter { $0["job"] == "followup" }.count
        }
        let runs = try p.runs()
        #expect(runs.filter { $0["job"] == "score" }.allSatisfy { $0["status"] == "succeeded" }, "\(rng)")
        // What should have crossed: every (run, entity) whose recorded prediction meets the condition.
        let predictions = try p.lf(["events", "--type", "PredictionRecorded", "--json"]).lines.map { try Value(json: $0)["payload"] ?? .null }
        let hot = Set(predictions.filter { ($0["outputs"]?["p"]?.doubleValue ?? 0) > 0.995 }.map { "\($0["run"]?.stringValue ?? "")/\($0["entity"]?.stringValue ?? "")" })
        #expect(!hot.isEmpty, "\(rng)")
        let crossings = try p.lf(["events", "--type", "ThresholdCrossed", "--json"]).lines.map { try Value(json: $0) }
        let keys = crossings.compactMap { $0["payload"]?["dedupe_key"]?.stringValue }
        #expect(keys.count == Set(keys).count, "no key crossed twice; \(rng)")
        #expect(Set(keys) == hot, "\(rng)")
        let fired = try p.lf(["events", "--type", "TriggerFired", "--json"]).lines.map { try Value(json: $0)["payload"]?["crossing"]?.intValue ?? 0 }
        #expect(fired.count == crossings.count && Set(fired).count == fired.count, "\(rng)")
        let followups = runs.filter { $0["job"] == "followup" }
        #expect(followups.count == crossings.count && followups.allSatisfy { $0["status"] == "succeeded" }, "\(rng)")
        #expect(Set(followups.compactMap { $0["trigger"]?["crossing"]?.intValue }).count == followups.count, "\(rng)")
        #expect(try p.lf(["audit", "verify"]).status == 0, "\(rng)")
    }
}
