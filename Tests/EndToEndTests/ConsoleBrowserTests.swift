import Domain
import Foundation
import TestSupport
import Testing

/// The console in a real browser: headless Chromium (Debian's chromium and chromium-driver)
/// driven through Selenium by tools/console-browser.py, against `ledgerflow serve` on loopback.
@Suite(.timeLimit(.minutes(2))) struct ConsoleBrowserTests {
    /// `ledgerflow serve --port 0` on the project's store, and the URL it prints.
    static func serve(_ p: RunCLITests.Project) throws -> (BackgroundProcess, String) {
        let server = try BackgroundProcess(try binary("ledgerflow"), ["serve", "--port", "0", "--store", p.store], cwd: p.dir.path)
        try server.waitForOutput("the console's URL") { $0.contains("console: http://127.0.0.1:") }
        let url = server.stdout.split(separator: "\n").first { $0.hasPrefix("console: ") }.map { String($0.dropFirst(9)) } ?? ""
        return (server, url)
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tools/console-browser.py").path

    /// The run page is open before the engine starts: the browser sees the first stage go from
    /// queued to running (it waits for a file the test writes once the browser has seen it
    /// running) to succeeded as the engine records it, without the page reloading.
    @Test func theRunPageFollowsTheEngineLive() throws {
        let p = try RunCLITests.Project("""
        kind: job
        name: slow
        stages:
          - {name: first, type: script, command: [sh, -c, "while [ ! -f go ]; do sleep 0.05; done; sleep 0.3"]}
          - {name: second, type: script, after: [first], command: [sh, -c, "sleep 0.3"]}
        """)
        let requested = try p.lf(["run", "slow", "--detach"])
        #expect(requested.status == 0, "\(requested.stderr)")
        let (server, url) = try Self.serve(p)
        defer { server.stop() }
        let browser = try BackgroundProcess("/usr/bin/env", ["python3", Self.script, "watch", url + "runs/1", "--stage", "first", "--until", "succeeded", "--timeout", "60"])
        defer { browser.stop() }
        try browser.waitForOutput("the page open in Chromium", timeout: 60) { $0.contains("\"opened\"") }
        let engine = try BackgroundProcess(try binary("ledgerflow"), ["work", "--store", p.store], cwd: p.dir.path)
        defer { engine.stop(SIGTERM) }
        try browser.waitForOutput("the first stage running in the browser", timeout: 60) { $0.contains("\"status\": \"running\"") }
        try "".write(toFile: p.dir.sub("go"), atomically: true, encoding: .utf8)
        try browser.waitForOutput("the first stage succeeded in the browser", timeout: 60) { $0.contains("\"final\"") }
        let lines = try browser.finish(timeout: 30).stdout.split(separator: "\n").map { try Value(json: String($0)) }
        let statuses = lines.compactMap { $0["status"]?.stringValue }
        #expect(statuses.contains("running") && statuses.last == "succeeded", "\(statuses)")
        let final = try #require(lines.last)
        #expect(final["reloaded"] == false, "the page updated in place")
        #expect((final["refreshed"]?.intValue ?? 0) >= 2, "refreshed from the event stream: \(final.jsonString)")
        #expect(final["live"] == "on")
    }

    /// A failed attempt's stderr is on its run page, escaped, as the browser shows it.
    @Test func aFailedAttemptsStderrIsOnItsPage() throws {
        let p = try RunCLITests.Project("""
        kind: job
        name: broken
        stages: [{name: load, type: script, command: [sh, -c, "echo 'cannot read <input.csv>: no such file' >&2; exit 4"]}]
        """)
        #expect(try p.lf(["run", "broken"]).status == 1)
        let (server, url) = try Self.serve(p)
        defer { server.stop() }
        let shown = try run("/usr/bin/env", ["python3", Self.script, "text", url + "runs/1", "--css", "main"], timeout: 60)
        #expect(shown.status == 0, "\(shown.stderr)")
        let text = try Value(json: shown.stdout)["text"]?.stringValue ?? ""
        #expect(text.contains("load attempt 1 stderr") && text.contains("cannot read <input.csv>: no such file"), "\(text)")
        #expect(text.contains("Errors") && text.contains("exit"), "\(text)")
    }

    /// The rerun button of a failed run: refused without a known token (nothing appended), a run
    /// by `http:ops` with it.
    @Test func aRerunFromThePageNeedsAToken() throws {
        let p = try RunCLITests.Project("""
        kind: job
        name: flaky
        stages: [{name: go, type: script, command: [sh, -c, "test -f fixed"]}]
        """)
        #expect(try p.lf(["run", "flaky"]).status == 1)
        let token = try p.lf(["token", "create", "ops"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let (server, url) = try Self.serve(p)
        defer { server.stop() }
        let refused = try run("/usr/bin/env", ["python3", Self.script, "click", url + "runs/1", "--button", "rerun from failure", "--token", "lf_wrong"], timeout: 60)
        let no = try Value(json: refused.stdout)
        #expect(no["status"] == "401" && no["result"]?.stringValue?.hasPrefix("refused:") == true, "\(refused.stdout) \(refused.stderr)")
        let noToken = try run("/usr/bin/env", ["python3", Self.script, "click", url + "runs/1", "--button", "rerun from failure"], timeout: 60)
        #expect((try Value(json: noToken.stdout))["result"] == "no token: nothing done", "\(noToken.stdout)")
        #expect(try p.lf(["events", "--json", "--type", "RunRequested"]).lines.count == 1, "nothing was requested")
        let done = try run("/usr/bin/env", ["python3", Self.script, "click", url + "runs/1", "--button", "rerun from failure", "--token", token], timeout: 60)
        let yes = try Value(json: done.stdout)
        #expect(yes["status"] == "201" && yes["result"]?.stringValue?.hasPrefix("rerun requested: run 2") == true, "\(done.stdout) \(done.stderr)")
        let requested = try p.lf(["events", "--json", "--type", "RunRequested"]).lines.map { try Value(json: String($0)) }
        #expect(requested.count == 2 && requested.last?["actor"] == "http:ops" && requested.last?["payload"]?["trigger"]?["rerun_of"] == "1")
    }

    /// The lineage page: clicking a node of the graph opens that node's lineage (with its own
    /// graph); the health page's verify button says the chain verifies.
    @Test func lineageClicksThroughAndTheChainVerifies() throws {
        let p = try RunCLITests.Project("""
        kind: source
        name: raw
        type: csv
        path: raw.csv
        ---
        kind: output
        name: clean
        type: csv
        path: out/clean
        ---
        kind: job
        name: tidy
        stages: [{name: copy, type: etl, source: raw, destination: clean}]
        """, files: ["raw.csv": "id,v\n1,2\n"])
        #expect(try p.lf(["run", "tidy"]).status == 0)
        let (server, url) = try Self.serve(p)
        defer { server.stop() }
        let opened = try run("/usr/bin/env", ["python3", Self.script, "open", url + "lineage?node=run:1", "--css", "#graph svg a[href*='dataset'] rect"], timeout: 60)
        let went = try Value(json: opened.stdout)
        #expect(went["url"]?.stringValue?.contains("/lineage?node=dataset") == true, "\(opened.stdout) \(opened.stderr)")
        #expect(went["h1"]?.stringValue?.hasPrefix("Lineage of dataset:") == true && went["graph"] == .int(1), "\(opened.stdout)")
        let verified = try run("/usr/bin/env", ["python3", Self.script, "verify", url + "health"], timeout: 90)
        let v = try Value(json: verified.stdout)
        #expect(v["ok"] == "true" && v["result"] == "the chain verifies", "\(verified.stdout) \(verified.stderr)")
    }
}
