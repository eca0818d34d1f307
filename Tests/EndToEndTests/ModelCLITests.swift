import EventLog
import Foundation
import Testing

/// The churn scenario through the binary: training, scoring with an alias, the trigger, the
/// registry commands, a v1 → v2 swap by promote — real LMDB, SQLite and processes.
@Suite struct ModelCLITests {
    @Test func churnScenarioTrainsScoresTriggersAndSwapsVersions() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub(".ledgerflow")
        func lf(_ args: [String]) throws -> RunResult { try ledgerflow(args + ["--store", store], cwd: dir.path) }
        func json(_ args: [String]) throws -> Value {
            let r = try lf(args + ["--json"])
            #expect(r.status == 0, "\(args): \(r.stderr)")
            return try Value(json: r.stdout)
        }
        try FileManager.default.createDirectory(atPath: dir.sub("data"), withIntermediateDirectories: true)
        let sql = CatalogCLITests.fixture("fixtures/demo/churn/customers.sql")
        #expect(try run("/bin/sh", ["-c", "sqlite3 data/sql_server.sqlite < '\(sql)'"], cwd: dir.path).status == 0)
        #expect(try lf(["init"]).status == 0)
        #expect(try lf(["apply", CatalogCLITests.fixture("fixtures/demo/churn")]).status == 0)

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
        let history = try json(["models", "show", "churn"])["alias_history"]?.arrayValue ?? []
        #expect(history.map { $0["version"] } == [1, 2])
        #expect(try lf(["audit", "verify"]).status == 0)
    }
}
