import Foundation
import TestSupport
import Testing
import Domain
import EventLog

/// Checks a store written by `ledgerflow-bench append-loop`: the chain verifies, seqs are dense,
/// stream versions are dense, and every batch is complete. Returns the number of complete batches
/// per prefix.
func checkLoopStore(_ path: String, batch: Int) throws -> [String: Int] {
    let log = try EventLog.open(at: path)
    let report = try log.verify()
    #expect(report.ok, "\(report.problem.map { "seq \($0.seq): \($0.reason)" } ?? "")")
    let all = try log.read()
    #expect(all.map(\.seq) == Array(1 ... UInt64(max(all.count, 1))).prefix(all.count).map { $0 })
    var versions: [String: UInt64] = [:]
    var batches: [String: [Int: Int]] = [:]
    var counters: [String: Int] = [:]
    for e in all {
        let v = versions[e.stream, default: 0] + 1
        #expect(e.streamVersion == v, "stream \(e.stream) jumps to version \(e.streamVersion) at seq \(e.seq)")
        versions[e.stream] = e.streamVersion
        if e.type == "LoopEvent" {
            let prefix = e.payload["prefix"]?.stringValue ?? "?"
            batches[prefix, default: [:]][Int(e.payload["batch"]?.intValue ?? -1), default: 0] += 1
        } else if e.type == "LoopBatchCommitted" {
            counters[String(e.stream.dropLast("/batches".count)), default: 0] += 1
        }
    }
    // Reads through the indexes (possibly with an unindexed tail left by a killed writer) agree.
    for stream in Set(all.map(\.stream)) {
        let expected = all.filter { $0.stream == stream }.map(\.seq)
        #expect(try log.read(stream: stream).map(\.seq) == expected, "stream \(stream)")
        #expect(try log.streamVersion(stream) == UInt64(expected.count))
    }
    var complete: [String: Int] = [:]
    for (prefix, byBatch) in batches {
        // No partial batch: every batch has all its events, and batches are numbered 0..<n.
        #expect(byBatch.values.allSatisfy { $0 == batch }, "a batch of \(prefix) is partial: \(byBatch.filter { $0.value != batch })")
        #expect(Set(byBatch.keys) == Set(0 ..< byBatch.count))
        #expect(counters[prefix] == byBatch.count)
        complete[prefix] = byBatch.count
    }
    return complete
}

/// Other processes appending and being killed, 20 rounds: several seconds each on their own,
/// longer on a busy two-core machine, so a longer limit than most tests'.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ProcessTests {
    @Test func twoProcessesAppendingAtOnceLoseNothing() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        #expect(try ledgerflow(["init", "--store", store]).status == 0)
        let bench = try binary("ledgerflow-bench")
        let results = Locked<[RunResult]>([])
        let done = DispatchGroup()
        for prefix in ["alpha", "beta"] {
            done.enter()
            Thread {
                let r: RunResult
                do {
                    r = try run(bench, ["append-loop", "--store", store, "--batch", "40", "--batches", "150", "--prefix", prefix])
                } catch {
                    r = RunResult(status: -1, stdout: "", stderr: "\(error)")
                }
                results.withLock { $0.append(r) }
                done.leave()
            }.start()
        }
        // Each run has its own deadline (it is killed after it), so this wait ends.
        done.wait()
        for r in results.withLock({ $0 }) {
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.lines.count == 150)
        }
        let complete = try checkLoopStore(store, batch: 40)
        #expect(complete == ["alpha": 150, "beta": 150])
        // The two processes really ran at once: their commits interleave in the log.
        let log = try EventLog.open(at: store)
        #expect(try log.head().seq == 2 * 150 * 41)
        let order = try log.read(type: "LoopBatchCommitted").map(\.stream)
        let switches = zip(order, order.dropFirst()).filter { $0 != $1 }.count
        #expect(switches >= 2, "the two appenders did not overlap (\(switches) switches)")
    }

    @Test func sigkillWhileAppendingTwentyTimes() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        #expect(try ledgerflow(["init", "--store", store]).status == 0)
        let bench = try binary("ledgerflow-bench")
        var lastPrinted = -1
        // Kill at random moments (the delay is the point, not a synchronisation), from a seed that
        // the expectations name.
        var rng = SplitMix64.forRun()
        for round in 0 ..< 20 {
            let p = try BackgroundProcess(bench, ["append-loop", "--store", store, "--batch", "64", "--prefix", "crash"])
            // Wait for the first commit of this round, then kill at a random moment.
            try p.waitForOutput("its first commit (round \(round))") { $0.contains("\n") }
            usleep(UInt32.random(in: 1_000 ... 150_000, using: &rng))
            p.signal(SIGKILL)
            let r = try p.finish()
            #expect(r.signalled, "round \(round): the child ended before the kill; \(rng)")
            let committed = r.stdout.split(separator: "\n")
                .compactMap { line -> Int? in
                    let parts = line.split(separator: " ")
                    return parts.count == 3 && parts[0] == "committed" ? Int(parts[1]) : nil
                }
            if let last = committed.last { lastPrinted = max(lastPrinted, last) }
            // The store opens, verifies, holds no partial batch, and has every batch reported committed.
            let complete = try checkLoopStore(store, batch: 64)
            #expect((complete["crash"] ?? 0) >= lastPrinted + 1, "round \(round): batch \(lastPrinted) was reported committed but is missing; \(rng)")
        }
        #expect(lastPrinted > 20, "\(rng)")
    }
}
