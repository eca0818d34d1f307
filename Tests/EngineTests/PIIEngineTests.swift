import Catalog
import Domain
import EventLog
import Executors
import Foundation
import Lineage
import Runs
import TestSupport
import Testing
@testable import Engine

/// PII transforms run by the engine: no raw value of a masked, hashed or redacted column reaches
/// a destination (CSV, JSON Lines, SQLite), an event of the log, or an error; the salt reaches
/// none of them either; column lineage and its OpenLineage export say which columns were masked.
@Suite(.timeLimit(.minutes(1))) struct PIIEngineTests {
    static let salt = "s4lt-Only-The-Engine-Knows"
    /// Distinctive raw values: card numbers, e-mails, social security numbers, free-text notes.
    static let cards = ["4929381046571234", "5500917264830042"]
    static let emails = ["zelda.quintero+pii@example.org", "yusuf.okonkwo-pii@example.net"]
    static let ssns = ["078-05-1120", "219-09-9999"]
    static let notes = ["VIP-NOTE-7731-XQ", "CALLBACK-NOTE-5521-ZR"]
    static var raw: [String] { cards + emails + ssns + notes }

    /// A project with the customers file, its salt, the definitions of fixtures/examples/pii (job
    /// `protect_customers`: mask, hash, redact, drop; written to CSV, JSON Lines and SQLite) and
    /// job `failing` (masks the e-mails, then casts them to int, which fails on the first row:
    /// unmasked, the error would quote the raw e-mail).
    func project() throws -> Project {
        let p = try Project()
        var csv = "id,card,email,ssn,notes,country\n"
        for i in 0 ..< 2 { csv += "\(i + 1),\(Self.cards[i]),\(Self.emails[i]),\(Self.ssns[i]),\(Self.notes[i]),NL\n" }
        try FileManager.default.createDirectory(atPath: p.root + "/in", withIntermediateDirectories: true)
        try csv.write(toFile: p.root + "/in/customers.csv", atomically: true, encoding: .utf8)
        try "\(Self.salt)\n".write(toFile: p.root + "/salt.txt", atomically: true, encoding: .utf8)
        let fixture = try String(contentsOfFile: repositoryRoot + "/fixtures/examples/pii/customers.yaml", encoding: .utf8)
        try p.apply(fixture + """

        ---
        kind: job
        name: failing
        stages:
          - name: load
            type: etl
            source: customers
            destination: clean_csv
            mask: {columns: [email]}
            cast: {email: int}
        """)
        return p
    }

    func runJob(_ p: Project, _ job: String) throws -> RunState {
        let id = try RunCommands.request(p.log, job: job, trigger: RunTrigger(.manual), actor: "test")
        return try #require(try p.runAll().runs[id])
    }

    /// The bytes of every file under `folder`.
    func files(under folder: String) -> [(path: String, bytes: [UInt8])] {
        (FileManager.default.subpaths(atPath: folder) ?? []).sorted().compactMap { f in
            var dir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder + "/" + f, isDirectory: &dir), !dir.boolValue,
                  let d = FileManager.default.contents(atPath: folder + "/" + f) else { return nil }
            return (f, [UInt8](d))
        }
    }

    func holds(_ haystack: [UInt8], _ needle: String) -> Bool {
        let n = Array(needle.utf8)
        guard n.count <= haystack.count else { return false }
        return (0 ... haystack.count - n.count).contains { i in haystack[i] == n[0] && haystack[i ..< i + n.count].elementsEqual(n) }
    }

    @Test func noRawValueOrSaltReachesADestinationAnEventOrAnError() throws {
        let p = try project()
        let good = try runJob(p, "protect_customers")
        #expect(good.status == .succeeded, "\(good.stages.map { $0.attempts.map(\.error) })")
        let bad = try runJob(p, "failing")
        #expect(bad.status == .failed)
        let error = bad.stages.first?.attempts.first?.error ?? ""
        // The cast failed on the masked value: the error names the row and shows what it saw.
        let masked = String(repeating: "*", count: Self.emails[0].count - 4) + ".org"
        #expect(error.hasSuffix("in/customers.csv, row 1, column email: cannot cast \"\(masked)\" to int; fix the value or the stage's cast"), "\(error)")

        // Destinations: each was written and holds the protected values, none of the raw ones.
        let out = files(under: p.root + "/out")
        #expect(Set(out.map { ($0.path as NSString).pathExtension }) == ["csv", "jsonl", "sqlite"], "\(out.map(\.path))")
        let hashed = Transform.hash(Self.emails[0], salt: Array(Self.salt.utf8))
        for f in out {
            #expect(holds(f.bytes, "************1234"), "\(f.path) holds the masked card")
            #expect(holds(f.bytes, hashed), "\(f.path) holds the hashed e-mail")
            #expect(holds(f.bytes, "[REDACTED]"), "\(f.path) holds the redaction")
            for v in Self.raw + [Self.salt] { #expect(!holds(f.bytes, v), "\(f.path) holds \(v)") }
        }
        // The SQLite table, read back: the dropped column is not there.
        let columns = try run("/usr/bin/sqlite3", [p.root + "/out/clean.sqlite", "SELECT name FROM pragma_table_info('customers')"])
        #expect(columns.stdout.split(separator: "\n") == ["id", "card", "email", "ssn", "country"])

        // Every event of the log (its payload as JSON, and its stream and actor), and every file
        // the store keeps.
        let events = try p.log.read()
        #expect(events.contains { $0.type == "StageFailed" } && events.contains { $0.type == "DatasetVersionWritten" })
        for e in events {
            let bytes = Array((e.payload.jsonString + e.stream + e.actor).utf8)
            for v in Self.raw + [Self.salt] { #expect(!holds(bytes, v), "seq \(e.seq) (\(e.type)) holds \(v)") }
        }
        for f in files(under: p.store) {
            for v in Self.raw + [Self.salt] { #expect(!holds(f.bytes, v), "\(f.path) holds \(v)") }
        }
        for v in Self.raw + [Self.salt] { #expect(!error.contains(v)) }
    }

    @Test func columnLineageAndOpenLineageSayWhichColumnsWereMasked() throws {
        let p = try project()
        #expect(try runJob(p, "protect_customers").status == .succeeded)
        let written = try p.log.read().filter { $0.type == "DatasetVersionWritten" }
        #expect(written.count == 3)

        // The column trace of each protected column names how it was masked.
        let q = LineageQuery(graph: try LineageGraph(log: p.log))
        for (column, masking) in [("card", ColumnMasking.mask), ("email", .hash), ("ssn", .redact)] {
            let trace = try q.column(column, of: "dataset:clean_csv@1", depth: 2)
            #expect(trace.inputs.map(\.masking) == [masking])
            #expect(trace.inputs.first?.column == column && trace.inputs.first?.dataset == "customers")
            #expect(trace.text.contains("[masked: \(masking.rawValue)]"))
        }
        #expect(try q.column("id", of: "dataset:clean_csv@1", depth: 2).inputs.map(\.masking) == [nil])
        #expect(throws: (any Error).self) { try q.column("notes", of: "dataset:clean_csv@1", depth: 2) }

        // OpenLineage: masking true on the input fields of masked columns only; no notes.
        var complete: [Value] = []
        try OpenLineageExport(log: p.log).export(from: 1, through: try p.log.lastSeq()) { e in
            if e["eventType"] == "COMPLETE" { complete.append(e) }
        }
        let outputs = try #require(complete.first?["outputs"]?.arrayValue)
        #expect(outputs.count == 3)
        for o in outputs {
            let fields = try #require(o["facets"]?["columnLineage"]?["fields"])
            #expect(fields.objectMembers?.map(\.key).sorted() == ["card", "country", "email", "id", "ssn"])
            for (column, masked) in [("card", true), ("email", true), ("ssn", true), ("id", false), ("country", false)] {
                let transformations = fields[column]?["inputFields"]?[0]?["transformations"]?[0]
                #expect(transformations?["masking"] == .bool(masked), "\(column)")
                #expect(transformations?["subtype"] == (masked ? "TRANSFORMATION" : "IDENTITY"))
            }
        }
        // Valid against the official schemas.
        let file = p.root + "/openlineage.jsonl"
        var lines = ""
        try OpenLineageExport(log: p.log).export(from: 1, through: try p.log.lastSeq()) { lines += $0.jsonString + "\n" }
        try lines.write(toFile: file, atomically: true, encoding: .utf8)
        let validated = try run("/usr/bin/env", ["python3", repositoryRoot + "/tools/validate-openlineage.py", file])
        #expect(validated.status == 0, "\(validated.stdout)\(validated.stderr)")
    }
}

/// The repository's root (tests run tools from it).
private let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0 ..< 3 { url.deleteLastPathComponent() }
    return url.path
}()
