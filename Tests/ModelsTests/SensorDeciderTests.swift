import Catalog
import Domain
import Models
import Testing

/// The sensor's decisions as given (the sensor's stream so far) / when (a listing, or a run that
/// finished) / then (what is decided). No storage, no clock, no disk.
struct GivenSensor {
    var state = SensorState()
    var seq: UInt64 = 100
    let name = "drop"

    /// Records `e` in the sensor's stream and folds it.
    mutating func record(_ e: some DomainEvent) throws {
        seq += 1
        let r = RecordedEvent(seq: seq, recordedAtMicros: Int64(seq), stream: SensorEvents.stream(sensor: name),
                              streamVersion: state.streamVersion + 1, type: type(of: e).type, payload: e.payload)
        try state.evolve(r)
    }

    /// Records the arrivals (and error changes) `d` decided, each arrival with run `R<n>`; returns the runs.
    @discardableResult
    mutating func commit(_ d: SensorDecider.Decision, action: MarkerAction = .keep, moveTo: String? = nil) throws -> [String] {
        state.settling = d.settling
        if let error = d.failed { try record(SensorFailed(sensor: name, sensorVersion: 1, folder: "/in", error: error)) }
        if let failed = d.recovered { try record(SensorRecovered(sensor: name, sensorVersion: 1, folder: "/in", failed: failed)) }
        var runs: [String] = []
        for f in d.arrivals {
            let run = "R\(seq + 1)"
            runs.append(run)
            try record(FileArrived(sensor: name, sensorVersion: 1, file: f.relative, folder: "/in", size: f.size, mtimeMicros: f.mtimeMicros,
                                   run: run, afterRun: action, moveTo: moveTo))
        }
        return runs
    }
}

func listing(_ files: [(String, Int64, Int64)], at: Int64 = 1_000_000) -> SensorListing {
    SensorListing(files: files.map { ListedFile(relative: $0.0, size: $0.1, mtimeMicros: $0.2) }, atMicros: at, entries: files.count)
}

@Suite struct SensorDeciderTests {
    @Test func aNewFileArrivesOnceAndNotAgainOnceRecorded() throws {
        var given = GivenSensor()
        let l = listing([("a.done", 0, 10), ("b.done", 3, 20)])
        let d = SensorDecider.decide(given.state, l, settleMicros: 0)
        #expect(d.arrivals.map(\.relative) == ["a.done", "b.done"])
        #expect(d.failed == nil && d.recovered == nil)
        // Deciding again before the commit (a lost transaction): the same arrivals.
        #expect(SensorDecider.decide(given.state, l, settleMicros: 0).arrivals == d.arrivals)
        try given.commit(d)
        // Then: the same listing decides nothing.
        #expect(!SensorDecider.decide(given.state, l, settleMicros: 0).hasEvents)
        #expect(given.state.arrivals == 2 && given.state.streamVersion == 2)
    }

    @Test func aRewrittenFileIsANewArrival() throws {
        var given = GivenSensor()
        try given.commit(SensorDecider.decide(given.state, listing([("a.done", 0, 10)]), settleMicros: 0))
        // Same name, new mtime (touched again) → a new key.
        let touched = SensorDecider.decide(given.state, listing([("a.done", 0, 11)]), settleMicros: 0)
        #expect(touched.arrivals.map(\.key) == [FileKey(size: 0, mtimeMicros: 11)])
        try given.commit(touched)
        // Same mtime, other size → new key too.
        let grown = SensorDecider.decide(given.state, listing([("a.done", 5, 11)]), settleMicros: 0)
        #expect(grown.arrivals.count == 1)
        try given.commit(grown)
        #expect(given.state.arrivals == 3)
        #expect(!SensorDecider.decide(given.state, listing([("a.done", 5, 11)]), settleMicros: 0).hasEvents)
    }

    @Test func aFileCountsOnlyOnceItHasSettled() throws {
        var given = GivenSensor()
        let settle: Int64 = 2_000_000
        // t=1s: first seen (size 10) → settling, no arrival.
        var d = SensorDecider.decide(given.state, listing([("big.done", 10, 5)], at: 1_000_000), settleMicros: settle)
        #expect(d.arrivals.isEmpty && d.settling["big.done"] == Settling(key: FileKey(size: 10, mtimeMicros: 5), sinceMicros: 1_000_000))
        try given.commit(d)
        // t=2.5s: still growing (size 20) → the clock restarts.
        d = SensorDecider.decide(given.state, listing([("big.done", 20, 6)], at: 2_500_000), settleMicros: settle)
        #expect(d.arrivals.isEmpty && d.settling["big.done"]?.sinceMicros == 2_500_000)
        try given.commit(d)
        // t=4s: unchanged for 1.5 s → not yet.
        d = SensorDecider.decide(given.state, listing([("big.done", 20, 6)], at: 4_000_000), settleMicros: settle)
        #expect(d.arrivals.isEmpty)
        try given.commit(d)
        // t=4.5s: unchanged for 2 s → arrives.
        d = SensorDecider.decide(given.state, listing([("big.done", 20, 6)], at: 4_500_000), settleMicros: settle)
        #expect(d.arrivals.map(\.size) == [20])
        // The decision keeps it settling until the arrival is recorded (a lost transaction decides it again).
        #expect(d.settling["big.done"] != nil)
        #expect(SensorDecider.decide(given.state, listing([("big.done", 20, 6)], at: 4_600_000), settleMicros: settle).arrivals.count == 1)
        try given.commit(d)
        #expect(given.state.settling.isEmpty)
        #expect(!SensorDecider.decide(given.state, listing([("big.done", 20, 6)], at: 9_000_000), settleMicros: settle).hasEvents)
    }

    @Test func aFileThatGoesAwayWhileSettlingNeverArrivesAndIsForgotten() throws {
        let given = GivenSensor()
        let d1 = SensorDecider.decide(given.state, listing([("tmp.done", 1, 1)], at: 0), settleMicros: 1_000_000)
        var state = given.state
        state.settling = d1.settling
        let d2 = SensorDecider.decide(state, listing([], at: 5_000_000), settleMicros: 1_000_000)
        #expect(d2.arrivals.isEmpty && d2.settling.isEmpty)
    }

    @Test func aMissingFolderFailsOnceAndRecoversOnce() throws {
        var given = GivenSensor()
        let missing = SensorListing(files: [], error: "folder /in does not exist", atMicros: 1)
        let d = SensorDecider.decide(given.state, missing, settleMicros: 0)
        #expect(d.failed == "folder /in does not exist" && d.arrivals.isEmpty)
        try given.commit(d)
        let failedSeq = given.seq
        // Every later poll that fails decides nothing: no event per poll.
        for _ in 0 ..< 3 { #expect(!SensorDecider.decide(given.state, missing, settleMicros: 0).hasEvents) }
        #expect(given.state.isFailing)
        // The folder is back, with a marker: recovered and the marker arrives in one decision.
        let back = SensorDecider.decide(given.state, listing([("x.done", 0, 1)]), settleMicros: 0)
        #expect(back.recovered == failedSeq && back.arrivals.count == 1)
        try given.commit(back)
        #expect(!given.state.isFailing && given.state.failedSeq == nil)
        #expect(!SensorDecider.decide(given.state, listing([("x.done", 0, 1)]), settleMicros: 0).hasEvents)
    }

    @Test func aFailedListingForgetsNothingAndAFileThatComesBackArrivesAgain() throws {
        var given = GivenSensor()
        try given.commit(SensorDecider.decide(given.state, listing([("a.done", 0, 1)]), settleMicros: 0))
        given.state.forget(absentFrom: SensorListing(files: [], error: "permission denied", atMicros: 2))
        #expect(given.state.arrived["a.done"] != nil)
        // A listing without it forgets it (the map stays the size of the folder) …
        given.state.forget(absentFrom: listing([]))
        #expect(given.state.arrived.isEmpty)
        // … so the same file put back later is a new arrival.
        #expect(SensorDecider.decide(given.state, listing([("a.done", 0, 1)]), settleMicros: 0).arrivals.count == 1)
    }

    @Test func stateFoldedFromTheStreamKnowsEveryPresentKey() throws {
        // A restart folds the stream: what arrived before does not arrive again.
        var given = GivenSensor()
        try given.commit(SensorDecider.decide(given.state, listing((0 ..< 1000).map { ("f\($0).done", Int64($0), 1) }), settleMicros: 0))
        #expect(given.state.arrived.count == 1000)
        let more = listing((0 ..< 1001).map { ("f\($0).done", Int64($0), 1) })
        #expect(SensorDecider.decide(given.state, more, settleMicros: 0).arrivals.map(\.relative) == ["f1000.done"])
    }

    @Test func markersAreDueOnceTheirRunHasFinishedAndHandledOnce() throws {
        var given = GivenSensor()
        let runs = try given.commit(SensorDecider.decide(given.state, listing([("a.done", 0, 1), ("b.done", 0, 2)]), settleMicros: 0),
                                    action: .move, moveTo: "/out")
        var finished: [String: String] = [:]
        #expect(SensorDecider.dueMarkers(given.state) { finished[$0] }.isEmpty)
        finished[runs[1]] = "failed"
        let due = SensorDecider.dueMarkers(given.state) { finished[$0] }
        #expect(due.map(\.0.file) == ["b.done"] && due.map(\.1) == ["failed"])
        let p = due[0].0
        #expect(p.path == "/in/b.done" && p.destination == "/out/b.done")
        #expect(SensorDecider.plan(p, current: p.key, destinationExists: false) == .move(to: "/out/b.done"))
        try given.record(SensorDecider.handled(p, sensor: "drop", runStatus: "failed", SensorDecider.MarkerResult(outcome: .moved, to: "/out/b.done")))
        #expect(SensorDecider.dueMarkers(given.state) { finished[$0] }.isEmpty)
        #expect(given.state.pending.count == 1)
    }

    @Test(arguments: [MarkerAction.keep, .delete, .move])
    func aMarkerAlreadyDealtWithOrRewrittenIsRecordedWithoutActing(_ action: MarkerAction) {
        let p = PendingMarker(arrival: 7, file: "a.done", folder: "/in", key: FileKey(size: 0, mtimeMicros: 1), run: "3", action: action,
                              moveTo: action == .move ? "/out" : nil)
        // Gone (an engine acted and died before recording, or someone removed it).
        switch (action, SensorDecider.plan(p, current: nil, destinationExists: true)) {
        case (.keep, .record(let r)): #expect(r.outcome == .kept)
        case (.delete, .record(let r)): #expect(r.outcome == .deleted && r.note == "the marker was already gone")
        case (.move, .record(let r)): #expect(r.outcome == .moved && r.to == "/out/a.done")
        default: Issue.record("\(action): acted on a marker that is gone")
        }
        // Rewritten since (another key, hence another arrival): left for that arrival.
        if case .record(let r) = SensorDecider.plan(p, current: FileKey(size: 9, mtimeMicros: 2), destinationExists: false) {
            #expect(r.outcome == .kept)
        } else {
            Issue.record("\(action): acted on a rewritten marker")
        }
    }

    @Test func parametersTakeTheFilesFacts() {
        let params = SensorDecider.parameters([Value.Member("file", "${file.path}"), Value.Member("n", 2)],
                                              file: SensedFile(watched: "/in", relative: "x/y.done"))
        #expect(params.map(\.0) == ["file", "n"])
        #expect(params[0].1 == "/in/x/y.done" && params[1].1 == 2)
    }

    @Test func anUndecodableEventOfTheStreamFailsTheFold() {
        var state = SensorState()
        let bad = RecordedEvent(seq: 1, recordedAtMicros: 1, stream: "sensor/drop", streamVersion: 1, type: FileArrived.type, payload: ["sensor": "drop"])
        #expect(throws: DecodingFailure.self) { try state.evolve(bad) }
    }
}
