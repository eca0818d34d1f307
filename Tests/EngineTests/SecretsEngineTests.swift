import Catalog
import Domain
import EventLog
import Executors
import Foundation
import Runs
import TestSupport
import Testing
@testable import Engine

/// No secret value reaches the log, a log file or an error: real script stages run by the engine.
@Suite(.timeLimit(.minutes(1))) struct SecretsEngineTests {
    static let secret = "s3cr3t-Value-42"

    /// A project with secret `pw` (from a file) and job `j` of one script stage running `script`
    /// with `PW: {secret: pw}`.
    func project(_ script: String, secret: String = SecretsEngineTests.secret, retry: Int = 1) throws -> Project {
        let p = try Project()
        try "\(secret)\n".write(toFile: p.root + "/pw.txt", atomically: true, encoding: .utf8)
        try script.write(toFile: p.root + "/stage.sh", atomically: true, encoding: .utf8)
        try p.apply("""
        kind: secret
        name: pw
        from_file: pw.txt
        ---
        kind: job
        name: j
        stages:
          - name: s
            type: script
            command: [sh, stage.sh]
            env: {PW: {secret: pw}}
            retry: {attempts: \(retry), backoff: 0s}
        """)
        return p
    }

    func runJob(_ p: Project) throws -> RunState {
        let id = try RunCommands.request(p.log, job: "j", trigger: RunTrigger(.manual), actor: "test")
        return try #require(try p.runAll().runs[id])
    }

    /// Every byte the store's files and events hold, as text (lossy), to search for the secret.
    func everything(_ p: Project) throws -> String {
        var all = try p.log.read().map { $0.payload.jsonString }.joined(separator: "\n")
        let runs = p.store + "/runs"
        for f in FileManager.default.subpaths(atPath: runs) ?? [] {
            if let d = FileManager.default.contents(atPath: runs + "/" + f) { all += "\n" + String(decoding: d, as: UTF8.self) }
        }
        return all
    }

    func bytes(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

    @Test func outputWithBytesThatAreNotUTF8IsMasked() throws {
        let p = try project(#"printf 'pw=%s \377\n' "$PW"; printf '\376 %s\n' "$PW" >&2"#)
        let run = try runJob(p)
        #expect(run.status == .succeeded)
        #expect(bytes(p.store + "/runs/1/s/1/stdout.log") == Array("pw=*** ".utf8) + [0xff, 0x0a])
        #expect(bytes(p.store + "/runs/1/s/1/stderr.log") == [0xfe] + Array(" ***\n".utf8))
    }

    @Test func aFailingCommandsStderrTailInTheErrorIsMasked() throws {
        let p = try project(#"printf 'cannot log in with \377%s\n' "$PW" >&2; exit 3"#)
        let run = try runJob(p)
        let error = try #require(run.stages[0].attempts.first?.error)
        #expect(error.hasSuffix("exited with code 3; last stderr line: cannot log in with \u{FFFD}***"), "\(error)")
        #expect(try !everything(p).contains(Self.secret))
    }

    @Test func aReportHoldingASecretFailsTheAttemptAndRecordsNothingOfIt() throws {
        let p = try project(#"printf '{"outputs": {"rows": 3, "token": "Bearer %s"}, "predictions": [{"entity": "e1", "score": 0.5}]}' "$PW" > "$LEDGERFLOW_REPORT""#)
        let run = try runJob(p)
        #expect(run.status == .failed)
        let attempt = try #require(run.stages[0].attempts.first)
        #expect(attempt.outcome == .failed)
        #expect(attempt.error == "the script's report \(p.store)/runs/1/s/1/report.json holds the value of secret 'pw' (in outputs.token); what a report holds is recorded in the event log for good, so none of it was: leave secrets out of the report")
        #expect(try p.log.read().allSatisfy { $0.type != "PredictionRecorded" })
        // Neither the log nor any file of the store holds the value (the report file was masked).
        #expect(try !everything(p).contains(Self.secret))
        #expect(String(decoding: bytes(p.store + "/runs/1/s/1/report.json"), as: UTF8.self).contains("Bearer ***"))
    }

    /// A report writing the value with JSON escapes is caught too (the file is removed: the byte
    /// mask cannot see the value in it).
    @Test func aSecretWrittenWithJSONEscapesInTheReportIsCaught() throws {
        let p = try project(#"printf '{"outputs": {"token": "%s\\u0034\\u0032"}}' "$(printf '%s' "$PW" | head -c 13)" > "$LEDGERFLOW_REPORT""#)
        let run = try runJob(p)
        #expect(run.stages[0].attempts.first?.error?.contains("holds the value of secret 'pw' (in outputs.token)") == true, "\(String(describing: run.stages[0].attempts.first?.error))")
        #expect(!FileManager.default.fileExists(atPath: p.store + "/runs/1/s/1/report.json"))
        #expect(try !everything(p).contains(Self.secret))
    }

    @Test(arguments: ["", "x", "ab"]) func aSecretTooShortToMaskIsRefusedWithOneLine(_ value: String) throws {
        let p = try project("echo ran > ran.txt", secret: value)
        let run = try runJob(p)
        #expect(run.status == .failed)
        let what = value.isEmpty ? "is empty" : "is only \(value.count) character\(value.count == 1 ? "" : "s") long"
        #expect(run.stages[0].attempts.first?.error == "env PW: secret 'pw' \(what); a secret shorter than 3 characters cannot be masked in logs without destroying them (and the masks would give it away): use a longer value")
        #expect(!FileManager.default.fileExists(atPath: p.root + "/ran.txt"), "the script did not run")
    }

    /// A secret read from the engine's environment reaches a script only through its stage's
    /// `env`; a stage that does not ask for it neither inherits the variable nor can print it.
    @Test func aSecretsSourceVariableIsNotInheritedAndEveryCatalogSecretIsMasked() throws {
        let variable = "LEDGERFLOW_TEST_SECRET_\(UInt32.random(in: 0 ... .max))"
        setenv(variable, "env-secret-\(variable)", 1)
        defer { unsetenv(variable) }
        let p = try project(#"echo "inherited=${\#(variable):-none}"; echo "file secret: $(cat pw.txt)"; echo "env secret: env-secret-\#(variable)""#)
        try p.apply("""
        kind: secret
        name: from_engine
        from_env: \(variable)
        """)
        let run = try runJob(p)
        #expect(run.status == .succeeded)
        #expect(String(decoding: bytes(p.store + "/runs/1/s/1/stdout.log"), as: UTF8.self) == "inherited=none\nfile secret: ***\nenv secret: ***\n")
    }
}
