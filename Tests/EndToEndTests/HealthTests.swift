import Domain
import Foundation
import Testing
import TestSupport

/// `ledgerflow health` and the engine's structured log lines, against a real `ledgerflow work`.
@Suite(.timeLimit(.minutes(1))) struct HealthTests {
    static let defs = """
    kind: job
    name: fine
    stages:
      - {name: a, type: script, command: ["true"]}
    """

    @Test func withoutAnEngineTheStoreIsUnhealthyAndSaysHowToStartOne() throws {
        let p = try RunCLITests.Project(Self.defs)
        let r = try p.lf(["health"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("health: UNHEALTHY"), "\(r.stdout)")
        #expect(r.stderr == "ledgerflow: unhealthy: no engine is running for this store: start one with `ledgerflow work` (tools/ledgerflow.service runs it under systemd)\n", "\(r.stderr)")
        let j = try Value(json: try p.lf(["health", "--json"]).stdout)
        #expect(j["healthy"] == .bool(false))
        #expect(j["engine"]?["running"] == .bool(false))
    }

    @Test func aWorkingEngineIsHealthyItsReactorsCatchUpAndAStoppedOneIsStuck() throws {
        let p = try RunCLITests.Project(Self.defs)
        let engine = try BackgroundProcess(try binary("ledgerflow"), ["work", "--store", p.store, "--log-format", "json"], cwd: p.root)
        defer { engine.stop() }
        #expect(try p.lf(["run", "fine", "--detach"]).status == 0)
        // The run finishes, and an apply nobody reacts to still moves the checkpoints (lag 0).
        try waitFor("the run to succeed", timeout: 30) { try p.status("1")["status"] == .string("succeeded") }
        #expect(try p.lf(["apply", "defs.yaml"]).status == 0)
        var report = Value.null
        try waitFor("a healthy report with every reactor caught up", timeout: 30) {
            let r = try p.lf(["health", "--json"])
            report = try Value(json: r.stdout)
            let reactors = report["reactors"]?.arrayValue ?? []
            return r.status == 0 && reactors.count >= 3 && reactors.allSatisfy { $0["lag_events"] == .int(0) }
        }
        #expect(report["healthy"] == .bool(true))
        #expect(report["engine"]?["pid"] == .int(Int64(engine.processIdentifier)))
        #expect(report["problems"]?.arrayValue?.isEmpty == true)
        let text = try p.lf(["health"])
        #expect(text.status == 0 && text.stdout.hasPrefix("health: healthy\nengine: running, pid \(engine.processIdentifier)"), "\(text.stdout)")

        // A frozen engine holds its lock but finishes no step: stuck, exit 1.
        engine.signal(SIGSTOP)
        defer { engine.signal(SIGCONT) }
        Thread.sleep(forTimeInterval: 2.5)
        let stuck = try p.lf(["health", "--stale", "2"])
        #expect(stuck.status == 1)
        #expect(stuck.stderr.contains("has not finished a step for"), "\(stuck.stderr)")
        engine.signal(SIGCONT)

        // Every log line is one JSON object with a level, a component and a message.
        engine.signal(SIGTERM)
        let done = try engine.finish(timeout: 30)
        #expect(done.status == 0, "\(done.stderr)")
        let lines = done.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count >= 2)
        for line in lines {
            let v = try Value(json: line)
            #expect(v["level"]?.stringValue != nil && v["component"]?.stringValue != nil && v["message"]?.stringValue != nil, "\(line)")
            #expect(v["time"]?.stringValue.flatMap(Timestamp.parse) != nil, "\(line)")
        }
        #expect(lines.contains { $0.contains("\"component\":\"service\"") && $0.contains("stopped cleanly") }, "\(done.stderr)")
        // Stopped: health says no engine runs, and when it was last seen.
        let after = try p.lf(["health"])
        #expect(after.status == 1 && after.stdout.contains("engine: not running, last seen"), "\(after.stdout)")
    }
}

/// `health` on what the service watches: schedules, sensors and the outbox.
@Suite(.timeLimit(.minutes(2))) struct HealthAutomationTests {
    @Test func aSensorInErrorAndAStuckOutboxMakeTheServiceUnhealthyAndSchedulesShowTheirNextTick() throws {
        let deadPort = try freeLocalPort() // nothing listens there: every delivery fails
        let p = try RunCLITests.Project("""
        kind: notifier
        name: mail
        type: smtp
        host: 127.0.0.1
        port: \(deadPort)
        from: ledgerflow@example.com
        ---
        kind: team
        name: ops
        emails: [ops@example.com]
        ---
        kind: job
        name: fine
        stages:
          - {name: a, type: script, command: ["true"]}
        ---
        kind: job
        name: bad
        owner: ops
        stages:
          - {name: a, type: script, command: ["false"]}
        ---
        kind: schedule
        name: hourly
        cron: "0 * * * *"
        job: fine
        ---
        kind: sensor
        name: drops
        path: not-there-yet
        job: fine
        poll_interval: 0.2s
        """)
        let engine = try BackgroundProcess(try binary("ledgerflow"), ["work", "--store", p.store], cwd: p.root)
        defer { engine.stop() }
        #expect(try p.lf(["run", "bad", "--detach"]).status == 0)
        try waitFor("the failed run's notification to be attempted", timeout: 30) {
            let n = try Value(json: try p.lf(["notifications", "--json"]).stdout).arrayValue ?? []
            return n.first?["attempts"] == .int(1)
        }
        var report = Value.null
        try waitFor("the sensor's error in the status file", timeout: 30) {
            let r = try p.lf(["health", "--json", "--max-outbox-age", "3600"])
            report = try Value(json: r.stdout)
            return report["sensors"]?[0]?["state"] == .string("error")
        }
        // The schedule's next tick is the next full hour.
        let next = try #require(report["schedules"]?[0]?["next_tick"]?.stringValue.flatMap(Timestamp.parse))
        let nowMicros = Int64(Date().timeIntervalSince1970 * 1e6)
        #expect(next > nowMicros && next <= nowMicros + 3_600_000_000 && next % 3_600_000_000 == 0)
        #expect(report["outbox"]?["pending"] == .int(1) && report["outbox"]?["failing"] == .int(1))
        let problems = report["problems"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(problems.count == 1 && problems.first?.hasPrefix("sensor drops: ") == true, "\(problems)")
        #expect(report["healthy"] == .bool(false))
        // A notification waiting longer than --max-outbox-age is a problem too.
        Thread.sleep(forTimeInterval: 1.2)
        let strict = try p.lf(["health", "--max-outbox-age", "1"])
        #expect(strict.status == 1)
        #expect(strict.stdout.contains("problem: the outbox holds 1 notification(s); the oldest has waited"), "\(strict.stdout)")
        #expect(strict.stdout.contains("outbox: 1 pending (1 failing)"), "\(strict.stdout)")
        // The folder appears: the sensor recovers and, with the outbox allowed an hour, all is well.
        try FileManager.default.createDirectory(atPath: p.dir.sub("not-there-yet"), withIntermediateDirectories: true)
        try waitFor("a healthy report", timeout: 30) { try p.lf(["health"]).status == 0 }
        let text = try p.lf(["health"]).stdout
        #expect(text.contains("schedule hourly: next tick ") && text.contains("sensor drops: ok, last poll "), "\(text)")
    }
}
