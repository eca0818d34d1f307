import Domain
import Foundation
import TestSupport
import Testing

/// The live (not zombie) processes of process group `group` (Linux /proc).
func liveProcesses(inGroup group: pid_t) -> [pid_t] {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { name -> pid_t? in
        guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, fields[0] != "Z", fields[0] != "X", pid_t(fields[2]) == group else { return nil }
        return pid
    } ?? []
}

/// Through the built binary: secrets never reach a log file or `ledgerflow logs`, even while the
/// attempt runs or after its engine was killed; and a killed engine's script is stopped before
/// recovery retries it.
@Suite(.serialized, .timeLimit(.minutes(2))) struct SecretsAndRecoveryTests {
    static let secret = "s3cr3t-Value-42"

    func secretProject(_ script: String) throws -> RunCLITests.Project {
        try RunCLITests.Project("""
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
        """, files: ["pw.txt": Self.secret + "\n", "stage.sh": script])
    }

    func text(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }

    @Test func logsWhileTheAttemptRunsAndTheFilesOfAKilledEngineNeverHoldTheSecret() throws {
        let p = try secretProject("""
        printf 'token=%s\\n' "$PW"
        printf 'oops %s\\n' "$PW" >&2
        echo $$ > child.pid
        exec sleep 30
        """)
        let engine = try BackgroundProcess(try binary("ledgerflow"), ["run", "j", "--store", p.store], cwd: p.root)
        defer {
            if let child = pidWritten(to: p.root + "/child.pid"), !liveProcesses(inGroup: child).isEmpty { kill(-child, SIGKILL) }
            engine.stop()
        }
        try waitFor("the script to start") { pidWritten(to: p.root + "/child.pid") != nil }
        // While the attempt runs, `ledgerflow logs` shows its output masked.
        var shown = ""
        try waitFor("`ledgerflow logs 1` to show both lines (last seen: \(shown))") {
            shown = try p.lf(["logs", "1"]).stdout
            return shown.contains("token=***") && shown.contains("oops ***")
        }
        #expect(!shown.contains(Self.secret))
        // The engine dies mid-attempt: the files on disk hold no secret either.
        engine.signal(SIGKILL)
        _ = try engine.finish()
        for stream in ["stdout", "stderr"] {
            let file = text(p.store + "/runs/1/s/1/\(stream).log")
            #expect(file.contains("***") && !file.contains(Self.secret), "\(stream).log: \(file)")
        }
    }

    /// Log files written by an older version (unmasked, with a byte that is not UTF-8) are
    /// masked when shown.
    @Test func logsMasksFilesWrittenUnmasked() throws {
        let p = try secretProject("echo fine")
        let ran = try p.lf(["run", "j"])
        #expect(ran.status == 0, "\(ran.stderr)")
        let old = Array("old token=\(Self.secret) ".utf8) + [0xff] + Array("\n".utf8)
        try Data(old).write(to: URL(fileURLWithPath: p.store + "/runs/1/s/1/stdout.log"))
        let logs = try p.lf(["logs", "1", "s"])
        #expect(logs.status == 0, "\(logs.stderr)")
        #expect(logs.stdout.contains("old token=*** \u{FFFD}") && !logs.stdout.contains(Self.secret), "\(logs.stdout)")
    }

    /// `ledgerflow run` is killed (SIGKILL) while its script writes a marker every 100 ms
    /// forever; the script survives it (its own process group). Recovery (`ledgerflow work`)
    /// stops it before attempt 2 starts: attempt 1's last write comes before attempt 2's first,
    /// no process of attempt 1 is left, and the interruption says what was stopped.
    @Test func aKilledEnginesScriptIsStoppedBeforeTheRetry() throws {
        let p = try RunCLITests.Project("""
        kind: job
        name: j
        stages:
          - {name: s, type: script, command: [sh, loop.sh], retry: {attempts: 2, backoff: 0s}}
        """, files: ["loop.sh": """
        echo $$ > pid-$LEDGERFLOW_ATTEMPT
        if [ "$LEDGERFLOW_ATTEMPT" = 1 ]; then
          while true; do date +%s%N >> marker-1; sleep 0.1; done
        fi
        for i in 1 2 3; do date +%s%N >> marker-2; sleep 0.1; done
        """])
        func marks(_ attempt: Int) -> [Int64] { text(p.root + "/marker-\(attempt)").split(separator: "\n").compactMap { Int64($0) } }
        let first = try BackgroundProcess(try binary("ledgerflow"), ["run", "j", "--store", p.store], cwd: p.root)
        try waitFor("attempt 1 to write markers") { marks(1).count >= 3 }
        let pid1 = try #require(pidWritten(to: p.root + "/pid-1"))
        defer { if !liveProcesses(inGroup: pid1).isEmpty { kill(-pid1, SIGKILL) } }
        first.signal(SIGKILL)
        _ = try first.finish()
        // The premise: attempt 1's script outlives its engine.
        let before = marks(1).count
        try waitFor("attempt 1's script to go on writing without its engine") { marks(1).count > before + 1 }
        let work = try p.startEngine()
        defer { work.stop(SIGTERM) }
        try waitFor("run 1 to finish", timeout: 60, interval: 0.05) { try p.status("1")["status"] != .string("running") }
        let status = try p.status("1")
        #expect(status["status"] == .string("succeeded"), "\(status)")
        let attempts = status["stages"]?[0]?["attempts"]?.arrayValue ?? []
        #expect(attempts.map { $0["reason"]?.stringValue } == ["interrupted", nil])
        let error = attempts.first?["error"]?.stringValue ?? ""
        #expect(error.contains("process group \(pid1) still ran: stopped (SIGTERM)"), "\(error)")
        let one = marks(1), two = marks(2)
        #expect(two.count == 3)
        #expect(one.max() ?? .max < two.min() ?? .min, "attempt 1 wrote until \(one.max() ?? 0), attempt 2 began at \(two.min() ?? 0)")
        #expect(liveProcesses(inGroup: pid1).isEmpty, "attempt 1's processes are gone")
        #expect(processHasEnded(pid1))
    }
}
