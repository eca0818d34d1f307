import Catalog
import Domain
import EventLog
import Foundation
import Lineage
import Runs
import Synchronization
import Testing
@testable import Engine

/// Failures injected into the loop: each is either recorded as an event or fails the step
/// (nothing appended, no checkpoint moved, decided again after a backoff) — never dropped.
@Suite(.timeLimit(.minutes(1))) struct EngineFailureTests {
    /// Counts calls and fails the first `failures` of them.
    final class FailFirst: Sendable {
        let calls = Atomic<Int>(0)
        let failures: Int
        init(_ failures: Int) { self.failures = failures }
        func call(_ what: String) throws {
            let n = calls.add(1, ordering: .relaxed).newValue
            if n <= failures { throw EngineError("injected: \(what) failed (call \(n))") }
        }
    }

    func engine(_ p: Project, _ reports: Reports) -> Engine {
        var o = Engine.Options()
        o.pollInterval = 0.01
        o.log = { reports.add($0.message) }
        return Engine(log: p.log, store: p.store, options: o)
    }

    @Test func anUnreadableCatalogVersionFailsTheAttemptOnRecordAndItIsRetried() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: j
        stages:
          - {name: s, type: script, command: ["true"], retry: {attempts: 2, backoff: 0.01s}}
        """)
        // A second catalog change, so the run's catalog version is read as of its seq, not taken
        // from the current catalog.
        let id = try RunCommands.request(p.log, job: "j", trigger: RunTrigger(.manual), actor: "test")
        try p.apply("""
        kind: job
        name: other
        stages: [{name: s, type: script, command: ["true"]}]
        """)
        let reports = Reports()
        let e = engine(p, reports)
        let fail = FailFirst(1)
        e.faults.catalogRead = { seq in try fail.call("reading the catalog as of \(seq)") }
        let run = try #require(try e.run { $0.runs[id]?.status.isFinished == true }.runs[id])
        #expect(run.status == .succeeded)
        #expect(run.stages[0].attempts.map(\.outcome) == [.failed, .succeeded])
        let failed = try p.events(id).compactMap { try $0.decodeIf(StageFailed.self) }
        #expect(failed.count == 1)
        #expect(failed.first?.error.contains("could not read the catalog as of seq") == true)
        #expect(failed.first?.retry == true)
        #expect(reports.lines.contains { $0.contains("could not read the catalog") })
    }

    @Test func aFailedOutcomeDecisionFailsTheStepAndTheOutcomeIsRecordedOnceLater() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: j
        stages:
          - {name: a, type: script, command: ["true"]}
          - {name: b, type: script, after: [a], command: ["true"]}
        """)
        let id = try RunCommands.request(p.log, job: "j", trigger: RunTrigger(.manual), actor: "test")
        let reports = Reports()
        let e = engine(p, reports)
        let fail = FailFirst(3)
        e.faults.outcome = { key in try fail.call("deciding the outcome of \(key.stage)") }
        let run = try #require(try e.run { $0.runs[id]?.status.isFinished == true }.runs[id])
        #expect(run.status == .succeeded)
        #expect(run.stages.map { $0.attempts.count } == [1, 1])
        let succeeded = try p.events(id).compactMap { try $0.decodeIf(StageSucceeded.self) }
        #expect(succeeded.map(\.stage) == ["a", "b"])
        #expect(reports.lines.filter { $0.hasPrefix("step failed") }.count == 3)
        #expect(fail.calls.load(ordering: .relaxed) >= 5)
    }

    @Test func aFailedLineageFoldIsRetriedNotSkipped() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: j
        stages: [{name: a, type: script, command: ["true"]}]
        """)
        let id = try RunCommands.request(p.log, job: "j", trigger: RunTrigger(.manual), actor: "test")
        let reports = Reports()
        let e = engine(p, reports)
        let fail = FailFirst(1_000)
        e.faults.lineageIndex = { try fail.call("folding the lineage table") }
        _ = try e.run { $0.runs[id]?.status.isFinished == true }
        #expect(reports.lines.contains { $0.contains("could not bring the lineage table up to seq") })
        #expect(try p.log.checkpoint(LineageIndex.checkpoint) < p.log.lastSeq())
        // Once the fold works again, the next idle moment after the backoff folds everything.
        e.faults.lineageIndex = nil
        e.lineageRetryAt = .distantPast
        e.indexLineage()
        #expect(try p.log.checkpoint(LineageIndex.checkpoint) == p.log.lastSeq())
    }
}
