import Catalog
import Domain
import EventLog
import Foundation
import Models
import Runs
import Testing
import TestSupport
@testable import Engine

/// The file-sensor reactor on real folders and a real store: exactly one run per (file, size,
/// mtime) across restarts and failed commits, files that landed while no engine ran, a missing
/// folder's error state, after_run, and a folder of 100,000 files.
@Suite(.timeLimit(.minutes(2))) struct SensorEngineTests {
    /// A project with a job that writes its `marker` parameter to `seen.txt`, and helpers.
    final class SensorProject {
        let p: Project
        let clock: ManualClock?
        let reports = Reports()

        init(clock: ManualClock? = nil, sensor: String) throws {
            self.clock = clock
            p = try Project(clock: clock)
            try p.apply("""
            kind: job
            name: load
            parameters: {marker: "", path: ""}
            stages:
              - {name: s, type: script, command: [sh, -c, "echo \\"$LEDGERFLOW_PARAM_MARKER\\" >> seen.txt"]}
            ---
            \(sensor)
            """)
        }

        func folder(_ name: String) throws -> String {
            let path = p.root + "/" + name
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }

        func write(_ relative: String, _ text: String = "") throws {
            let path = p.root + "/" + relative
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        }

        func engine(snapshotEvery: Int? = nil) -> Engine {
            var o = Engine.Options()
            o.pollInterval = 0.01
            if let snapshotEvery { o.history.snapshotEvery = snapshotEvery }
            let reports = self.reports
            o.log = { reports.add($0.message) }
            return Engine(log: p.log, store: p.store, options: o)
        }

        /// Runs a fresh engine until it is idle with every run finished.
        @discardableResult
        func runUntilIdle() throws -> RunsState {
            try engine().run { $0.active.isEmpty }
        }

        func stream(_ sensor: String = "drop") throws -> [RecordedEvent] { try p.log.read(stream: SensorEvents.stream(sensor: sensor)) }
        func types(_ sensor: String = "drop") throws -> [String] { try stream(sensor).map(\.type) }
        func arrivals(_ sensor: String = "drop") throws -> [FileArrived] { try stream(sensor).compactMap { try $0.decodeIf(FileArrived.self) } }
        func handled(_ sensor: String = "drop") throws -> [MarkerHandled] { try stream(sensor).compactMap { try $0.decodeIf(MarkerHandled.self) } }
        func runs() throws -> RunsState { try RunCommands.runs(p.log) }
        var seen: String { (try? String(contentsOfFile: p.root + "/seen.txt", encoding: .utf8)) ?? "" }

        /// The engine's status file.
        func status() throws -> Value {
            try Value(json: String(contentsOfFile: p.store + "/status/sensors.json", encoding: .utf8))
        }
    }

    /// An engine running on its own thread until stopped.
    final class Background {
        let engine: Engine
        let done = DispatchSemaphore(value: 0)
        let result = Locked<Result<RunsState, any Error>?>(nil)

        init(_ engine: Engine) {
            self.engine = engine
            let result = self.result, done = self.done
            Thread.detachNewThread {
                let r = Result { try engine.run() }
                result.withLock { $0 = r }
                done.signal()
            }
        }

        /// Listings fully decided so far.
        var listings: Int { engine.sensorReactor.listingsDone.withLock { $0 } }

        /// Moves the clock past the next poll and waits until that listing is fully decided.
        func poll(_ clock: ManualClock, seconds: Double) throws {
            let before = listings
            clock.advance(bySeconds: seconds)
            try waitFor("a listing after the clock moved") { self.listings > before }
        }

        func stop() throws {
            engine.stop()
            #expect(done.wait(timeout: .now() + 30) == .success)
            _ = try result.withLock { $0 }?.get()
        }
    }

    @Test func aMarkerStartsExactlyOneRunAndARestartStartsNone() throws {
        let s = try SensorProject(sensor: """
        kind: sensor
        name: drop
        path: in
        job: load
        parameters: {marker: "${file.name}", path: "${file.path}"}
        """)
        _ = try s.folder("in")
        try s.write("in/a.done")
        try s.write("in/a.csv", "not a marker")
        let state = try s.runUntilIdle()
        #expect(state.runs.count == 1)
        let run = try #require(state.runs["1"])
        #expect(run.status == .succeeded)
        #expect(run.trigger.kind == .sensor && run.trigger.sensor == "drop" && run.trigger.sensorVersion == 1 && run.trigger.file == "a.done")
        #expect(run.parameters["marker"] == "a.done")
        #expect(run.parameters["path"] == .string(StoreGuard.canonical(s.p.root, relativeTo: "/") + "/in/a.done"))
        #expect(s.seen == "a.done\n")
        #expect(try s.types() == [FileArrived.type, MarkerHandled.type])
        let arrived = try #require(try s.arrivals().first)
        #expect(arrived.run == "1" && arrived.file == "a.done" && arrived.size == 0 && arrived.afterRun == .keep)
        #expect(try s.handled().map(\.outcome) == [.kept])
        // The arrival and its run were appended in one transaction: adjacent seqs, the sensor's first.
        let requested = try #require(try s.p.events("1").first)
        #expect(requested.seq == (try s.stream()[0].seq) + 1)

        // A restart (a new engine on the same store) lists the same folder: nothing new.
        let head = try s.p.log.lastSeq()
        try s.runUntilIdle()
        #expect(try s.p.log.lastSeq() == head)
        #expect(try s.runs().runs.count == 1)
        #expect(s.seen == "a.done\n")
    }

    /// With the engine's snapshot of the streams written at every idle moment, a restart starts the
    /// sensor's stream from the snapshot's state (its version, the files that arrived and are still
    /// there): the old markers start nothing, a new one starts one run.
    @Test func aRestartFromTheStreamsSnapshotStartsTheSensorFromItsState() throws {
        let s = try SensorProject(sensor: "kind: sensor\nname: drop\npath: in\njob: load\nparameters: {marker: \"${file.name}\"}\n")
        _ = try s.folder("in")
        try s.write("in/a.done")
        try s.write("in/b.done")
        try s.engine(snapshotEvery: 1).run { $0.active.isEmpty }
        #expect(try s.runs().runs.count == 2)
        let snapshot = try #require(AutomationFolds.streamsSnapshot(s.p.log, atOrBefore: .max).snapshot)
        let stored = try #require(snapshot.sensors["drop"])
        #expect(stored.streamVersion == UInt64(try s.stream().count) && stored.pending.isEmpty && stored.arrivals == 2)
        #expect(Set(stored.arrived.keys) == ["a.done", "b.done"])
        // What a fold of the whole stream holds, as the snapshot stores it.
        var folded = SensorState()
        for e in try s.stream() { try folded.evolve(e) }
        #expect(folded.value == stored.value)

        // A restart takes the snapshot's state as the sensor's start.
        try s.write("in/c.done")
        let engine = s.engine(snapshotEvery: 1)
        try engine.load()
        #expect(engine.sensorReactor.seeds["drop"]?.value == stored.value)
        try engine.run { $0.active.isEmpty }
        #expect(engine.sensorReactor.seeds.isEmpty)
        #expect(try s.arrivals().map(\.file) == ["a.done", "b.done", "c.done"])
        #expect(try s.runs().runs.count == 3)
        #expect(Set(s.seen.split(separator: "\n")) == ["a.done", "b.done", "c.done"])
    }

    @Test func aFileThatLandedWhileNoEngineRanIsFoundAtStart() throws {
        let s = try SensorProject(sensor: "kind: sensor\nname: drop\npath: in\njob: load\nparameters: {marker: \"${file.relative}\"}\n")
        _ = try s.folder("in")
        try s.runUntilIdle()
        #expect(try s.types().isEmpty)
        // No engine runs while these land (one in a subfolder, which a non-recursive sensor ignores).
        try s.write("in/late.done")
        try s.write("in/sub/deeper.done")
        let state = try s.runUntilIdle()
        #expect(state.runs.count == 1)
        #expect(try s.arrivals().map(\.file) == ["late.done"])
        #expect(s.seen == "late.done\n")
    }

    @Test func aRewrittenMarkerIsANewArrivalAndANewRun() throws {
        let clock = ManualClock()
        let s = try SensorProject(clock: clock, sensor: "kind: sensor\nname: drop\npath: in\njob: load\npoll_interval: 1s\nparameters: {marker: \"${file.stem}\"}\n")
        try s.write("in/day.done", "1")
        let bg = Background(s.engine())
        try waitFor("the first arrival's run") { try s.runs().runs["1"]?.status.isFinished == true }
        try bg.poll(clock, seconds: 1)
        #expect(try s.arrivals().count == 1)
        // Rewritten with other content: another size, another mtime.
        try s.write("in/day.done", "22")
        try bg.poll(clock, seconds: 1)
        try waitFor("the second run to finish") { try s.runs().runs["2"]?.status.isFinished == true }
        try bg.poll(clock, seconds: 1)
        try bg.stop()
        #expect(try s.arrivals().map(\.size) == [1, 2])
        #expect(try s.arrivals().map(\.run) == ["1", "2"])
        #expect(s.seen == "day\nday\n")
    }

    @Test func aFileCountsOnceItHasSettled() throws {
        let clock = ManualClock()
        let s = try SensorProject(clock: clock, sensor: "kind: sensor\nname: drop\npath: in\njob: load\npoll_interval: 1s\nsettle: 5s\n")
        try s.write("in/big.done", "part")
        let bg = Background(s.engine())
        try waitFor("the first listing") { bg.listings >= 1 }
        try bg.poll(clock, seconds: 3)
        #expect(try s.arrivals().isEmpty)
        // Still being written: the settle time starts again.
        try s.write("in/big.done", "part and more")
        try bg.poll(clock, seconds: 3)
        try bg.poll(clock, seconds: 3)
        #expect(try s.arrivals().isEmpty)
        try bg.poll(clock, seconds: 3)
        #expect(try s.arrivals().map(\.size) == [13])
        try bg.stop()
    }

    @Test func aMissingFolderFailsOnceIsRetriedEachPollAndRecovers() throws {
        let clock = ManualClock()
        let s = try SensorProject(clock: clock, sensor: "kind: sensor\nname: drop\npath: missing\njob: load\npoll_interval: 1s\nparameters: {marker: \"${file.name}\"}\n")
        try s.p.apply("kind: job\nname: other\nstages: [{name: s, type: script, command: [\"true\"]}]\n")
        let bg = Background(s.engine())
        try waitFor("the sensor to fail") { try s.types() == [SensorFailed.type] }
        let failed = try #require(try s.stream().first?.decode(SensorFailed.self))
        #expect(failed.error == "folder \(failed.folder) does not exist")
        for _ in 0 ..< 3 { try bg.poll(clock, seconds: 1) }
        // Retried at each poll, recorded once.
        #expect(try s.types() == [SensorFailed.type])
        let status = try #require(try s.status()["sensors"]?.arrayValue?.first)
        #expect(status["state"] == "error" && status["error"]?.stringValue == failed.error)
        #expect(status["last_poll_us"]?.intValue == clock.nowMicros())
        // The engine keeps working meanwhile.
        let other = try RunCommands.request(s.p.log, job: "other", trigger: RunTrigger(.manual), actor: "test")
        try waitFor("the other run") { try s.runs().runs[other]?.status == .succeeded }
        // The folder appears, with a marker: recovered, and the marker arrives.
        try s.write("missing/x.done")
        try bg.poll(clock, seconds: 1)
        try waitFor("the marker's run") { try s.runs().runs.values.contains { $0.trigger.kind == .sensor && $0.status.isFinished } }
        try bg.poll(clock, seconds: 1)
        try bg.stop()
        #expect(try s.types() == [SensorFailed.type, SensorRecovered.type, FileArrived.type, MarkerHandled.type])
        #expect(try s.stream()[1].decode(SensorRecovered.self).failed == (try s.stream()[0].seq))
        #expect(s.reports.lines.filter { $0.contains("sensor drop: error") }.count == 1)
        #expect(try s.status()["sensors"]?.arrayValue?.first?["state"] == "ok")
    }

    @Test func afterRunDeletesOrMovesTheMarkerOnceItsRunHasFinished() throws {
        let s = try SensorProject(sensor: """
        kind: sensor
        name: drop
        path: in
        after_run: delete
        job: load
        ---
        kind: sensor
        name: tree
        path: deep
        recursive: true
        after_run: {move: processed}
        job: load
        ---
        kind: job
        name: broken
        stages: [{name: s, type: script, command: ["false"]}]
        ---
        kind: sensor
        name: bad
        path: failing
        after_run: {move: failed}
        job: broken
        """)
        try s.write("in/a.done")
        try s.write("deep/2026/12/b.done", "b")
        try s.write("deep/.hidden/c.done")
        try s.write("failing/d.done")
        let state = try s.runUntilIdle()
        #expect(state.runs.count == 3)
        #expect(!FileManager.default.fileExists(atPath: s.p.root + "/in/a.done"))
        #expect(try s.handled("drop").map(\.outcome) == [.deleted])
        // Moved keeping its path relative to the watched folder; a hidden subfolder is never listed.
        #expect(try s.arrivals("tree").map(\.file) == ["2026/12/b.done"])
        #expect(try String(contentsOfFile: s.p.root + "/processed/2026/12/b.done", encoding: .utf8) == "b")
        #expect(!FileManager.default.fileExists(atPath: s.p.root + "/deep/2026/12/b.done"))
        let moved = try #require(try s.handled("tree").first)
        #expect(moved.outcome == .moved && moved.to?.hasSuffix("/processed/2026/12/b.done") == true && moved.runStatus == "succeeded")
        // A failed run's marker is dealt with too, and the record says how the run ended.
        let bad = try #require(try s.handled("bad").first)
        #expect(bad.outcome == .moved && bad.runStatus == "failed")
        #expect(FileManager.default.fileExists(atPath: s.p.root + "/failed/d.done"))
        // Exactly once: a restart records nothing more.
        let head = try s.p.log.lastSeq()
        try s.runUntilIdle()
        #expect(try s.p.log.lastSeq() == head)
    }

    @Test func aStepThatFailsToCommitDecidesTheArrivalAgainOnce() throws {
        let s = try SensorProject(sensor: "kind: sensor\nname: drop\npath: in\njob: load\n")
        try s.write("in/a.done")
        let e = s.engine()
        let fail = EngineFailureTests.FailFirst(2)
        e.faults.commit = { try fail.call("committing") }
        let state = try e.run { $0.active.isEmpty && !$0.runs.isEmpty }
        #expect(state.runs.count == 1)
        #expect(try s.arrivals().count == 1)
        #expect(s.reports.lines.filter { $0.contains("step failed") }.count == 2)
    }

    /// The folder lives on tmpfs when there is one (/dev/shm): creating and removing 100,000 files
    /// on the disk's journal slowed the fsyncs of every other test running beside this one.
    @Test func aHundredThousandFilesCostNoEventsBeyondTheNewMarker() throws {
        let clock = ManualClock()
        let shm = "/dev/shm"
        let big = (access(shm, W_OK) == 0 ? shm : NSTemporaryDirectory()) + "/ledgerflow-sensor-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: big, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: big) }
        let s = try SensorProject(clock: clock, sensor: "kind: sensor\nname: drop\npath: \(big)\njob: load\npoll_interval: 1s\n")
        for i in 0 ..< 100_000 {
            let fd = open(big + "/part-\(i).csv", O_CREAT | O_WRONLY, 0o644)
            #expect(fd >= 0)
            close(fd)
        }
        let bg = Background(s.engine())
        try waitFor("the first listing") { bg.listings >= 1 }
        #expect(try s.types().isEmpty)
        let quiet = try s.p.log.lastSeq()
        for _ in 0 ..< 3 { try bg.poll(clock, seconds: 1) }
        // Polls of a folder of 100,000 files that match nothing append nothing.
        #expect(try s.p.log.lastSeq() == quiet)
        try "".write(toFile: big + "/ready.done", atomically: false, encoding: .utf8)
        try bg.poll(clock, seconds: 1)
        try waitFor("the marker's run") { try s.runs().runs["1"]?.status.isFinished == true }
        try bg.poll(clock, seconds: 1)
        let settled = try s.p.log.lastSeq()
        for _ in 0 ..< 3 { try bg.poll(clock, seconds: 1) }
        try bg.stop()
        #expect(try s.p.log.lastSeq() == settled)
        #expect(try s.types() == [FileArrived.type, MarkerHandled.type])
        #expect(try s.runs().runs.count == 1)
        let status = try #require(try s.status()["sensors"]?.arrayValue?.first)
        #expect(status["entries"]?.intValue == 100_001 && status["files_seen"]?.intValue == 1)
    }
}
