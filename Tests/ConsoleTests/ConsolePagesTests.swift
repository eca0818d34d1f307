import Domain
import Foundation
import TestSupport
import Testing

/// The cross-job timeline and a job's runs × stages grid, over ConsoleTests' store (a failed run
/// of `hostile`, a loop and its two children).
@Suite(.timeLimit(.minutes(2))) struct ConsolePagesTests {
    @Test func theTimelineAndAJobsGridShowEachRunAndStage() async throws {
        let s = try ConsoleTests.Served()
        try await s.start()
        defer { Task { await s.stop() } }
        let timeline = try await s.get("/timeline")
        #expect(timeline.status == 200)
        for job in ["child", "hostile", "loop"] { #expect(timeline.body.contains("href=\"/jobs/\(job)\""), "\(job)") }
        #expect(timeline.body.components(separatedBy: "class=\"bar ").count - 1 == 4, "one bar per run")
        #expect(timeline.body.contains("class=\"bar failed\"") && timeline.body.contains("class=\"bar succeeded\""))
        let grid = try await s.get("/jobs/child")
        #expect(grid.status == 200 && grid.body.contains("href=\"/runs/3\"") && grid.body.contains("href=\"/runs/4\""))
        #expect(grid.body.components(separatedBy: "class=\"cell succeeded\"").count - 1 == 4, "two stage cells and two run cells")
        #expect(grid.body.contains("<polyline"), "the duration trend")
        let hostile = try await s.get("/jobs/hostile")
        #expect(hostile.body.contains("class=\"cell failed\""))
        let none = try await s.get("/jobs/nothing")
        #expect(none.status == 404 && none.body.contains("has no runs"))
        let child = try await s.get("/runs/4")
        #expect(child.body.contains("Why it ran") && child.body.contains("child run of item 1 of stage each (attempt 1) of run 2"), "the causal chain")
        let bad = try await s.get("/timeline?limit=0")
        #expect(bad.status == 400)
    }
}

/// The pages over the other reads, on ConsoleReadsTests' store (models trained and promoted, a
/// schedule that ticked, a sensor's arrival, a failed run's notification, a secret in a log).
@Suite(.timeLimit(.minutes(3))) struct ConsoleReadPagesTests {
    @Test func eachReadHasAPageShowingItsFacts() async throws {
        let s = try await ConsoleReadsTests.served()
        defer { Task { await s.stop() } }
        func page(_ path: String) async throws -> String {
            let r = try await s.get(path)
            #expect(r.status == 200, "\(path): \(r.status)")
            #expect(!r.body.contains("s3cr3t-value"), "\(path) shows no secret")
            return r.body
        }
        let models = try await page("/models")
        #expect(models.contains("href=\"/models/churn\""))
        try "kind: monitor\nname: quality\nmodel: churn\nmetric: accuracy\nbelow: 0.6\nalert: ops\n".write(toFile: s.dir.sub("monitor.yaml"), atomically: true, encoding: .utf8)
        let monitor = try s.lf(["apply", "monitor.yaml"])
        #expect(monitor.status == 0, "\(monitor.stderr)")
        let churn = try await page("/models/churn")
        #expect(churn.contains("Metrics over time") && churn.contains("<polyline") && churn.contains("production"))
        #expect(churn.contains("class=\"threshold\"") && churn.contains("alerts below 0.6"), "the monitor's threshold is drawn")
        let metrics = try await s.json("/api/models/churn/metrics")
        let accuracy = metrics["observations"]?.arrayValue?.filter { $0["metric"] == "accuracy" } ?? []
        #expect(accuracy.count == 2 && accuracy.map { $0["model_version"] } == [.int(1), .int(2)], "one holdout accuracy per version: \(metrics.jsonString)")
        #expect(metrics["monitors"]?.arrayValue?.first?["below"] == .double(0.6))
        let catalog = try await page("/catalog")
        #expect(catalog.contains("href=\"/catalog/job/bad\"") && catalog.contains("href=\"/catalog/model/churn\""))
        #expect(!catalog.contains("<script>alert"), "a description holding markup is escaped")
        let hostile = try await page("/catalog/job/hostile")
        #expect(!hostile.contains("<script>alert") && hostile.contains("&lt;script&gt;"))
        let early = try await page("/catalog?as_of=1")
        #expect(!early.contains("/catalog/model/churn"), "as of seq 1 the model was not defined yet")
        let history = try await page("/catalog/model/churn")
        #expect(history.contains("Every version"))
        let schedules = try await page("/schedules")
        #expect(schedules.contains("href=\"/schedules/every_second\""))
        let ticks = try await page("/schedules/every_second")
        #expect(ticks.contains("<table class=\"data\">"), "the tick is listed")
        let sensors = try await page("/sensors")
        #expect(sensors.contains("href=\"/sensors/drop\""))
        let arrivals = try await page("/sensors/drop")
        #expect(arrivals.contains("2026-12-01.done"))
        let notifications = try await page("/notifications")
        #expect(notifications.contains("ops"))
        let lineage = try await page("/lineage?node=model:churn")
        #expect(lineage.contains("/api/lineage/svg?node=model%3Achurn") && lineage.contains("href=\"/lineage?node="))
        #expect(lineage.contains("<svg class=\"lineage\"") && lineage.contains(" root\">"), "the graph, its root marked")
        let health = try await page("/health")
        #expect(health.contains("verify the chain") && health.contains("Log head: seq"))
        let missing = try await s.get("/models/nope")
        #expect(missing.status == 404)
    }
}

/// Following an attempt's log while it runs: the bytes arrive as the script writes them, a
/// secret stays masked, and the response ends when the attempt does.
@Suite(.timeLimit(.minutes(5))) struct ConsoleFollowTests {
    @Test func aFollowedLogGrowsAndEndsWithTheAttempt() async throws {
        let s = try ConsoleTests.Served()
        try """
        kind: job
        name: chatty
        stages: [{name: talk, type: script, env: {TOKEN: {secret: token}},
                  command: [sh, -c, "echo first; while [ ! -f go ]; do sleep 0.05; done; echo \\"second $TOKEN\\"; echo third"]}]
        """.write(toFile: s.dir.sub("chatty.yaml"), atomically: true, encoding: .utf8)
        #expect(try s.lf(["apply", "chatty.yaml"]).status == 0)
        #expect(try s.lf(["run", "chatty", "--detach"]).status == 0)
        try await s.start()
        defer { Task { await s.stop() } }
        let engine = try BackgroundProcess(try binary("ledgerflow"), ["work", "--store", s.store], cwd: s.dir.path)
        defer { engine.stop(SIGTERM) }
        let id = "5"
        try await waitUntil("the attempt's log to exist", timeout: 120) {
            FileManager.default.fileExists(atPath: s.dir.sub(".ledgerflow/runs/\(id)/talk/1/stdout.log"))
        }
        let follower = try BackgroundProcess("/usr/bin/curl", ["-s", "-N", "--max-time", "200", "http://127.0.0.1:\(s.port)/api/runs/\(id)/logs/talk?follow=true"])
        // (Generous waits: under a loaded CI machine an attempt can take long to start.)
        try follower.waitForOutput("the first line while the attempt runs", timeout: 120) { $0.contains("first") }
        #expect(!follower.stdout.contains("third"))
        try "".write(toFile: s.dir.sub("go"), atomically: true, encoding: .utf8)
        let done = try follower.finish(timeout: 150)
        #expect(done.status == 0, "the response ended with the attempt (curl did not time out): \(done.stderr)")
        #expect(done.stdout.contains("first") && done.stdout.contains("second") && done.stdout.contains("third"), "\(done.stdout)")
        #expect(!done.stdout.contains("s3cr3t-value"), "\(done.stdout)")
    }
}

/// A column's lineage drawn by the console: the SVG (the CLI has no Graphviz form of a trace) and
/// the page, each column a node linking to its own trace.
@Suite(.timeLimit(.minutes(2))) struct ConsoleColumnLineageTests {
    @Test func aColumnsTraceIsDrawnAsSVGAndOnThePage() async throws {
        let s = try ConsoleTests.Served()
        try "id,amount\n1,2\n2,5\n".write(toFile: s.dir.sub("raw.csv"), atomically: true, encoding: .utf8)
        try """
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
        stages: [{name: copy, type: etl, source: raw, destination: clean, derive: {doubled: "amount * 2"}}]
        """.write(toFile: s.dir.sub("tidy.yaml"), atomically: true, encoding: .utf8)
        #expect(try s.lf(["apply", "tidy.yaml"]).status == 0)
        #expect(try s.lf(["run", "tidy"]).status == 0)
        try await s.start()
        defer { Task { await s.stop() } }
        let svg = try await s.get("/api/lineage/svg?node=dataset:clean&column=doubled")
        #expect(svg.status == 200 && svg.body.contains("<svg class=\"lineage\"") && svg.body.contains("clean@1.doubled") && svg.body.contains("raw.amount"), "\(svg.body)")
        let page = try await s.get("/lineage?node=dataset:clean&column=doubled")
        #expect(page.status == 200 && page.body.contains("column doubled") && page.body.contains("href=\"/lineage?node=dataset%3Araw&amp;column=amount\""), "\(page.body)")
    }
}
