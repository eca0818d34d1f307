import Foundation
import Testing
import Domain
@testable import EventLog
import TestSupport

/// The async tests run on an executor of their own (`withDedicatedExecutor`): their waits then
/// measure the subscription, not how long other tests keep the shared pool busy.
@Suite(.timeLimit(.minutes(1))) struct SubscriptionTests {
    @available(macOS 15.0, *)
    @Test func catchesUpThenFollowsNewAppends() async throws {
        try await withDedicatedExecutor { executor in
            // Polling for other processes' appends is put off for an hour: only the in-process
            // wake-up can deliver the new events in time.
            let (log, dir) = try makeLog(pollInterval: .seconds(3600))
            defer { withExtendedLifetime(dir) {} }
            try await log.append((0 ..< 5).map { stageEvent($0) }, to: "a")
            let received = Locked<[UInt64]>([])
            let task = Task(executorPreference: executor) {
                for try await e in log.subscribe(after: 2) {
                    received.withLock { $0.append(e.seq) }
                    if e.seq == 9 { break }
                }
            }
            defer { task.cancel() }
            // Wait for the catch-up and for the subscriber to park, then append more: the in-process
            // wake-up delivers them.
            try await waitUntil("the catch-up to deliver seqs 3...5") { received.withLock { $0 } == [3, 4, 5] }
            try await waitUntil("the subscriber to wait for appends") { log.core.notifier.waiterCount == 1 }
            try await log.append((0 ..< 4).map { stageEvent($0) }, to: "b")
            try await waitUntil("the wake-up to deliver seqs 6...9") { received.withLock { $0 }.count == 7 }
            try await task.value
            #expect(received.withLock { $0 } == [3, 4, 5, 6, 7, 8, 9])
        }
    }

    @available(macOS 15.0, *)
    @Test func filteredSubscription() async throws {
        try await withDedicatedExecutor { _ in
            let (log, dir) = try makeLog()
            defer { withExtendedLifetime(dir) {} }
            try await log.append([stageEvent(0), NewEvent(type: "Other", payload: nil), stageEvent(1)], to: "a")
            var seen: [UInt64] = []
            for try await e in log.subscribe(after: 0, filter: EventFilter(type: "Other")) {
                seen.append(e.seq)
                if seen.count == 2 { break }
                try await log.append([NewEvent(type: "Other", payload: nil)], to: "b")
            }
            #expect(seen == [2, 4])
        }
    }

    @available(macOS 15.0, *)
    @Test func cancellationEndsTheSubscription() async throws {
        try await withDedicatedExecutor { executor in
            // No polling either: only the cancellation can wake the waiting subscriber.
            let (log, dir) = try makeLog(pollInterval: .seconds(3600))
            defer { withExtendedLifetime(dir) {} }
            let task = Task(executorPreference: executor) { () -> Int in
                var n = 0
                for try await _ in log.subscribe(after: 0) { n += 1 }
                return n
            }
            try await waitUntil("the subscriber to wait for appends") { log.core.notifier.waiterCount == 1 }
            task.cancel()
            #expect(try await task.value == 0)
            #expect(log.core.notifier.waiterCount == 0)
        }
    }

    @Test func checkpointMovesInTheSameTransactionAsTheEvents() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        try log.append((0 ..< 3).map { stageEvent($0) }, to: "source")
        // A handler reacts to seq 1..3, appending its reaction with its checkpoint.
        for seq in 1 ... UInt64(3) {
            let before = try log.checkpoint("reactor.demo")
            try log.append([NewEvent(type: "Reacted", payload: ["to": .int(Int64(seq))], causation: seq)], to: "reactions",
                           checkpoint: CheckpointUpdate(name: "reactor.demo", expected: before, seq: seq))
        }
        #expect(try log.checkpoint("reactor.demo") == 3)
        // A second instance that still believes the checkpoint is 2 is refused, and writes nothing.
        let head = try log.head()
        #expect(throws: CheckpointConflict(name: "reactor.demo", expected: 2, actual: 3)) {
            try log.append([NewEvent(type: "Reacted", payload: ["to": 3], causation: 3)], to: "reactions",
                           checkpoint: CheckpointUpdate(name: "reactor.demo", expected: 2, seq: 3))
        }
        #expect(try log.head() == head)
        // A conflicting expected version also leaves the checkpoint where it was.
        #expect(throws: WrongExpectedVersion.self) {
            try log.append([NewEvent(type: "Reacted", payload: nil)], to: "reactions", expectedVersion: .exact(0),
                           checkpoint: CheckpointUpdate(name: "reactor.demo", expected: 3, seq: 4))
        }
        #expect(try log.checkpoint("reactor.demo") == 3)
        try log.setCheckpoint("projection.catalog", to: 5)
        #expect(try log.checkpoints() == ["reactor.demo": 3, "projection.catalog": 5])
        #expect(try log.read(stream: "reactions").map(\.correlation) == [1, 1, 1])
    }
}
