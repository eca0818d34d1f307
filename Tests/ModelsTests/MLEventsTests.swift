import Domain
import Models
import Testing

/// The ML and automation event types, for the checks every type passes.
let mlEventTypes: [any DomainEvent.Type] = [ModelVersionRegistered.self, ModelAliasMoved.self, PredictionRecorded.self, MetricObserved.self,
                                            ThresholdCrossed.self, TriggerFired.self, AlertRaised.self]

/// The decoding failure of `payload` as `E`, or nil when it decodes.
func failure<E: DomainEvent>(_: E.Type, _ payload: Value) -> DecodingFailure? {
    do throws(DecodingFailure) {
        _ = try E(payload)
        return nil
    } catch {
        return error
    }
}

/// The member names of an object value.
func keys(_ v: Value?) -> Set<String> { Set((v?.objectMembers ?? []).map(\.key)) }

/// The member `key` of an object value.
func member(_ v: Value, _ key: String) -> Value? { v.objectMembers?.first { $0.key == key }?.value }

@Suite struct MLEventsTests {
    @Test func typeNamesAreTheStoredOnes() {
        #expect(MLEvents.modelVersionRegistered == "ModelVersionRegistered" && MLEvents.modelAliasMoved == "ModelAliasMoved"
                && MLEvents.predictionRecorded == "PredictionRecorded" && MLEvents.metricObserved == "MetricObserved"
                && MLEvents.thresholdCrossed == "ThresholdCrossed" && MLEvents.triggerFired == "TriggerFired" && MLEvents.alertRaised == "AlertRaised")
        #expect(MLEvents.types == Set(mlEventTypes.map { $0.type }))
        #expect(MLEvents.all.map { $0.type } == mlEventTypes.map { $0.type })
        #expect(MLEvents.registryTypes == [ModelVersionRegistered.type, ModelAliasMoved.type, MetricObserved.type])
        #expect(MLEvents.automationTypes == [ThresholdCrossed.type, TriggerFired.type, AlertRaised.type])
        #expect(mlEventTypes.allSatisfy { $0.schema == MLEvents.schemaVersion })
        #expect(MLEvents.stream(model: "churn") == "model/churn" && MLEvents.stream(predictionsOfRun: "3") == "predictions/3"
                && MLEvents.stream(metricsOf: "churn") == "metrics/churn" && MLEvents.stream(rule: "monitor", "floor") == "monitor/floor"
                && MLEvents.stream(alertsFor: "ml") == "alerts/ml")
    }

    @Test func examplesRoundTrip() throws {
        func check<E: DomainEvent>(_: E.Type) throws {
            #expect(try E(E.example.payload) == E.example, "\(E.type)")
            let new = E.example.event(causation: 4, correlation: 2)
            #expect(new.type == E.type && new.schemaVersion == E.schema && new.causation == 4 && new.correlation == 2)
            #expect(try new.decode(E.self) == E.example)
            let recorded = RecordedEvent(seq: 9, recordedAtMicros: 1, stream: "s", streamVersion: 1, type: E.type, payload: new.payload)
            #expect(try recorded.decode(E.self) == E.example)
            #expect(try recorded.decodeIf(E.self) == E.example)
            // Through the canonical bytes, as stored.
            #expect(try E(Value(canonicalBytes: E.example.payload.canonicalBytes)) == E.example)
        }
        for t in mlEventTypes { try check(t) }
    }

    @Test func examplePayloadsHaveExactlyTheDocumentedFields() {
        func check<E: DomainEvent>(_: E.Type) {
            let doc = E.documentation
            let payload = E.example.payload
            #expect(keys(payload) == Set(doc.fields.map(\.name)), "\(E.type)")
            #expect(doc.fields.count == Set(doc.fields.map(\.name)).count, "\(E.type): a field documented twice")
            #expect(!doc.summary.isEmpty && !doc.stream.isEmpty && doc.fields.allSatisfy { !$0.summary.isEmpty && !$0.type.isEmpty })
            for field in doc.fields where !field.fields.isEmpty {
                #expect(keys(member(payload, field.name)) == Set(field.fields.map(\.name)), "\(E.type).\(field.name)")
            }
        }
        for t in mlEventTypes { check(t) }
    }

    @Test func aMissingRequiredFieldFailsNamingTheTypeAndTheField() {
        func check<E: DomainEvent>(_: E.Type) {
            let payload = E.example.payload
            for field in E.documentation.fields {
                let f = failure(E.self, payload.removing(field.name))
                if field.required && !field.type.hasSuffix("or null") {
                    #expect(f?.eventType == E.type && f?.field == field.name, "\(E.type) without \(field.name)")
                    #expect(f?.description.contains(E.type) == true && f?.description.contains("'\(field.name)'") == true)
                } else {
                    // Optional, or always written but possibly null (absent reads as null).
                    #expect(f == nil, "\(E.type) without \(field.name): \(f.map(\.description) ?? "")")
                }
                // Required members of nested objects too.
                for sub in field.fields where sub.required && !sub.type.hasSuffix("or null") {
                    guard let nested = member(payload, field.name), nested.objectMembers != nil else { continue }
                    let g = failure(E.self, payload.setting(field.name, to: nested.removing(sub.name)))
                    #expect(g?.eventType == E.type && g?.field == "\(field.name).\(sub.name)", "\(E.type) without \(field.name).\(sub.name)")
                }
            }
        }
        for t in mlEventTypes { check(t) }
    }

    @Test func aFieldOfTheWrongTypeFailsNamingTheTypeAndTheField() {
        func check<E: DomainEvent>(_: E.Type) {
            // No field of these events is a boolean (and none takes any value).
            for field in E.documentation.fields {
                let f = failure(E.self, E.example.payload.setting(field.name, to: true))
                #expect(f?.eventType == E.type && f?.field == field.name && f?.found == "true", "\(E.type).\(field.name) = true")
                #expect(f?.description.contains(E.type) == true && f?.description.contains("'\(field.name)'") == true)
            }
            #expect(failure(E.self, .array([]))?.field == "", "\(E.type): a list is no payload")
        }
        for t in mlEventTypes { check(t) }
        // Integers that are negative or fractional are no versions or seqs.
        #expect(failure(ModelAliasMoved.self, ModelAliasMoved.example.payload.setting("version", to: -1))?.field == "version")
        #expect(failure(TriggerFired.self, TriggerFired.example.payload.setting("crossing", to: 1.5))?.field == "crossing")
        #expect(failure(ThresholdCrossed.self, ThresholdCrossed.example.payload.setting("threshold", to: ["between": 1]))?.field == "threshold")
        #expect(failure(PredictionRecorded.self, PredictionRecorded.example.payload.setting("outputs", to: 0.5))?.field == "outputs")
    }

    @Test func nullIsAbsentAndOldOptionalShapesDecode() throws {
        // Stored as explicit nulls by today's writers.
        var r = ModelVersionRegistered.example
        r.featureSpec = nil
        r.trainingDataset.version = nil
        r.target = nil
        r.command = nil
        #expect(member(r.payload, "feature_spec") == .null && member(member(r.payload, "training_dataset") ?? .null, "version") == .null)
        #expect(!keys(r.payload).contains("target") && !keys(r.payload).contains("command"))
        #expect(try ModelVersionRegistered(r.payload) == r)
        let refused = TriggerFired(rule: RuleRef(kind: "retrain_policy", name: "churn"), crossing: 3, job: "retrain", run: nil)
        #expect(member(refused.payload, "run") == .null && !keys(refused.payload).contains("error"))
        #expect(keys(member(refused.payload, "rule")) == ["kind", "name"])
        #expect(try TriggerFired(refused.payload) == refused)
        let first = ModelAliasMoved(model: "churn", alias: "production", version: 1, previous: nil, by: "engine:x")
        #expect(member(first.payload, "previous") == .null)
        #expect(try ModelAliasMoved(first.payload) == first)
        let script = PredictionRecorded(run: "1", stage: "s", attempt: 1, model: "m", modelVersion: nil, entity: "e", outputs: [:])
        #expect(member(script.payload, "model_version") == .null)
        #expect(try PredictionRecorded(script.payload) == script)
        // Integral numbers stored as doubles read as integers.
        #expect(try MetricObserved(MetricObserved.example.payload.setting("n", to: 300.0)).n == 300)
    }

    /// The hot decoders read members in key order, as stored; members out of order still decode.
    @Test func membersOutOfOrderStillDecode() throws {
        func reversed<E: DomainEvent>(_: E.Type) throws {
            guard case .members(let m) = E.example.payload else { Issue.record("no object"); return }
            #expect(try E(.members(m.reversed())) == E.example, "\(E.type)")
        }
        for t in mlEventTypes { try reversed(t) }
    }

    @Test func recordedEventsOfAnotherTypeAreRefused() throws {
        let e = RecordedEvent(seq: 5, recordedAtMicros: 1, stream: "predictions/1", streamVersion: 1, type: "StageStarted", payload: PredictionRecorded.example.payload)
        #expect(try e.decodeIf(PredictionRecorded.self) == nil)
        #expect(throws: DecodingFailure.self) { try e.decode(PredictionRecorded.self) }
        let bad = RecordedEvent(seq: 6, recordedAtMicros: 1, stream: "predictions/1", streamVersion: 1, type: PredictionRecorded.type,
                                payload: PredictionRecorded.example.payload.removing("entity"))
        do {
            _ = try bad.decode(PredictionRecorded.self)
            Issue.record("decoded a prediction without an entity")
        } catch {
            #expect(error.seq == 6 && error.description == "PredictionRecorded at seq 6: field 'entity' should be text, found nothing")
        }
    }

    @Test func predictionFieldsForConditions() {
        let p = PredictionRecorded.example
        #expect(p.field("churn_probability") == 0.93 && p.field("tenure_months") == 3)
        #expect(p.field("entity_key") == "cust-42" && p.field("entity") == "cust-42" && p.field("model_version") == 2 && p.field("attempt") == 1)
        #expect(p.field("outputs.churn_label") == 1 && p.field("inputs.tenure_months") == 3 && p.field("run.x") == nil && p.field("nope") == nil)
        let m = MetricObserved.example
        #expect(m.field("psi") == 0.27 && m.field("value") == 0.27 && m.field("feature") == "tenure_months" && m.field("model_version") == 2)
        #expect(m.field("nope") == nil)
    }

    @Test func ruleReferencesReadAndWriteTheirObject() throws {
        let rule = RuleRef(kind: "trigger", name: "high_churn", version: 3)
        #expect(rule.value == ["kind": "trigger", "name": "high_churn", "version": 3] && rule.by == "trigger:high_churn")
        #expect(try RuleRef(Fields("t", rule.value)) == rule)
        #expect(throws: DecodingFailure.self) { try RuleRef(Fields("t", ["kind": "trigger"])) }
    }
}
