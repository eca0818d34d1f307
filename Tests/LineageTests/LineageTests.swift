import Catalog
import Domain
import EventLog
import Foundation
@testable import Lineage
import Models
import Projections
import Runs
import TestSupport
import Testing

// A fresh temporary directory per test (`TemporaryDirectory`, removed afterwards) comes from TestSupport.

func recorded(_ seq: UInt64, _ stream: String, _ type: String, _ payload: Value, version: UInt64 = 1) -> RecordedEvent {
    RecordedEvent(seq: seq, recordedAtMicros: Int64(seq) * 1_000_000, stream: stream, streamVersion: version, type: type, payload: payload)
}

func describe(_ edges: some Sequence<LineageEdge>) -> [String] { edges.map { "\($0.from) \($0.kind) \($0.to)" } }

/// A valid registration of version `version` of `model` (lineage reads it typed: every required field is there).
func registration(_ version: UInt64, model: String = "churn", run: String, stage: String, attempt: UInt64 = 1, dataset: String,
                  datasetVersion: UInt64? = nil, definitionVersion: UInt64 = 1, features: ModelVersionRegistered.FeatureSpecRef? = nil,
                  metrics: Value = [:]) -> ModelVersionRegistered {
    ModelVersionRegistered(model: model, version: version, modelType: "logistic_regression", run: run, stage: stage, attempt: attempt, metrics: metrics,
                           artifact: .init(sha256: "a", bytes: 1), trainingDataset: .init(name: dataset, version: datasetVersion), featureSpec: features,
                           modelDefinitionVersion: definitionVersion, catalogSeq: 1, hyperparameters: [:], columns: ["x"], outputs: ["probability", "label"],
                           target: "y")
}

/// A valid crossing of version `version` of trigger `rule`, by the event at `source` of run `sourceRun`.
func crossed(_ rule: String, _ version: UInt64, sourceRun: String, subject: String, source: UInt64) -> ThresholdCrossed {
    ThresholdCrossed(rule: RuleRef(kind: "trigger", name: rule, version: version), subject: subject, observed: ["p": .double(0.95)],
                     threshold: .condition("p > 0.9"), sourceEvent: source, sourceRun: sourceRun, dedupeKey: sourceRun,
                     message: "trigger \(rule): p > 0.9 held for \(subject)", action: .init(run: "followup", parameters: [:]))
}

/// Each event's edges, given that event alone (pure).
@Suite struct LineageEdgeTests {
    @Test func runRequestedLinksDefinitionCatalogAndCause() {
        let triggered = recorded(10, "run/7", RunEvents.runRequested, [
            "run": "7", "job": "followup", "job_version": 2, "catalog_seq": 4, "parameters": [:], "stages": [],
            "trigger": ["type": "trigger", "crossing": 9, "rule": ["kind": "trigger", "name": "high_churn"]],
        ])
        #expect(describe(LineageEdges.edges(of: triggered)) == [
            "definition:job/followup@2 ran-under run:7", "catalog:4 ran-under-catalog-version run:7", "crossing:9 triggered-by run:7",
        ])
        let dependent = recorded(11, "run/8", RunEvents.runRequested, [
            "run": "8", "job": "report", "job_version": 1, "catalog_seq": 4, "parameters": [:], "stages": [], "trigger": ["type": "dependency", "after_runs": ["5", "6"]],
        ])
        #expect(describe(LineageEdges.edges(of: dependent)).suffix(2) == ["run:5 dependency run:8", "run:6 dependency run:8"])
        let scheduled = recorded(12, "run/9", RunEvents.runRequested, [
            "run": "9", "job": "nightly", "job_version": 1, "catalog_seq": 4, "parameters": [:], "stages": [],
            "trigger": ["type": "schedule", "schedule": "nightly", "schedule_version": 3],
        ])
        #expect(describe(LineageEdges.edges(of: scheduled)).suffix(1) == ["rule:schedule/nightly@3 triggered-by run:9"])
        let rerun = recorded(13, "run/10", RunEvents.runRequested, ["run": "10", "job": "nightly", "job_version": 1, "catalog_seq": 4, "parameters": [:], "stages": [],
                                                                    "trigger": ["type": "rerun", "rerun_of": "9"]])
        #expect(describe(LineageEdges.edges(of: rerun)).suffix(1) == ["run:9 rerun-of run:10"])
    }

    @Test func stageSucceededLinksReadsWritesAndModel() {
        let scored = recorded(20, "run/3", RunEvents.stageSucceeded, [
            "stage": "score", "attempt": 2, "duration_ms": 5,
            "inputs": [["dataset": "features", "version": 4, "location": "/lake/features", "format": "jsonl"],
                       ["dataset": "crm", "location": "db#crm", "format": "sqlite"]],
            "datasets": [["dataset": "scores", "version": 1]],
            "outputs": ["model": "churn", "model_version": 3, "rows_scored": 400],
        ])
        #expect(describe(LineageEdges.edges(of: scored)) == [
            "dataset:features@4 read attempt:3/score/2", "dataset:crm read attempt:3/score/2",
            "attempt:3/score/2 wrote dataset:scores@1", "model:churn@3 scored-by attempt:3/score/2",
        ])
        #expect(LineageEdges.edges(of: scored).allSatisfy { $0.seq == 20 })
        // A train stage's model is linked by its registration, not as a model it used.
        let trained = recorded(21, "run/2", RunEvents.stageSucceeded, [
            "stage": "train", "attempt": 1, "duration_ms": 5, "outputs": ["model": "churn", "model_version": 3, "artifact": "abc"],
        ])
        #expect(LineageEdges.edges(of: trained).isEmpty)
        let reused = recorded(22, "run/4", RunEvents.stageSucceeded, ["stage": "extract", "attempt": 1, "duration_ms": 0, "reused_from": ["run": "3", "attempt": 1],
                                                                      "datasets": [["dataset": "features", "version": 4]]])
        #expect(describe(LineageEdges.edges(of: reused)) == ["run:4 stage attempt:4/extract/1", "attempt:3/extract/1 reused attempt:4/extract/1",
                                                            "attempt:4/extract/1 wrote dataset:features@4"])
    }

    @Test func modelVersionAndCrossing() {
        let registered = recorded(30, "model/churn", MLEvents.modelVersionRegistered,
                                  registration(3, run: "2", stage: "train", dataset: "features", datasetVersion: 4, definitionVersion: 2,
                                               features: .init(name: "churn_features", version: 1)).payload)
        #expect(describe(LineageEdges.edges(of: registered)) == [
            "attempt:2/train/1 trained model:churn@3", "dataset:features@4 trained-on model:churn@3",
            "definition:model/churn@2 defined-by model:churn@3", "definition:features/churn_features@1 defined-by model:churn@3",
        ])
        let crossing = recorded(31, "rule/trigger/high_churn", MLEvents.thresholdCrossed,
                                crossed("high_churn", 2, sourceRun: "3", subject: "42", source: 29).payload)
        #expect(describe(LineageEdges.edges(of: crossing)) == ["run:3 crossed crossing:31", "rule:trigger/high_churn@2 rule crossing:31"])
        // Predictions are never nodes.
        #expect(LineageEdges.edges(of: recorded(32, "predictions/3", MLEvents.predictionRecorded, ["entity": "42"])).isEmpty)
        #expect(!LineageEdges.types.contains(MLEvents.predictionRecorded))
    }
}

/// The on-disk lineage table and its readers, on a real store.
/// Appends wait on the log's writer thread: a time limit.
@Suite(.timeLimit(.minutes(1))) struct LineageIndexTests {
    /// A small history: a training run, a model version, a scoring run, a crossing and the run it
    /// triggered, interleaved with predictions (which add no edge).
    func history(_ log: EventLog) throws {
        func append(_ stream: String, _ type: String, _ payload: Value) throws {
            _ = try log.append([NewEvent(type: type, schemaVersion: type == RunEvents.stageSucceeded ? 2 : 1, payload: payload)], to: stream)
        }
        try append("run/1", RunEvents.runRequested, ["run": "1", "job": "train", "job_version": 1, "catalog_seq": 1, "parameters": [:], "trigger": ["type": "manual", "by": "cli:ann"],
                                                    "stages": [["name": "fit", "type": "train"]]])
        try append("run/1", RunEvents.stageStarted, ["stage": "fit", "attempt": 1, "engine": "e"])
        try append("run/1", RunEvents.stageSucceeded, ["stage": "fit", "attempt": 1, "duration_ms": 5, "inputs": [["dataset": "crm", "location": "db#crm", "format": "sqlite"]],
                                                      "outputs": ["model": "churn", "model_version": 1, "artifact": "a"]])
        try append("model/churn", MLEvents.modelVersionRegistered, registration(1, run: "1", stage: "fit", dataset: "crm").payload)
        try append("run/2", RunEvents.runRequested, ["run": "2", "job": "score", "job_version": 1, "catalog_seq": 1, "parameters": [:], "trigger": ["type": "manual", "by": "cli:ann"],
                                                    "stages": [["name": "score", "type": "inference"]]])
        try append("run/2", RunEvents.stageStarted, ["stage": "score", "attempt": 1, "engine": "e"])
        for i in 0 ..< 50 { try append("predictions/2", MLEvents.predictionRecorded, ["entity": .string(String(i))]) }
        try append("run/2", RunEvents.stageSucceeded, ["stage": "score", "attempt": 1, "duration_ms": 5, "inputs": [["dataset": "crm", "location": "db#crm", "format": "sqlite"]],
                                                      "datasets": [["dataset": "scores", "version": 1]],
                                                      "outputs": ["model": "churn", "model_version": 1, "rows_scored": 50]])
        try append("rule/trigger/high", MLEvents.thresholdCrossed, crossed("high", 1, sourceRun: "2", subject: "run 2", source: try log.lastSeq()).payload)
        let crossing = try log.lastSeq()
        try append("run/3", RunEvents.runRequested, ["run": "3", "job": "followup", "job_version": 1, "catalog_seq": 1, "parameters": [:], "stages": [],
                                                    "trigger": ["type": "trigger", "crossing": .int(Int64(crossing))]])
    }

    func answerJSON(_ log: EventLog, _ node: String, asOf: UInt64? = nil) throws -> String {
        let q = LineageQuery(graph: try LineageGraph(log: log, asOf: asOf))
        return try q.answer(root: try q.resolve(node), upstream: true, downstream: true, depth: 5).value.jsonString
    }

    @Test func tableAndTailGiveTheSameAnswers() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.path + "/store")
        try history(log)
        // Nothing indexed: every answer comes from the tail folded in memory.
        #expect(try log.checkpoint(LineageIndex.checkpoint) == 0)
        let fromTail = try answerJSON(log, "run:2")
        let tailOnly = try LineageGraph(log: log)
        #expect(tailOnly.tableSeq == 0 && tailOnly.tailEvents == 9)
        // Indexed in small chunks (several transactions), then the same question.
        let added = try LineageIndex.catchUp(log, chunk: 2)
        #expect(added == 18)
        #expect(try log.checkpoint(LineageIndex.checkpoint) == (try log.lastSeq()))
        #expect(try LineageGraph(log: log).tailEvents == 0)
        #expect(try answerJSON(log, "run:2") == fromTail)
        // Catching up again adds nothing; a rebuild gives the same table.
        #expect(try LineageIndex.catchUp(log) == 0)
        #expect(try LineageIndex.rebuild(log) == 18)
        #expect(try answerJSON(log, "run:2") == fromTail)
        // Half indexed, half tail.
        #expect(try LineageIndex.rebuild(log) == 18)
        try log.dropTable(LineageIndex.table, checkpoint: LineageIndex.checkpoint)
        try LineageIndex.catchUp(log, through: 8)
        #expect(try log.checkpoint(LineageIndex.checkpoint) == 8)
        #expect(try answerJSON(log, "run:2") == fromTail)
    }

    /// A StageSucceeded whose payload does not decode (its attempt as text) is named with its seq
    /// and field: the pure fold returns the failure, the table stops before it and throws it, the
    /// OpenLineage export refuses it; queries still answer (the events after it included) and say
    /// what they could not read.
    @Test func malformedStageSucceededIsReportedWithItsSeqAndField() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.path + "/store")
        try history(log)
        let good = try log.lastSeq()
        let bad = try #require(try log.append([NewEvent(type: RunEvents.stageSucceeded, schemaVersion: 2,
                                                        payload: ["stage": "offer", "attempt": "1", "duration_ms": 5])], to: "run/3").firstSeq)
        _ = try log.append([RunRequested(run: "4", job: "later", jobVersion: 1, catalogSeq: 1, parameters: [:], trigger: .manual(by: "cli:ann"),
                                         stages: []).event()], to: "run/4")
        let message = "StageSucceeded at seq \(bad): field 'attempt' should be an integer, found the text \"1\""

        let edges = LineageEdges.edges(of: try #require(try log.event(at: bad)))
        #expect(edges.isEmpty && edges.failure?.description == message)
        #expect(edges.failure?.seq == bad && edges.failure?.field == "attempt")

        let thrown = #expect(throws: DecodingFailure.self) { try LineageIndex.catchUp(log, chunk: 4) }
        #expect(thrown?.seq == bad && thrown?.field == "attempt" && thrown?.eventType == RunEvents.stageSucceeded)
        #expect(try log.checkpoint(LineageIndex.checkpoint) == bad - 1)
        #expect(throws: DecodingFailure.self) { try LineageIndex.rebuild(log) }
        #expect(try log.checkpoint(LineageIndex.checkpoint) == bad - 1)

        let graph = try LineageGraph(log: log)
        #expect(graph.undecodable.map(\.description) == [message])
        #expect(try graph.neighbours(of: "definition:job/later@1", upstream: false).nodes.map(\.node) == ["run:4"])
        let q = LineageQuery(graph: graph)
        let answer = try q.answer(root: "run:3", upstream: true, downstream: true, depth: 2)
        #expect(answer.value["undecodable"] == [.string(message)])
        #expect(answer.text.hasSuffix("note: 1 event cannot be read and add no edge (the answer may lack some):\n  \(message)"))
        let offer = try q.describe("attempt:3/offer/1")
        #expect(offer.data["unreadable"] == [.string(message)] && offer.label.hasSuffix("(running) [1 event of the run cannot be read: \(message)]"))
        #expect(try q.describe("attempt:2/score/1").data["unreadable"] == nil)

        let export = try OpenLineageExport(log: log)
        var lines = 0
        try export.export(from: 1, through: good) { _ in lines += 1 }
        #expect(lines == 4)
        let refused = #expect(throws: DecodingFailure.self) { try export.export(from: 1, through: bad) { _ in } }
        #expect(refused?.description == message)
    }

    /// A ModelVersionRegistered whose payload does not decode (its version as text) is named with
    /// its seq and field: the pure fold returns the failure, the table stops before it and throws
    /// it, the lineage projection records it (and a snapshot keeps it); queries still answer and
    /// list it, the model's other versions still describe, and naming the model without a version
    /// (whose newest registration is that event) is refused naming it.
    @Test func malformedModelVersionRegisteredIsReportedWithItsSeqAndField() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.path + "/store")
        try history(log)
        let payload = registration(2, run: "1", stage: "fit", dataset: "crm").payload.setting("version", to: "2")
        let bad = try #require(try log.append([NewEvent(type: MLEvents.modelVersionRegistered, payload: payload)], to: "model/churn").firstSeq)
        let message = "ModelVersionRegistered at seq \(bad): field 'version' should be a non-negative integer, found the text \"2\""

        let edges = LineageEdges.edges(of: try #require(try log.event(at: bad)))
        #expect(edges.isEmpty && edges.failure?.description == message)
        #expect(edges.failure?.seq == bad && edges.failure?.field == "version")

        let thrown = #expect(throws: DecodingFailure.self) { try LineageIndex.catchUp(log, chunk: 4) }
        #expect(thrown?.seq == bad && thrown?.field == "version" && thrown?.eventType == MLEvents.modelVersionRegistered)
        #expect(thrown?.description == message)
        #expect(try log.checkpoint(LineageIndex.checkpoint) == bad - 1)
        #expect(throws: DecodingFailure.self) { try LineageIndex.rebuild(log) }
        #expect(try log.checkpoint(LineageIndex.checkpoint) == bad - 1)

        let graph = try LineageGraph(log: log)
        #expect(graph.undecodable.map(\.description) == [message])
        let q = LineageQuery(graph: graph)
        let answer = try q.answer(root: "model:churn@1", upstream: true, downstream: true, depth: 2)
        #expect(answer.value["undecodable"] == [.string(message)])
        #expect(answer.dot.contains("  // cannot be read, adds no edge: \(message)"))
        #expect(try q.describe("model:churn@1").label == "model churn v1 (logistic_regression)")
        #expect(try q.resolve("model:churn@1") == "model:churn@1")
        let refused = #expect(throws: LineageError.self) { try q.resolve("model:churn") }
        #expect(refused?.description == "model 'churn' cannot be resolved (as of seq \(bad)): \(message)")
        #expect(try Why(log: log).modelChain("churn", 1).first?.text == "model churn v1 trained in run 1 on crm")

        // The projection keeps the failure, renders it, and a snapshot of it reads back.
        let projection = LineageProjection()
        let state = try ProjectionRunner(log: log, projection: projection).state(at: bad).state
        #expect(state.undecodable == [try #require(thrown)])
        #expect(projection.render(state)["undecodable"] == [.string(message)])
        #expect(try projection.decode(projection.encode(state)).undecodable == state.undecodable)
        let before = try ProjectionRunner(log: log, projection: projection).state(at: bad - 1).state
        #expect(before.undecodable.isEmpty && projection.render(before)["undecodable"] == nil && projection.encode(before)["undecodable"] == nil)
    }

    @Test func asOfAnEarlierSeqSeesOnlyWhatExistedThen() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.path + "/store")
        try history(log)
        try LineageIndex.catchUp(log)
        let graph = try LineageGraph(log: log, asOf: 6)
        let down = try graph.neighbours(of: "model:churn@1", upstream: false)
        #expect(down.nodes.isEmpty && down.total == 0)  // the scoring attempt succeeded later
        let now = try LineageGraph(log: log).neighbours(of: "model:churn@1", upstream: false)
        #expect(now.nodes.map(\.node) == ["attempt:2/score/1"] && now.nodes.map(\.kind) == ["scored-by"])
        // The projection as of 6 has exactly the edges of the events through 6.
        let runner = ProjectionRunner(log: log, projection: LineageProjection())
        let state = try runner.state(at: 6).state
        #expect(state.edges.allSatisfy { $0.seq <= 6 } && state.edges.count == 10)
        let full = try runner.state(at: try log.lastSeq()).state
        #expect(full.edges.count == 18)
        // The projection and the table hold the same edges.
        var rows = 0
        try log.scanTable(LineageIndex.table) { _, _ in rows += 1; return true }
        #expect(rows == 2 * full.edges.count)
    }

    @Test func neighboursAreCappedAndCounted() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.path + "/store")
        for i in 1 ... 30 {
            _ = try log.append([NewEvent(type: RunEvents.runRequested, payload: ["run": .string(String(i)), "job": "j", "job_version": 1, "catalog_seq": 1, "parameters": [:],
                                                                                 "trigger": ["type": "manual"], "stages": []])],
                               to: "run/\(i)")
        }
        try LineageIndex.catchUp(log, through: 20)
        let q = LineageQuery(graph: try LineageGraph(log: log))
        let a = try q.answer(root: "definition:job/j@1", upstream: false, downstream: true, depth: 1, limit: 25)
        #expect(a.downstream?.children.count == 25 && a.downstream?.more == 5)
        #expect(a.text.contains("… 5 more (raise --limit)"))
        let (all, total) = try q.graph.neighbours(of: "definition:job/j@1", upstream: false)
        #expect(all.count == 30 && total == 30)
        #expect(all.map(\.seq) == Array(1 ... 30))
    }

    @Test func resolveNamesNodesAndRefusesUnknownOnes() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.path + "/store")
        try history(log)
        _ = try log.append([NewEvent(type: RunEvents.datasetVersionWritten, payload: ["dataset": "scores", "run": "2", "stage": "score", "attempt": 1])],
                           to: "dataset/scores")
        let q = LineageQuery(graph: try LineageGraph(log: log))
        #expect(try q.resolve("dataset:scores") == "dataset:scores@1")
        #expect(try q.resolve("dataset:crm") == "dataset:crm")
        #expect(try q.resolve("model:churn") == "model:churn@1")
        // A definition named with its version is that version (it is in the graph).
        #expect(try q.resolve("definition:job/train@1") == "definition:job/train@1")
        #expect(try q.resolve("rule:trigger/high@1") == "rule:trigger/high@1")
        #expect(throws: LineageError.self) { try q.resolve("definition:job/train@7") }
        #expect(try q.resolve("run:2") == "run:2")
        for bad in ["scores", "dataset:", "dataset:scores@2", "dataset:nothing", "model:none", "run:99", "attempt:9/x/1", "table:x"] {
            #expect(throws: LineageError.self, "\(bad)") { try q.resolve(bad) }
        }
    }

    /// Model nodes are found by the seq of their edges and by reading the stream backwards, both
    /// from the table and from the tail, and as of an earlier moment.
    @Test func modelVersionsAndAliasesResolveAsOfAnyMoment() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.path + "/store")
        // 40 versions (more than one backward chunk), the alias moved to every third one.
        var aliasAt: [UInt64: Int64] = [:]
        for v in Int64(1) ... 40 {
            _ = try log.append([registration(UInt64(v), run: "t\(v)", stage: "fit", dataset: "crm", metrics: ["auc": .double(0.5 + Double(v) / 100)]).event()],
                               to: "model/churn")
            if v % 3 == 1 {
                let r = try log.append([ModelAliasMoved(model: "churn", alias: "production", version: UInt64(v), previous: nil, by: "cli:ann").event()],
                                       to: "model/churn")
                aliasAt[r.firstSeq!] = v
            }
        }
        _ = try log.append([NewEvent(type: "Other", payload: [:])], to: "elsewhere")
        func check(_ indexed: Bool) throws {
            #expect(try log.checkpoint(LineageIndex.checkpoint) == (indexed ? try log.lastSeq() : 0))
            let q = LineageQuery(graph: try LineageGraph(log: log))
            #expect(try q.resolve("model:churn") == "model:churn@40")
            #expect(try q.resolve("model:churn@7") == "model:churn@7")
            #expect(try q.resolve("model:churn@production") == "model:churn@40")
            let d = try q.describe("model:churn@7")
            #expect(d.data["metrics"]?["auc"]?.doubleValue == 0.5 + 7.0 / 100 && d.label.hasPrefix("model churn v7 (logistic_regression"))
            for bad in ["model:churn@41", "model:churn@0", "model:churn@staging", "model:other"] {
                #expect(throws: LineageError.self, "\(bad)") { try q.resolve(bad) }
            }
            // As of the alias's third move (to version 7), before version 8 was registered.
            let (seq, v) = aliasAt.sorted { $0.key < $1.key }[2]
            #expect(v == 7)
            let then = LineageQuery(graph: try LineageGraph(log: log, asOf: seq))
            #expect(try then.resolve("model:churn") == "model:churn@7")
            #expect(try then.resolve("model:churn@production") == "model:churn@7")
            #expect(throws: LineageError.self) { try then.resolve("model:churn@8") }
            #expect(try then.describe("model:churn@8").label == "model churn@8 (not registered)")
            // Why's model branch finds the registration the same way.
            #expect(try Why(log: log).modelChain("churn", 33).first?.text == "model churn v33 trained in run t33 on crm")
        }
        try check(false)
        try LineageIndex.catchUp(log)
        try check(true)
    }

    /// A definition or rule named without a version is its newest one as of the moment; one
    /// whose newest version is a removal is refused with the version to name instead.
    @Test func definitionsWithoutAVersionResolveToTheNewest() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.path + "/store")
        func definition(_ type: String, _ kind: String, _ name: String, _ v: Int64) throws -> UInt64 {
            try log.append([NewEvent(type: type, payload: ["kind": .string(kind), "name": .string(name), "version": .int(v)])], to: "definition/\(kind)/\(name)").firstSeq!
        }
        let first = try definition(CatalogEvents.applied, "job", "j", 1)
        _ = try definition(CatalogEvents.applied, "job", "j", 2)
        _ = try definition(CatalogEvents.applied, "trigger", "t", 1)
        _ = try definition(CatalogEvents.removed, "trigger", "t", 2)
        let q = LineageQuery(graph: try LineageGraph(log: log))
        #expect(try q.resolve("definition:job/j") == "definition:job/j@2")
        #expect(try LineageQuery(graph: try LineageGraph(log: log, asOf: first)).resolve("definition:job/j") == "definition:job/j@1")
        // The trigger's newest version is its removal.
        let removed = #expect(throws: LineageError.self) { try q.resolve("rule:trigger/t") }
        #expect(removed?.description == "trigger 't' was removed at version 2 (seq 4); name an earlier version, e.g. rule:trigger/t@1")
        #expect(throws: LineageError.self) { try q.resolve("definition:job/none") }
        #expect(throws: LineageError.self) { try q.resolve("definition:job") }
    }

    /// Every kind of start ends the chain with who or what started it; dependencies and reruns
    /// lead on to the runs they followed.
    @Test func whyEndsWithWhoOrWhatStartedTheFirstRun() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.path + "/store")
        func request(_ run: String, _ job: String, _ trigger: Value, actor: String = "engine") throws {
            _ = try log.append([NewEvent(type: RunEvents.runRequested, payload: ["run": .string(run), "job": .string(job), "job_version": 1, "catalog_seq": 1, "parameters": [:],
                                                                                 "trigger": trigger, "stages": []])], to: "run/\(run)", actor: actor)
        }
        try request("1", "extract", ["type": "manual", "by": "cli:ann"])
        try request("2", "load", ["type": "dependency", "dependency": "load_after_extract", "after_runs": ["1"]])
        try request("3", "load", ["type": "rerun", "rerun_of": "2", "by": "cli:bob"])
        try request("4", "nightly", ["type": "schedule", "schedule": "nightly", "tick": "2026-12-03T02:00:00Z"], actor: "scheduler")
        try request("5", "ingest", ["type": "sensor", "sensor": "landing", "file": "in/2026-12-03.csv.done"], actor: "sensor")
        let why = Why(log: log)
        func chain(_ run: String) throws -> [String] { try why.explain(run: run).map { "\($0.kind): \($0.text.split(separator: " ", maxSplits: 1).last ?? "")" } }
        #expect(try why.explain(run: "3").map(\.kind) == ["run", "rerun", "run", "dependency", "run", "manual"])
        #expect(try chain("3").last == "manual: by cli:ann")
        #expect(try why.explain(run: "3")[1].text == "rerun of run 2 from its failure, asked by cli:bob")
        #expect(try why.explain(run: "2")[1].text == "dependency load_after_extract after run 1 finished")
        #expect(try why.explain(run: "4").map(\.text).last == "schedule nightly ticked for 2026-12-03T02:00:00Z (its tick event was not found)")
        #expect(try why.explain(run: "5").map(\.text).last == "sensor landing saw in/2026-12-03.csv.done")
        #expect(throws: WhyError.self) { try why.explain(run: "6") }
    }

    @Test func tablesRefuseOversizedRowsAndKeepPairsOnce() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.path + "/store")
        try log.addToTable("t", [([1], [1, 2]), ([1], [1, 2]), ([1], [0, 9]), ([2], [5])], checkpoint: "table:t", seq: 0)
        #expect(try log.tableValues("t", key: [1]).values == [[0, 9], [1, 2]])
        #expect(try log.tableValues("t", key: [1], prefix: [1]).values == [[1, 2]])
        #expect(try log.tableValues("other", key: [1]).count == 0)
        #expect(throws: EventLogError.self) { try log.addToTable("t", [([1], [UInt8](repeating: 1, count: 600))], checkpoint: "table:t", seq: 1) }
        #expect(try log.tableValues("t", key: [1]).count == 2)  // nothing of the refused batch
        #expect(throws: EventLogError.self) { try log.addToTable("", [], checkpoint: "table:t", seq: 1) }
        #expect(try log.dropTable("t", checkpoint: "table:t") == 3)
        #expect(try log.tableValues("t", key: [2]).count == 0)
    }
}

/// `why` on a scheduled run: the schedule, the version that decided, the nominal time in UTC and
/// local time, daylight saving and catch-up — from the tick recorded in the run's append.
@Suite struct ScheduledWhyTests {
    @Test func whyNamesTheScheduleItsVersionTheTickInUTCAndLocalTimeAndTheCatchUp() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.path + "/store")
        let spec: Value = ["cron": "30 2 * * *", "timezone": "Europe/Berlin", "job": "nightly"]
        _ = try log.append([DefinitionApplied(kind: "schedule", name: "s", version: 1, spec: spec, specHash: "x", file: nil).event()],
                           to: "definition/schedule/s", actor: "test")
        let nominal = Timestamp.parse("2026-03-29T01:00:00Z") ?? 0
        var trigger = RunTrigger(.schedule, by: "schedule:s")
        trigger.schedule = "s"
        trigger.scheduleVersion = 1
        trigger.tick = "2026-03-29T01:00:00Z"
        let tick = ScheduleTicked(schedule: "s", scheduleVersion: 1, nominal: nominal, local: "2026-03-29 03:00 +02:00", timezone: "Europe/Berlin",
                                  adjustment: .shiftedPastGap, wallTime: "2026-03-29 02:30", job: "nightly", firedAt: nominal + 3_600_000_000,
                                  run: "1", catchUp: true)
        let request = RunRequested(run: "1", job: "nightly", jobVersion: 1, catalogSeq: 1, parameters: ["scheduled_time": "2026-03-29T01:00:00Z"],
                                   trigger: trigger, stages: [])
        // As the engine appends them: the schedule's stream first, then the run, in one append.
        try log.append([StreamAppend(stream: "schedule/s", expectedVersion: .noStream, events: [tick.event()]),
                        StreamAppend(stream: "run/1", expectedVersion: .noStream, events: [request.event()])], actor: "engine")
        let steps = try Why(log: log).explain(run: "1")
        #expect(steps.map(\.kind) == ["run", "schedule"])
        #expect(steps[1].seq == 2)
        #expect(steps[1].text == "schedule s v1 (cron '30 2 * * *' in Europe/Berlin) ticked for 2026-03-29T01:00:00Z (2026-03-29 03:00 +02:00 Europe/Berlin); "
            + "its local time 2026-03-29 02:30 did not exist (clocks sprang forward): fired at the end of the gap; "
            + "caught up: it ran late (missed while the engine was down, or a newer tick was due)")
        #expect(steps[1].data["tick_seq"] == .int(2))
    }
}
