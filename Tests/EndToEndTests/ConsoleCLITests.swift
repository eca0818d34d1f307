import Domain
import Foundation
import TestSupport
import Testing

/// `ledgerflow serve` through the binary: it prints `console: URL`, answers there, stops cleanly
/// on SIGTERM, and refuses to bind beyond loopback; `work --http` serves beside the engine.
@Suite(.timeLimit(.minutes(1))) struct ConsoleCLITests {
    @Test func serveAnswersAndStopsOnSIGTERM() throws {
        let p = try RunCLITests.Project("""
        kind: job
        name: hello
        stages: [{name: say, type: script, command: [echo, hi]}]
        """)
        #expect(try p.lf(["run", "hello"]).status == 0)
        let server = try BackgroundProcess(try binary("ledgerflow"), ["serve", "--port", "0", "--store", p.store], cwd: p.dir.path)
        try server.waitForOutput("the console's URL") { $0.contains("console: http://127.0.0.1:") }
        let url = server.stdout.split(separator: "\n").first { $0.hasPrefix("console: ") }.map { String($0.dropFirst(9)) } ?? ""
        let health = try run("/usr/bin/curl", ["-s", url + "api/health"])
        let report = try Value(json: health.stdout)
        #expect(report["runs"]?["succeeded"] == .int(1) && report["head_seq"] != nil && report["engine"]?["running"] == false, "\(health.stdout)")
        #expect(report["healthy"] == false && (report["problems"]?.arrayValue?.first?.stringValue?.contains("engine") ?? false), "no engine runs: \(health.stdout)")
        let page = try run("/usr/bin/curl", ["-s", url])
        #expect(page.stdout.contains("<h1>Runs</h1>") && page.stdout.contains("hello"))
        server.signal(SIGTERM)
        let ended = try server.finish(timeout: 20)
        #expect(ended.status == 0 && !ended.signalled, "\(ended.stderr)")
    }

    @Test func bindingBeyondLoopbackIsRefused() throws {
        let p = try RunCLITests.Project("kind: job\nname: j\nstages: [{name: s, type: script, command: [\"true\"]}]\n")
        let r = try p.lf(["serve", "--bind", "0.0.0.0"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--bind 0.0.0.0 would serve the console beyond this machine without tokens"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count <= 2, "one line (and the usage hint): \(r.stderr)")
    }

    @Test func workServesTheConsoleBesideTheEngine() throws {
        let p = try RunCLITests.Project("kind: job\nname: j\nstages: [{name: s, type: script, command: [\"true\"]}]\n")
        let r = try p.lf(["work", "--once", "--http", "0"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("console: http://127.0.0.1:"), "\(r.stderr)")
    }
}
