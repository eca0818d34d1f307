import Domain
import Models
import Testing

/// The automation state's snapshot value (the automation projection's): it decodes to the state
/// it encoded, and a malformed one fails naming the field.
@Suite struct AutomationStateValueTests {
    @Test func roundTripsWithKeysPendingActionsAndConsumedSources() throws {
        var state = AutomationState()
        // A monitor crossing that asks for a run and an alert; its run is recorded, its alert not yet.
        state.evolve(recorded(10, "monitor/accuracy_floor", version: 1, ThresholdCrossed.example.event(causation: 9, correlation: 3)))
        let fired = TriggerFired(rule: ThresholdCrossed.example.rule, crossing: 10, job: "train_churn", run: "4")
        state.evolve(recorded(11, "monitor/accuracy_floor", version: 2, fired.event(causation: 10, correlation: 3)))
        // A trigger crossing waiting for its run.
        let crossed = ThresholdCrossed(rule: RuleRef(kind: "trigger", name: "high_churn", version: 2), subject: "c-1", observed: .object([("p", .double(0.95))]),
                                       threshold: .condition("p > 0.9"), sourceEvent: 12, sourceRun: "5", dedupeKey: "5/c-1", message: "high",
                                       action: ThresholdCrossed.Action(run: "followup", parameters: .object([("customer", "c-1")])))
        state.evolve(recorded(13, "trigger/high_churn", version: 1, crossed.event(causation: 12, correlation: 3)))
        // A retraining policy acted on a dataset version.
        let retrain = TriggerFired(rule: RuleRef(kind: "retrain_policy", name: "churn"), crossing: 14, job: "train_churn", run: "6")
        state.evolve(recorded(15, "retrain/churn", version: 1, retrain.event(causation: 14, correlation: 3)))
        #expect(state.pending.count == 2 && state.pending[10]?.job == nil && state.pending[10]?.team == "ml" && state.pending[13]?.job == "followup")
        #expect(state.consumedSources["retrain/churn"] == [14] && state.keys["trigger/high_churn"] == ["5/c-1"])

        let back = try AutomationState(value: state.value)
        #expect(back == state)
        // Through the canonical bytes, as a snapshot stores it.
        #expect(try AutomationState(value: Value(canonicalBytes: state.value.canonicalBytes)) == state)
        #expect(try AutomationState(value: AutomationState().value) == AutomationState())
    }

    @Test func aMalformedSnapshotFailsNamingTheField() {
        var v = AutomationState().value
        v = v.setting("pending", to: .array([.object([("stream", "trigger/x"), ("crossing", "seven")])]))
        #expect(throws: DecodingFailure.self) { try AutomationState(value: v) }
        do { _ = try AutomationState(value: v) } catch { #expect("\(error)".contains("crossing")) }
        #expect(throws: DecodingFailure.self) { try AutomationState(value: .string("garbage")) }
    }
}
