import Catalog
import Domain
import EventLog
import Executors
import Foundation
import Runs
import Testing
import TestSupport
@testable import Engine

/// Seed 000 as written (`fixtures/seed/job_101_seed000.json`) through the engine: the Inference
/// stage scores with `predict_churn.py` (a real python3 process) and records one prediction per
/// row; the Storage stage writes the `Delta Table` stand-in, one version folder per run.
@Suite(.timeLimit(.minutes(2))) struct SeedJobEngineTests {
    @Test func seed000ScoresWithItsScriptAndVersionsTheDeltaTable() throws {
        let p = try Project()
        try FileManager.default.createDirectory(atPath: p.root + "/data", withIntermediateDirectories: true)
        let sql = try run("/bin/sh", ["-c", "sqlite3 data/sql_server.sqlite < '\(repoPath("fixtures/demo/churn/customers.sql"))'"], cwd: p.root)
        #expect(sql.status == 0, "\(sql.stderr)")
        let (defs, errors) = DefinitionLoader.load(files: [repoPath("fixtures/seed/job_101_seed000.json")])
        #expect(errors.isEmpty, "\(errors)")
        try p.log.append(ApplyPlan.decide(catalog: try RunCommands.catalog(p.log), definitions: defs, prune: false, message: nil).appends,
                         actor: "test", correlation: .shared)

        let (first, state) = try p.run("101")
        let trail = try p.events(first).map { "\($0.type) \($0.payload["error"]?.stringValue ?? "")" }
        #expect(state.runs[first]?.status == .succeeded, "\(trail)")
        let predictions = try p.log.read(stream: MLEvents.stream(predictionsOfRun: first)).map { try $0.decode(PredictionRecorded.self) }
        #expect(predictions.count == 400, "one prediction per customer")
        #expect(predictions.allSatisfy { $0.model == "predict_churn" && $0.modelVersion == 0 && $0.stage == "inference_2" })
        #expect(predictions.allSatisfy { ($0.outputs["churn_probability"]?.doubleValue).map { $0 > 0 && $0 < 1 } ?? false })
        #expect(Set(predictions.compactMap { $0.outputs["churn_label"]?.intValue }) == [0, 1])
        let scored = try #require(try p.events(first).first { $0.type == RunEvents.stageSucceeded && $0.payload["stage"] == "inference_2" })
        #expect(scored.payload["outputs"]?["script"]?.stringValue == repoPath("fixtures/seed/predict_churn.py"))
        #expect(scored.payload["outputs"]?["script_sha256"]?.stringValue?.count == 64)

        let (second, again) = try p.run("101")
        #expect(again.runs[second]?.status == .succeeded)
        // The Delta table's versions are the log's versions of dataset churn_predictions.
        let table = p.root + "/data/delta/churn_predictions"
        let versions = try p.log.read(stream: RunEvents.stream(dataset: "churn_predictions")).map { try $0.decode(DatasetVersionWritten.self) }
        #expect(versions.map(\.location) == [table + "/v1", table + "/v2"])
        #expect(versions.map(\.rows) == [400, 400] && versions.map(\.run) == [first, second])
        let folders = try FileManager.default.contentsOfDirectory(atPath: table).filter { !$0.hasPrefix(".") }.sorted()
        #expect(folders == ["_ledgerflow_version", "v1", "v2"])
        #expect(try String(contentsOfFile: table + "/_ledgerflow_version", encoding: .utf8) == "2\n")
        let parts = try FileManager.default.contentsOfDirectory(atPath: table + "/v1")
        #expect(parts == ["part-run\(first)-storage_3-a1.jsonl"])
        let rows = try String(contentsOfFile: table + "/v1/" + parts[0], encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 400)
        let row = try Value(json: String(rows[0]))
        #expect(row["customer_id"] == 1 && row["churn_probability"] != nil && row["churn_label"] != nil && row["model_version"] == 0)
    }
}
