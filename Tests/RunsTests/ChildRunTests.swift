import Domain
import Testing
@testable import Runs

/// Job stages, given/when/then without storage: the stage's StageStarted names its child, the
/// stage waits while the child runs, ends with the child's outcome and outputs, and a parent
/// being cancelled asks its running child to stop, once.
@Suite struct ChildRunTests {
    /// A parent (run 1) whose job stage `sub` started child run 2 (stage `work`).
    static func parentAndChild() throws -> Given {
        var g = Given()
        let parent = try g.requested(["sub"], extra: ["sub": [("type", "job"), ("job", "c")]])
        g.schedule(parent)
        g.record(try StageDecider.start(g.state.runs[parent]!, stage: "sub", engine: "e1", childRun: "2"), run: parent)
        let (child, e) = try RunDecider.request(g.state, .init(job: "c", jobVersion: 1, jobSpec: .object([("stages", .array([.object([("name", "work"), ("type", "script")])]))]),
                                                               catalogSeq: 7, trigger: .parent(run: parent, stage: "sub", attempt: 1)))
        #expect(child == "2")
        g.record(e, run: child)
        g.schedule(child)
        try g.start(child, "work")
        return g
    }

    @Test func theStageWaitsForItsChildThenTakesItsOutputs() throws {
        var g = try Self.parentAndChild()
        let parent = try #require(g.state.runs["1"])
        #expect(ChildRuns.waiting(parent) == [ChildRuns.Waiting(stage: "sub", attempt: 1, child: "2")])
        #expect(parent.stage("sub")?.attempts.first?.childRun == "2")
        #expect(ChildRuns.outcome(of: g.state.runs["2"]!, parent: parent) == nil, "the child still runs")
        try g.complete("2", "work", .succeeded(outputs: .object([("rows", .int(4))]), datasets: []))
        #expect(g.schedule("2") == [RunEvents.runSucceeded])
        guard case .succeeded(let outputs, _, _, _)? = ChildRuns.outcome(of: g.state.runs["2"]!, parent: parent) else {
            Issue.record("the child succeeded, so the stage does")
            return
        }
        #expect(outputs == .object([("run", "2"), ("job", "c"), ("status", "succeeded"), ("stages", .object([("work", .object([("rows", .int(4))]))]))]))
        #expect(ChildRuns.depth(of: g.state.runs["2"]!) { g.state.runs[$0] } == 1)
        #expect(ChildRuns.depth(of: parent) { g.state.runs[$0] } == 0)
    }

    @Test func aFailedChildFailsTheStageNamingItsStages() throws {
        var g = try Self.parentAndChild()
        try g.complete("2", "work", boom)
        g.schedule("2")
        guard case .failed(let reason, let error)? = ChildRuns.outcome(of: g.state.runs["2"]!, parent: g.state.runs["1"]!) else {
            Issue.record("the child failed, so the stage does")
            return
        }
        #expect(reason == "error" && error == "child run 2 of job 'c' failed (stage work)")
    }

    @Test func aCancelOfTheParentReachesItsChildOnce() throws {
        var g = try Self.parentAndChild()
        #expect(ChildRuns.cancel(g.state.runs["2"]!, parent: g.state.runs["1"]!) == nil, "nobody asked")
        g.record(try RunDecider.cancel(g.state, run: "1", by: "ann"), run: "1")
        let cancel = try #require(ChildRuns.cancel(g.state.runs["2"]!, parent: g.state.runs["1"]!))
        #expect(try cancel.decode(RunCancelRequested.self).by == "run:1")
        g.record(cancel, run: "2")
        #expect(ChildRuns.cancel(g.state.runs["2"]!, parent: g.state.runs["1"]!) == nil, "asked once")
        // The parent waits for its running job stage; the child's end cancels it.
        #expect(g.schedule("1").isEmpty)
        try g.complete("2", "work", .cancelled)
        #expect(g.schedule("2") == [RunEvents.runCancelled])
        guard case .cancelled? = ChildRuns.outcome(of: g.state.runs["2"]!, parent: g.state.runs["1"]!) else {
            Issue.record("a cancelled parent's stage is cancelled with its child")
            return
        }
    }
}
