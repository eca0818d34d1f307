import Domain
import Testing
@testable import Runs

/// The engine's working set (`RunsState.forget`): what it drops, and that deciding on it gives
/// what deciding on the full state gives.
@Suite struct WorkingSetTests {
    /// Runs a one-stage run of `job` to its end; returns its id.
    @discardableResult
    func finish(_ g: inout Given, job: String, ok success: Bool) throws -> String {
        let r = try g.requested(["a"], job: job)
        g.schedule(r)
        try g.start(r, "a")
        try g.complete(r, "a", success ? ok : boom)
        g.schedule(r)
        return r
    }

    @Test func finishedRunsGoOnlyOnceDecidedAndTheNewestStay() throws {
        var g = Given()
        let r1 = try finish(&g, job: "A", ok: true)
        let r2 = try finish(&g, job: "A", ok: false)
        let decided = try #require(g.state.runs[r2]?.finishedSeq)
        let r3 = try finish(&g, job: "A", ok: true)
        let r4 = try g.requested(["a"], job: "A")
        var w = g.state
        // Given four runs, three finished; when the reactors have decided through r2's end:
        #expect(w.forget(decidedThrough: decided, rules: [], keepFinished: 0) == 2)
        // then r1 and r2 are gone, r3 (its end undecided) and r4 (active) stay.
        #expect(w.runs[r1] == nil && w.runs[r2] == nil)
        #expect(w.runs[r3] != nil && w.runs[r4] != nil)
        #expect(w.active == [r4] && w.lastRunNumber == 4 && w.forgotten == 2)
        #expect(w.hasFinished(r1) && w.hasFinished(r2) && w.hasFinished(r3))
        #expect(!w.hasFinished(r4) && !w.hasFinished("5") && !w.hasFinished("x"))
        // No rule waits on A: nothing of the decided finishes is kept for the dependency reactor.
        #expect(w.finishedByJob["A"]?.map(\.run) == [r3])
        // The newest finished runs are kept on request, however old the checkpoint.
        var k = g.state
        #expect(k.forget(decidedThrough: g.state.lastSeq, rules: [], keepFinished: 2) == 1)
        #expect(k.runs[r1] == nil && k.runs[r2] != nil && k.runs[r3] != nil)
        // A full state (nothing forgotten) does not guess about runs it does not hold.
        #expect(!g.state.hasFinished("99") && g.state.hasFinished(r1))
    }

    @Test func unconsumedFinishesARuleWaitsForStayAfterTheirRunsGo() throws {
        var g = Given()
        var w = RunsState()
        var folded = 0
        func sync() {
            for e in g.events[folded...] { w.evolve(e) }
            folded = g.events.count
        }
        let both = DependencyRule(name: "both", appliedSeq: 0, after: ["A", "B"], on: "success", run: "C", parameters: .object([]))
        let a1 = try finish(&g, job: "A", ok: true)
        try finish(&g, job: "A", ok: false)
        sync()
        w.forget(decidedThrough: g.state.lastSeq, rules: [both], keepFinished: 0)
        // a1 waits for a B (its run is gone, its finish stays); the failed run: no rule can pick it.
        #expect(w.runs.isEmpty)
        #expect(w.finishedByJob["A"]?.map(\.run) == [a1])
        let b1 = try finish(&g, job: "B", ok: true)
        sync()
        let due = DependencyReactor.due(w, rules: [both])
        #expect(due == DependencyReactor.due(g.state, rules: [both]))
        #expect(due.map { $0.upstream.map(\.run) } == [[a1, b1]])
        // Once the downstream request records what it consumed, both finishes go, and so do the
        // consumed entries (the reactor only asks about runs it finds among the finishes).
        let (id, e) = try RunDecider.request(g.state, .init(job: "C", jobVersion: 1, jobSpec: oneStage, catalogSeq: 1, trigger: DependencyReactor.trigger(due[0])))
        g.record(e, run: id)
        sync()
        #expect(w.consumed["both"] == [a1, b1])
        w.forget(decidedThrough: g.state.lastSeq, rules: [both], keepFinished: 0)
        #expect(w.finishedByJob.isEmpty && w.consumed.isEmpty)
        #expect(DependencyReactor.due(w, rules: [both]).isEmpty && DependencyReactor.due(g.state, rules: [both]).isEmpty)
    }

    /// Random histories of finishes, firings and forgetting: at every point the working set
    /// decides what the full state decides, and answers `hasFinished` alike.
    @Test(arguments: 1 ... 24) func decidesAsTheFullStateDoes(seed: UInt64) throws {
        var rng = Mix(seed)
        var g = Given()
        var w = RunsState()
        var folded = 0
        var decided: UInt64 = 0
        let rules = [
            DependencyRule(name: "r1", appliedSeq: 0, after: ["A"], on: "success", run: "D", parameters: .object([])),
            DependencyRule(name: "r2", appliedSeq: 10, after: ["A", "B"], on: "completion", run: "D", parameters: .object([])),
            DependencyRule(name: "r3", appliedSeq: 0, after: ["C"], on: "failure", run: "D", parameters: .object([])),
        ]
        func sync() {
            for e in g.events[folded...] { w.evolve(e) }
            folded = g.events.count
        }
        for step in 0 ..< 80 {
            switch rng.next() % 4 {
            case 0, 1:
                try finish(&g, job: ["A", "B", "C"][Int(rng.next() % 3)], ok: rng.next() % 3 != 0)
            case 2:
                if let f = DependencyReactor.due(g.state, rules: rules).first {
                    let (id, e) = try RunDecider.request(g.state, .init(job: "D", jobVersion: 1, jobSpec: oneStage, catalogSeq: 1,
                                                                        trigger: DependencyReactor.trigger(f)))
                    g.record(e, run: id)
                }
            default:
                sync()
                decided = max(decided, min(g.state.lastSeq, decided + rng.next() % 30))
                w.forget(decidedThrough: decided, rules: rules, keepFinished: Int(rng.next() % 3))
            }
            sync()
            #expect(DependencyReactor.due(w, rules: rules) == DependencyReactor.due(g.state, rules: rules), "seed \(seed), step \(step)")
            #expect(w.active == g.state.active && w.lastRunNumber == g.state.lastRunNumber, "seed \(seed), step \(step)")
            for id in g.state.runs.keys { #expect(w.hasFinished(id) == g.state.hasFinished(id), "seed \(seed), step \(step), run \(id)") }
            for (id, r) in g.state.runs where w.runs[id] == nil {
                #expect(r.finishedSeq.map { $0 <= decided } == true, "a run goes only once finished and decided (seed \(seed), run \(id))")
            }
        }
    }

    @Test func roundTripsThroughItsSnapshotValue() throws {
        var g = Given()
        let both = DependencyRule(name: "both", appliedSeq: 0, after: ["A", "B"], on: "success", run: "C", parameters: .object([]))
        try finish(&g, job: "A", ok: true)
        try finish(&g, job: "A", ok: true)
        try finish(&g, job: "B", ok: false)
        try g.requested(["a", "b<-a"], job: "A")
        var w = g.state
        w.forget(decidedThrough: g.state.lastSeq, rules: [both], keepFinished: 1)
        let back = try RunsState(workingSet: w.workingSetValue)
        #expect(back == w)
        #expect(back.finishedByJob["A"]?.count == 2 && back.runs.count == 2)
        // A loop's items, its items' starts and a run's owner come back too.
        let loop = try g.requested(["each"], job: "L")
        g.schedule(loop)
        g.record([StageStarted(stage: "each", attempt: 1, engine: "e", items: [.object([("m", "a")]), "b"]).event(),
                  StageItemStarted(stage: "each", attempt: 1, item: 0, childRun: "99").event(),
                  StageItemStarted(stage: "each", attempt: 1, item: 1, error: "no field").event()], run: loop)
        var withLoop = g.state
        withLoop.runs[loop]?.owner = "team-P1"
        let again = try RunsState(workingSet: withLoop.workingSetValue)
        #expect(again == withLoop)
        #expect(again.runs[loop]?.stage("each")?.attempts.first?.itemStarts[1]?.error == "no field")
        #expect(again.runs[loop]?.stage("each")?.attempts.first?.items?.count == 2 && again.runs[loop]?.owner == "team-P1")
        // A malformed snapshot fails, naming the field.
        let bad = Value.object([("runs", .array([])), ("finished_by_job", .object([("A", .array([.object([("run", "1"), ("status", "running"), ("seq", 3), ("correlation", 1)])]))]))])
        #expect(throws: DecodingFailure.self) { try RunsState(workingSet: bad) }
        do { _ = try RunsState(workingSet: bad) } catch { #expect("\(error)".contains("status")) }
    }
}

let oneStage = Value.object([("stages", .array([.object([("name", "x"), ("type", "script")])]))])

/// SplitMix64, seeded per test argument (the seed is the argument: a failure names it).
struct Mix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
