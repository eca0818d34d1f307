import Domain
import Models
import Testing

/// Given recorded events, when a command is decided, then these events (no storage).
/// `new` as recorded at `seq` in `stream` at `version` (correlation 3).
func recorded(_ seq: UInt64, _ stream: String, version: UInt64, _ new: NewEvent) -> RecordedEvent {
    RecordedEvent(seq: seq, recordedAtMicros: Int64(seq), stream: stream, streamVersion: version, type: new.type, causation: new.causation,
                  correlation: 3, payload: new.payload)
}

func recorded(_ events: [(String, String, Value)]) -> [RecordedEvent] {
    var versions: [String: UInt64] = [:]
    return events.enumerated().map { i, e in
        versions[e.0, default: 0] += 1
        return RecordedEvent(seq: UInt64(i + 1), recordedAtMicros: Int64(i + 1) * 1000, stream: e.0, streamVersion: versions[e.0] ?? 1,
                             type: e.1, payload: e.2)
    }
}

func registered(_ model: String, _ version: Int64, accuracy: Double = 0.9) -> (String, String, Value) {
    var r = ModelVersionRegistered.example
    r.model = model
    r.version = UInt64(version)
    r.metrics = ["accuracy": .double(accuracy)]
    return ("model/\(model)", ModelVersionRegistered.type, r.payload)
}

func moved(_ model: String, _ alias: String, to version: UInt64, previous: UInt64? = nil) -> (String, String, Value) {
    ("model/\(model)", ModelAliasMoved.type, ModelAliasMoved(model: model, alias: alias, version: version, previous: previous, by: "t").payload)
}

/// A registration as a train stage hands it over: everything but model and version.
func registration(_ model: String, aliases: [String] = []) -> ModelDecider.Registration {
    .init(ModelVersionRegistered.example, wantedAliases: aliases).renamed(model)
}

extension ModelDecider.Registration {
    func renamed(_ model: String) -> Self {
        var r = self
        r.model = model
        return r
    }
}

func fold(_ events: [RecordedEvent]) -> ModelsState {
    var s = ModelsState()
    for e in events { s.evolve(e) }
    return s
}

@Suite struct ModelDeciderTests {
    @Test func firstRegistrationIsVersionOneAndSetsWantedAliases() throws {
        let (version, events, expected) = try ModelDecider.register(ModelsState(), registration("churn", aliases: ["production"]),
                                                                   causation: 7, correlation: 3, by: "engine:x")
        #expect(version == 1 && expected == 0)
        #expect(events.map(\.type) == [MLEvents.modelVersionRegistered, MLEvents.modelAliasMoved])
        let r = try events[0].decode(ModelVersionRegistered.self)
        #expect(r.model == "churn" && r.version == 1)
        let moved = try events[1].decode(ModelAliasMoved.self)
        #expect(moved == ModelAliasMoved(model: "churn", alias: "production", version: 1, previous: nil, by: "engine:x",
                                         reason: "first version of a wanted alias"))
        #expect(events.allSatisfy { $0.causation == 7 && $0.correlation == 3 })
    }

    @Test func aRegistrationThatIsNotAValidEventIsRefused() {
        #expect(throws: DecodingFailure.self) {
            try ModelDecider.register(ModelsState(), .init(model: "churn", payload: [("type", "logistic_regression")], wantedAliases: []),
                                      causation: nil, correlation: nil, by: "t")
        }
    }

    @Test func laterRegistrationsCountOnAndLeaveAliasesWhereTheyAre() throws {
        let state = fold(recorded([registered("churn", 1), moved("churn", "production", to: 1)]))
        let (version, events, expected) = try ModelDecider.register(state, registration("churn", aliases: ["production"]),
                                                                   causation: nil, correlation: nil, by: "t")
        #expect(version == 2 && expected == 2)
        #expect(events.map(\.type) == [MLEvents.modelVersionRegistered])
        // A second registration in the same step counts on from the first.
        #expect(try ModelDecider.register(state, registration("churn"), pending: 1, causation: nil, correlation: nil, by: "t").version == 3)
    }

    @Test func promoteMovesAnAliasAndNamesWhereItWas() throws {
        let state = fold(recorded([registered("churn", 1), registered("churn", 2), moved("churn", "production", to: 1)]))
        let e = try ModelDecider.promote(state, model: "churn", version: 2, alias: "production", by: "ana")
        #expect(try e.decode(ModelAliasMoved.self) == ModelAliasMoved(model: "churn", alias: "production", version: 2, previous: 1, by: "ana"))
        var after = state
        after.evolve(RecordedEvent(seq: 9, recordedAtMicros: 9000, stream: "model/churn", streamVersion: 4, type: e.type, payload: e.payload))
        #expect(try after.resolve("churn@production").version == 2)
        #expect(after.models["churn"]?.aliasHistory.map(\.version) == [1, 2])
    }

    @Test(arguments: [("nope", 1, "production", "no model 'nope'"), ("churn", 5, "production", "has no version 5"),
                      ("churn", 1, "production", "already points at version 1"), ("churn", 1, "bad alias!", "is not a name")])
    func promoteRefuses(model: String, version: UInt64, alias: String, message: String) {
        let state = fold(recorded([registered("churn", 1), moved("churn", "production", to: 1)]))
        #expect(throws: ModelCommandError.self) { try ModelDecider.promote(state, model: model, version: version, alias: alias, by: "t") }
        do { _ = try ModelDecider.promote(state, model: model, version: version, alias: alias, by: "t") } catch { #expect(error.description.contains(message)) }
    }

    @Test func resolveNamesVersionsAliasesAndLatest() throws {
        let state = fold(recorded([registered("churn", 1), registered("churn", 2), moved("churn", "production", to: 1)]))
        #expect(try state.resolve("churn").version == 2)
        #expect(try state.resolve("churn@production").version == 1)
        #expect(try state.resolve("churn@2").version == 2)
        #expect(throws: ModelCommandError.self) { try state.resolve("churn@staging") }
        #expect(throws: ModelCommandError.self) { try state.resolve("fraud") }
    }

    static func snapshotState() -> ModelsState {
        fold(recorded([registered("churn", 1), moved("churn", "production", to: 1),
                       ("metrics/churn", MLEvents.metricObserved,
                        MetricObserved(model: "churn", modelVersion: 1, metric: "psi", value: 0.3, source: "drift", n: 20, feature: "tenure",
                                       run: nil, stage: nil).payload)]))
    }

    @Test func snapshotValueRoundTrips() throws {
        let state = Self.snapshotState()
        #expect(state.models["churn"]?.latestMetrics["psi:tenure"]?.value == 0.3)
        #expect(try ModelsState(value: state.value) == state)
    }

    /// A malformed snapshot fails, naming the field, instead of defaulting what is missing.
    @Test(arguments: [
        ("last_seq", "last_seq"),
        ("models.stream_version", "models[0].stream_version"),
        ("models.versions.seq", "models[0].versions[0].seq"),
        ("models.versions.artifact", "models[0].versions[0].artifact"),
        ("models.alias_history.by", "models[0].alias_history[0].by"),
        ("models.latest_metrics.value", "models[0].latest_metrics.psi:tenure.value"),
    ])
    func malformedSnapshotsFailNamingTheField(removing path: String, field: String) {
        let v = Self.removing(path.split(separator: ".").map(String.init), from: Self.snapshotState().value)
        do {
            _ = try ModelsState(value: v)
            Issue.record("decoded a snapshot without \(path)")
        } catch {
            #expect(error.eventType == ModelsState.snapshotOwner && error.field == field, "\(error)")
        }
    }

    /// `v` without the member at `path` (every element of a list, every member of `latest_metrics`).
    static func removing(_ path: [String], from v: Value) -> Value {
        guard let key = path.first else { return v }
        if path.count == 1 { return v.removing(key) }
        guard let child = v.objectMembers?.first(where: { $0.key == key })?.value else { return v }
        let rest = Array(path.dropFirst())
        let updated: Value
        if let items = child.arrayValue {
            updated = .array(items.map { removing(rest, from: $0) })
        } else if key == "latest_metrics", let members = child.objectMembers {
            updated = .members(members.map { Value.Member($0.key, removing(rest, from: $0.value)) })
        } else {
            updated = removing(rest, from: child)
        }
        return v.setting(key, to: updated)
    }

    @Test func eventsThatDoNotDecodeChangeNothingButTheSeq() {
        var bad = registered("churn", 2)
        bad.2 = bad.2.removing("artifact")
        let state = fold(recorded([registered("churn", 1), bad, ("model/churn", MLEvents.modelAliasMoved, ["model": "churn", "version": 1, "by": "t"]),
                                   ("metrics/churn", MLEvents.metricObserved, ["model": "churn", "metric": "psi", "value": "high"])]))
        #expect(state.models["churn"]?.versions.count == 1 && state.models["churn"]?.aliases.isEmpty == true)
        #expect(state.models["churn"]?.latestMetrics.isEmpty == true && state.models["churn"]?.streamVersion == 1 && state.lastSeq == 4)
    }

    @Test func lookAlikesOutsideTheModelStreamAreNotVersions() {
        // e.g. the benchmark generator's synthetic history writes these into run streams.
        var fake = registered("churn", 7)
        fake.0 = "run/r1"
        let state = fold(recorded([fake, registered("churn", 1), registered("churn", 3)]))
        #expect(state.models["churn"]?.versions.map(\.version) == [1], "only v1 is in model/churn and dense")
    }
}
