import Domain
import EventLog
import Foundation
import Runs
import Synchronization
import Testing
@testable import Engine

/// The engine-hosting policy of `ledgerflow run`: host an engine when the lock is free, follow
/// another process's engine otherwise, take over when it goes away, stop on interrupt.
@Suite(.timeLimit(.minutes(1))) struct RunHostTests {
    static let job = """
    kind: job
    name: j
    stages:
      - {name: a, type: script, command: ["true"]}
      - {name: b, type: script, after: [a], command: ["true"]}
    """

    func host(_ p: Project, _ run: String) -> RunHost {
        var o = RunHost.Options()
        o.pollInterval = 0.01
        o.engine.pollInterval = 0.01
        return RunHost(log: p.log, store: p.store, run: run, options: o)
    }

    @Test func hostsAnEngineWhenTheLockIsFreeAndSeesEveryEventOnce() throws {
        let p = try Project()
        try p.apply(Self.job)
        let id = try RunCommands.request(p.log, job: "j", trigger: RunTrigger(.manual), actor: "test")
        let h = host(p, id)
        var seen: [UInt64] = []
        let outcome = try h.follow(onEvent: { seen.append($0.streamVersion) })
        #expect(outcome == .finished(.succeeded))
        #expect(h.hostedEngine)
        #expect(seen == Array(1...UInt64(seen.count)))
        #expect(seen.count == (try p.events(id)).count)
        // The lock is free again once the host is gone.
        #expect(try EngineLock.acquire(store: p.store) != nil)
    }

    @Test func followsWhileAnotherEngineHoldsTheLockAndTakesOverWhenItGoes() throws {
        let p = try Project()
        try p.apply(Self.job)
        let id = try RunCommands.request(p.log, job: "j", trigger: RunTrigger(.manual), actor: "test")
        let held = Mutex<EngineLock?>(try EngineLock.acquire(store: p.store))
        #expect(held.withLock { $0 != nil })
        let h = host(p, id)
        var idle = 0
        let outcome = try h.follow(onEvent: { _ in }, onIdle: {
            idle += 1
            // While the other "engine" holds the lock, nothing runs; after a few looks it goes away.
            if idle == 5 {
                #expect(!h.hostedEngine)
                #expect((try? p.events(id).count) == 1)
                held.withLock { $0 = nil }
            }
        })
        #expect(outcome == .finished(.succeeded))
        #expect(h.hostedEngine)
        #expect(idle >= 5)
    }

    @Test func interruptStopsTheHostedEngineAndTheRunGoesOnLater() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: long
        stages: [{name: s, type: script, command: [sleep, "30"], retry: {attempts: 2, backoff: 1s}}]
        """)
        let id = try RunCommands.request(p.log, job: "long", trigger: RunTrigger(.manual), actor: "test")
        var o = RunHost.Options()
        o.pollInterval = 0.01
        o.engine.shutdownGrace = 0.1
        let h = RunHost(log: p.log, store: p.store, run: id, options: o)
        let outcome = try h.follow(onEvent: { e in if e.type == StageStarted.type { h.interrupt() } })
        #expect(outcome == .interrupted)
        let state = try RunCommands.runs(p.log)
        #expect(state.runs[id]?.status == .running)
        #expect(state.runs[id]?.stages[0].attempts.first?.reason == "interrupted")
        #expect(state.runs[id]?.stages[0].status == .queued)
    }

    @Test func aFailingHostedEngineIsReported() throws {
        let p = try Project()
        try p.apply(Self.job)
        let id = try RunCommands.request(p.log, job: "j", trigger: RunTrigger(.manual), actor: "test")
        // Another engine's checkpoint moves under this one: it must stop, and the host say so.
        try p.log.setCheckpoint(Engine.schedulerCheckpoint, to: 0)
        let h = host(p, id)
        var moved = false
        #expect(throws: EngineError.self) {
            _ = try h.follow(onEvent: { e in
                if !moved, e.type == StageStarted.type {
                    moved = true
                    try? p.log.setCheckpoint(Engine.schedulerCheckpoint, to: 1)
                }
            })
        }
    }
}
