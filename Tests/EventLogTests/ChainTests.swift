import Foundation
import LMDB
import Testing
import Domain
@testable import EventLog
import TestSupport

@Suite(.timeLimit(.minutes(1))) struct ChainTests {
    /// Writes `n` events to a fresh store and returns its directory.
    func store(_ n: Int, seed: Int = 0) throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        var c = EventLog.Configuration()
        c.durable = false
        c.dictionaryTraining = .manual
        let log = try EventLog.create(at: dir.sub("s"), configuration: c)
        for b in 0 ..< n / 10 {
            var events: [NewEvent] = [NewEvent(type: "Tiny", payload: ["b": .int(Int64(b))])]
            for i in 1 ..< 10 {
                let score = Double((b * 31 + i) % 1000) / 1000
                let payload: Value = ["entity": .string("c-\(b * 10 + i + (b >= 15 ? seed : 0))"), "model": "churn", "score": .double(score),
                                      "run": .string("r\(b / 7)"), "stage": "score"]
                events.append(NewEvent(type: "PredictionRecorded", payload: payload))
            }
            try log.append(events, to: "run/\(b % 5)")
            if b == n / 20 { try log.trainDictionary() }
        }
        return dir
    }

    /// Changes one byte of the stored record of `seq` through LMDB directly (at `offsetFromEnd`).
    func tamper(_ path: String, seq: UInt64, offsetFromEnd: Int = 1) throws {
        let env = try Environment(path: path, options: { var o = Environment.Options(); o.mapSize = 1 << 30; return o }())
        let events = try env.openDatabase("events", create: false)
        try env.write { txn in
            var record = try #require(try seq.withBigEndianBytes { k in try txn.withValue(events, key: k) { $0.map { Array($0) } } })
            record[record.count - offsetFromEnd] ^= 0x01
            try seq.withBigEndianBytes { k in try record.withUnsafeBytes { v in try txn.put(events, key: k, value: v) } }
        }
    }

    @Test func verifyPassesOnAnUntouchedStore() throws {
        let dir = try store(500)
        let log = try EventLog.open(at: dir.sub("s"))
        let report = try log.verify()
        #expect(report.ok && report.eventsChecked == 500 && report.head?.seq == 500 && report.lastSeq == 500)
        // Hashes read with events equal the chain (sequentially and at random seqs).
        let all = try log.read(options: ReadOptions(hashes: true))
        #expect(all.last?.hash == report.head?.hash)
        #expect(try log.head() == report.head)
        for seq in [1, 63, 64, 65, 127, 128, 300, 499] as [UInt64] {
            #expect(try log.event(at: seq, options: ReadOptions(hashes: true))?.hash == all[Int(seq) - 1].hash)
        }
        let filtered = try log.read(type: "Tiny", options: ReadOptions(hashes: true))
        for e in filtered { #expect(e.hash == all[Int(e.seq) - 1].hash) }
    }

    @Test(arguments: [UInt64(1), 37, 64, 257, 500])
    func aChangedPayloadByteIsNamed(seq: UInt64) throws {
        let dir = try store(500)
        try tamper(dir.sub("s"), seq: seq)
        // Read-only, as `audit verify` opens it: a writable open refuses a store whose last events
        // do not verify (HostileStoreLogTests).
        var c = EventLog.Configuration()
        c.readOnly = true
        let log = try EventLog.open(at: dir.sub("s"), configuration: c)
        let report = try log.verify()
        #expect(!report.ok)
        #expect(report.problem?.seq == seq)
        #expect(report.eventsChecked == seq - 1)
    }

    @Test func aChangedHeaderByteIsNamed() throws {
        let dir = try store(200)
        // The last 4 header bytes before a raw 7-byte "Tiny" payload are the fingerprint.
        try tamper(dir.sub("s"), seq: 101, offsetFromEnd: 9)
        let log = try EventLog.open(at: dir.sub("s"))
        #expect(try log.verify().problem?.seq == 101)
    }

    @Test func anAnchorCatchesARewrittenTail() throws {
        let original = try store(300)
        let anchor: (UInt64, ChainHash)
        do {
            let log = try EventLog.open(at: original.sub("s"))
            let e = try #require(try log.event(at: 200, options: ReadOptions(hashes: true)))
            anchor = (200, try #require(e.hash))
            #expect(try log.verify(anchor: anchor).ok)
            #expect(try log.verify(anchor: (0, .genesis)).ok)
        }
        // A rewritten history (different events from seq 152 on), chained consistently.
        let rewritten = try store(300, seed: 1)
        let log = try EventLog.open(at: rewritten.sub("s"))
        #expect(try log.verify().ok) // on its own the rewrite is self-consistent...
        let report = try log.verify(anchor: anchor)
        #expect(!report.ok && report.problem?.seq == 200) // ...but not with the anchor kept elsewhere.
        // An anchor beyond the end means events were removed.
        #expect(try log.verify(anchor: (10_000, anchor.1)).problem?.seq == 10_000)
    }

    @Test func mdbStatReadsTheStore() throws {
        let dir = try store(100)
        let r = try run("/usr/bin/mdb_stat", ["-a", dir.sub("s")])
        #expect(r.status == 0, "\(r.stderr)")
        let text = r.stdout
        let events = try #require(text.range(of: "Status of events"))
        #expect(text[events.upperBound...].contains("Entries: 100"))
        for name in StoreDatabases.allNames { #expect(text.contains("Status of \(name)")) }
    }
}

@Suite(.timeLimit(.minutes(1))) struct DictionaryTests {
    @Test func dictionarySwitchMidStoreKeepsOldEventsReadable() throws {
        let dir = TemporaryDirectory()
        var appended: [Value] = []
        do {
            var c = EventLog.Configuration()
            c.dictionaryTraining = .manual
            c.durable = false
            let log = try EventLog.create(at: dir.sub("s"), configuration: c)
            func batch(_ k: Int) throws {
                let events = (0 ..< 400).map { i -> NewEvent in
                    let p: Value = ["entity": .string("cust-\(k)-\(i)"), "model": .string(k % 2 == 0 ? "churn" : "fraud"), "outputs": ["p": .double(Double(i) / 400)], "stage": "score", "version": .int(Int64(k))]
                    appended.append(p)
                    return NewEvent(type: "PredictionRecorded", payload: p)
                }
                try log.append(events, to: "predictions/\(k)")
            }
            try batch(0)
            let first = try #require(try log.trainDictionary())
            try batch(1)
            let second = try #require(try log.trainDictionary())
            try batch(2)
            #expect(first == 1 && second == 2)
            let ids = try log.read().map(\.dictionaryID)
            #expect(Set(ids[0 ..< 400]) == [0] && Set(ids[400 ..< 800]) == [1] && Set(ids[800 ..< 1200]) == [2])
            let infos = try log.dictionaries()
            #expect(infos.map(\.id) == [1, 2] && infos.map(\.isCurrent) == [false, true] && infos[0].installedAtSeq == 400)
        }
        // A fresh process state (reopened): every event decodes with the dictionary it was written with.
        let log = try EventLog.open(at: dir.sub("s"))
        #expect(try log.read().map(\.payload) == appended)
        #expect(try log.verify().ok)
        // Compression pays: the dictionary-compressed records are smaller than the first ones.
        #expect(try log.stats().dictionaries.count == 2)
    }

    @Test func automaticTrainingInstallsADictionary() throws {
        let (log, dir) = try makeLog(training: .automatic(firstAt: 500, growth: 10))
        defer { withExtendedLifetime(dir) {} }
        for k in 0 ..< 3 {
            try log.append((0 ..< 300).map { i in NewEvent(type: "P", payload: ["entity": .string("e\(k)-\(i)"), "model": "churn", "score": .double(Double(i) / 300)]) }, to: "p")
        }
        // Training runs in the background after the commit that crosses the threshold.
        try waitFor("the background training to install a dictionary", timeout: 30) { try !log.dictionaries().isEmpty }
        let dicts = try log.dictionaries()
        #expect(dicts.count == 1 && dicts[0].isCurrent && dicts[0].installedAtSeq >= 500)
        try log.append([NewEvent(type: "P", payload: ["entity": "after", "model": "churn", "score": 0.5])], to: "p")
        #expect(try log.read(from: 901).first?.dictionaryID == dicts[0].id)
    }
}

/// Appends wait on the log's writer thread: a time limit.
@Suite(.timeLimit(.minutes(1))) struct UpcasterTests {
    @Test func writesV1RegistersV2AndReadsV2() throws {
        let dir = TemporaryDirectory()
        do {
            let log = try EventLog.create(at: dir.sub("s"))
            try log.append([NewEvent(type: "StageFailed", schemaVersion: 1, payload: ["stage": "load", "message": "disk full"])], to: "run/1")
        }
        var upcasters = Upcasters()
        // v2 renamed `message` to `error` and added `retry`.
        upcasters.register(type: "StageFailed", from: 1) { v in
            v.removing("message").setting("error", to: v["message"] ?? .null).setting("retry", to: false)
        }
        var c = EventLog.Configuration()
        c.upcasters = upcasters
        let log = try EventLog.open(at: dir.sub("s"), configuration: c)
        let e = try #require(try log.event(at: 1))
        #expect(e.schemaVersion == 2 && e.storedSchemaVersion == 1)
        #expect(e.payload == ["stage": "load", "error": "disk full", "retry": false])
        // Raw reads and verification see the stored v1 bytes.
        #expect(try log.event(at: 1, options: ReadOptions(upcast: false))?.payload == ["stage": "load", "message": "disk full"])
        #expect(try log.verify().ok)
        // A new v2 event is read as written.
        try log.append([NewEvent(type: "StageFailed", schemaVersion: 2, payload: ["stage": "x", "error": "e", "retry": true])], to: "run/1")
        #expect(try log.event(at: 2)?.schemaVersion == 2)
        #expect(upcasters.currentVersion(of: "StageFailed") == 2)
    }
}
