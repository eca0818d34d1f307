import Foundation
import LMDB
import Testing
import Domain
@testable import EventLog
import TestSupport

@Suite(.timeLimit(.minutes(1))) struct AppendReadTests {
    @Test func everyEnvelopeFieldRoundTrips() throws {
        let dir = TemporaryDirectory()
        let clock = ManualClock()
        let e: RecordedEvent
        do {
        var c = EventLog.Configuration()
        c.clock = clock
        let log = try EventLog.create(at: dir.sub("s"), configuration: c)
        let root = try log.append([NewEvent(type: "RunRequested", payload: ["job": "churn-scoring", "parameters": ["date": "2026-11-21"]])],
                                  to: "run/7", actor: "scheduler")
        let payload: Value = [
            "null": nil, "yes": true, "no": false, "int": -42, "big": .int(Int64.max), "small": .int(Int64.min),
            "pi": 3.141592653589793, "score": 0.8731, "tiny": 1e-300, "neg": -0.0, "inf": .double(.infinity),
            "text": "naïve ☃ \"quoted\"\n", "empty": "", "list": [1, "two", [3.5]], "nested": ["a": ["b": ["c": 1]]],
        ]
        clock.advance(bySeconds: 1.5)
        let r = try log.append([NewEvent(type: "StageStarted", schemaVersion: 3, payload: payload, causation: root.lastSeq)],
                               to: "run/7", expectedVersion: .exact(1), actor: "worker-2")
        #expect(r.firstSeq == 2 && r.lastSeq == 2 && r.streamVersions == ["run/7": 2])
        e = try #require(try log.event(at: 2, options: ReadOptions(hashes: true)))
        #expect(e.seq == 2)
        #expect(e.recordedAtMicros == clock.nowMicros() && e.recordedAtMicros == ManualClock.defaultStart + 1_500_000)
        #expect(e.recordedAtMicros == r.recordedAtMicros)
        #expect(e.stream == "run/7" && e.streamVersion == 2)
        #expect(e.type == "StageStarted" && e.schemaVersion == 3 && e.storedSchemaVersion == 3)
        #expect(e.causation == 1 && e.correlation == 1)
        #expect(e.actor == "worker-2")
        #expect(e.payload == payload)
        #expect(e.hash == (try log.head().hash))
        let root1 = try #require(try log.event(at: 1))
        #expect(root1.causation == nil && root1.correlation == 1 && root1.actor == "scheduler" && root1.hash == nil)

        }
        // The same after reopening (nothing comes from caches).
        let reopened = try EventLog.open(at: dir.sub("s"))
        let again = try #require(try reopened.event(at: 2, options: ReadOptions(hashes: true)))
        #expect(again == e)
    }

    @Test func readingFromAVersionStartsAtItsSeq() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        // Stream "a" gets runs of consecutive seqs (several postings) interleaved with "b".
        var expected: [UInt64] = []
        for round in 0 ..< 40 {
            let n = 1 + round % 4
            let r = try log.append([StreamAppend(stream: "a", events: (0 ..< n).map { _ in stageEvent(round) }),
                                    StreamAppend(stream: "b", events: [stageEvent(round)])])
            expected += (0 ..< UInt64(n)).map { r.firstSeq! + $0 }
        }
        for v in [1, 2, 3, 17, 50, UInt64(expected.count)] {
            let got = try log.read(stream: "a", fromVersion: v, limit: 2)
            #expect(got.first?.seq == expected[Int(v) - 1] && got.first?.streamVersion == v)
        }
        #expect(try log.read(stream: "a", fromVersion: UInt64(expected.count) + 1).isEmpty)
        #expect(try log.read(stream: "none", fromVersion: 3).isEmpty)
        #expect(try log.read(stream: "a", fromVersion: 10).map(\.seq) == Array(expected[9...]))
        // A stream of one posting (LMDB keeps a single duplicate inline, not in a page).
        let solo = try log.append([stageEvent(1), stageEvent(2)], to: "solo").firstSeq!
        try log.append([stageEvent(3)], to: "b")
        // Idle, the writer indexes the tail by itself.
        func watermark() throws -> UInt64 { try log.core.env.read { txn in try txn.indexedWatermark(log.core.dbs) } }
        try waitFor("the idle writer to index the tail through seq \(solo + 2)") { try watermark() >= solo + 2 }
        #expect(try watermark() == solo + 2)
        #expect(try log.read(stream: "solo", fromVersion: 2).map(\.seq) == [solo + 1])
        #expect(try [solo - 1, solo, solo + 1, solo + 2].map { try log.streamVersion("solo", asOf: $0) } == [0, 1, 2, 2])
    }

    @Test func correlationDefaults() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        // One stream in one append: a root, then events that inherit its correlation.
        let a = try log.append([stageEvent(1), stageEvent(2), stageEvent(3)], to: "run/a")
        // Two streams in one append: each stream's first event is its own root.
        let b = try log.append([StreamAppend(stream: "run/b", events: [stageEvent(1), stageEvent(2)]),
                                StreamAppend(stream: "run/c", events: [stageEvent(1)])])
        // A causation carries the cause's correlation; an explicit correlation wins.
        let c = try log.append([NewEvent(type: "X", payload: [:], causation: 2), NewEvent(type: "Y", payload: [:], correlation: 4)], to: "run/d")
        #expect(a.firstSeq == 1 && b.firstSeq == 4 && c.firstSeq == 7)
        let all = try log.read()
        #expect(all.map(\.correlation) == [1, 1, 1, 4, 4, 6, 1, 4])
        #expect(all.map(\.causation) == [nil, nil, nil, nil, nil, nil, 2, nil])
    }

    @Test func sharedCorrelationMakesOneTreeOfAnAppend() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        try log.append([stageEvent(0)], to: "other")
        let parts = [StreamAppend(stream: "definition/a", events: [stageEvent(1)]),
                     StreamAppend(stream: "definition/b", events: [stageEvent(2), NewEvent(type: "X", payload: [:], correlation: 1)]),
                     StreamAppend(stream: "definition/c", events: [stageEvent(3)])]
        try log.append(parts, correlation: .shared)
        #expect(try log.read().map(\.correlation) == [1, 2, 2, 1, 2])
        #expect(try log.read(correlation: 2).map(\.seq) == [2, 3, 5])
    }

    @Test func lastSeqByTime() throws {
        let clock = ManualClock()
        let (log, dir) = try makeLog(clock: clock)
        defer { withExtendedLifetime(dir) {} }
        #expect(try log.lastSeq(recordedAtOrBefore: clock.date) == 0)
        let first = try log.append([stageEvent(1), stageEvent(2)], to: "s")
        #expect(first.recordedAtMicros == clock.nowMicros())
        let t = clock.date
        clock.advance(bySeconds: 1)
        try log.append([stageEvent(3)], to: "s")
        #expect(try log.lastSeq(recordedAtOrBefore: t) == 2)
        #expect(try log.lastSeq(recordedAtOrBefore: t.addingTimeInterval(0.5)) == 2)
        #expect(try log.lastSeq(recordedAtOrBefore: t.addingTimeInterval(-1)) == 0)
        #expect(try log.lastSeq(recordedAtOrBefore: clock.date) == 3)
    }

    /// recordedAt never decreases along seq, even when the clock steps back (NTP, a manual fix).
    @Test func recordedAtNeverDecreasesWhenTheClockStepsBack() throws {
        let clock = ManualClock()
        let (log, dir) = try makeLog(clock: clock)
        defer { withExtendedLifetime(dir) {} }
        let t0 = clock.nowMicros()
        try log.append([stageEvent(1)], to: "s")
        clock.advance(bySeconds: -60)
        let back = try log.append([stageEvent(2)], to: "s")
        #expect(back.recordedAtMicros == t0, "a clock that went back records the previous time again")
        clock.advance(bySeconds: 120)
        let later = try log.append([stageEvent(3)], to: "s")
        #expect(later.recordedAtMicros == t0 + 60_000_000)
        #expect(try log.read().map(\.recordedAtMicros) == [t0, t0, t0 + 60_000_000])
    }

    @Test func expectedVersionConflictWritesNothing() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        try log.append([stageEvent(1), stageEvent(2)], to: "run/1", expectedVersion: .noStream)
        let head = try log.head()
        #expect(throws: WrongExpectedVersion(stream: "run/1", expected: .exact(1), actual: 2)) {
            try log.append([stageEvent(3)], to: "run/1", expectedVersion: .exact(1))
        }
        #expect(throws: WrongExpectedVersion(stream: "run/1", expected: .noStream, actual: 2)) {
            try log.append([stageEvent(3)], to: "run/1", expectedVersion: .noStream)
        }
        #expect(throws: WrongExpectedVersion(stream: "run/9", expected: .exists, actual: 0)) {
            try log.append([stageEvent(3)], to: "run/9", expectedVersion: .exists)
        }
        // A multi-stream append with one bad stream writes none of its streams.
        #expect(throws: WrongExpectedVersion.self) {
            try log.append([StreamAppend(stream: "run/2", events: [stageEvent(1)]),
                            StreamAppend(stream: "run/1", expectedVersion: .exact(5), events: [stageEvent(1)])])
        }
        let conflict = WrongExpectedVersion(stream: "run/1", expected: .exact(1), actual: 2)
        #expect(conflict.description.contains("run/1") && conflict.description.contains("version 2") && conflict.description.contains("version 1"))
        #expect(try log.head() == head)
        #expect(try log.streamVersion("run/2") == 0)
        #expect(try log.read().count == 2)
        #expect(try log.verify().ok)
        try log.append([stageEvent(3)], to: "run/1", expectedVersion: .exact(2))
        #expect(try log.streamVersion("run/1") == 3)
    }

    @Test func invalidCausesAreRefused() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        try log.append([stageEvent(1)], to: "s")
        #expect(throws: EventLogError.self) { try log.append([NewEvent(type: "X", payload: nil, causation: 5)], to: "s") }
        #expect(throws: EventLogError.self) { try log.append([NewEvent(type: "X", payload: nil, correlation: 9)], to: "s") }
        #expect(throws: EventLogError.self) { try log.append([NewEvent(type: "", payload: nil)], to: "s") }
        #expect(throws: EventLogError.self) { try log.append([stageEvent(1)], to: "") }
        #expect(try log.head().seq == 1)
    }

    @Test func readsByStreamTypeCorrelationAndRange() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        // Interleave three streams and two types over several transactions so postings split and join.
        var expected: [String: [UInt64]] = [:]
        var byType: [String: [UInt64]] = [:]
        var seq: UInt64 = 0
        for round in 0 ..< 40 {
            var parts: [StreamAppend] = []
            for s in 0 ..< 3 where (round + s) % 2 == 0 || s == 0 {
                let n = 1 + (round * 7 + s) % 5
                var events: [NewEvent] = []
                for i in 0 ..< n {
                    let type = (i + s) % 3 == 0 ? "A" : "B"
                    events.append(NewEvent(type: type, payload: ["r": .int(Int64(round))]))
                    seq += 1
                    expected["s\(s)", default: []].append(seq)
                    byType[type, default: []].append(seq)
                }
                parts.append(StreamAppend(stream: "s\(s)", events: events))
            }
            try log.append(parts)
        }
        for (stream, seqs) in expected {
            let got = try log.read(stream: stream)
            #expect(got.map(\.seq) == seqs)
            #expect(got.map(\.streamVersion) == Array(1 ... UInt64(seqs.count)))
            #expect(try log.read(stream: stream, fromVersion: 3, limit: 4).map(\.seq) == Array(seqs[2 ..< 6]))
        }
        for (type, seqs) in byType {
            #expect(try log.read(type: type).map(\.seq) == seqs)
            let mid = seqs[seqs.count / 2]
            #expect(try log.read(type: type, from: mid).map(\.seq) == seqs.filter { $0 >= mid })
            #expect(try log.read(type: type, from: mid + 1, limit: 3).map(\.seq) == Array(seqs.filter { $0 > mid }.prefix(3)))
        }
        // Combined filters.
        let combined = try log.read(filter: EventFilter(stream: "s0", type: "A"))
        #expect(combined.map(\.seq) == expected["s0"]!.filter { byType["A"]!.contains($0) })
        // Correlation: every first event of a stream part is a root for the rest of its part.
        let roots = Set(try log.read().map(\.correlation))
        for root in roots {
            let tree = try log.read(correlation: root)
            #expect(!tree.isEmpty && tree.allSatisfy { $0.correlation == root } && tree.first?.seq == root)
        }
        #expect(try log.read(from: 10, through: 20).map(\.seq) == Array(10 ... 20))
        #expect(try log.read(from: 10, limit: 5).map(\.seq) == Array(10 ... 14))
        #expect(try log.read(stream: "nope").isEmpty && log.read(type: "nope").isEmpty && log.read(correlation: 99_999).isEmpty)
    }

    @available(macOS 15.0, *)
    @Test func asyncAppendAndClosedLog() async throws {
        try await withDedicatedExecutor { _ in
            let (log, dir) = try makeLog()
            defer { withExtendedLifetime(dir) {} }
            let r = try await log.append([stageEvent(1)], to: "a")
            #expect(r.lastSeq == 1)
            await withTaskGroup(of: Void.self) { group in
                for i in 0 ..< 50 { group.addTask { _ = try? await log.append([stageEvent(i)], to: "b") } }
            }
            #expect(try log.head().seq == 51)
            log.close()
            await #expect(throws: EventLogError.self) { try await log.append([stageEvent(1)], to: "a") }
        }
    }

    @Test func readOnlyLogRefusesAppends() throws {
        let dir = TemporaryDirectory()
        do {
            let log = try EventLog.create(at: dir.sub("s"))
            try log.append([stageEvent(1)], to: "a")
        }
        var c = EventLog.Configuration()
        c.readOnly = true
        let ro = try EventLog.open(at: dir.sub("s"), configuration: c)
        #expect(try ro.read().count == 1)
        #expect(throws: EventLogError.self) { try ro.append([stageEvent(1)], to: "a") }
        #expect(throws: EventLogError.self) { try EventLog.open(at: dir.sub("missing")) }
        #expect(throws: EventLogError.self) { try EventLog.open(at: dir.sub("s")) } // already open here
        #expect(throws: EventLogError.self) { try EventLog.create(at: dir.sub("s")) }
    }

    @Test func mapGrowsWhenFull() throws {
        let dir = TemporaryDirectory()
        var c = EventLog.Configuration()
        c.durable = false
        c.mapSize = 1 << 20 // 1 MiB: a few thousand events fill it
        c.dictionaryTraining = .manual
        let log = try EventLog.create(at: dir.sub("s"), configuration: c)
        var rng = SplitMix64.forRun()
        for b in 0 ..< 20 {
            // Random text does not compress: 20 × 500 × ~150 bytes is about 1.5 MiB.
            try log.append((0 ..< 500).map { i in NewEvent(type: "Fill", payload: ["b": .int(Int64(b)), "i": .int(Int64(i)),
                                                                                   "pad": .string((0 ..< 8).map { _ in String(rng.next(), radix: 36) }.joined())]) }, to: "fill")
        }
        #expect(try log.head().seq == 10_000, "\(rng)")
        #expect(try log.stats().mapSize > 1 << 20, "\(rng)")
        #expect(try log.verify().ok, "\(rng)")
    }

    @Test func statsCountTypesAndBytes() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        try log.append((0 ..< 30).map { stageEvent($0) } + [NewEvent(type: "RunSucceeded", payload: [:])], to: "run/1")
        let s = try log.stats()
        #expect(s.events == 31 && s.streams == 1)
        #expect(s.countsByType.map(\.type) == ["StageStarted", "RunSucceeded"])
        #expect(s.countsByType.map(\.count) == [30, 1])
        #expect(s.fileBytes > 0, "file \(s.fileBytes)")
        #expect(s.usedBytes > 0, "used \(s.usedBytes)")
        #expect(s.bytesPerEvent > 0)
        #expect(s.databases.first { $0.name == "events" }?.entries == 31)
    }
}

@Suite(.timeLimit(.minutes(1))) struct LargeAppendTests {
    /// Appends over 1,024 events are handed to the writer before their payloads are prepared.
    @Test func largeMultiStreamAppendIsAtomicOrderedAndComplete() throws {
        let (log, dir) = try makeLog(training: .manual)
        defer { withExtendedLifetime(dir) {} }
        try log.append([stageEvent(0)], to: "root")
        func part(_ s: String, _ n: Int) -> StreamAppend {
            StreamAppend(stream: s, expectedVersion: .noStream, events: (0 ..< n).map { i in
                NewEvent(type: i % 10 == 0 ? "Marker" : "PredictionRecorded",
                         payload: ["i": .int(Int64(i)), "s": .string(s), "score": .double(Double(i % 1000) / 1000), "pad": .string(String(repeating: "x", count: i % 50))],
                         causation: i == 0 ? 1 : nil)
            })
        }
        let parts = [part("a", 2_500), part("b", 1_300), part("c", 1_700)]
        let r = try log.append(parts, actor: "big", checkpoint: CheckpointUpdate(name: "big.handler", expected: 0, seq: 1))
        #expect(r.firstSeq == 2 && r.lastSeq == 5_501)
        #expect(r.streamVersions == ["a": 2_500, "b": 1_300, "c": 1_700])
        let all = try log.read(from: 2)
        #expect(all.count == 5_500)
        var offset = 0
        for p in parts {
            let got = Array(all[offset ..< offset + p.events.count])
            #expect(got.map(\.stream).allSatisfy { $0 == p.stream })
            #expect(got.map(\.streamVersion) == Array(1 ... UInt64(p.events.count)))
            #expect(got.map(\.payload) == p.events.map(\.payload))
            #expect(got.allSatisfy { $0.correlation == 1 && $0.actor == "big" })
            offset += p.events.count
        }
        #expect(try log.checkpoint("big.handler") == 1)
        // A large append that is refused writes nothing (its chunks are prepared and dropped).
        let head = try log.head()
        #expect(throws: WrongExpectedVersion.self) { try log.append([part("d", 3_000), part("a", 1_500)]) }
        #expect(throws: CheckpointConflict.self) {
            try log.append([part("e", 2_000)], checkpoint: CheckpointUpdate(name: "big.handler", expected: 0, seq: 2))
        }
        #expect(try log.head() == head)
        #expect(try log.streamVersion("d") == 0 && log.streamVersion("e") == 0)
        // Concurrent large appends from several threads all land, each contiguous.
        let done = DispatchGroup()
        for t in 0 ..< 4 {
            done.enter()
            Thread {
                do {
                    try log.append([StreamAppend(stream: "t\(t)", events: (0 ..< 1_500).map { NewEvent(type: "T", payload: ["i": .int(Int64($0))]) })])
                } catch {
                    Issue.record("append failed: \(error)")
                }
                done.leave()
            }.start()
        }
        done.wait()
        for t in 0 ..< 4 {
            let events = try log.read(stream: "t\(t)")
            #expect(events.count == 1_500)
            #expect(events.last!.seq - events.first!.seq == 1_499)
        }
        #expect(try log.verify().ok)
    }
}

/// Eight writer threads at once: over ten seconds on its own, longer on a busy two-core machine,
/// so a longer limit than the other tests'.
@Suite(.timeLimit(.minutes(3))) struct ConcurrentAppendTests {
    @Test func eightThreadsTenThousandAppendsEach() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        // Eight real threads (concurrentPerform would use only as many as there are cores).
        let done = DispatchGroup()
        for t in 0 ..< 8 {
            done.enter()
            Thread {
                for i in 0 ..< 10_000 {
                    do {
                        try log.append([NewEvent(type: "Tick", payload: ["t": .int(Int64(t)), "i": .int(Int64(i))])], to: "thread/\(t)", actor: "t\(t)")
                    } catch {
                        Issue.record("append failed: \(error)")
                    }
                }
                done.leave()
            }.start()
        }
        done.wait()
        let all = try log.read()
        #expect(all.count == 80_000)
        #expect(all.map(\.seq) == Array(1 ... 80_000))
        for t in 0 ..< 8 {
            let stream = all.filter { $0.stream == "thread/\(t)" }
            #expect(stream.map(\.streamVersion) == Array(1 ... 10_000))
            #expect(stream.map { $0.payload["i"]?.intValue ?? -1 } == Array(0 ..< 10_000))
        }
        #expect(try log.verify().ok)
    }
}
