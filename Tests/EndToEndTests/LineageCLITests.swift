import Domain
import EventLog
import Foundation
import TestSupport
import Testing

/// Lineage, column lineage, why, replay and the OpenLineage export through the binary, on the
/// churn scenario run by an engine in another process (`ledgerflow work`), queried while it runs.
/// (Several seconds on its own, longer on a busy two-core machine: a longer limit than most tests'.)
@Suite(.timeLimit(.minutes(3))) struct LineageCLITests {
    @Test func churnScenarioLineageWhyReplayAndOpenLineage() throws {
        let churn = try ChurnStore()
        let dir = churn.dir, store = churn.store
        func lf(_ args: [String]) throws -> RunResult { try churn.lf(args) }
        func json(_ args: [String]) throws -> Value { try churn.json(args) }

        // An engine in its own process; the CLI submits runs to it and queries alongside it.
        let engine = try BackgroundProcess(try binary("ledgerflow"), ["work", "--store", store], cwd: dir.path)
        defer { engine.stop(SIGTERM) }
        try waitFor("the engine to take its lock") { FileManager.default.fileExists(atPath: store + "/engine.lock") }

        #expect(try lf(["run", "churn_scoring"]).status == 1)  // no model yet: a failed attempt
        #expect(try lf(["run", "churn_training"]).status == 0)
        let scored = try lf(["run", "churn_scoring"])
        #expect(scored.status == 0, "\(scored.stderr)")
        #expect(engine.process.isRunning)

        // Upstream of the stored predictions reaches the CRM source, the model version that
        // scored, the run that trained it and the dataset version it was trained on, and the
        // catalog version and job definition the runs ran under.
        // The engine may still be appending (triggered follow-ups), so fix the moment.
        let now = String(try #require(try json(["audit", "head"])["seq"]?.intValue))
        let up = try json(["lineage", "dataset:churn_predictions", "--upstream", "--depth", "8", "--at-seq", now])
        #expect(up["root"] == "dataset:churn_predictions@1")
        let ids = Set((up["nodes"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue })
        #expect(ids.contains("dataset:crm_customers"))
        #expect(ids.contains("model:churn@1"))
        #expect(ids.contains("definition:job/churn_scoring@1") && ids.contains("definition:model/churn@1"))
        #expect(ids.contains { $0.hasPrefix("catalog:") })
        #expect(ids.contains { $0.hasPrefix("attempt:2/train/") })
        let kinds = Set((up["edges"]?.arrayValue ?? []).compactMap { $0["kind"]?.stringValue })
        #expect(kinds.isSuperset(of: ["wrote", "read", "scored-by", "trained", "trained-on", "ran-under", "ran-under-catalog-version", "stage"]))
        #expect(up["downstream"] == nil)
        // Deterministic: the same question gives the same bytes.
        let again = try lf(["lineage", "dataset:churn_predictions", "--upstream", "--depth", "8", "--at-seq", now, "--json"])
        #expect(again.stdout == up.jsonString + "\n")

        // Downstream of the model reaches the scoring attempt and what it wrote.
        let down = try json(["lineage", "model:churn@production", "--downstream", "--depth", "3"])
        let downEdges = (down["edges"]?.arrayValue ?? []).map { "\($0["from"]?.stringValue ?? "") \($0["kind"]?.stringValue ?? "") \($0["to"]?.stringValue ?? "")" }
        #expect(downEdges.contains("model:churn@1 scored-by attempt:3/score/1"))
        #expect(downEdges.contains("attempt:3/score/1 wrote dataset:churn_scores@1"))

        // Text is an indented tree; dot renders with Graphviz.
        let text = try lf(["lineage", "dataset:churn_predictions@1", "--upstream"])
        #expect(text.status == 0 && text.lines.first == "upstream of dataset:churn_predictions@1 (depth 5):")
        #expect(text.stdout.contains("└─ wrote ← attempt:3/store/1"))
        let dotFile = dir.sub("lineage.dot")
        let dot = try lf(["lineage", "dataset:churn_predictions", "--format", "dot"])
        #expect(dot.status == 0 && dot.stdout.hasPrefix("digraph lineage {"))
        try dot.stdout.write(toFile: dotFile, atomically: true, encoding: .utf8)
        let svg = try run("/usr/bin/dot", ["-Tsvg", dotFile])
        #expect(svg.status == 0 && svg.stdout.contains("<svg"), "\(svg.stderr)")

        // Column lineage: the stored probability comes from the scores, computed by the model
        // from the extracted CRM fields.
        let column = try json(["lineage", "dataset:churn_predictions", "--column", "churn_probability"])
        #expect(column["written_by"] == "attempt:3/store/1")
        let scoresField = try #require(column["inputs"]?[0])
        #expect(scoresField["dataset"] == "churn_scores@1" && scoresField["column"] == "churn_probability" && scoresField["subtype"] == "IDENTITY")
        let modelInputs = (scoresField["inputs"]?.arrayValue ?? [])
        #expect(modelInputs.allSatisfy { $0["dataset"] == "customer_features@3" && $0["subtype"] == "TRANSFORMATION" && $0["description"] == "model churn v1" })
        let modelColumns = Set(modelInputs.compactMap { $0["column"]?.stringValue })
        #expect(modelColumns.isSuperset(of: ["tenure_months", "monthly_charges", "support_calls"]))
        #expect(modelInputs.first?["inputs"]?[0]?["dataset"] == "crm_customers")
        let renamedText = try lf(["lineage", "dataset:churn_predictions", "--column", "client_code"])
        #expect(renamedText.status == 0 && renamedText.stdout.contains("← churn_scores@1.client_code  DIRECT IDENTITY"))

        // Bad input: one line, exit 1 (unknown node) or 2 (bad usage).
        for (args, code, needle) in [(["lineage", "nope"], Int32(1), "not a lineage node"),
                                     (["lineage", "dataset:churn_predictions@9"], 1, "has versions 1–1"),
                                     (["lineage", "dataset:unknown_table"], 1, "no dataset 'unknown_table'"),
                                     (["lineage", "model:churn@staging"], 1, "no alias 'staging'"),
                                     (["lineage", "dataset:churn_predictions", "--column", "nope"], 1, "has no column 'nope'"),
                                     (["lineage", "dataset:churn_predictions", "--depth", "0"], 2, "--depth"),
                                     (["lineage", "dataset:churn_predictions", "--depth", "-1"], 2, "--depth must be between 1 and 50 (got -1)"),
                                     (["lineage", "dataset:churn_predictions", "--limit", "-3"], 2, "--limit must be at least 1 (got -3)"),
                                     (["lineage", "model:churn@7"], 1, "has versions 1–1; there is no version 7"),
                                     (["lineage", "dataset:churn_predictions", "--format", "svg"], 2, "--format")] {
            let r = try lf(args)
            #expect(r.status == code, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(needle), "\(args): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
        }

        // Why and lineage agree on a triggered run: crossing ← rule, run.
        let followups = try json(["runs", "--job", "retention_followup"]).arrayValue ?? []
        let followup = try #require(followups.first?["run"]?.stringValue)
        let why = try json(["why", followup])
        #expect((why["chain"]?.arrayValue ?? []).map { $0["kind"] } == ["run", "rule", "prediction", "run", "manual"])
        let cause = try json(["lineage", "run:\(followup)", "--upstream", "--depth", "2"])
        let causeIDs = Set((cause["nodes"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue })
        #expect(causeIDs.contains("rule:trigger/high_churn@1") && causeIDs.contains("run:3"))
        #expect(causeIDs.contains { $0.hasPrefix("crossing:") })

        // The engine was running all along, and still is.
        #expect(engine.process.isRunning)
        engine.signal(SIGTERM)
        let stopped = try engine.finish()
        #expect(stopped.status == 0 && !stopped.signalled, "the engine stops cleanly on SIGTERM: \(stopped.stderr)")

        // The lineage projection replays, byte for byte, and rebuilding it (and the table behind
        // the queries) changes no answer.
        let head = try #require(try json(["audit", "head"])["seq"]?.intValue)
        let mid = head / 2
        let r1 = try lf(["replay", "--at-seq", String(mid), "--projection", "lineage", "--json"])
        let r2 = try lf(["replay", "--at-seq", String(mid), "--projection", "lineage", "--json"])
        #expect(r1.status == 0 && !r1.stdout.isEmpty && r1.stdout == r2.stdout)
        let replayed = try Value(json: r1.stdout)
        #expect((replayed["projections"]?["lineage"]?["edges"]?.arrayValue ?? []).allSatisfy { ($0["seq"]?.intValue ?? .max) <= mid })
        #expect(try lf(["projection", "rebuild", "lineage"]).status == 0)
        #expect(try lf(["lineage", "dataset:churn_predictions", "--upstream", "--depth", "8", "--at-seq", now, "--json"]).stdout == up.jsonString + "\n")
        let asOf = try json(["lineage", "model:churn@1", "--downstream", "--at-seq", String(mid)])
        #expect((asOf["edges"]?.arrayValue ?? []).allSatisfy { ($0["seq"]?.intValue ?? .max) <= mid })

        // OpenLineage: every stage transition, valid against the official schemas.
        let export = try lf(["audit", "export", "--format", "openlineage"])
        #expect(export.status == 0, "\(export.stderr)")
        let exportFile = dir.sub("openlineage.jsonl")
        try export.stdout.write(toFile: exportFile, atomically: true, encoding: .utf8)
        let validated = try run("/usr/bin/env", ["python3", CatalogCLITests.fixture("tools/validate-openlineage.py"), exportFile])
        #expect(validated.status == 0, "\(validated.stdout)\(validated.stderr)")
        let events = try export.lines.map { try Value(json: $0) }
        let started = try lf(["events", "--type", "StageStarted", "--json"]).lines.count
        #expect(events.filter { $0["eventType"] == "START" }.count == started)
        #expect(events.filter { $0["eventType"] == "COMPLETE" }.count == (try lf(["events", "--type", "StageSucceeded", "--json"]).lines.count))
        let failed = try #require(events.first { $0["eventType"] == "FAIL" })
        #expect(failed["job"]?["name"] == "churn_scoring.score")
        #expect(failed["run"]?["facets"]?["errorMessage"]?["message"]?.stringValue?.contains("no registered version") == true)
        // START and its COMPLETE share a run id; the parent is the ledgerflow run.
        let store3 = events.filter { $0["job"]?["name"] == "churn_scoring.store" && $0["run"]?["facets"]?["ledgerflow"]?["run"] == "3" }
        #expect(store3.map { $0["eventType"] } == ["START", "COMPLETE"])
        #expect(store3[0]["run"]?["runId"] == store3[1]["run"]?["runId"])
        let output = try #require(store3[1]["outputs"]?[0])
        #expect(output["name"] == "churn_predictions" && output["namespace"]?.stringValue?.hasPrefix("sqlite://") == true)
        let fields = output["facets"]?["columnLineage"]?["fields"]?["churn_probability"]?["inputFields"]?.arrayValue ?? []
        #expect(fields.map { $0["field"] } == ["churn_probability"])
        #expect(output["facets"]?["schema"]?["fields"]?.arrayValue?.count == 6)
        // The same export twice is the same bytes (run ids derive from the store id).
        #expect(try lf(["audit", "export", "--format", "openlineage"]).stdout == export.stdout)
        let one = try lf(["audit", "export", "--format", "openlineage", "--correlation", String(try #require(failed["run"]?["facets"]?["ledgerflow"]?["correlation"]?.intValue))])
        #expect(one.lines.count == 4, "\(one.stdout)")  // the failed run: extract START/COMPLETE, score START/FAIL
        #expect(try lf(["audit", "verify"]).status == 0)
    }
}
