import Domain
import Testing
@testable import Catalog

/// The apply decider as given/when/then: given the catalog's events, when definitions are applied,
/// then these events (and no storage is involved).
@Suite struct ApplyDeciderTests {
    let team = "kind: team\nname: ml\nemails: [ml@example.com]\n"
    let team2 = "kind: team\nname: ml\nemails: [ml@example.com, oncall@example.com]\n"
    let other = "kind: team\nname: ops\nemails: [ops@example.com]\n"

    @Test func givenAnEmptyCatalogWhenAppliedThenOneEventPerDefinition() throws {
        let defs = try definitions(team + "---\n" + other)
        let plan = ApplyPlan.decide(catalog: CatalogState(), definitions: defs, prune: false, message: "first")
        #expect(plan.changes.map(\.action) == [.create, .create])
        let appends = plan.appends
        #expect(appends.map(\.stream) == ["definition/team/ml", "definition/team/ops"])
        #expect(appends.allSatisfy { $0.expectedVersion == .noStream && $0.events.count == 1 })
        let p = appends[0].events[0].payload
        #expect(appends[0].events[0].type == CatalogEvents.applied)
        #expect(p["kind"] == "team" && p["name"] == "ml" && p["version"] == 1 && p["message"] == "first")
        #expect(p["spec"] == defs[0].spec && p["spec_hash"]?.stringValue == defs[0].specHash)
    }

    @Test func givenTheSameDefinitionsWhenAppliedAgainThenNothing() throws {
        var state = CatalogState()
        let defs = try definitions(team)
        fold(ApplyPlan.decide(catalog: state, definitions: defs, prune: false, message: nil), into: &state, firstSeq: 1)
        let again = ApplyPlan.decide(catalog: state, definitions: try definitions(team), prune: false, message: nil)
        #expect(again.changes.isEmpty && again.appends.isEmpty && again.count(.unchanged) == 1)
    }

    @Test func givenADefinitionWhenChangedThenAnUpdateWithItsDiffAtTheNextVersion() throws {
        var state = CatalogState()
        fold(ApplyPlan.decide(catalog: state, definitions: try definitions(team), prune: false, message: nil), into: &state, firstSeq: 1)
        let plan = ApplyPlan.decide(catalog: state, definitions: try definitions(team2), prune: false, message: "add oncall")
        let item = try #require(plan.changes.first)
        #expect(item.action == .update && item.fromVersion == 1 && item.toVersion == 2)
        #expect(item.diff.map(\.description) == [#"~ emails: ["ml@example.com"] → ["ml@example.com","oncall@example.com"]"#])
        #expect(plan.appends[0].expectedVersion == .exact(1))
    }

    @Test func givenPruneWhenADefinitionIsMissingThenItIsRemovedAndARecreationContinuesItsVersions() throws {
        var state = CatalogState()
        fold(ApplyPlan.decide(catalog: state, definitions: try definitions(team + "---\n" + other), prune: false, message: nil), into: &state, firstSeq: 1)
        // Without --prune, a missing definition stays.
        #expect(ApplyPlan.decide(catalog: state, definitions: try definitions(team), prune: false, message: nil).changes.isEmpty)
        let prune = ApplyPlan.decide(catalog: state, definitions: try definitions(team), prune: true, message: "drop ops")
        #expect(prune.changes.map(\.action) == [.delete] && prune.changes[0].key == DefinitionKey(.team, "ops"))
        #expect(prune.appends[0].events[0].type == CatalogEvents.removed && prune.appends[0].expectedVersion == .exact(1))
        fold(prune, into: &state, firstSeq: 3)
        #expect(state.entries[DefinitionKey(.team, "ops")] == nil && state.streamVersion(DefinitionKey(.team, "ops")) == 2)
        let back = ApplyPlan.decide(catalog: state, definitions: try definitions(other), prune: false, message: nil)
        #expect(back.changes.map(\.action) == [.create] && back.changes[0].toVersion == 3)
        #expect(back.appends[0].expectedVersion == .exact(2))
    }

    @Test func evolveIgnoresOtherEventsAndUnknownKinds() {
        var state = CatalogState()
        state.evolve(RecordedEvent(seq: 1, recordedAtMicros: 1, stream: "run/1", streamVersion: 1, type: "RunRequested", payload: ["job": "x"]))
        state.evolve(RecordedEvent(seq: 2, recordedAtMicros: 2, stream: "definition/widget/a", streamVersion: 1, type: CatalogEvents.applied,
                                   payload: ["kind": "widget", "name": "a", "version": 1, "spec": [:]]))
        #expect(state == CatalogState())
    }
}

@Suite struct SpecDiffTests {
    @Test func namedListItemsAreMatchedByName() {
        let old: Value = ["stages": [["name": "a", "type": "etl"], ["name": "b", "type": "etl", "retry": ["attempts": 2]]]]
        let new: Value = ["stages": [["name": "a", "type": "etl"], ["name": "b", "type": "etl", "retry": ["attempts": 5]], ["name": "c", "type": "script"]]]
        #expect(SpecDiff.changes(from: old, to: new).map(\.description) == [
            "~ stages[b].retry.attempts: 2 → 5",
            #"+ stages[c]: {"name":"c","type":"script"}"#,
        ])
    }

    @Test func reorderedItemsAreReported() {
        let old: Value = ["stages": [["name": "a"], ["name": "b"]]]
        let new: Value = ["stages": [["name": "b"], ["name": "a"]]]
        #expect(SpecDiff.changes(from: old, to: new).map(\.description) == [#"~ stages order: ["a","b"] → ["b","a"]"#])
    }

    @Test func listsOfObjectsWithoutNamesAreComparedByPosition() {
        let old: Value = ["rows": [["a": 1]]]
        let new: Value = ["rows": [["a": 2], ["a": 3]]]
        #expect(SpecDiff.changes(from: old, to: new).map(\.description) == ["~ rows[0].a: 1 → 2", #"+ rows[1]: {"a":3}"#])
    }
}
