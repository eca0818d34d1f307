import Catalog
import Domain
import Models
import Testing

/// The rules in force, read from the catalog's typed specs, and the stage_output triggers on a
/// typed `StageSucceeded`.
@Suite struct AutomationRulesTests {
    static func entry(_ kind: DefinitionKind, _ name: String, _ spec: Value, version: UInt64 = 1, seq: UInt64 = 1) -> CatalogEntry {
        CatalogEntry(key: DefinitionKey(kind, name), version: version, spec: spec, specHash: "", seq: seq, recordedAtMicros: 0, actor: "cli:ann", message: nil)
    }

    static func catalog(_ entries: [CatalogEntry]) -> CatalogState {
        var c = CatalogState()
        for e in entries { c.entries[e.key] = e }
        return c
    }

    static let train: Value = ["stages": [["name": "extract", "type": "etl", "source": "crm", "destination": "features"],
                                          ["name": "fit", "type": "train", "model": "churn", "after": ["extract"]]]]
    static let score: Value = ["stages": [["name": "score", "type": "inference", "model": "churn@production"]]]

    @Test func rulesComeFromTheTypedSpecs() {
        let rules = AutomationRules(catalog: Self.catalog([
            Self.entry(.trigger, "extracted", ["source": ["type": "stage_output", "job": "train_churn", "stage": "extract", "fields": ["rows"]],
                                               "condition": "rows > 10", "run": "report", "parameters": ["n": "rows", "s": "stage"]], version: 2, seq: 5),
            Self.entry(.monitor, "floor", ["model": "churn", "metric": "accuracy", "below": 0.7, "alert": "ml"]),
            Self.entry(.model, "churn", ["type": "logistic_regression", "target": "churned", "training_dataset": "features",
                                         "retrain": ["on_new_data": true]]),
            Self.entry(.model, "other", ["type": "kmeans", "training_dataset": "features"]),
            Self.entry(.job, "train_churn", Self.train),
            Self.entry(.job, "score_churn", Self.score),
        ]))
        #expect(rules.unreadable.isEmpty)
        let t = rules.triggers.first
        #expect(rules.triggers.count == 1 && t?.name == "extracted" && t?.version == 2 && t?.appliedSeq == 5)
        #expect(t?.source == "stage_output" && t?.job == "train_churn" && t?.stage == "extract" && t?.model == nil)
        #expect(t?.conditionText == "rows > 10" && t?.run == "report" && t?.dedupe == "once_per_run")
        #expect(t?.parameters.map { "\($0.param)=\($0.field)" } == ["n=rows", "s=stage"])
        let m = rules.monitors.first
        #expect(rules.monitors.count == 1 && m?.model == "churn" && m?.metric == "accuracy" && m?.below == 0.7 && m?.above == nil && m?.alert == "ml")
        #expect(rules.retrainOnNewData.count == 1)
        #expect(rules.retrainOnNewData["churn"]?.dataset == "features" && rules.retrainOnNewData["churn"]?.jobs == ["train_churn"])
    }

    /// A spec that does not read makes no rule and is kept with its failure.
    @Test func specsThatDoNotReadMakeNoRule() {
        let rules = AutomationRules(catalog: Self.catalog([
            Self.entry(.monitor, "floor", ["model": "churn", "metric": "accuracy", "below": "low"]),
            Self.entry(.trigger, "ok", ["source": ["type": "predictions", "model": "churn"], "condition": "p > 0.5", "run": "r"]),
        ]))
        #expect(rules.monitors.isEmpty && rules.triggers.count == 1)
        #expect(rules.unreadable.map(\.description) == ["monitor spec: field 'below' should be a number, found the text \"low\""])
    }

    /// A stage_output condition reads the stage's reported outputs, else the event's members
    /// (`stage`, a dotted path into `outputs`); the crossing's parameters too.
    @Test func stageOutputTriggersReadTheTypedStageEnd() throws {
        let rules = AutomationRules(catalog: Self.catalog([
            Self.entry(.trigger, "extracted", ["source": ["type": "stage_output", "job": "train_churn", "stage": "extract", "fields": ["rows"]],
                                               "condition": "rows > 10 and outputs.rows > 10 and stage == \"extract\"", "run": "report",
                                               "parameters": ["n": "rows", "s": "stage", "ms": "duration_ms"]]),
        ]))
        func end(_ seq: UInt64, rows: Int64, stage: String = "extract") -> RecordedEvent {
            let s = StageSucceeded(stage: stage, attempt: 1, durationMs: 7, outputs: ["rows": .int(rows)])
            return RecordedEvent(seq: seq, recordedAtMicros: 0, stream: "run/4", streamVersion: 3, type: StageSucceeded.type, causation: nil,
                                 correlation: 2, payload: s.event().payload)
        }
        var seen: [String: Set<String>] = [:]
        let crossed = Automation.crossings(stageOutput: end(10, rows: 20), job: "train_churn", run: "4", rules: rules, state: AutomationState(), seen: &seen)
        #expect(crossed.count == 1)
        let c = try #require(crossed.first).event.decode(ThresholdCrossed.self)
        #expect(c.subject == "train_churn.extract" && c.sourceRun == "4" && c.sourceEvent == 10)
        #expect(c.action.parameters == ["n": 20, "s": "extract", "ms": 7])
        var fresh: [String: Set<String>] = [:]
        #expect(Automation.crossings(stageOutput: end(11, rows: 5), job: "train_churn", run: "5", rules: rules, state: AutomationState(), seen: &fresh).isEmpty)
        #expect(Automation.crossings(stageOutput: end(12, rows: 20, stage: "fit"), job: "train_churn", run: "6", rules: rules, state: AutomationState(),
                                     seen: &fresh).isEmpty)
        // One that does not decode causes none.
        let bad = RecordedEvent(seq: 13, recordedAtMicros: 0, stream: "run/7", streamVersion: 3, type: StageSucceeded.type, causation: nil, correlation: 2,
                                payload: ["stage": "extract", "attempt": "1", "duration_ms": 7, "outputs": ["rows": 20]])
        #expect(Automation.crossings(stageOutput: bad, job: "train_churn", run: "7", rules: rules, state: AutomationState(), seen: &fresh).isEmpty)
    }
}
