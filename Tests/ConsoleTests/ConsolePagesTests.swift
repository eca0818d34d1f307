import Domain
import Foundation
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
