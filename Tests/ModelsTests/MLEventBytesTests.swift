import Domain
import Models
import Testing

/// The payloads the deciders and writers append, byte for byte as the code wrote them before the
/// events were typed (the literal objects below are that code's, with its values filled in).
@Suite struct MLEventBytesTests {
    func same(_ new: Value, _ old: Value, _ comment: Comment? = nil) {
        #expect(new.canonicalBytes == old.canonicalBytes, comment)
    }

    func event(_ seq: UInt64, _ stream: String, _ new: NewEvent, correlation: UInt64 = 1) -> RecordedEvent {
        RecordedEvent(seq: seq, recordedAtMicros: Int64(seq), stream: stream, streamVersion: 1, type: new.type, causation: new.causation,
                      correlation: correlation, payload: new.payload)
    }

    /// What a train stage registers (TrainExecutor's members), for a built-in and a script model.
    static func trainPayload(datasetVersion: Value, featureSpec: Value, target: String?, command: Value?) -> [(String, Value)] {
        var payload: [(String, Value)] = [
            ("type", "logistic_regression"), ("run", "14"), ("stage", "train"), ("attempt", .int(1)),
            ("metrics", .object([("training_rows", .int(240)), ("holdout_rows", .int(60)), ("converged", .bool(true)), ("accuracy", .double(0.84))])),
            ("artifact", .object([("sha256", "9f2c"), ("bytes", .int(2167))])),
            ("training_dataset", .object([("name", "customers"), ("version", datasetVersion)])),
            ("feature_spec", featureSpec),
            ("model_definition_version", .int(2)), ("catalog_seq", .int(41)),
            ("hyperparameters", .object([("C", .double(1)), ("max_iter", .int(100)), ("threshold", .double(0.5))])),
            ("columns", .array(["tenure_months", "monthly_charges"])), ("outputs", .array(["churn_probability", "churn_label"])),
        ]
        if let target { payload.append(("target", .string(target))) }
        if let command { payload.append(("command", command)) }
        return payload
    }

    @Test(arguments: [false, true])
    func registrationAndFirstAliasAreUnchanged(script: Bool) throws {
        let pairs = script ? Self.trainPayload(datasetVersion: .null, featureSpec: .null, target: nil, command: ["python3", "m.py"])
                           : Self.trainPayload(datasetVersion: .int(3), featureSpec: .object([("name", "churn_features"), ("version", .int(1))]),
                                               target: "churned", command: nil)
        let (_, events, _) = try ModelDecider.register(ModelsState(), .init(model: "churn", payload: pairs, wantedAliases: ["production"]),
                                                       causation: 7, correlation: 3, by: "engine:x")
        same(events[0].payload, .object(pairs + [("model", .string("churn")), ("version", .int(Int64(1)))]))
        same(events[1].payload, .object([("model", .string("churn")), ("alias", .string("production")), ("version", .int(Int64(1))),
                                         ("previous", .null), ("by", .string("engine:x")), ("reason", .string("first version of a wanted alias"))]))
        #expect(events.allSatisfy { $0.schemaVersion == 1 && $0.causation == 7 && $0.correlation == 3 })
        // The typed registration writes the same.
        let typed = try ModelVersionRegistered(events[0].payload)
        let (_, again, _) = try ModelDecider.register(ModelsState(), .init(typed, wantedAliases: []), causation: 7, correlation: 3, by: "engine:x")
        same(again[0].payload, events[0].payload)
    }

    @Test(arguments: [nil, "better AUC"] as [String?])
    func promotionIsUnchanged(reason: String?) throws {
        var state = ModelsState()
        let r1 = try ModelDecider.register(state, .init(ModelVersionRegistered.example, wantedAliases: ["production"]), causation: nil, correlation: nil, by: "t")
        for (i, e) in r1.events.enumerated() { state.evolve(event(UInt64(i + 1), "model/churn", e)) }
        let r2 = try ModelDecider.register(state, .init(ModelVersionRegistered.example, wantedAliases: []), causation: nil, correlation: nil, by: "t")
        state.evolve(event(3, "model/churn", r2.events[0]))
        let e = try ModelDecider.promote(state, model: "churn", version: 2, alias: "production", by: "cli:ana", reason: reason)
        var m: [(String, Value)] = [("model", .string("churn")), ("alias", .string("production")), ("version", .int(Int64(2))),
                                    ("previous", .int(Int64(1))), ("by", .string("cli:ana"))]
        if let reason { m.append(("reason", .string(reason))) }
        same(e.payload, .object(m))
        #expect(e.type == ModelAliasMoved.type && e.causation == 2)
    }

    /// InferenceExecutor's members, in the order it appended them.
    @Test(arguments: [false, true])
    func inferencePredictionsAreUnchanged(withInputs: Bool) {
        let outputs: Value = .members([Value.Member("churn_label", .int(1)), Value.Member("churn_probability", .double(0.93))])
        let inputs: Value = .members([Value.Member("tenure_months", .int(3))])
        var members: [Value.Member] = [Value.Member("attempt", .int(1)), Value.Member("entity", .string("42"))]
        if withInputs { members.append(Value.Member("inputs", inputs)) }
        members += [Value.Member("model", .string("churn")), Value.Member("model_version", .int(2)), Value.Member("outputs", outputs),
                    Value.Member("run", .string("15")), Value.Member("stage", .string("score"))]
        let new = PredictionRecorded(run: "15", stage: "score", attempt: 1, model: "churn", modelVersion: 2, entity: "42", outputs: outputs,
                                     inputs: withInputs ? inputs : Value?.none)
        same(new.payload, .members(members))
        #expect(new.payload == .members(members), "the same members in the same order")
    }

    /// The engine's members for a prediction a script reported, nested or flat.
    @Test func scriptPredictionsAreUnchanged() throws {
        func old(_ row: Value) -> Value {
            var outputs = row["outputs"]
            if outputs == nil { outputs = .members((row.objectMembers ?? []).filter { !["entity", "model", "model_version"].contains($0.key) }) }
            return .object([("run", .string("9")), ("stage", .string("score")), ("attempt", .int(Int64(2))),
                            ("model", row["model"] ?? .string("score")), ("model_version", row["model_version"] ?? .null),
                            ("entity", .string(row["entity"]?.stringValue ?? row["entity"].map(\.jsonString) ?? "")),
                            ("outputs", outputs ?? .object([]))])
        }
        let rows: [Value] = [["entity": "a", "model": "baseline", "model_version": 3, "outputs": ["risk": 0.2]],
                             ["entity": 7, "risk": 0.4, "band": "high"], ["risk": 0.1]]
        for (i, row) in rows.enumerated() {
            let new = try PredictionRecorded(reported: row, index: i, run: "9", stage: "score", attempt: 2)
            same(new.payload, old(row), "row \(i)")
        }
        // A row that is no prediction is refused, naming it.
        do {
            _ = try PredictionRecorded(reported: ["entity": "a", "model_version": "latest"], index: 4, run: "9", stage: "score", attempt: 2)
            Issue.record("a text model version was taken")
        } catch {
            #expect(error.description == "the script's report: field 'predictions[4].model_version' should be a non-negative integer, found the text \"latest\"")
        }
    }

    /// The metrics the inference (drift), train (holdout, `registered`) and evaluate (labels) stages report.
    @Test func observedMetricsAreUnchanged() throws {
        let drift: Value = .object([("model", .string("churn")), ("model_version", .int(2)), ("metric", "psi"), ("feature", .string("tenure_months")),
                                    ("value", .double(0.27)), ("source", "drift"), ("n", .int(300)), ("run", .string("15")), ("stage", .string("score"))])
        same(MetricObserved(model: "churn", modelVersion: 2, metric: "psi", value: 0.27, source: "drift", n: 300, feature: "tenure_months",
                            run: "15", stage: "score").payload, drift)
        same(try MetricObserved(reported: drift) { _ in nil }.payload, drift)
        let holdout: Value = .object([("model", .string("churn")), ("model_version", "registered"), ("metric", .string("accuracy")), ("value", .double(0.84)),
                                      ("source", "holdout"), ("n", .int(60)), ("run", .string("14")), ("stage", .string("train"))])
        same(try MetricObserved(reported: holdout) { $0 == "churn" ? 5 : nil }.payload, holdout.setting("model_version", to: .int(5)))
        same(try MetricObserved(reported: holdout) { _ in nil }.payload, holdout.setting("model_version", to: .int(0)))
    }

    static func rules() -> AutomationRules {
        var rules = AutomationRules()
        if let t = TriggerRule(name: "high_churn", version: 3, appliedSeq: 1, spec: [
            "source": ["type": "predictions", "model": "churn"], "condition": "churn_probability > 0.9 and tenure_months < 8",
            "run": "followup", "parameters": ["customer_id": "entity_key", "p": "churn_probability"], "dedupe": "once_per_row"]) { rules.triggers.append(t) }
        if let t = TriggerRule(name: "churn_wave", version: 1, appliedSeq: 1, spec: [
            "source": ["type": "predictions", "model": "churn"], "condition": "count(churn_probability > 0.5) >= 1", "run": "wave"]) { rules.triggers.append(t) }
        if let m = MonitorRule(name: "accuracy_floor", version: 2, appliedSeq: 1, spec: [
            "model": "churn", "metric": "accuracy", "below": 0.99, "alert": "ml", "run": "train_churn"]) { rules.monitors.append(m) }
        if let m = MonitorRule(name: "tenure_drift", version: 1, appliedSeq: 1, spec: [
            "model": "churn", "metric": "psi", "feature": "tenure_months", "above": 0.2, "alert": "ml"]) { rules.monitors.append(m) }
        return rules
    }

    @Test func triggerCrossingsFiredAndAlertsAreUnchanged() throws {
        let rules = Self.rules()
        #expect(rules.triggers.count == 2 && rules.monitors.count == 2)
        let prediction = event(10, "predictions/15", PredictionRecorded.example.event(causation: 8, correlation: 5), correlation: 5)
        var seen: [String: Set<String>] = [:]
        let crossings = try Automation.crossings(prediction: prediction, rules: rules, state: AutomationState(), seen: &seen)
        #expect(crossings.count == 1 && crossings[0].stream == "trigger/high_churn" && crossings[0].key == "15/cust-42")
        let rule: Value = .object([("kind", "trigger"), ("name", .string("high_churn")), ("version", .int(3))])
        let condition = "churn_probability > 0.9 and tenure_months < 8"
        same(crossings[0].event.payload, .object([
            ("rule", rule), ("subject", .string("cust-42")),
            ("observed", .object([("churn_probability", .double(0.93)), ("tenure_months", .int(3))])), ("threshold", .string(condition)),
            ("source_event", .int(10)), ("source_run", .string("15")), ("dedupe_key", .string("15/cust-42")),
            ("message", .string("trigger high_churn: \(condition) held for cust-42")),
            ("action", .object([("run", .string("followup")), ("parameters", .object([("customer_id", .string("cust-42")), ("p", .double(0.93))]))])),
        ]))
        #expect(crossings[0].event.type == ThresholdCrossed.type && crossings[0].event.causation == 10 && crossings[0].event.correlation == 5)
        // Once per key: the same prediction again crosses nothing.
        #expect(try Automation.crossings(prediction: prediction, rules: rules, state: AutomationState(), seen: &seen).isEmpty)

        // Folded, the crossing waits for its run; then TriggerFired, as requested or refused.
        var state = AutomationState()
        state.evolve(event(11, "trigger/high_churn", crossings[0].event, correlation: 5))
        let pending = try #require(state.pending[11])
        #expect(pending.job == "followup" && pending.team == nil && pending.parameters == ["customer_id": "cust-42", "p": 0.93])
        same(Automation.fired(pending, run: "18").payload,
             .object([("rule", rule), ("crossing", .int(11)), ("job", .string("followup")), ("run", .string("18"))]))
        same(Automation.fired(pending, run: nil, error: "no such job").payload,
             .object([("rule", rule), ("crossing", .int(11)), ("job", .string("followup")), ("run", .null), ("error", .string("no such job"))]))
        state.evolve(event(12, "trigger/high_churn", Automation.fired(pending, run: "18"), correlation: 5))
        #expect(state.pending.isEmpty && state.keys["trigger/high_churn"] == ["15/cust-42"] && state.streamVersions["trigger/high_churn"] == 1)

        // The aggregate over the stage's predictions.
        let end = RecordedEvent(seq: 20, recordedAtMicros: 20, stream: "run/15", streamVersion: 9, type: "StageSucceeded", payload: ["stage": "score"])
        let wave = Automation.crossings(aggregateOver: [PredictionRecorded.example], model: "churn", run: "15", stageEnd: end, rules: rules,
                                        state: AutomationState(), seen: &seen)
        #expect(wave.count == 1)
        same(wave[0].event.payload, .object([
            ("rule", .object([("kind", "trigger"), ("name", .string("churn_wave")), ("version", .int(1))])), ("subject", .string("run 15")),
            ("observed", .object([("predictions", .int(1)), ("value", .bool(true))])), ("threshold", .string("count(churn_probability > 0.5) >= 1")),
            ("source_event", .int(20)), ("source_run", .string("15")), ("dedupe_key", .string("15")),
            ("message", .string("trigger churn_wave: count(churn_probability > 0.5) >= 1 held for run 15")),
            ("action", .object([("run", .string("wave")), ("parameters", .object([]))])),
        ]))
    }

    @Test func monitorCrossingsAndAlertsAreUnchanged() throws {
        let rules = Self.rules()
        var seen: [String: Set<String>] = [:]
        let accuracy = MetricObserved(model: "churn", modelVersion: 2, metric: "accuracy", value: 0.8, source: "labels", n: 200, run: "17", stage: "eval")
        let metric = event(30, "metrics/churn", accuracy.event(causation: 29, correlation: 6), correlation: 6)
        let crossings = try Automation.crossings(metric: metric, rules: rules, state: AutomationState(), seen: &seen)
        #expect(crossings.count == 1 && crossings[0].stream == "monitor/accuracy_floor")
        let rule: Value = .object([("kind", "monitor"), ("name", .string("accuracy_floor")), ("version", .int(2))])
        let message = "monitor accuracy_floor: churn v2 accuracy = 0.8, below 0.99"
        same(crossings[0].event.payload, .object([
            ("rule", rule), ("subject", .string("churn")), ("observed", .object([("accuracy", .double(0.8))])),
            ("threshold", .object([("below", .double(0.99))])), ("source_event", .int(30)), ("source_run", .string("17")),
            ("dedupe_key", .string("17/accuracy")), ("message", .string(message)),
            ("action", .object([("run", .string("train_churn")), ("parameters", .object([])), ("alert", .string("ml"))])),
        ]))
        var state = AutomationState()
        state.evolve(event(31, "monitor/accuracy_floor", crossings[0].event, correlation: 6))
        let pending = try #require(state.pending[31])
        same(Automation.alert(pending).payload,
             .object([("team", .string("ml")), ("rule", rule), ("crossing", .int(31)), ("message", .string(message))]))
        #expect(Automation.alert(pending).causation == 31 && Automation.alert(pending).correlation == 6)
        state.evolve(event(32, "monitor/accuracy_floor", Automation.alert(pending), correlation: 6))
        #expect(state.pending[31]?.team == nil && state.pending[31]?.job == "train_churn")

        // Drift above a limit, alert only.
        let psi = event(40, "metrics/churn", MetricObserved.example.event(), correlation: 7)
        let drift = try Automation.crossings(metric: psi, rules: rules, state: AutomationState(), seen: &seen)
        #expect(drift.count == 1)
        same(drift[0].event.payload, .object([
            ("rule", .object([("kind", "monitor"), ("name", .string("tenure_drift")), ("version", .int(1))])), ("subject", .string("churn")),
            ("observed", .object([("psi", .double(0.27))])), ("threshold", .object([("above", .double(0.2))])), ("source_event", .int(40)),
            ("source_run", .string("15")), ("dedupe_key", .string("15/psi:tenure_months")),
            ("message", .string("monitor tenure_drift: churn v2 psi(tenure_months) = 0.27, above 0.2")),
            ("action", .object([("alert", .string("ml"))])),
        ]))
    }

    /// The reactor never decides without an event it cannot read: the failure names seq, type and field.
    @Test func theReactorFailsOnEventsThatDoNotDecode() {
        var seen: [String: Set<String>] = [:]
        let prediction = RecordedEvent(seq: 44, recordedAtMicros: 1, stream: "predictions/3", streamVersion: 1, type: PredictionRecorded.type,
                                       payload: PredictionRecorded.example.payload.removing("model"))
        do {
            _ = try Automation.crossings(prediction: prediction, rules: Self.rules(), state: AutomationState(), seen: &seen)
            Issue.record("decided on a prediction without a model")
        } catch {
            #expect(error.description == "PredictionRecorded at seq 44: field 'model' should be text, found nothing")
        }
        let metric = RecordedEvent(seq: 45, recordedAtMicros: 1, stream: "metrics/churn", streamVersion: 1, type: MetricObserved.type,
                                   payload: MetricObserved.example.payload.setting("value", to: "high"))
        #expect(throws: DecodingFailure(eventType: "MetricObserved", field: "value", expected: "a number", found: "the text \"high\"", seq: 45)) {
            try Automation.crossings(metric: metric, rules: Self.rules(), state: AutomationState(), seen: &seen)
        }
    }

    /// Folding never fails: automation events that do not decode count for their stream's version only.
    @Test func automationEventsThatDoNotDecodeOnlyCountForTheStreamVersion() {
        var state = AutomationState()
        state.evolve(RecordedEvent(seq: 3, recordedAtMicros: 1, stream: "trigger/x", streamVersion: 4, type: ThresholdCrossed.type,
                                   payload: ThresholdCrossed.example.payload.removing("dedupe_key")))
        state.evolve(RecordedEvent(seq: 4, recordedAtMicros: 1, stream: "trigger/x", streamVersion: 5, type: TriggerFired.type, payload: ["rule": "x"]))
        #expect(state.streamVersions == ["trigger/x": 5] && state.keys.isEmpty && state.pending.isEmpty && state.lastSeq == 4)
    }
}
