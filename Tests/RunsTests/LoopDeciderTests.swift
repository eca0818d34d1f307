import Domain
import Testing
@testable import Runs

/// for_each stages: given what the log says of each item's child run, when deciding the next
/// step, then which items start and how the stage ends.
@Suite struct LoopDeciderTests {
    typealias S = Loops.ItemState

    static func ok(_ run: String) -> S { .ended(run: run, succeeded: true, status: "succeeded", outputs: .object([("rows", .int(1))])) }
    static func failed(_ run: String) -> S { .ended(run: run, succeeded: false, status: "failed", outputs: .object([])) }

    @Test func sequentialByDefaultStartsOneItem() {
        let d = Loops.decide([.pending, .pending, .pending], maxParallel: 1, continueOnError: false)
        #expect(d.start == [0])
        #expect(d.end == nil)
    }

    @Test func maxParallelStartsUpToItsSlots() {
        #expect(Loops.decide([.pending, .pending, .pending], maxParallel: 2, continueOnError: false).start == [0, 1])
        #expect(Loops.decide([.running(run: "r1"), .pending, .pending], maxParallel: 2, continueOnError: false).start == [1])
        #expect(Loops.decide([.running(run: "r1"), .running(run: "r2"), .pending], maxParallel: 2, continueOnError: false).start == [])
        #expect(Loops.decide([Self.ok("r1"), .running(run: "r2"), .pending], maxParallel: 2, continueOnError: false).start == [2])
    }

    @Test func itemsWithARecordedRunAreNeverStartedAgain() {
        // The same states decided twice (a restart): the recorded run is not requested again.
        let states: [S] = [.running(run: "r1"), .pending]
        #expect(Loops.decide(states, maxParallel: 1, continueOnError: false).start == [])
        #expect(Loops.decide(states, maxParallel: 1, continueOnError: false).start == [])
    }

    @Test func allSucceededEndsTheStageWithOutputs() throws {
        let d = Loops.decide([Self.ok("r1"), Self.ok("r2")], maxParallel: 1, continueOnError: false)
        let end = try #require(d.end)
        #expect(end.succeeded)
        #expect(end.outputs["items"] == .int(2))
        #expect(end.outputs["succeeded"] == .int(2))
        #expect(end.outputs["failed"] == .int(0))
        #expect(end.outputs["runs"] == .array([
            .object([("item", .int(0)), ("run", .string("r1")), ("status", .string("succeeded")), ("outputs", .object([("rows", .int(1))]))]),
            .object([("item", .int(1)), ("run", .string("r2")), ("status", .string("succeeded")), ("outputs", .object([("rows", .int(1))]))]),
        ]))
    }

    @Test func failFastStartsNoMoreAndFailsOnceTheRunningEnd() throws {
        let waiting = Loops.decide([Self.failed("r1"), .running(run: "r2"), .pending], maxParallel: 2, continueOnError: false)
        #expect(waiting.start == [])
        #expect(waiting.end == nil)
        let end = try #require(Loops.decide([Self.failed("r1"), Self.ok("r2"), .pending], maxParallel: 2, continueOnError: false).end)
        #expect(!end.succeeded)
        #expect(end.error == "1 of 3 items failed (item 0); 1 not started")
        #expect(end.outputs["failed"] == .int(1))
        #expect(end.outputs["succeeded"] == .int(1))
    }

    @Test func continueOnErrorRunsEveryItemThenFails() throws {
        #expect(Loops.decide([Self.failed("r1"), .pending], maxParallel: 1, continueOnError: true).start == [1])
        let end = try #require(Loops.decide([Self.failed("r1"), Self.ok("r2")], maxParallel: 1, continueOnError: true).end)
        #expect(!end.succeeded)
        #expect(end.error == "1 of 2 items failed (item 0)")
    }

    @Test func noItemsSucceedsAtOnce() throws {
        let end = try #require(Loops.decide([], maxParallel: 1, continueOnError: false).end)
        #expect(end.succeeded)
        #expect(end.outputs["items"] == .int(0))
    }
}
