import Domain
import Foundation
import TestSupport
import Testing

/// Seed 000's job as written, through the binary on a fresh store: the demo's data definitions
/// and `fixtures/seed/job_101_seed000.json` applied unchanged, job 101 run twice.
@Suite(.timeLimit(.minutes(3))) struct SeedJobCLITests {
    @Test func seed000RunsAsWrittenAndVersionsItsDeltaTable() throws {
        let dir = TemporaryDirectory("seed000")
        let store = dir.sub(".ledgerflow")
        func lf(_ args: [String]) throws -> RunResult { try ledgerflow(args + ["--store", store], cwd: dir.path) }
        func events(_ args: [String]) throws -> [Value] { try lf(["events", "--json"] + args).lines.map { try Value(json: $0) } }
        try FileManager.default.createDirectory(atPath: dir.sub("data"), withIntermediateDirectories: true)
        let sql = CatalogCLITests.fixture("fixtures/demo/churn/customers.sql")
        #expect(try run("/bin/sh", ["-c", "sqlite3 data/sql_server.sqlite < '\(sql)'"], cwd: dir.path).status == 0)
        let customers = try run("/usr/bin/sqlite3", [dir.sub("data/sql_server.sqlite"), "select count(*) from customer_transactions"])
        let rows = try #require(Int(customers.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try lf(["init"]).status == 0)
        let seed000 = CatalogCLITests.fixture("fixtures/seed/job_101_seed000.json")
        let applied = try lf(["apply", CatalogCLITests.fixture("fixtures/demo/churn/data.yaml"), seed000])
        #expect(applied.status == 0, "\(applied.stderr)")
        let seq = try lf(["audit", "head"]).stdout
        #expect(try lf(["apply", seed000]).status == 0)
        #expect(try lf(["audit", "head"]).stdout == seq, "applying it again appends nothing")

        let first = try Value(json: try lf(["run", "101", "--json"]).stdout)
        #expect(first["status"] == "succeeded", "\(first)")
        let run1 = try #require(first["run"]?.stringValue)
        let stages = first["stages"]?.arrayValue ?? []
        #expect(stages.map { $0["name"] } == ["etl_1", "inference_2", "storage_3"])
        #expect(stages[1]["outputs"]?["model"] == "predict_churn" && stages[1]["outputs"]?["predictions_recorded"] == .int(Int64(rows)))
        let predictions = try events(["--type", "PredictionRecorded"])
        #expect(predictions.count == rows)
        #expect(predictions.allSatisfy { $0["payload"]?["model"] == "predict_churn" && $0["payload"]?["run"] == .string(run1) })

        let table = dir.sub("data/delta/churn_predictions")
        func partRows(_ version: Int) throws -> Int {
            let folder = table + "/v\(version)"
            let parts = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("part-") }
            return try parts.reduce(0) { n, p in
                n + (try String(contentsOfFile: folder + "/" + p, encoding: .utf8)).split(separator: "\n").count
            }
        }
        #expect(try partRows(1) == rows)
        #expect(try String(contentsOfFile: table + "/_ledgerflow_version", encoding: .utf8) == "1\n")

        let second = try Value(json: try lf(["run", "101", "--json"]).stdout)
        #expect(second["status"] == "succeeded")
        #expect(try partRows(2) == rows && (try partRows(1)) == rows, "a new version leaves the old one as it was")
        #expect(try String(contentsOfFile: table + "/_ledgerflow_version", encoding: .utf8) == "2\n")
        #expect(try events(["--type", "PredictionRecorded"]).count == 2 * rows)

        // The log's versions of dataset churn_predictions are the folder's versions.
        let versions = try events(["--stream", "dataset/churn_predictions"])
        #expect(versions.map { $0["streamVersion"] } == [1, 2])
        #expect(versions.map { $0["payload"]?["location"] } == [.string(table + "/v1"), .string(table + "/v2")])
        #expect(versions.allSatisfy { $0["payload"]?["rows"] == .int(Int64(rows)) })
        let folders = try FileManager.default.contentsOfDirectory(atPath: table).filter { $0.hasPrefix("v") }.sorted()
        #expect(folders == ["v1", "v2"])
    }
}
