import Domain
@testable import EventLog
import Foundation
import LMDB
import Testing
import TestSupport

/// Damaged stores (issue 16 items 6, 7, 11): a truncated data file, a lost database name, damaged
/// indexes, a damaged last event, an unreadable event among readable ones, a full disk.
@Suite(.timeLimit(.minutes(2))) struct HostileStoreLogTests {
    static var config: EventLog.Configuration {
        var c = EventLog.Configuration()
        c.durable = false
        c.dictionaryTraining = .manual
        c.mapSize = 1 << 30
        return c
    }

    static var readOnly: EventLog.Configuration {
        var c = config
        c.readOnly = true
        return c
    }

    /// A closed store of `n` events over 5 streams and 2 types (its indexes flushed).
    static func store(_ n: Int = 300) throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("s"), configuration: config)
        for b in 0 ..< n / 10 {
            try log.append((0 ..< 10).map { i in
                NewEvent(type: i == 0 ? "Tiny" : "StageStarted", payload: ["b": .int(Int64(b)), "i": .int(Int64(i)), "note": "some text to compress"])
            }, to: "run/\(b % 5)")
        }
        log.close()
        return dir
    }

    /// Opens the store's environment directly (the log must not be open in this process).
    static func env(_ dir: TemporaryDirectory) throws -> Environment {
        var o = Environment.Options()
        o.mapSize = 1 << 30
        return try Environment(path: dir.sub("s"), options: o)
    }

    static func openError(_ dir: TemporaryDirectory, readOnly: Bool) -> EventLogError? {
        do {
            _ = try EventLog.open(at: dir.sub("s"), configuration: readOnly ? Self.readOnly : Self.config)
            return nil
        } catch let e as EventLogError {
            return e
        } catch {
            Issue.record("expected an EventLogError, got \(type(of: error)): \(error)")
            return nil
        }
    }

    // MARK: - Item 6: a truncated data file

    @Test func aTruncatedDataFileIsRefusedAtOpenWithoutCrashing() throws {
        let dir = try Self.store(3000)
        let file = dir.sub("s") + "/data.mdb"
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        let h = try #require(FileHandle(forWritingAtPath: file))
        try h.truncate(atOffset: UInt64(size / 2))
        try h.close()
        for readOnly in [true, false] {
            let e = Self.openError(dir, readOnly: readOnly)
            #expect(e?.kind == .corrupt)
            #expect(e?.message.contains("data.mdb is truncated: it holds \(size / 2) bytes but its pages need") == true, "\(String(describing: e))")
            #expect(e?.message.contains("restore the store from a backup") == true)
        }
    }

    // MARK: - Item 7: a lost database name

    /// Rewrites every occurrence of `from` in data.mdb to `to` (same length), as a damaged page would.
    static func patch(_ dir: TemporaryDirectory, _ from: String, _ to: String) throws -> Int {
        let file = dir.sub("s") + "/data.mdb"
        var data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        let a = Array(from.utf8), b = Array(to.utf8)
        var hits = 0
        var i = 0
        while i + a.count <= data.count {
            if data[i] == a[0] && Array(data[i ..< i + a.count]) == a {
                data.replaceSubrange(i ..< i + a.count, with: b)
                hits += 1
                i += a.count
            } else {
                i += 1
            }
        }
        try Data(data).write(to: URL(fileURLWithPath: file))
        return hits
    }

    @Test func aLostDatabaseNameIsNamedAndNeverRecreated() throws {
        let dir = try Self.store()
        #expect(try Self.patch(dir, "index.stream", "index.strean") > 0)
        for readOnly in [true, false] {
            let e = Self.openError(dir, readOnly: readOnly)
            #expect(e?.kind == .corrupt)
            #expect(e?.message.contains("is damaged: its database 'index.stream' is missing (LMDB's main database holds 'index.strean' instead") == true, "\(String(describing: e))")
        }
        // The writable open created nothing.
        let names = try Self.env(dir).databaseNames()
        #expect(!names.contains("index.stream") && names.contains("index.strean"))
    }

    // MARK: - Item 7: damaged indexes

    /// Deletes every posting of `key` from index `name`.
    static func deleteKey(_ dir: TemporaryDirectory, index name: String, key: [UInt8]) throws {
        let env = try env(dir)
        let db = try env.openDatabase(name, flags: [.dupSort, .dupFixed], create: false)
        let deleted = try env.write { txn in try txn.delete(db, key: key) }
        #expect(deleted)
    }

    @Test func verifyIndexesPassesOnAHealthyStoreWithAnUnindexedTail() throws {
        let dir = try Self.store()
        let log = try EventLog.open(at: dir.sub("s"), configuration: Self.config)
        try log.append([NewEvent(type: "Tiny", payload: ["b": 1])], to: "run/9")
        let report = try log.verifyIndexes()
        #expect(report.ok, "\(report.problems)")
        #expect(report.eventsIndexed >= 300)
    }

    @Test func verifyIndexesNamesAMissingKeyOfEachIndex() throws {
        let dir = try Self.store()
        // Type "Tiny" is id 1 (interned first); the last event (seq 300) is a StageStarted of
        // stream run/4, so the writable open's cheap check does not look at these keys.
        try Self.deleteKey(dir, index: "index.type", key: [0, 0, 0, 1])
        // Correlation 1 (the first append's root).
        try Self.deleteKey(dir, index: "index.correlation", key: [0, 0, 0, 0, 0, 0, 0, 1])
        let log = try EventLog.open(at: dir.sub("s"), configuration: Self.config)
        let report = try log.verifyIndexes()
        #expect(report.problems.map(\.description) == [
            "index.correlation: correlation 1 is missing: the events put it at seq 1–10",
            "index.type: type 'Tiny' (id 1) is missing: the events put it at seq 1, 11, 21, … (30 runs)",
        ])
        // The chain itself is intact.
        #expect(try log.verify().ok)
    }

    @Test func anEmptiedIndexRefusesWritesButReadsStillOpen() throws {
        let dir = try Self.store()
        // Empty index.stream, as a recreated database would be.
        do {
            let env = try Self.env(dir)
            let db = try env.openDatabase("index.stream", flags: [.dupSort, .dupFixed], create: false)
            try env.write { txn in
                for id in 1 ... 5 as ClosedRange<UInt32> { _ = try id.withBigEndianBytes { k in try txn.delete(db, key: Array(k)) } }
                #expect(try txn.stat(db).entries == 0)
            }
        }
        let e = Self.openError(dir, readOnly: false)
        #expect(e?.message.contains("is damaged: the 'index.stream' database does not list event 300 (the last indexed event); nothing was written: run `ledgerflow audit verify --indexes") == true, "\(String(describing: e))")
        let log = try EventLog.open(at: dir.sub("s"), configuration: Self.readOnly)
        #expect(try log.verifyIndexes().problems.first?.description == "index.stream: stream 'run/0' (id 1) is missing: the events put it at seq 1–10, 51–60, 101–110, … (6 runs)")
    }

    // MARK: - Items 7c / 11b: a damaged last event refuses writes

    static func rewriteRecord(_ dir: TemporaryDirectory, seq: UInt64, _ change: (inout [UInt8]) -> Void) throws {
        let env = try env(dir)
        let events = try env.openDatabase("events", create: false)
        try env.write { txn in
            var record = try #require(try seq.withBigEndianBytes { k in try txn.withValue(events, key: k) { $0.map { Array($0) } } })
            change(&record)
            try seq.withBigEndianBytes { k in try record.withUnsafeBytes { v in try txn.put(events, key: k, value: v) } }
        }
    }

    @Test func aStoreWhoseLastEventsFailVerifyRefusesWrites() throws {
        let dir = try Self.store()
        try Self.rewriteRecord(dir, seq: 290) { $0[$0.count - 1] ^= 1 }
        let e = Self.openError(dir, readOnly: false)
        #expect(e?.message.contains("is damaged: event 290 of the last ones does not verify") == true, "\(String(describing: e))")
        let log = try EventLog.open(at: dir.sub("s"), configuration: Self.readOnly)
        #expect(try log.lastSeq() == 300)
        #expect(try log.verify().problem?.seq == 290)
    }

    // MARK: - Item 11a: an unreadable event among readable ones

    @Test func aTolerantScanDeliversEveryReadableEventAndNamesTheBadOne() throws {
        let dir = try Self.store(100)
        try Self.rewriteRecord(dir, seq: 37) { $0[0] = 0xE0 }
        let log = try EventLog.open(at: dir.sub("s"), configuration: Self.readOnly)
        #expect(throws: EventLogError.self) { try log.read() }
        for filter in [EventFilter.all, EventFilter(stream: "run/3"), EventFilter(type: "StageStarted")] {
            for hashes in [false, true] {
                var seqs: [UInt64] = [], bad: [(UInt64, String)] = []
                try log.scan(filter: filter, options: ReadOptions(hashes: hashes), unreadable: { bad.append(($0, $1)); return true }) { e in
                    seqs.append(e.seq)
                    return true
                }
                let expected = try (1 ... 100 as ClosedRange<UInt64>).filter { s in
                    s != 37 && (filter.stream == nil || (s - 1) / 10 % 5 == 3) && (filter.type == nil || s % 10 != 1)
                }
                _ = try #require(expected.count > 0)
                #expect(seqs == expected, "filter \(filter) hashes \(hashes)")
                #expect(bad.map(\.0) == [37])
                #expect(bad.first?.1.contains("event 37 cannot be decoded: ") == true)
            }
        }
    }

    // MARK: - Item 11c: a full disk

    /// Payload sizes (in random integers) chosen so that the disk fills at the start of a write
    /// (3,000: LMDB gets ENOSPC) and in the middle of one (5,000: a short write, which LMDB
    /// reports as EIO, "Input/output error").
    @Test(arguments: [3000, 5000, 6100])
    func aFullDiskIsReportedAsSuch(ints: Int) throws {
        let dir = TemporaryDirectory()
        let mount = dir.sub("tmpfs")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let mounted = try run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mount])
        try #require(mounted.status == 0, "a 2 MiB tmpfs is needed (root): \(mounted.stderr)")
        defer { _ = try? run("/bin/umount", ["-l", mount]) }
        var c = Self.config
        c.durable = true
        let log = try EventLog.create(at: mount + "/s", configuration: c)
        var rng = SplitMix64(seed: 7)
        var failure: EventLogError?
        var written: UInt64 = 0
        for i in 0 ..< 200 {
            let payload = Value.array((0 ..< ints).map { _ in .int(Int64(bitPattern: rng.next())) })
            do {
                written = try log.append([NewEvent(type: "Big", payload: payload)], to: "big/\(i)").lastSeq ?? written
            } catch let e as EventLogError {
                failure = e
                break
            }
        }
        let e = try #require(failure, "2 MiB never filled")
        #expect(e.message.contains("ENOSPC"), "\(e.message)")
        #expect(e.message.contains("the disk holding the store is full"), "\(e.message)")
        #expect(e.message.contains(mount + "/s"), "\(e.message)")
        #expect(!e.message.contains("Input/output error"), "\(e.message)")
        // What was committed before stays, and verifies.
        #expect(try log.lastSeq() == written)
        #expect(try log.verify().ok)
        log.close()
    }
}
