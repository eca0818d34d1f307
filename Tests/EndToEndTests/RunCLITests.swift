import Domain
import EventLog
import Foundation
import TestSupport
import Testing

/// Runs through the built binary: real LMDB, SQLite, processes.
/// Through the built binary, in other processes: every test has a time limit (set per test, as
/// one needs a longer one).
@Suite struct RunCLITests {
    /// A project folder with a store and definitions.
    struct Project {
        let dir = TemporaryDirectory()
        var root: String { dir.path }
        var store: String { dir.sub(".ledgerflow") }

        init(_ yaml: String, files: [String: String] = [:]) throws {
            for (rel, text) in files {
                let p = dir.sub(rel)
                try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: p, atomically: true, encoding: .utf8)
            }
            try yaml.write(toFile: dir.sub("defs.yaml"), atomically: true, encoding: .utf8)
            #expect(try lf(["init"]).status == 0)
            let applied = try lf(["apply", "defs.yaml"])
            #expect(applied.status == 0, "\(applied.stderr)")
        }

        @discardableResult
        func lf(_ args: [String]) throws -> RunResult {
            try ledgerflow(args + ["--store", store], cwd: root)
        }

        func status(_ run: String) throws -> Value {
            let r = try lf(["status", run, "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            return try Value(json: r.stdout)
        }

        /// `ledgerflow work` in the background.
        func startEngine() throws -> BackgroundProcess {
            try BackgroundProcess(try binary("ledgerflow"), ["work", "--store", store], cwd: root)
        }

        func runs() throws -> [Value] { try Value(json: try lf(["runs", "--json", "--limit", "1000"]).stdout).arrayValue ?? [] }
    }

    @Test(.timeLimit(.minutes(1))) func etlScriptFanOutRetryAndDependency() throws {
        let p = try Project("""
        kind: source
        name: tx
        type: csv
        path: in/tx.csv
        ---
        kind: output
        name: spend
        type: sqlite
        database: out/w.sqlite
        table: spend
        mode: replace
        ---
        kind: job
        name: main
        parameters: {label: x}
        stages:
          - {name: extract, type: etl, source: tx, destination: spend, filter: "amount > 0", cast: {amount: double}}
          - name: report
            type: script
            after: [extract]
            command: [python3, -c, "import json, os; open('out/report.txt', 'w').write('ok ' + os.environ['LEDGERFLOW_PARAM_LABEL']); json.dump({'datasets': [{'name': 'report', 'location': 'out/report.txt', 'rows': 1}], 'metrics': {'lines': 1}}, open(os.environ['LEDGERFLOW_REPORT'], 'w'))"]
          - {name: left, type: script, after: [extract], command: [sh, -c, "echo left"]}
          - {name: right, type: script, after: [extract], command: [sh, -c, "echo right"]}
          - {name: join, type: script, after: [left, right, report], command: [sh, -c, "cat out/report.txt"]}
          - name: flaky
            type: script
            command: [sh, -c, "n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; [ $n -ge 1 ]"]
            retry: {attempts: 3, backoff: 0.1s}
        ---
        kind: job
        name: downstream
        stages: [{name: d, type: script, command: ["true"]}]
        ---
        kind: dependency
        name: downstream_after_main
        after: main
        run: downstream
        """, files: ["in/tx.csv": "customer,amount\n1,10\n2,-1\n3,2.5\n"])
        let r = try p.lf(["run", "main", "--param", "label=hello"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("flaky failed (attempt 1, error)") && r.stdout.contains("; will retry"))
        #expect(r.lines.last?.hasPrefix("run 1 succeeded in") == true)
        let s = try p.status("1")
        let stages = s["stages"]?.arrayValue ?? []
        #expect(stages.map { $0["status"]?.stringValue } == Array(repeating: "succeeded", count: 6))
        let extract = stages[0]
        #expect(extract["datasets"]?[0]?["rows"] == .int(2))
        #expect(stages[1]["outputs"]?["metrics"]?["lines"] == .int(1))
        #expect(stages[5]["attempts"]?.arrayValue?.count == 2)
        // The rows are in SQLite.
        let q = try run("/usr/bin/sqlite3", [p.dir.sub("out/w.sqlite"), "SELECT customer, amount FROM spend ORDER BY customer"])
        #expect(q.stdout == "1|10.0\n3|2.5\n")
        #expect(try p.lf(["logs", "1", "join"]).stdout == "==> join attempt 1 stdout <==\nok hello\n==> join attempt 1 stderr <==\n")
        // The dependent job ran once: the engine of `run` stays until its reactors have reacted
        // to the finish, and until what they started has finished.
        var runs = try p.runs()
        #expect(runs.count == 2)
        let dependent = try #require(runs.first { $0["job"] == .string("downstream") })
        #expect(dependent["trigger"]?["type"] == .string("dependency") && dependent["trigger"]?["after_runs"] == .array(["1"]))
        #expect(dependent["status"] == .string("succeeded"))
        #expect(try p.lf(["run", "downstream"]).status == 0)
        runs = try p.runs()
        #expect(runs.filter { $0["job"] == .string("downstream") }.count == 2, "a run by hand does not start it again")
        #expect(try p.lf(["audit", "verify"]).status == 0)
    }

    @Test(.timeLimit(.minutes(1))) func timeoutCancelAndRerunFromFailure() throws {
        let p = try Project("""
        kind: job
        name: slow
        stages: [{name: s, type: script, command: [sleep, "30"], timeout: 0.5s}]
        ---
        kind: job
        name: long
        stages:
          - {name: a, type: script, command: [sleep, "30"]}
          - {name: b, type: script, after: [a], command: ["true"]}
        ---
        kind: job
        name: fix
        stages:
          - {name: one, type: script, command: [sh, -c, "echo once >> one.txt"]}
          - {name: two, type: script, after: [one], command: [sh, -c, "test -f fixed"]}
        """)
        let t = try p.lf(["run", "slow"])
        #expect(t.status == 1)
        #expect(t.stdout.contains("s failed (attempt 1, timeout): the script ran past its timeout and was stopped"))

        // Cancel a run that a background engine (`ledgerflow work`) is running.
        let d = try p.lf(["run", "long", "--detach"])
        #expect(d.stdout.contains("run 2 of job long requested"))
        let work = try p.startEngine()
        defer { work.stop() }
        try waitFor("stage a of run 2 to be running", interval: 0.05) { (try p.status("2"))["stages"]?[0]?["status"] == .string("running") }
        #expect(try p.lf(["cancel", "2"]).status == 0)
        try waitFor("run 2 to be cancelled", interval: 0.05) { (try p.status("2"))["status"] == .string("cancelled") }
        #expect(try p.lf(["cancel", "2"]).status == 1, "already cancelled")
        work.signal(SIGTERM)
        let stopped = try work.finish()
        #expect(stopped.status == 0 && !stopped.signalled, "work shuts down cleanly on SIGTERM: \(stopped.stderr)")

        // Rerun from failure reuses what succeeded.
        #expect(try p.lf(["run", "fix"]).status == 1)
        #expect(FileManager.default.createFile(atPath: p.dir.sub("fixed"), contents: Data()))
        let rr = try p.lf(["rerun", "3", "--from-failure"])
        #expect(rr.status == 0, "\(rr.stdout)\(rr.stderr)")
        #expect(rr.stdout.contains("one reused from run 3"))
        #expect(try String(contentsOfFile: p.dir.sub("one.txt"), encoding: .utf8) == "once\n")
        #expect(try p.lf(["rerun", "4", "--from-failure"]).status == 1, "a succeeded run has no failure to rerun from")
        #expect(try p.lf(["rerun", "4"]).status == 2)

        // Numbers out of range are bad usage, one line each, never a crash.
        for (args, needle) in [(["runs", "--limit", "-1"], "--limit must be at least 1 (got -1)"),
                               (["logs", "3", "--attempt", "0"], "--attempt must be at least 1 (got 0)"),
                               (["work", "--grace", "-1"], "--grace must be a number of seconds"),
                               (["rerun", "3", "--from-failure", "--workers", "-2"], "--workers must be at least 1"),
                               (["events", "--from", "-1"], "'-1' is invalid for '--from"),
                               (["replay", "--at-seq", "-5"], "'-5' is invalid for '--at-seq")] {
            let r = try p.lf(args)
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(needle) && r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
        }
    }

    /// The engine is killed with SIGKILL at random moments 20 times and restarted; the run still
    /// completes with exactly one successful attempt per stage, and the dependent job starts once.
    /// (The crash loop and the final wait take longer than the other tests: a longer limit.)
    @Test(.timeLimit(.minutes(3))) func killedEngineRecoversExactlyOnce() throws {
        var stages: [String] = []
        for layer in 0..<10 {
            for i in 0..<5 {
                let after = layer == 0 ? "" : ", after: [" + (0..<5).map { "s\(layer - 1)_\($0)" }.joined(separator: ", ") + "]"
                stages.append("  - {name: s\(layer)_\(i), type: script, command: [sh, -c, \"sleep 0.0\(i + 2)\"], retry: {attempts: 40, backoff: 0s}\(after)}")
            }
        }
        let p = try Project("""
        kind: job
        name: big
        stages:
        \(stages.joined(separator: "\n"))
        ---
        kind: job
        name: after_big
        stages: [{name: x, type: script, command: ["true"]}]
        ---
        kind: dependency
        name: after_big_dep
        after: big
        run: after_big
        """)
        #expect(try p.lf(["run", "big", "--detach"]).status == 0)
        // Kill at random moments (the delay is the point, not a synchronisation), from a seed that
        // every expectation below names.
        var rng = SplitMix64.forRun()
        for _ in 0..<20 {
            let work = try p.startEngine()
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.3, using: &rng))
            work.signal(SIGKILL)
            try work.finish()
        }
        // Finally let an engine finish everything.
        let work = try p.startEngine()
        defer { work.stop(SIGTERM) }
        try waitFor("both runs to finish (\(rng))", timeout: 120, interval: 0.05) {
            let runs = try p.runs()
            return runs.count == 2 && runs.allSatisfy { $0["status"] != .string("running") }
        }
        let s = try p.status("1")
        #expect(s["status"] == .string("succeeded"), "\(rng)")
        let all = s["stages"]?.arrayValue ?? []
        #expect(all.count == 50)
        for stage in all {
            let ok = (stage["attempts"]?.arrayValue ?? []).filter { $0["outcome"] == .string("succeeded") }
            #expect(ok.count == 1, "stage \(stage["name"]?.stringValue ?? "?") has \(ok.count) successful attempts; \(rng)")
        }
        let interrupted = all.flatMap { $0["attempts"]?.arrayValue ?? [] }.filter { $0["reason"] == .string("interrupted") }.count
        #expect(interrupted > 0, "the kills did interrupt attempts; \(rng)")
        let dependents = try p.runs().filter { $0["job"] == .string("after_big") }
        #expect(dependents.count == 1, "the dependent job started exactly once; \(rng)")
        let verify = try p.lf(["audit", "verify"])
        #expect(verify.status == 0, "\(verify.stderr); \(rng)")
    }
}
