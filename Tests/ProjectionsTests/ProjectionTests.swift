import Foundation
import Testing
import Catalog
import Domain
import EventLog
@testable import Projections
import TestSupport

// Temporary stores (`makeLog`, `TemporaryDirectory`) come from TestSupport.

func teams(_ names: [String], suffix: String = "") throws -> [Definition] {
    let text = names.map { "- {kind: team, name: \($0), emails: [\($0)\(suffix)@example.com]}" }.joined(separator: "\n")
    let (defs, errors) = DefinitionLoader.load(text: text, file: "teams.yaml")
    guard errors.isEmpty else { throw DefinitionErrors(errors) }
    return defs
}

/// Applies `defs` the way `ledgerflow apply` does; returns the plan.
@discardableResult
func apply(_ defs: [Definition], to log: EventLog, prune: Bool = false, message: String? = nil) throws -> ApplyPlan {
    let state = try ProjectionRunner(log: log, projection: CatalogProjection()).current().state
    let plan = ApplyPlan.decide(catalog: state, definitions: defs, prune: prune, message: message)
    if !plan.changes.isEmpty { try log.append(plan.appends, actor: "test", correlation: .shared) }
    return plan
}

/// Appends wait on the log's writer thread: a time limit.
@Suite(.timeLimit(.minutes(1))) struct CatalogProjectionTests {
    @Test func applyThenTheCatalogHoldsTheDefinitionsAndTheirVersions() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        try apply(try teams(["a", "b", "c"]), to: log, message: "first")
        // Unrelated events in between are skipped by the fold.
        try log.append([NewEvent(type: "RunRequested", payload: ["job": "x"])], to: "run/1")
        try apply(try teams(["a"], suffix: "2"), to: log)
        try apply(try teams(["a"]), to: log, prune: true)
        let fold = try ProjectionRunner(log: log, projection: CatalogProjection()).current()
        #expect(Set(fold.state.entries.keys.map(\.name)) == ["a"])
        let a = try #require(fold.state.entries[DefinitionKey(.team, "a")])
        #expect(a.version == 3 && a.seq == 6 && a.actor == "test" && a.spec["emails"] == ["a@example.com"])
        #expect(fold.state.streamVersion(DefinitionKey(.team, "b")) == 2)
        #expect(fold.state.lastChangeSeq == 8)
        // One correlation per apply: the three creates share seq 1's; the last apply (an update and two deletes) seq 6's.
        let corr = try log.read().map(\.correlation)
        #expect(corr == [1, 1, 1, 4, 5, 6, 6, 6])
    }

    @Test func stateAtAnySeqIsTheSameWithAndWithoutSnapshots() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        var runner = ProjectionRunner(log: log, projection: CatalogProjection())
        runner.snapshotEvery = 7
        var generator = SplitMix64.forRun()
        for round in 0 ..< 12 {
            let names = (0 ..< 6).filter { _ in Bool.random(using: &generator) }.map { "t\($0)" }
            try apply(try teams(names.isEmpty ? ["t0"] : names, suffix: "-\(round % 3)"), to: log, prune: round % 4 == 3)
            try log.append([NewEvent(type: "Noise", payload: ["round": .int(Int64(round))])], to: "noise")
        }
        let rebuilt = try runner.rebuild()
        #expect(rebuilt.snapshotsWritten >= 2, "\(generator)")
        let snaps = try log.snapshots("catalog")
        #expect(snaps.count == rebuilt.snapshotsWritten && snaps.last?.seq == rebuilt.through)
        #expect(try log.checkpoint(runner.checkpointName) == rebuilt.through)
        for seq in 0 ... rebuilt.through {
            let with = try runner.state(at: seq)
            let without = try runner.state(at: seq, useSnapshots: false)
            #expect(with.state == without.state, "at seq \(seq), \(generator)")
            if let s = with.fromSnapshot { #expect(s <= seq) }
        }
    }

    @Test func rebuildEndsWithASnapshotAtTheHeadEvenAfterOtherEvents() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        var runner = ProjectionRunner(log: log, projection: CatalogProjection())
        runner.snapshotEvery = 4
        try apply(try teams(["a", "b", "c", "d"]), to: log) // seqs 1–4: a snapshot falls on seq 4
        try log.append([NewEvent(type: "Noise", payload: nil)], to: "noise") // seq 5
        let rebuilt = try runner.rebuild()
        #expect(rebuilt.through == 5 && rebuilt.snapshotsWritten == 2)
        #expect(try log.snapshots("catalog").map(\.seq) == [4, 5])
        #expect(try log.checkpoint(runner.checkpointName) == 5)
    }

    @Test func stateAsOfATime() throws {
        let clock = ManualClock()
        let (log, dir) = try makeLog(clock: clock)
        defer { withExtendedLifetime(dir) {} }
        try apply(try teams(["a"]), to: log)
        clock.advance(bySeconds: 1)
        let between = clock.date
        clock.advance(bySeconds: 1)
        try apply(try teams(["a", "b"], suffix: "x"), to: log)
        let runner = ProjectionRunner(log: log, projection: CatalogProjection())
        let then = try runner.state(asOf: between)
        #expect(then.through == 1 && then.state.entries.count == 1 && then.state.entries.first?.value.version == 1)
        #expect(try runner.state(asOf: Date(timeIntervalSince1970: 0)).state.entries.isEmpty)
        #expect(try runner.state(asOf: clock.date).state.entries.count == 2)
    }

    @Test func snapshotsOfAnotherVersionAreIgnored() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        try apply(try teams(["a"]), to: log)
        // A snapshot written by a (hypothetical) other version of the projection, claiming nothing exists.
        try log.writeSnapshot("catalog", seq: 1, version: 99, state: ["entries": [], "removed": [], "last_change_seq": 0])
        let fold = try ProjectionRunner(log: log, projection: CatalogProjection()).state(at: 1)
        #expect(fold.fromSnapshot == nil && fold.state.entries.count == 1)
    }

    @Test func encodeDecodeRoundTrips() throws {
        var state = CatalogState()
        let defs = try teams(["a", "b"])
        let plan = ApplyPlan.decide(catalog: state, definitions: defs, prune: false, message: "m")
        var seq: UInt64 = 1
        for a in plan.appends {
            for e in a.events {
                state.evolve(RecordedEvent(seq: seq, recordedAtMicros: 5, stream: a.stream, streamVersion: 1, type: e.type, payload: e.payload))
                seq += 1
            }
        }
        state.removedVersions[DefinitionKey(.job, "gone")] = 4
        let p = CatalogProjection()
        #expect(try p.decode(p.encode(state)) == state)
    }

    @available(macOS 15.0, *)
    @Test func followSeesNewDefinitions() async throws {
        try await withDedicatedExecutor { executor in
            let (log, dir) = try makeLog()
            defer { withExtendedLifetime(dir) {} }
            try apply(try teams(["a"]), to: log)
            let runner = ProjectionRunner(log: log, projection: CatalogProjection())
            let start = try runner.current()
            let seen = Locked<[Int]>([])
            let task = Task(executorPreference: executor) {
                try await runner.follow(from: start) { state, _ in
                    seen.withLock { $0.append(state.entries.count) }
                    return seen.withLock { $0.count } < 2
                }
            }
            defer { task.cancel() }
            try apply(try teams(["a", "b"]), to: log)
            try apply(try teams(["a", "b", "c"]), to: log)
            try await waitUntil("the follower to see both applies") { seen.withLock { $0.count } >= 2 }
            try await task.value
            #expect(seen.withLock { $0 } == [2, 3])
        }
    }
}

/// Appends wait on the log's writer thread: a time limit.
@Suite(.timeLimit(.minutes(1))) struct SnapshotStoreTests {
    @Test func nearestSnapshotAtOrBefore() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        for seq: UInt64 in [10, 20, 30] { try log.writeSnapshot("p", seq: seq, version: 1, state: ["at": .int(Int64(seq))]) }
        try log.writeSnapshot("p2", seq: 15, version: 1, state: ["other": true])
        #expect(try log.snapshot("p", atOrBefore: 9, version: 1) == nil)
        #expect(try log.snapshot("p", atOrBefore: 10, version: 1)?.state == ["at": 10])
        #expect(try log.snapshot("p", atOrBefore: 29, version: 1)?.state == ["at": 20])
        #expect(try log.snapshot("p", atOrBefore: .max, version: 1)?.info.seq == 30)
        #expect(try log.snapshot("p2", version: 1)?.state == ["other": true])
        #expect(try log.snapshots("p").map(\.seq) == [10, 20, 30])
        #expect(try log.snapshotNames() == ["p", "p2"])
        #expect(try log.deleteSnapshots("p") == 3)
        #expect(try log.snapshots("p").isEmpty && log.snapshots("p2").count == 1)
    }

    @Test func keepBoundsTheSnapshotsKept() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        for seq: UInt64 in 1 ... 5 { try log.writeSnapshot("p", seq: seq, version: 1, state: .int(Int64(seq)), keep: 2) }
        #expect(try log.snapshots("p").map(\.seq) == [4, 5])
    }

    @Test func aReadOnlyLogReadsSnapshotsButCannotWriteThem() throws {
        let dir = TemporaryDirectory()
        do {
            let log = try EventLog.create(at: dir.path + "/s")
            try log.writeSnapshot("p", seq: 1, version: 1, state: "x")
            log.close()
        }
        var c = EventLog.Configuration()
        c.readOnly = true
        let ro = try EventLog.open(at: dir.path + "/s", configuration: c)
        #expect(try ro.snapshot("p", version: 1)?.state == "x")
        #expect(throws: EventLogError.self) { try ro.writeSnapshot("p", seq: 2, version: 1, state: "y") }
    }
}

/// A snapshot is a cache: a catalog snapshot that does not decode is passed over, not defaulted.
@Suite(.timeLimit(.minutes(1))) struct CatalogSnapshotDecodingTests {
    /// The encoded state with the first entry's members changed by `change`.
    func withFirstEntry(_ encoded: Value, _ change: ([Value.Member]) -> [Value.Member]) throws -> Value {
        var entries = try #require(encoded["entries"]?.arrayValue)
        entries[0] = .members(change(try #require(entries[0].objectMembers)))
        return encoded.setting("entries", to: .array(entries))
    }

    @Test func aCorruptedCatalogSnapshotIsPassedOverAndTheLogFolded() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        try apply(try teams(["a", "b"]), to: log, message: "first")
        try apply(try teams(["a"], suffix: "2"), to: log)
        let runner = ProjectionRunner(log: log, projection: CatalogProjection())
        let head = try log.lastSeq()
        let folded = try runner.state(at: head, useSnapshots: false)
        // A snapshot whose first entry lost its spec_hash: decoded leniently it would read as "".
        let corrupted = try withFirstEntry(runner.projection.encode(folded.state)) { $0.filter { $0.key != "spec_hash" } }
        try log.writeSnapshot("catalog", seq: head, version: runner.projection.version, state: corrupted)
        let fold = try runner.state(at: head)
        #expect(fold.fromSnapshot == nil && fold.folded == folded.folded)
        #expect(fold.state == folded.state)
        #expect(fold.state.entries[DefinitionKey(.team, "a")]?.specHash.isEmpty == false)
        let why = try #require(fold.rejectedSnapshot)
        #expect(why.contains("snapshot at seq \(head) does not decode"), "\(why)")
        #expect(why.contains("catalog snapshot: field 'entries[0].spec_hash' should be text, found nothing"), "\(why)")
        // A snapshot that decodes is used.
        try log.writeSnapshot("catalog", seq: head, version: runner.projection.version, state: runner.projection.encode(folded.state))
        let fromSnapshot = try runner.state(at: head)
        #expect(fromSnapshot.fromSnapshot == head && fromSnapshot.rejectedSnapshot == nil && fromSnapshot.state == folded.state)
    }

    @Test func decodingNamesTheMalformedField() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        try apply(try teams(["a"]), to: log)
        try apply(try teams(["b"]), to: log, prune: true)
        let p = CatalogProjection()
        let state = try ProjectionRunner(log: log, projection: p).state(at: try log.lastSeq()).state
        #expect(!state.removedVersions.isEmpty)
        let good = p.encode(state)
        #expect(try p.decode(good) == state)
        func failure(_ v: Value) -> DecodingFailure? {
            do { _ = try p.decode(v); return nil } catch { return error as? DecodingFailure }
        }
        let cases: [(Value, String)] = [
            (.string("x"), "catalog snapshot: payload should be an object"),
            (good.setting("last_change_seq", to: .null), "field 'last_change_seq' should be a non-negative integer, found nothing"),
            (good.setting("removed", to: .int(1)), "field 'removed' should be a list"),
            (try withFirstEntry(good) { $0.map { $0.key == "kind" ? Value.Member("kind", "jobs") : $0 } }, "field 'entries[0].kind' should be one of"),
            (try withFirstEntry(good) { $0.map { $0.key == "version" ? Value.Member("version", "3") : $0 } }, "field 'entries[0].version' should be a non-negative integer"),
            (try withFirstEntry(good) { $0.filter { $0.key != "actor" } }, "field 'entries[0].actor' should be text, found nothing"),
            (try withFirstEntry(good) { $0.map { $0.key == "spec" ? Value.Member("spec", .array([])) : $0 } }, "field 'entries[0].spec' should be an object"),
        ]
        for (value, needle) in cases {
            let f = try #require(failure(value), "\(needle)")
            #expect(f.eventType == "catalog snapshot" && f.description.contains(needle), "\(f)")
        }
    }
}
