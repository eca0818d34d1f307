import Domain
import EventLog
import Foundation
import TestSupport
import Testing

/// Damaged stores through the built binary (issue 16 items 6, 7, 11): every command fails with one
/// line and exit code 1, never a signal, and writes nothing.
@Suite(.timeLimit(.minutes(2))) struct HostileStoreTests {
    let seed = CatalogCLITests.fixture("fixtures/seed/job_101.json")
    let examples = CatalogCLITests.fixture("fixtures/examples/churn")

    /// A store with the example catalog applied and a few more events.
    func store(_ dir: TemporaryDirectory) throws -> String {
        let store = dir.sub("store")
        #expect(try ledgerflow(["init", "--store", store]).status == 0)
        let applied = try ledgerflow(["apply", "--store", store, seed, examples])
        #expect(applied.status == 0, "\(applied.stderr)")
        let log = try EventLog.open(at: store)
        for i in 0 ..< 20 {
            try log.append((0 ..< 50).map { j in NewEvent(type: "Note", payload: ["i": .int(Int64(i)), "j": .int(Int64(j)), "text": "a note of some length"]) },
                           to: "notes/\(i % 3)")
        }
        log.close()
        return store
    }

    /// Rewrites every occurrence of `from` in the store's data.mdb (`change` edits the bytes around).
    func patch(_ store: String, _ from: String, _ change: (inout [UInt8], Int) -> Void) throws -> Int {
        let file = store + "/data.mdb"
        var data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        let a = Array(from.utf8)
        var hits = 0
        var i = 1
        while i + a.count <= data.count {
            if data[i] == a[0] && Array(data[i ..< i + a.count]) == a {
                change(&data, i)
                hits += 1
                i += a.count
            } else {
                i += 1
            }
        }
        try Data(data).write(to: URL(fileURLWithPath: file))
        return hits
    }

    /// Every command: exit 1 (not a signal), nothing on stdout, one stderr line containing `what`.
    func expectOneLineFailure(_ store: String, _ what: String) throws {
        let commands: [[String]] = [["events"], ["events", "--stream", "notes/1"], ["stats"], ["audit", "verify"], ["audit", "verify", "--indexes"],
                                    ["catalog", "history", "job", "daily_churn"], ["apply", seed, examples]]
        for args in commands {
            let r = try ledgerflow(args + ["--store", store])
            #expect(!r.signalled && r.status == 1, "\(args): status \(r.status) signalled \(r.signalled) \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines.first?.hasPrefix("ledgerflow: ") == true && r.stderr.contains(what), "\(args): \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(args): \(r.stdout)")
        }
    }

    @Test func aTruncatedDataFileFailsEveryCommandWithOneLine() throws {
        let dir = TemporaryDirectory()
        let store = try store(dir)
        let file = store + "/data.mdb"
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        let h = try #require(FileHandle(forWritingAtPath: file))
        try h.truncate(atOffset: UInt64(size / 2))
        try h.close()
        try expectOneLineFailure(store, "data.mdb is truncated: it holds \(size / 2) bytes but its pages need ")
        #expect(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int == size / 2)
    }

    @Test func aLostDatabaseNameFailsEveryCommandAndNothingIsRecreated() throws {
        let dir = TemporaryDirectory()
        let store = try store(dir)
        #expect(try patch(store, "index.stream") { d, i in d[i + 11] = UInt8(ascii: "n") } > 0)
        let patched = try Data(contentsOf: URL(fileURLWithPath: store + "/data.mdb"))
        try expectOneLineFailure(store, "is damaged: its database 'index.stream' is missing (LMDB's main database holds 'index.strean' instead: a name was overwritten)")
        // Nothing wrote to the file (apply appended nothing, created no database).
        #expect(try Data(contentsOf: URL(fileURLWithPath: store + "/data.mdb")) == patched)
    }

    @Test func anEventThatCannotBeReadIsNamedAndTheOthersArePrinted() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        do {
            let log = try EventLog.create(at: store)
            for i in 1 ... 9 {
                try log.append([NewEvent(type: "Note", payload: i == 5 ? .string("ZZZZZZZZ") : ["i": .int(Int64(i))])], to: "notes")
            }
        }
        // The string's length byte (8) becomes 127: the payload ends early.
        #expect(try patch(store, "ZZZZZZZZ") { d, i in d[i - 1] = 0x7F } >= 1)
        for args in [["events"], ["events", "--stream", "notes"], ["events", "--json"]] {
            let r = try ledgerflow(args + ["--store", store])
            #expect(r.status == 1 && !r.signalled)
            #expect(r.lines.count == 8, "\(args): \(r.stdout)")
            let err = r.stderr.split(separator: "\n").map(String.init)
            #expect(err.count == 2, "\(err)")
            #expect(err.first?.hasPrefix("ledgerflow: event 5 cannot be read, skipped: event 5 cannot be decoded: ") == true, "\(err)")
            #expect(err.last == "ledgerflow: 1 event could not be read (the first at seq 5); the others were printed: run `ledgerflow audit verify --store \(store)` and restore the store from a backup")
        }
        let verify = try ledgerflow(["audit", "verify", "--store", store])
        #expect(verify.status == 1 && verify.stderr.contains("FAILED at seq 5"))
        // Writes are refused: the last events do not verify.
        let apply = try ledgerflow(["apply", "--store", store, seed, examples])
        #expect(apply.status == 1 && apply.stderr.contains("is damaged: event 5 of the last ones does not verify"), "\(apply.stderr)")
        #expect(try EventLog.open(at: store, configuration: { var c = EventLog.Configuration(); c.readOnly = true; return c }()).lastSeq() == 9)
    }

    /// An index that disagrees with the events (a posting added with LMDB's own `mdb_load`) fails
    /// `audit verify`, which names the index, the key and the first differing run.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/mdb_load")))
    func verifyNamesAnIndexThatDisagreesWithTheEvents() throws {
        let dir = TemporaryDirectory()
        let store = try store(dir)
        let input = dir.sub("posting.txt")
        try ("VERSION=3\nformat=bytevalue\ndatabase=index.type\ntype=btree\ndupsort=1\ndupfixed=1\nHEADER=END\n"
             + " 00000001\n 0000000005f5e10000000001\nDATA=END\n").write(toFile: input, atomically: true, encoding: .utf8)
        let loaded = try run("/usr/bin/mdb_load", ["-f", input, "-s", "index.type", store])
        #expect(loaded.status == 0, "\(loaded.stderr)")
        let r = try ledgerflow(["audit", "verify", "--store", store])
        #expect(r.status == 1)
        let err = r.stderr.split(separator: "\n").map(String.init)
        #expect(err.count == 1 && err[0].hasPrefix("ledgerflow: audit verify: index mismatch: index.type: type '"), "\(err)")
        #expect(err.first?.contains("(id 1) lists seq 100000000 after 1 matching run, the events say nothing more (the chain verified; the indexes are derived from it: restore the store from a backup)") == true, "\(err)")
        #expect(try ledgerflow(["audit", "verify", "--no-indexes", "--store", store]).status == 0)
        let json = try ledgerflow(["audit", "verify", "--json", "--store", store])
        let v = try Value(json: json.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(json.status == 1 && v["ok"] == .bool(false) && v["chain_ok"] == .bool(true) && v["indexes"]?["ok"] == .bool(false))
    }

    @Test func verifyIndexesOnAHealthyStore() throws {
        let dir = TemporaryDirectory()
        let store = try store(dir)
        let r = try ledgerflow(["audit", "verify", "--indexes", "--store", store])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.lines.last?.hasPrefix("indexes verified: stream, correlation and type postings, stream heads and names match the ") == true, "\(r.stdout)")
        let json = try ledgerflow(["audit", "verify", "--indexes", "--json", "--store", store])
        let v = try Value(json: json.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(v["indexes"]?["ok"] == .bool(true))
    }
}
