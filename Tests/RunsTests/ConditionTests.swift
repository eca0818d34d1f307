import Domain
import Testing
@testable import Runs

/// Conditions and failure paths, given/when/then on the scheduler: `on: failure | completion`
/// (Azure Data Factory's Upon Failure / Upon Completion), `when:` conditions, and the run's
/// outcome when a failure was handled.
@Suite struct ConditionTests {
    /// load → report on success, alert on failure.
    func tryCatch(_ g: inout Given) throws -> String {
        try g.requested(["load", "report<-load", "alert<-load"], extra: ["alert": [("on", "failure")]])
    }

    @Test func aHandledFailureRunsTheFailurePathAndTheRunSucceeds() throws {
        var g = Given()
        let r = try tryCatch(&g)
        #expect(g.schedule(r) == ["StageQueued load"])
        try g.start(r, "load")
        try g.complete(r, "load", boom)
        #expect(g.schedule(r) == ["StageSkipped report", "StageQueued alert"])
        #expect(g.state.runs[r]?.stage("report")?.skippedByCondition == false)
        try g.start(r, "alert")
        try g.complete(r, "alert", ok)
        #expect(g.schedule(r) == ["RunSucceeded"])
        #expect(g.state.runs[r]?.status == .succeeded)
    }

    @Test func theFailurePathIsSkippedByItsConditionWhenNothingFailed() throws {
        var g = Given()
        let r = try tryCatch(&g)
        g.schedule(r)
        try g.start(r, "load")
        try g.complete(r, "load", ok)
        #expect(g.schedule(r) == ["StageQueued report", "StageSkipped alert"])
        let skipped = try #require(g.events.last { $0.type == StageSkipped.type }).decode(StageSkipped.self)
        #expect(skipped.byCondition == true && skipped.reason == "it runs on failure, and 'load' did not fail")
        try g.start(r, "report")
        try g.complete(r, "report", ok)
        #expect(g.schedule(r) == ["RunSucceeded"])
    }

    @Test func aFailedHandlerLeavesTheFailureUnhandled() throws {
        var g = Given()
        let r = try tryCatch(&g)
        g.schedule(r)
        try g.start(r, "load"); try g.complete(r, "load", boom)
        g.schedule(r)
        try g.start(r, "alert"); try g.complete(r, "alert", boom)
        #expect(g.schedule(r) == ["RunFailed"])
        #expect(g.events.last?.payload["failed_stages"] == .array(["load", "report", "alert"]))
    }

    @Test func aCompletionStageRunsWhateverTheOutcomeButHandlesNothing() throws {
        var g = Given()
        let r = try g.requested(["load", "cleanup<-load"], extra: ["cleanup": [("on", "completion")]])
        g.schedule(r)
        try g.start(r, "load"); try g.complete(r, "load", boom)
        #expect(g.schedule(r) == ["StageQueued cleanup"])
        try g.start(r, "cleanup"); try g.complete(r, "cleanup", ok)
        #expect(g.schedule(r) == ["RunFailed"])
        #expect(g.events.last?.payload["failed_stages"] == .array(["load"]))
    }

    @Test func aFalseConditionSkipsTheStageAndItsBranchWithoutFailingTheRun() throws {
        var g = Given()
        // The job's parameter day is "monday".
        let r = try g.requested(["a", "b<-a", "c<-b", "d"], extra: ["b": [("when", "params.day == 'friday'")], "d": [("when", "params.day == 'monday' and run.trigger == 'manual'")]])
        #expect(g.schedule(r) == ["StageQueued a", "StageQueued d"])
        try g.start(r, "a"); try g.complete(r, "a", ok)
        #expect(g.schedule(r) == ["StageSkipped b", "StageSkipped c"])
        #expect(g.state.runs[r]?.stage("b")?.reason == "its condition `params.day == 'friday'` is false")
        #expect(g.state.runs[r]?.stage("c")?.reason == "'b' was skipped by its condition")
        #expect(g.state.runs[r]?.stage("c")?.skippedByCondition == true)
        try g.start(r, "d"); try g.complete(r, "d", ok)
        #expect(g.schedule(r) == ["RunSucceeded"])
    }

    @Test func aConditionReadsTheOutputsOfAStageItFollows() throws {
        var g = Given()
        let r = try g.requested(["count", "load<-count"], extra: ["load": [("when", "stages.count.outputs.rows > 0 and stages.count.status == 'succeeded'")]])
        g.schedule(r)
        try g.start(r, "count")
        try g.complete(r, "count", .succeeded(outputs: .object([("rows", .int(12))]), datasets: []))
        #expect(g.schedule(r) == ["StageQueued load"])

        let empty = try g.requested(["count", "load<-count"], extra: ["load": [("when", "stages.count.outputs.rows > 0")]])
        g.schedule(empty)
        try g.start(empty, "count")
        try g.complete(empty, "count", .succeeded(outputs: .object([("rows", .int(0))]), datasets: []))
        #expect(g.schedule(empty) == ["StageSkipped load", "RunSucceeded"])
    }

    @Test func aConditionThatIsNotTrueOrFalseFailsTheStageNamingItsValue() throws {
        var g = Given()
        let r = try g.requested(["a"], extra: ["a": [("when", "params.day")]])
        #expect(g.schedule(r) == ["StageFailed a", "RunFailed"])
        let failed = try #require(g.events.first { $0.type == StageFailed.type }).decode(StageFailed.self)
        #expect(failed.error == "its condition `params.day` is \"monday\", not true or false" && failed.retry == false)
    }

    @Test func theStoredPlanCarriesOnAndWhen() throws {
        var g = Given()
        let r = try g.requested(["a", "b<-a"], extra: ["b": [("on", "completion"), ("when", "run.id != ''")]])
        let plan = try #require(g.state.runs[r]?.stage("b")?.plan)
        #expect(plan.on == .completion && plan.when == "run.id != ''")
        // The runs snapshot keeps the skip flag.
        var stage = try #require(g.state.runs[r]?.stage("b"))
        stage.skippedByCondition = true
        let back = try StageState(Fields("stage", stage.value))
        #expect(back.skippedByCondition && back.plan == plan)
    }
}
