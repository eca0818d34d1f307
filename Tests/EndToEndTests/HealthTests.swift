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
