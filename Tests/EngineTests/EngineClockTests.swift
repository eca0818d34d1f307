import Domain
import EventLog
import Foundation
import Runs
import Testing
import TestSupport
@testable import Engine

/// The engine decides at the clock's time (the log's by default), so a test drives retry backoffs
/// and durations by moving a manual clock instead of sleeping.
@Suite(.timeLimit(.minutes(1))) struct EngineClockTests {
    @Test func retryBackoffAndDurationsFollowTheInjectedClock() throws {
        let clock = ManualClock()
        let start = clock.nowMicros()
        let p = try Project(clock: clock)
        try p.apply("""
        kind: job
        name: flaky
        stages:
          - name: f
            type: script
            command: [sh, -c, "n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; [ $n -ge 2 ]"]
            retry: {attempts: 2, backoff: 60s}
        """)
        let id = try RunCommands.request(p.log, job: "flaky", trigger: RunTrigger(.manual), actor: "test")
        let e = p.engine()
        let done = DispatchSemaphore(value: 0)
        let result = Locked<Result<RunsState, any Error>?>(nil)
        Thread.detachNewThread {
            let r = Result { try e.run { $0.runs[id]?.status.isFinished == true } }
            result.withLock { $0 = r }
            done.signal()
        }
        // The first attempt fails; the second is queued a minute later on the clock, which stands still.
        var queued: StageQueued?
        try waitFor("the retry to be queued") {
            queued = try p.events(id).compactMap { try $0.decodeIf(StageQueued.self) }.first { $0.attempt == 2 }
            return queued != nil
        }
        #expect(queued?.notBefore == start + 60_000_000)
        #expect(try p.events(id).filter { $0.type == StageStarted.type }.count == 1)
        // A minute and a second later the retry starts and the run succeeds.
        clock.advance(bySeconds: 61)
        #expect(done.wait(timeout: .now() + 30) == .success)
        let state = try #require(try result.withLock { $0 }?.get())
        #expect(state.runs[id]?.status == .succeeded)
        let events = try p.events(id)
        #expect(events.allSatisfy { $0.recordedAtMicros == start || $0.recordedAtMicros == start + 61_000_000 })
        #expect(try events.compactMap { try $0.decodeIf(RunSucceeded.self) }.first?.durationMs == 61_000)
    }
}

/// The engine's log lines as text and JSON.
@Suite struct LogLineTests {
    @Test func textAndJSONCarryLevelComponentRunAndMessage() throws {
        let t = Date(timeIntervalSince1970: 1_764_864_062.123)
        let line = LogLine(time: t, level: .warning, component: "recovery", run: "42", message: "attempt 1 of stage \"a\" was interrupted")
        #expect(line.formatted(.text) == "2025-12-04T16:01:02.123000Z warning recovery run=42: attempt 1 of stage \"a\" was interrupted")
        let v = try Value(json: line.formatted(.json))
        #expect(v == .object([("time", .string("2025-12-04T16:01:02.123000Z")), ("level", .string("warning")), ("component", .string("recovery")),
                              ("run", .string("42")), ("message", .string("attempt 1 of stage \"a\" was interrupted"))]))
        let noRun = LogLine(time: t, level: .info, component: "service", message: "idle")
        #expect(noRun.formatted(.text) == "2025-12-04T16:01:02.123000Z info service: idle")
        #expect(try Value(json: noRun.formatted(.json))["run"] == nil)
    }
}
