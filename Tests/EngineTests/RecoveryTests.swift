import Catalog
import Domain
import EventLog
import Foundation
import Runs
import TestSupport
import Testing
@testable import Engine

@Suite(.timeLimit(.minutes(1))) struct RecoveryTests {
    /// The step that recovers an interrupted attempt fails before its append (nothing of it is
    /// committed): the next step recovers it again, rather than leaving it running for good.
    @Test func aRecoveryWhoseStepFailedIsDecidedAgain() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: r
        stages: [{name: a, type: script, command: ["true"], retry: {attempts: 2, backoff: 0s}}]
        """)
        let id = try RunCommands.request(p.log, job: "r", trigger: RunTrigger(.manual), actor: "test")
        // A dead engine queued and started the stage, then vanished.
        var state = try RunCommands.runs(p.log)
        try p.log.append(Scheduler.advance(state.runs[id]!, nowMicros: 0), to: RunEvents.stream(run: id), actor: "ghost")
        state = try RunCommands.runs(p.log)
        try p.log.append([StageDecider.start(state.runs[id]!, stage: "a", engine: "ghost")], to: RunEvents.stream(run: id), actor: "ghost")
        let e = p.engine()
        let failed = Locked(false)
        e.faults.commit = {
            try failed.withLock { done in
                if !done {
                    done = true
                    throw EngineError("injected: the first commit fails")
                }
            }
        }
        let finished = Locked<RunsState?>(nil)
        let thread = Thread {
            let s = try? e.run { $0.runs[id]?.status.isFinished == true }
            finished.withLock { $0 = s ?? RunsState() }
        }
        thread.start()
        defer {
            e.stop()
            try? waitFor("the engine to stop") { finished.withLock { $0 } != nil }
        }
        try waitFor("run \(id) to finish") { (try RunCommands.runs(p.log).runs[id]?.status.isFinished) == true }
        let run = try #require(try RunCommands.runs(p.log).runs[id])
        #expect(failed.withLock { $0 })
        #expect(run.status == .succeeded)
        #expect(run.stages[0].attempts.map(\.reason) == ["interrupted", nil])
    }
}
