import Domain
import Models
import Testing

/// Given recorded events, when a command is decided, then these events (no storage).
func recorded(_ events: [(String, String, Value)]) -> [RecordedEvent] {
    var versions: [String: UInt64] = [:]
    return events.enumerated().map { i, e in
        versions[e.0, default: 0] += 1
        return RecordedEvent(seq: UInt64(i + 1), recordedAtMicros: Int64(i + 1) * 1000, stream: e.0, streamVersion: versions[e.0] ?? 1,
                             type: e.1, payload: e.2)
    }
}

func registered(_ model: String, _ version: Int64, accuracy: Double = 0.9) -> (String, String, Value) {
    ("model/\(model)", MLEvents.modelVersionRegistered,
     ["model": .string(model), "version": .int(version), "type": "logistic_regression", "run": "1", "stage": "train",
      "metrics": ["accuracy": .double(accuracy)], "artifact": ["sha256": "ab", "bytes": 10],
      "training_dataset": ["name": "customers", "version": 1]])
}

func fold(_ events: [RecordedEvent]) -> ModelsState {
    var s = ModelsState()
    for e in events { s.evolve(e) }
    return s
}

@Suite struct ModelDeciderTests {
    @Test func firstRegistrationIsVersionOneAndSetsWantedAliases() {
        let (version, events, expected) = ModelDecider.register(ModelsState(), .init(model: "churn", payload: [("type", "logistic_regression")], wantedAliases: ["production"]),
                                                               causation: 7, correlation: 3, by: "engine:x")
        #expect(version == 1 && expected == 0)
        #expect(events.map(\.type) == [MLEvents.modelVersionRegistered, MLEvents.modelAliasMoved])
        #expect(events[1].payload["alias"] == "production" && events[1].payload["version"] == 1)
        #expect(events.allSatisfy { $0.causation == 7 && $0.correlation == 3 })
    }

    @Test func laterRegistrationsCountOnAndLeaveAliasesWhereTheyAre() {
        let state = fold(recorded([registered("churn", 1),
                                   ("model/churn", MLEvents.modelAliasMoved, ["model": "churn", "alias": "production", "version": 1, "by": "t"])]))
        let (version, events, expected) = ModelDecider.register(state, .init(model: "churn", payload: [], wantedAliases: ["production"]),
                                                               causation: nil, correlation: nil, by: "t")
        #expect(version == 2 && expected == 2)
        #expect(events.map(\.type) == [MLEvents.modelVersionRegistered])
        // A second registration in the same step counts on from the first.
        #expect(ModelDecider.register(state, .init(model: "churn", payload: [], wantedAliases: []), pending: 1, causation: nil, correlation: nil, by: "t").version == 3)
    }

    @Test func promoteMovesAnAliasAndNamesWhereItWas() throws {
        let state = fold(recorded([registered("churn", 1), registered("churn", 2),
                                   ("model/churn", MLEvents.modelAliasMoved, ["model": "churn", "alias": "production", "version": 1, "by": "t"])]))
        let e = try ModelDecider.promote(state, model: "churn", version: 2, alias: "production", by: "ana")
        #expect(e.type == MLEvents.modelAliasMoved && e.payload["version"] == 2 && e.payload["previous"] == 1 && e.payload["by"] == "ana")
        var after = state
        after.evolve(RecordedEvent(seq: 9, recordedAtMicros: 9000, stream: "model/churn", streamVersion: 4, type: e.type, payload: e.payload))
        #expect(try after.resolve("churn@production").version == 2)
        #expect(after.models["churn"]?.aliasHistory.map(\.version) == [1, 2])
    }

    @Test(arguments: [("nope", 1, "production", "no model 'nope'"), ("churn", 5, "production", "has no version 5"),
                      ("churn", 1, "production", "already points at version 1"), ("churn", 1, "bad alias!", "is not a name")])
    func promoteRefuses(model: String, version: UInt64, alias: String, message: String) {
        let state = fold(recorded([registered("churn", 1),
                                   ("model/churn", MLEvents.modelAliasMoved, ["model": "churn", "alias": "production", "version": 1, "by": "t"])]))
        #expect(throws: ModelCommandError.self) { try ModelDecider.promote(state, model: model, version: version, alias: alias, by: "t") }
        do { _ = try ModelDecider.promote(state, model: model, version: version, alias: alias, by: "t") } catch { #expect(error.description.contains(message)) }
    }

    @Test func resolveNamesVersionsAliasesAndLatest() throws {
        let state = fold(recorded([registered("churn", 1), registered("churn", 2),
                                   ("model/churn", MLEvents.modelAliasMoved, ["model": "churn", "alias": "production", "version": 1, "by": "t"])]))
        #expect(try state.resolve("churn").version == 2)
        #expect(try state.resolve("churn@production").version == 1)
        #expect(try state.resolve("churn@2").version == 2)
        #expect(throws: ModelCommandError.self) { try state.resolve("churn@staging") }
        #expect(throws: ModelCommandError.self) { try state.resolve("fraud") }
    }

    @Test func snapshotValueRoundTrips() {
        let state = fold(recorded([registered("churn", 1), ("model/churn", MLEvents.modelAliasMoved, ["model": "churn", "alias": "production", "version": 1, "by": "t"]),
                                   ("metrics/churn", MLEvents.metricObserved, ["model": "churn", "model_version": 1, "metric": "psi", "feature": "tenure", "value": 0.3, "source": "drift"])]))
        #expect(ModelsState(value: state.value) == state)
    }

    @Test func lookAlikesOutsideTheModelStreamAreNotVersions() {
        // e.g. the benchmark generator's synthetic history writes these into run streams.
        var fake = registered("churn", 7)
        fake.0 = "run/r1"
        let state = fold(recorded([fake, registered("churn", 1), registered("churn", 3)]))
        #expect(state.models["churn"]?.versions.map(\.version) == [1], "only v1 is in model/churn and dense")
    }
}
