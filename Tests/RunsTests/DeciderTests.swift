import Domain
import Testing
@testable import Runs

@Suite struct SchedulerTests {
    @Test func queuesRootsThenDependentsAndFinishes() throws {
        var g = Given()
        let r = try g.requested(["a", "b<-a", "c<-a", "d<-b,c"])
        #expect(g.schedule(r) == ["StageQueued a"])
        #expect(g.schedule(r).isEmpty, "deciding again on the same state decides nothing")
        try g.start(r, "a")
        #expect(g.schedule(r).isEmpty)
        try g.complete(r, "a", ok)
        #expect(g.schedule(r) == ["StageQueued b", "StageQueued c"])
        try g.start(r, "b"); try g.complete(r, "b", ok)
        #expect(g.schedule(r).isEmpty, "d waits for c")
        try g.start(r, "c"); try g.complete(r, "c", ok)
        #expect(g.schedule(r) == ["StageQueued d"])
        try g.start(r, "d"); try g.complete(r, "d", ok)
        #expect(g.schedule(r) == ["RunSucceeded"])
        #expect(g.state.runs[r]?.status == .succeeded)
        #expect(g.schedule(r).isEmpty)
        #expect(g.state.active.isEmpty)
    }

    @Test func failureSkipsDownstreamAndFailsTheRun() throws {
        var g = Given()
        let r = try g.requested(["a", "b<-a", "c<-b", "x"])
        #expect(g.schedule(r) == ["StageQueued a", "StageQueued x"])
        try g.start(r, "a")
        #expect(try g.complete(r, "a", boom) == ["StageFailed"])
        #expect(g.schedule(r) == ["StageSkipped b", "StageSkipped c"])
        #expect(g.state.runs[r]?.stage("c")?.reason == "'b' was skipped")
        try g.start(r, "x"); try g.complete(r, "x", ok)
        #expect(g.schedule(r) == ["RunFailed"])
        #expect(g.events.last?.payload["failed_stages"] == .array(["a", "b", "c"]))
    }

    @Test func retriesWithBackoffUntilThePolicyIsSpent() throws {
        var g = Given()
        let r = try g.requested(["a"], retry: ["a": 3])
        g.schedule(r)
        try g.start(r, "a")
        #expect(try g.complete(r, "a", boom) == ["StageFailed", "StageQueued"])
        let q = g.events.last!
        #expect(q.payload["attempt"] == .int(2))
        #expect(q.payload["not_before"] == .int(g.now + 5_000_000), "first backoff is the policy's 5s")
        #expect(g.status(r, "a") == .queued)
        #expect(Scheduler.startable(g.state.runs[r]!, nowMicros: g.now, limit: 4).isEmpty, "not before the backoff")
        #expect(Scheduler.nextWake(g.state.runs[r]!) == g.now + 5_000_000)
        g.now += 5_000_000
        #expect(Scheduler.startable(g.state.runs[r]!, nowMicros: g.now, limit: 4) == ["a"])
        try g.start(r, "a")
        #expect(try g.complete(r, "a", boom) == ["StageFailed", "StageQueued"])
        #expect(g.events.last?.payload["not_before"] == .int(g.now + 10_000_000), "then doubled")
        g.now += 10_000_000
        try g.start(r, "a")
        #expect(try g.complete(r, "a", boom) == ["StageFailed"], "third attempt of three: no more")
        #expect(g.events.last?.payload["retry"] == .bool(false))
        #expect(g.schedule(r) == ["RunFailed"])
        #expect(g.state.runs[r]?.stage("a")?.attempts.map(\.number) == [1, 2, 3])
    }

    @Test func retryThenSuccess() throws {
        var g = Given()
        let r = try g.requested(["a", "b<-a"], retry: ["a": 2])
        g.schedule(r)
        try g.start(r, "a"); try g.complete(r, "a", boom)
        g.now += 5_000_000
        try g.start(r, "a"); try g.complete(r, "a", ok)
        #expect(g.schedule(r) == ["StageQueued b"])
    }

    @Test func interruptedAttemptIsFailedAndRetriedPerPolicy() throws {
        var g = Given()
        let r = try g.requested(["a"], retry: ["a": 2])
        g.schedule(r)
        try g.start(r, "a")
        let out = try StageDecider.interrupt(g.state.runs[r]!, stage: "a", nowMicros: g.now)
        #expect(out.map(\.type) == ["StageFailed", "StageQueued"])
        #expect(out[0].payload["reason"] == .string("interrupted"))
        g.record(out, run: r)
        #expect(g.status(r, "a") == .queued)
        #expect(throws: RunCommandError.self) { try StageDecider.interrupt(g.state.runs[r]!, stage: "a", nowMicros: g.now) }
    }

    @Test func cancelStopsWhatHasNotStartedAndWaitsForRunningAttempts() throws {
        var g = Given()
        let r = try g.requested(["a", "b", "c<-a"], retry: ["a": 3])
        g.schedule(r)
        try g.start(r, "a")
        g.record(try RunDecider.cancel(g.state, run: r, by: "ann"), run: r)
        #expect(g.schedule(r) == ["StageCancelled b", "StageCancelled c"], "a still runs: the run is not finished yet")
        #expect(Scheduler.startable(g.state.runs[r]!, nowMicros: g.now, limit: 4).isEmpty)
        #expect(try g.complete(r, "a", boom) == ["StageFailed"], "no retry once cancelled")
        #expect(g.schedule(r) == ["RunCancelled"])
        #expect(g.state.runs[r]?.status == .cancelled)
        #expect(throws: RunCommandError.self) { try RunDecider.cancel(g.state, run: r, by: "ann") }
        #expect(throws: RunCommandError.self) { try RunDecider.cancel(g.state, run: "99", by: "ann") }
    }

    @Test func maxParallelAndTheEngineLimitBoundStarts() throws {
        var g = Given()
        let r = try g.requested(["a", "b", "c", "d"], maxParallel: 2)
        g.schedule(r)
        #expect(Scheduler.startable(g.state.runs[r]!, nowMicros: g.now, limit: 8) == ["a", "b"])
        #expect(Scheduler.startable(g.state.runs[r]!, nowMicros: g.now, limit: 1) == ["a"])
        try g.start(r, "a")
        #expect(Scheduler.startable(g.state.runs[r]!, nowMicros: g.now, limit: 8) == ["b"])
    }

    @Test func rerunReusesSucceededStagesAndRunsTheRest() throws {
        var g = Given()
        let r = try g.requested(["a", "b<-a", "c<-b"])
        g.schedule(r)
        try g.start(r, "a"); try g.complete(r, "a", ok)
        g.schedule(r)
        try g.start(r, "b"); try g.complete(r, "b", boom)
        g.schedule(r)
        #expect(g.state.runs[r]?.status == .failed)
        let spec = Value.object([("stages", .array([.object([("name", "a"), ("type", "script")]),
                                                    .object([("name", "b"), ("type", "script"), ("after", ["a"])]),
                                                    .object([("name", "c"), ("type", "script"), ("after", ["b"])])]))])
        let reuse = try RunDecider.reuse(forRerunOf: r, in: g.state, newJobSpec: spec)
        #expect(reuse.count == 1 && reuse["a"]?.run == r && reuse["a"]?.attempt == 1)
        let r2 = try g.requested(["a", "b<-a", "c<-b"], reuse: reuse)
        #expect(g.schedule(r2) == ["StageSucceeded a", "StageQueued b"])
        #expect(g.state.runs[r2]?.stage("a")?.reusedFrom?.run == r)
        // A rerun of the rerun reuses the original attempt, not the reuse record.
        try g.start(r2, "b"); try g.complete(r2, "b", boom)
        g.schedule(r2)
        let again = try RunDecider.reuse(forRerunOf: r2, in: g.state, newJobSpec: spec)
        #expect(again["a"]?.run == r)
        #expect(throws: RunCommandError.self) { try RunDecider.reuse(forRerunOf: "42", in: g.state, newJobSpec: spec) }
    }

    @Test func unsupportedStagesFailWithoutStartingOrRetrying() throws {
        var g = Given()
        let r = try g.requested(["a"], retry: ["a": 3])
        g.schedule(r)
        g.record(try StageDecider.reject(g.state.runs[r]!, stage: "a", error: "no executor"), run: r)
        #expect(g.status(r, "a") == .failed)
        #expect(g.state.runs[r]?.stage("a")?.attempts.isEmpty == true)
        #expect(g.schedule(r) == ["RunFailed"])
    }

    @Test func unknownParametersAreRefusedWithASuggestion() throws {
        let spec = Value.object([("stages", .array([.object([("name", "a"), ("type", "script")])])), ("parameters", .object([("run_date", "x")]))])
        let req = RunDecider.Request(job: "j", jobVersion: 1, jobSpec: spec, catalogSeq: 1, parameters: [("run_dat", "y")], trigger: RunTrigger(.manual))
        #expect(throws: RunCommandError("job 'j' has no parameter 'run_dat'; did you mean 'run_date'?")) { try RunDecider.request(RunsState(), req) }
        var ok = req
        ok.parameters = [("run_date", "2026-01-02")]
        let (id, e) = try RunDecider.request(RunsState(), ok)
        #expect(id == "1")
        #expect(try e.decode(RunRequested.self).parameters == .object([("run_date", "2026-01-02")]))
    }

    /// Given a job with typed parameters, when runs are requested, then given values are checked
    /// and converted to their types, defaults fill in, a missing required one or a value of the
    /// wrong type is refused with one line naming the job, the parameter, its type and the value;
    /// an untyped parameter is taken as given.
    @Test func typedParametersAreCheckedConvertedAndDefaulted() throws {
        let params = Value.object([
            ("day", .object([("type", "date"), ("required", .bool(true))])),
            ("limit", .object([("type", "int"), ("default", .int(100))])),
            ("ratio", .object([("type", "number")])),
            ("dry", .object([("type", "bool"), ("default", .bool(false))])),
            ("tags", .object([("type", "list"), ("default", .array(["a"]))])),
            ("label", .object([("type", "text")])),
            ("marker", ""),
        ])
        let spec = Value.object([("stages", .array([.object([("name", "a"), ("type", "script")])])), ("parameters", params)])
        func request(_ given: [(String, Value)]) throws -> Value {
            let req = RunDecider.Request(job: "j", jobVersion: 1, jobSpec: spec, catalogSeq: 1, parameters: given, trigger: RunTrigger(.manual))
            return try RunDecider.request(RunsState(), req).event.decode(RunRequested.self).parameters
        }
        // Text as the CLI gives it, converted; the rest defaulted (an optional typed one without a default is null).
        let p = try request([("day", "2026-02-28"), ("limit", "25"), ("ratio", "0.5"), ("dry", "yes"), ("tags", "x, y"), ("label", .int(7)), ("marker", .int(3))])
        #expect(p == .object([("day", "2026-02-28"), ("dry", .bool(true)), ("label", "7"), ("limit", .int(25)), ("marker", .int(3)),
                              ("ratio", .double(0.5)), ("tags", .array(["x", "y"]))]))
        let defaults = try request([("day", "2024-02-29"), ("tags", "[1, 2]")])
        #expect(defaults == .object([("day", "2024-02-29"), ("dry", .bool(false)), ("label", .null), ("limit", .int(100)), ("marker", ""),
                                     ("ratio", .null), ("tags", .array([.int(1), .int(2)]))]))
        #expect(throws: RunCommandError("job 'j' needs parameter 'day' (a date (YYYY-MM-DD)), which the request does not give")) { try request([]) }
        #expect(throws: RunCommandError("job 'j': parameter 'day' must be a date (YYYY-MM-DD); got the text \"2026-02-30\" (not a calendar date)")) {
            try request([("day", "2026-02-30")])
        }
        #expect(throws: RunCommandError("job 'j': parameter 'limit' must be a whole number; got the text \"many\"")) { try request([("day", "2026-01-01"), ("limit", "many")]) }
        #expect(throws: RunCommandError("job 'j': parameter 'dry' must be true or false; got the text \"maybe\"")) { try request([("day", "2026-01-01"), ("dry", "maybe")]) }
        #expect(throws: RunCommandError.self) { try request([("day", "2026-01-01"), ("ratio", "nan")]) }
        #expect(throws: RunCommandError.self) { try request([("day", "2026-01-01"), ("tags", "[1, 2")]) }
    }

    @Test func providedParametersReachTheRunWhetherOrNotTheJobDeclaresThem() throws {
        // Given a job declaring run_date, when a schedule's run is requested with scheduled_time
        // provided, then the run has both (a provided one wins over a default).
        let spec = Value.object([("stages", .array([.object([("name", "a"), ("type", "script")])])), ("parameters", .object([("run_date", "x")]))])
        var req = RunDecider.Request(job: "j", jobVersion: 1, jobSpec: spec, catalogSeq: 1, trigger: RunTrigger(.schedule))
        req.provided = [("scheduled_time", "2026-01-01T06:00:00Z"), ("run_date", "2026-01-01")]
        let (_, e) = try RunDecider.request(RunsState(), req)
        #expect(try e.decode(RunRequested.self).parameters == .object([("run_date", "2026-01-01"), ("scheduled_time", "2026-01-01T06:00:00Z")]))
        // A given parameter the job does not take is still refused.
        req.parameters = [("scheduled", "y")]
        #expect(throws: RunCommandError.self) { try RunDecider.request(RunsState(), req) }
    }

    @Test func completingAnAttemptThatIsNotRunningIsRefused() throws {
        var g = Given()
        let r = try g.requested(["a"])
        g.schedule(r)
        #expect(throws: RunCommandError.self) { try StageDecider.complete(g.state.runs[r]!, stage: "a", attempt: 1, outcome: ok, nowMicros: 0) }
        try g.start(r, "a")
        #expect(throws: RunCommandError.self) { try StageDecider.start(g.state.runs[r]!, stage: "a", engine: "e2") }
    }
}

@Suite struct DependencyReactorTests {
    func finish(_ g: inout Given, job: String, ok success: Bool) throws -> String {
        let r = try g.requested(["a"], job: job)
        g.schedule(r)
        try g.start(r, "a")
        try g.complete(r, "a", success ? ok : boom)
        g.schedule(r)
        return r
    }

    @Test func startsOncePerFinishedUpstreamRun() throws {
        var g = Given()
        let rule = DependencyRule(name: "d", appliedSeq: 0, after: ["A"], on: "success", run: "B", parameters: .object([]))
        let a1 = try finish(&g, job: "A", ok: true)
        _ = try finish(&g, job: "A", ok: false)
        let due = DependencyReactor.due(g.state, rules: [rule])
        #expect(due.map { $0.upstream.map(\.run) } == [[a1]], "the failed run does not count for on: success")
        // Once the reactor's RunRequested is recorded, the same upstream run is consumed.
        let (id, e) = try RunDecider.request(g.state, .init(job: "B", jobVersion: 1, jobSpec: .object([("stages", .array([.object([("name", "x"), ("type", "script")])]))]),
                                                            catalogSeq: 1, trigger: DependencyReactor.trigger(due[0])))
        g.record(e, run: id)
        #expect(DependencyReactor.due(g.state, rules: [rule]).isEmpty)
    }

    @Test func allOfWaitsForEveryJobAndOnFailureOrCompletion() throws {
        var g = Given()
        let all = DependencyRule(name: "all", appliedSeq: 0, after: ["A", "B"], on: "success", run: "C", parameters: .object([]))
        let onFail = DependencyRule(name: "f", appliedSeq: 0, after: ["A"], on: "failure", run: "C", parameters: .object([]))
        let done = DependencyRule(name: "c", appliedSeq: 0, after: ["A"], on: "completion", run: "C", parameters: .object([]))
        _ = try finish(&g, job: "A", ok: true)
        #expect(DependencyReactor.due(g.state, rules: [all]).isEmpty)
        _ = try finish(&g, job: "B", ok: true)
        #expect(DependencyReactor.due(g.state, rules: [all]).count == 1)
        #expect(DependencyReactor.due(g.state, rules: [onFail]).isEmpty)
        _ = try finish(&g, job: "A", ok: false)
        #expect(DependencyReactor.due(g.state, rules: [onFail]).count == 1)
        #expect(DependencyReactor.due(g.state, rules: [done]).count == 2)
    }

    @Test func runsFinishedBeforeTheRuleExistedDoNotCount() throws {
        var g = Given()
        _ = try finish(&g, job: "A", ok: true)
        let rule = DependencyRule(name: "d", appliedSeq: UInt64(g.events.count), after: ["A"], on: "success", run: "B", parameters: .object([]))
        #expect(DependencyReactor.due(g.state, rules: [rule]).isEmpty)
        _ = try finish(&g, job: "A", ok: true)
        #expect(DependencyReactor.due(g.state, rules: [rule]).count == 1)
    }
}
