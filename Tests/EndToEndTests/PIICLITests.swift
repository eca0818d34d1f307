import Domain
import Foundation
import TestSupport
import Testing

/// PII transforms through the built binary: bad definitions are refused by `apply` with one line
/// and nothing appended; the example job run by `ledgerflow run` leaves no raw value or salt in
/// its outputs, its events, its messages or the lineage export.
@Suite(.timeLimit(.minutes(1))) struct PIICLITests {
    static let root = CatalogCLITests.root

    @Test(arguments: ["45-pii-negative-keep", "46-pii-hash-without-salt", "47-pii-hash-undefined-secret", "48-pii-dropped-column-selected"])
    func aBadPIITransformIsRefusedWithOneLineAndNothingAppended(_ name: String) throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        #expect(try ledgerflow(["init", "--store", store]).status == 0)
        let file = "fixtures/invalid/\(name).yaml"
        let r = try ledgerflow(["apply", "--store", store, file], cwd: Self.root)
        #expect(r.status == 1 && r.stdout.isEmpty)
        let expected = try String(contentsOfFile: Self.root + "/fixtures/invalid/\(name).expected", encoding: .utf8)
        #expect(r.stderr == expected + "ledgerflow: apply failed: 1 error in 1 file; nothing was appended\n")
        #expect(try CatalogCLITests().eventCount(store) == 0)
    }

    /// fixtures/examples/pii applied and run by the binary, with a failing job beside it.
    @Test func aRunLeavesNoRawValueAnywhereItWrites() throws {
        let dir = TemporaryDirectory()
        let salt = "e2e-salt-\(UInt32.random(in: 0 ... .max))"
        let raw = ["4716190207394368", "mirabel.ostrowski+e2e@example.com", "078-05-1120", "NOTE-E2E-99812"]
        try FileManager.default.createDirectory(atPath: dir.sub("in"), withIntermediateDirectories: true)
        try "id,card,email,ssn,notes\n1,\(raw[0]),\(raw[1]),\(raw[2]),\(raw[3])\n".write(toFile: dir.sub("in/customers.csv"), atomically: true, encoding: .utf8)
        try "\(salt)\n".write(toFile: dir.sub("salt.txt"), atomically: true, encoding: .utf8)
        try """
        kind: job
        name: failing
        stages:
          - {name: load, type: etl, source: customers, destination: clean_jsonl, redact: {columns: [email], with: redacted-email}, cast: {email: int}}
        """.write(toFile: dir.sub("failing.yaml"), atomically: true, encoding: .utf8)
        func lf(_ args: [String]) throws -> RunResult { try ledgerflow(args + ["--store", dir.sub(".ledgerflow")], cwd: dir.path) }
        #expect(try lf(["init"]).status == 0)
        #expect(try lf(["apply", Self.root + "/fixtures/examples/pii", "failing.yaml"]).status == 0)

        var said = ""
        let good = try lf(["run", "protect_customers"])
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        let bad = try lf(["run", "failing"])
        #expect(bad.status != 0)
        #expect(bad.stdout.contains("column email: cannot cast \"redacted-email\" to int"), "\(bad.stdout)\(bad.stderr)")
        said += good.stdout + good.stderr + bad.stdout + bad.stderr

        var rows = ""
        for f in try FileManager.default.subpathsOfDirectory(atPath: dir.sub("out")) where !f.hasSuffix("/") {
            if let d = FileManager.default.contents(atPath: dir.sub("out/" + f)) { rows += String(decoding: d, as: UTF8.self) }
        }
        #expect(rows.components(separatedBy: "************4368").count == 4, "masked in the CSV, JSON Lines and SQLite outputs")
        #expect(rows.contains("[REDACTED]"))

        let events = try lf(["events", "--json"])
        #expect(events.status == 0 && events.lines.count > 10)
        let lineage = try lf(["lineage", "dataset:clean_jsonl", "--column", "email", "--format", "json"])
        #expect(lineage.status == 0, "\(lineage.stderr)")
        let trace = try Value(json: lineage.stdout)
        #expect(trace["inputs"]?[0]?["masking"] == "hash", "\(lineage.stdout)")
        let export = try lf(["audit", "export", "--format", "openlineage"])
        #expect(export.status == 0)
        #expect(export.stdout.contains("\"masking\":true"))
        said += events.stdout + lineage.stdout + export.stdout

        for v in raw + [salt] {
            #expect(!rows.contains(v), "an output holds \(v)")
            #expect(!said.contains(v), "ledgerflow printed \(v)")
        }
    }
}
