import Foundation
import TestSupport
import Testing
import Domain
import EventLog

/// Through the built binary, in other processes: every test has a time limit.
@Suite(.timeLimit(.minutes(1))) struct CLITests {
    @Test func eventsJSONMatchesWhatWasAppended() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        let initResult = try ledgerflow(["init", "--store", store, "--json"])
        #expect(initResult.status == 0)
        #expect(try Value(json: initResult.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["id"]?.stringValue?.count == 36)

        var appended: [(stream: String, event: NewEvent)] = []
        var hashes: [ChainHash] = []
        do {
            let log = try EventLog.open(at: store)
            let root = NewEvent(type: "RunRequested", payload: ["job": "churn-scoring", "parameters": ["date": "2026-11-21", "limit": 10]])
            let r = try log.append([root], to: "run/1", actor: "scheduler")
            let stage = NewEvent(type: "StageStarted", schemaVersion: 2, payload: ["stage": "score", "attempt": 1, "ratio": 0.25], causation: r.lastSeq)
            let pred = NewEvent(type: "PredictionRecorded", payload: ["entity": "cust-42", "outputs": ["churn_probability": 0.93]], causation: r.lastSeq)
            try log.append([stage], to: "run/1", actor: "worker")
            try log.append([pred], to: "predictions/1", actor: "worker")
            appended = [("run/1", root), ("run/1", stage), ("predictions/1", pred)]
            hashes = try log.read(options: ReadOptions(hashes: true)).compactMap(\.hash)
        }
        let r = try ledgerflow(["events", "--json"], environment: ["LEDGERFLOW_STORE": store, "PATH": "/usr/bin:/bin"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.lines
        #expect(lines.count == 3)
        for (i, line) in lines.enumerated() {
            let v = try Value(json: line)
            let (stream, e) = appended[i]
            #expect(v["seq"]?.intValue == Int64(i + 1))
            #expect(v["stream"]?.stringValue == stream)
            #expect(v["type"]?.stringValue == e.type)
            #expect(v["schemaVersion"]?.intValue == Int64(e.schemaVersion))
            #expect(v["payload"] == e.payload)
            #expect(v["causation"] == (e.causation.map { Value.int(Int64($0)) } ?? .null))
            #expect(v["correlation"]?.intValue == 1)
            #expect(v["actor"]?.stringValue == (i == 0 ? "scheduler" : "worker"))
            #expect(v["hash"]?.stringValue == hashes[i].hex)
            #expect(Timestamp.parse(v["recordedAt"]?.stringValue ?? "") != nil)
        }
        #expect(try ledgerflow(["events", "--store", store, "--stream", "run/1", "--json"]).lines.count == 2)
        #expect(try ledgerflow(["events", "--store", store, "--type", "PredictionRecorded", "--json"]).lines.count == 1)
        #expect(try ledgerflow(["events", "--store", store, "--correlation", "1", "--from", "2", "--limit", "1", "--json"]).lines.count == 1)
        let text = try ledgerflow(["events", "--store", store])
        #expect(text.lines.count == 3 && text.lines[2].contains("predictions/1#1") && text.lines[2].contains("PredictionRecorded"))

        let head = try ledgerflow(["audit", "head", "--store", store, "--json"])
        #expect(try Value(json: head.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == ["seq": 3, "hash": .string(hashes[2].hex)])
        let anchor = try ledgerflow(["audit", "head", "--store", store]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(anchor == "3:\(hashes[2].hex)")
        let verified = try ledgerflow(["audit", "verify", "--store", store, "--anchor", anchor])
        #expect(verified.status == 0 && verified.stdout.contains("chain verified: 3 events"))

        let stats = try ledgerflow(["stats", "--store", store, "--json"])
        let s = try Value(json: stats.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(s["events"] == 3 && s["streams"] == 2)
        #expect(s["types"] == ["RunRequested": 1, "StageStarted": 1, "PredictionRecorded": 1])
        #expect((s["bytes_on_disk"]?.intValue ?? 0) > 0 && (s["bytes_per_event"]?.doubleValue ?? 0) > 0)
        #expect(try ledgerflow(["stats", "--store", store]).stdout.contains("events        3 in 2 streams"))
    }

    @Test func auditVerifyNamesTheFirstBadSeqAndExitsOne() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        do {
            let log = try EventLog.create(at: store)
            for i in 0 ..< 10 { try log.append([NewEvent(type: "T", payload: ["i": .int(Int64(i)), "note": "a fairly ordinary payload"])], to: "s") }
        }
        #expect(try ledgerflow(["audit", "verify", "--store", store]).status == 0)
        // Change one payload byte of seq 7 with the LMDB command-line tools (mdb_dump / mdb_load).
        let dump = try run("/usr/bin/mdb_dump", ["-s", "events", store])
        #expect(dump.status == 0)
        var lines = dump.lines
        // Data lines come in key/value pairs after HEADER=END; seq 7 is the 7th pair.
        let start = try #require(lines.firstIndex(of: "HEADER=END")) + 1
        let valueLine = start + 6 * 2 + 1
        var hex = Array(lines[valueLine])
        let last = hex.count - 1
        hex[last] = hex[last] == "0" ? "1" : "0"
        lines[valueLine] = String(hex)
        let edited = dir.sub("events.dump")
        try (lines.joined(separator: "\n") + "\n").write(toFile: edited, atomically: true, encoding: .utf8)
        #expect(try run("/usr/bin/mdb_load", ["-f", edited, "-s", "events", store]).status == 0)

        let r = try ledgerflow(["audit", "verify", "--store", store])
        #expect(r.status == 1)
        #expect(r.stderr.contains("seq 7"))
        #expect(r.stderr.split(separator: "\n").count == 1)
        let j = try ledgerflow(["audit", "verify", "--store", store, "--json"])
        #expect(j.status == 1)
        let v = try Value(json: j.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(v["ok"] == false && v["first_bad_seq"] == 7 && v["events_checked"] == 6)
    }

    @Test func errorsAreOneLineWithTheConventionalExitCodes() throws {
        let dir = TemporaryDirectory()
        let missing = try ledgerflow(["events", "--store", dir.sub("nowhere")])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no store at") && missing.stderr.contains("ledgerflow init"))
        #expect(missing.stderr.split(separator: "\n").count == 1)
        #expect(missing.stderr.hasPrefix("ledgerflow: no store at"), "\(missing.stderr)")
        #expect(try ledgerflow(["init", "--store", dir.sub("s")]).status == 0)
        let again = try ledgerflow(["init", "--store", dir.sub("s")])
        #expect(again.status == 1 && again.stderr.contains("already exists"))
        #expect(try ledgerflow(["events", "--store", dir.sub("s"), "--limit", "0"]).status == 2)
        #expect(try ledgerflow(["frobnicate"]).status == 2)
        #expect(try ledgerflow(["audit", "verify", "--store", dir.sub("s"), "--anchor", "12:nothex"]).status == 2)
        #expect(try ledgerflow(["events", "--store", dir.sub("s"), "--from", "x"]).status == 2)
        let help = try ledgerflow(["--help"])
        #expect(help.status == 0 && help.stdout.contains("events"))
        // The default store is ./.ledgerflow.
        #expect(try ledgerflow(["init"], environment: ["PATH": "/usr/bin:/bin"], cwd: dir.path).status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.sub(".ledgerflow/data.mdb")))
        #expect(try ledgerflow(["stats"], environment: ["PATH": "/usr/bin:/bin"], cwd: dir.path).status == 0)
    }

    @Test func anEventThatDoesNotReadFailsTheCommandInOneLineNamingIt() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        do {
            let log = try EventLog.create(at: store)
            // A run whose StageStarted was appended by hand with a malformed attempt (seq 2), and a
            // definition whose DefinitionApplied lost its spec_hash (seq 3).
            let requested = RunRequested.example
            try log.append([requested.event()], to: RunEvents.stream(run: requested.run))
            try log.append([NewEvent(type: StageStarted.type, payload: ["stage": "extract", "attempt": "one", "engine": "by-hand"])],
                           to: RunEvents.stream(run: requested.run))
            try log.append([NewEvent(type: DefinitionApplied.type, payload: ["kind": "team", "name": "ops", "version": 1, "spec": ["emails": ["ops@example.com"]]])],
                           to: CatalogEvents.stream(kind: "team", name: "ops"))
            // A job whose stored spec does not read as a job spec (seq 4).
            try log.append([DefinitionApplied(kind: "job", name: "odd", version: 1, spec: ["stages": 3], specHash: "00", file: nil).event()],
                           to: CatalogEvents.stream(kind: "job", name: "odd"))
        }
        // The catalog listing still lists it, saying what does not read.
        let listed = try ledgerflow(["catalog", "show", "--store", store])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.lines.contains { $0.hasPrefix("job ") && $0.hasSuffix("unreadable spec: job spec: field 'stages' should be a list, found the integer 3") },
                "\(listed.stdout)")
        let cases: [([String], String)] = [
            (["audit", "export", "--format", "openlineage"],
             "ledgerflow: unreadable event: StageStarted at seq 2: field 'attempt' should be an integer, found the text \"one\"\n"),
            (["catalog", "history", "team", "ops"],
             "ledgerflow: unreadable event: DefinitionApplied at seq 3: field 'spec_hash' should be text, found nothing\n"),
        ]
        for (args, expected) in cases {
            let r = try ledgerflow(args + ["--store", store])
            #expect(r.status == 1, "\(args): \(r.stderr)")
            #expect(r.stderr == expected, "\(args)")
        }
    }

    @Test func followPrintsEventsAppendedByAnotherProcess() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        do {
            let log = try EventLog.create(at: store)
            try log.append([NewEvent(type: "Before", payload: nil)], to: "s")
            try log.append([NewEvent(type: "After", payload: ["n": 0])], to: "s")
        }
        let follower = try BackgroundProcess(try binary("ledgerflow"), ["events", "--store", store, "--follow", "--json", "--type", "After"])
        defer { follower.stop() }
        // Once it has printed the event already there, it has caught up and is following.
        func printedLines(_ text: String) -> Int { text.utf8.filter { $0 == UInt8(ascii: "\n") }.count }
        try follower.waitForOutput("the event already in the log") { printedLines($0) >= 1 }
        let appended: UInt64
        do {
            let log = try EventLog.open(at: store)
            try log.append([NewEvent(type: "Ignored", payload: nil)], to: "s")
            appended = try #require(try log.append([NewEvent(type: "After", payload: ["n": 1])], to: "s").lastSeq)
        }
        // The follower sees another process's append by polling.
        try follower.waitForOutput("the event appended by another process") { printedLines($0) >= 2 }
        follower.signal(SIGTERM) // SIGTERM ends following normally
        let r = try follower.finish()
        #expect(r.status == 0 && !r.signalled, "\(r.stderr)")
        #expect(r.lines.count == 2)
        let v = try Value(json: r.lines.last ?? "")
        #expect(v["seq"]?.intValue == Int64(appended) && v["type"] == "After" && v["payload"] == ["n": 1])
    }
}
