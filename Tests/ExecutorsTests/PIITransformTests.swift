import Catalog
import Domain
import Foundation
import TestSupport
import Testing
@testable import Executors

/// The PII transforms of etl and storage stages: mask, hash, redact, drop, alone and in a stage.
@Suite(.timeLimit(.minutes(1))) struct PIITransformTests {
    /// The SHA-256 of `bytes` as `sha256sum` computes it: independent of the code under test.
    func sha256sum(_ bytes: [UInt8], in s: Sandbox) throws -> String {
        let file = s.root + "/hash-input.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let r = try run("/usr/bin/sha256sum", [file])
        try #require(r.status == 0, "\(r.stderr)")
        return String(r.stdout.prefix(64))
    }

    @Test(arguments: [
        ("4111111111111111", 4, "************1111"),
        ("alice@example.com", 4, "*************.com"),
        ("1234", 4, "****"), // as long as keep: masked whole, or it would be kept whole
        ("12", 4, "**"),
        ("", 4, ""),
        ("secret", 0, "******"),
        ("Zoë Çelik👩‍👩‍👧", 2, "********k👩‍👩‍👧"), // characters, not bytes or scalars
        ("e\u{301}te\u{301}", 1, "**e\u{301}"),
    ])
    func maskKeepsTheLastCharacters(_ text: String, _ keep: Int, _ masked: String) {
        #expect(Transform.mask(text, keep: keep, with: "*") == masked)
    }

    @Test func hashIsSaltedSHA256OfSaltThenValue() throws {
        let s = try Sandbox()
        let salt = Array("pepper-and-salt".utf8)
        let value = "alice@example.com"
        let h = Transform.hash(value, salt: salt)
        #expect(h == (try sha256sum(salt + Array(value.utf8), in: s)))
        #expect(h.count == 64 && h == h.lowercased())
        #expect(Transform.hash(value, salt: salt) == h, "same value and salt: same hash")
        #expect(Transform.hash(value, salt: Array("another-salt".utf8)) != h, "another salt: another hash")
        #expect(Transform.hash("bob@example.com", salt: salt) != h)
        // Unicode values hash their UTF-8.
        #expect(Transform.hash("Zoë", salt: salt) == (try sha256sum(salt + Array("Zoë".utf8), in: s)))
    }

    /// One table through mask, hash, redact and drop: nulls stay null, numbers are masked and
    /// hashed as their text, a dropped column is gone, and the lineage says which were masked.
    @Test func aTableThroughEveryTransform() throws {
        let spec = TransformSpec(rename: [ColumnRename(from: "cc", to: "card")], mask: .init(columns: ["card"], keep: 4, with: "#"),
                                 hash: .init(columns: ["email"], salt: "salt"), redact: .init(columns: ["ssn", "dob"], with: nil), drop: ["notes"])
        var redactText = spec
        redactText.redact = .init(columns: ["ssn", "dob"])
        let input = Table(columns: ["id", "cc", "email", "ssn", "dob", "notes"], rows: [
            [.int(1), .int(4_111_111_111_111_111), .string("alice@example.com"), .string("123-45-6789"), .string("1990-01-01"), .string("vip")],
            [.int(2), .null, .null, .null, .string("1985-05-05"), .null],
        ])
        var asked: [String] = []
        let t = try Transform(spec, stage: "load") { name throws(StageError) in asked.append(name); return "pepper-and-salt" }
        #expect(asked == ["salt"])
        let out = try t.apply(input, cancellation: Cancellation())
        #expect(out.columns == ["id", "card", "email", "ssn", "dob"])
        #expect(out.rows[0] == [.int(1), .string("############1111"), .string(Transform.hash("alice@example.com", salt: Array("pepper-and-salt".utf8))), .null, .null])
        #expect(out.rows[1] == [.int(2), .null, .null, .null, .null])
        let text = try Transform(redactText, stage: "load") { _ throws(StageError) in "pepper-and-salt" }.apply(input, cancellation: Cancellation())
        #expect(text.rows[0][3] == .string("[REDACTED]") && text.rows[1][3] == .null && text.rows[1][4] == .string("[REDACTED]"))

        var flow = ColumnFlow()
        flow.read("customers", columns: input.columns)
        t.flow(&flow)
        let lineage = flow.lineage
        #expect(lineage.fields.map(\.column) == ["id", "card", "email", "ssn", "dob"], "notes has no output lineage")
        let byColumn = Dictionary(uniqueKeysWithValues: lineage.fields.map { ($0.column, $0.origins) })
        #expect(byColumn["id"]?.map(\.masking) == [nil])
        #expect(byColumn["card"]?.map(\.masking) == [.mask] && byColumn["card"]?.first?.field == "cc")
        #expect(byColumn["card"]?.first?.subtype == "TRANSFORMATION")
        #expect(byColumn["card"]?.first?.description == "mask (all but the last 4 characters replaced by #)")
        #expect(byColumn["email"]?.map(\.masking) == [.hash])
        #expect(byColumn["email"]?.first?.description == "hash (SHA-256 salted with secret salt)")
        #expect(byColumn["ssn"]?.map(\.masking) == [.redact] && byColumn["dob"]?.first?.description == "redact (to null)")
        #expect(!lineage.value.jsonString.contains("pepper"), "the salt's value is not in the lineage")
    }

    @Test func aDerivedColumnOfAMaskedOneIsMaskedToo() throws {
        let spec = TransformSpec(derive: [.init(column: "card_copy", expression: "card")], mask: .init(columns: ["card"]))
        let t = try Transform(spec, stage: "load")
        let out = try t.apply(Table(columns: ["card"], rows: [[.string("4111111111111111")]]), cancellation: Cancellation())
        #expect(out.rows[0] == [.string("************1111"), .string("************1111")], "derive sees the masked value")
        var flow = ColumnFlow()
        flow.read("raw", columns: ["card"])
        t.flow(&flow)
        #expect(flow.lineage.fields.last?.origins.map(\.masking) == [.mask])
    }

    @Test func aColumnTheRowsDoNotHaveFailsNamingItAndTheStage() throws {
        let t = try Transform(TransformSpec(drop: ["notes"]), stage: "load")
        #expect(throws: StageError("drop of stage 'load': no column 'notes' in the rows (columns: id, email); name a column the stage's rows have (after its rename)")) {
            try t.apply(Table(columns: ["id", "email"], rows: [[.int(1), .string("a@b.c")]]), cancellation: Cancellation())
        }
    }

    /// A whole etl stage: the salt comes from a secret file when the stage runs; a missing secret
    /// fails the stage with one line that names it and holds no value.
    @Test func anETLStageHashesWithASecretSalt() throws {
        let s = try Sandbox()
        try s.write("in/c.csv", "id,email,notes\n1,alice@example.com,x\n2,,y\n")
        try s.write("salt.txt", "pepper-and-salt\n")
        let source: Value = ["type": "csv", "path": "in/c.csv"]
        let output: Value = ["type": "jsonl", "path": "out/clean"]
        let spec: Value = ["name": "load", "type": "etl", "source": "c", "destination": "clean",
                           "hash": ["columns": ["email"], "salt": "salt"], "drop": ["notes"]]
        let defs: [(DefinitionKind, String, Value)] = [(.source, "c", source), (.output, "clean", output), (.secret, "salt", ["from_file": "salt.txt"])]
        let r = try ETLExecutor().run(s.context(spec, defs: defs))
        #expect(r.datasets.first?.schema.map(\.name) == ["id", "email"])
        let files = try FileManager.default.subpathsOfDirectory(atPath: s.root + "/out/clean").filter { $0.hasSuffix(".jsonl") }
        let written = try #require(files.first.flatMap { s.read("out/clean/" + $0) })
        #expect(written.contains(Transform.hash("alice@example.com", salt: Array("pepper-and-salt".utf8))))
        #expect(!written.contains("alice") && !written.contains("pepper") && !written.contains("notes"))
        #expect(r.columns?.lineage.fields.first { $0.column == "email" }?.origins.first?.masking == .hash)

        let missing = defs.filter { $0.1 != "salt" }
        #expect(throws: StageError("hash salt of stage 'load': secret 'salt' is not defined in the run's catalog; define it (kind: secret, from_env or from_file)")) {
            try ETLExecutor().run(s.context(spec, defs: missing))
        }
    }
}
