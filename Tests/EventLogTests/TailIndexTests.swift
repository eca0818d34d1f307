import Foundation
import Testing
import Domain
@testable import EventLog
import TestSupport

@Suite(.timeLimit(.minutes(1))) struct TailIndexTests {
    /// Reads through the indexes agree with a brute-force filter of a full scan.
    func checkIndexes(_ log: EventLog, streams: [String], types: [String]) throws {
        let all = try log.read()
        for s in streams {
            let expected = all.filter { $0.stream == s }
            #expect(try log.read(stream: s).map(\.seq) == expected.map(\.seq), "stream \(s)")
            #expect(try log.streamVersion(s) == UInt64(expected.count))
            // The version as of a moment, on both sides of the watermark and past the head.
            let last = all.last?.seq ?? 0
            for at in [0, 1, last / 3, last / 2, last - 40, last - 1, last, last + 5] {
                #expect(try log.streamVersion(s, asOf: at) == UInt64(expected.filter { $0.seq <= at }.count), "stream \(s) as of \(at)")
            }
            if expected.count > 10 {
                let mid = expected[expected.count / 2]
                #expect(try log.read(stream: s, fromVersion: mid.streamVersion, limit: 3).map(\.seq) == Array(expected.map(\.seq)[(expected.count / 2)...].prefix(3)))
            }
        }
        for t in types {
            let expected = all.filter { $0.type == t }.map(\.seq)
            #expect(try log.read(type: t).map(\.seq) == expected, "type \(t)")
            let from = expected[expected.count / 3]
            #expect(try log.read(type: t, from: from).map(\.seq) == expected.filter { $0 >= from })
        }
        for root in Set(all.map(\.correlation)).sorted().prefix(20) {
            #expect(try log.read(correlation: root).map(\.seq) == all.filter { $0.correlation == root }.map(\.seq))
        }
        let counts = Dictionary(grouping: all, by: \.type).mapValues { UInt64($0.count) }
        let stats = try log.stats()
        #expect(Dictionary(uniqueKeysWithValues: stats.countsByType.map { ($0.type, $0.count) }) == counts)
        #expect(stats.streams == Set(all.map(\.stream)).count)
    }

    @Test func readsAgreeAcrossTheWatermarkAndAfterReopening() throws {
        let dir = TemporaryDirectory()
        let streams = (0 ..< 7).map { "s\($0)" }
        let types = ["A", "B", "C"]
        do {
            var c = EventLog.Configuration()
            c.durable = false
            c.dictionaryTraining = .manual
            let log = try EventLog.create(at: dir.sub("s"), configuration: c)
            var k = 0
            // ~11,000 events in appends of varied size and interleaving: the tail is flushed at
            // least twice on the way (every 4,096 events), and the last events stay in the tail.
            for round in 0 ..< 300 {
                var parts: [StreamAppend] = []
                for (i, s) in streams.enumerated() where (round + i) % 3 != 0 {
                    let n = 1 + (round * 13 + i * 7) % 9
                    parts.append(StreamAppend(stream: s, events: (0 ..< n).map { j in
                        k += 1
                        return NewEvent(type: types[(k + j) % 3], payload: ["k": .int(Int64(k))], causation: k > 5 && j == 0 ? UInt64(k - 3) : nil)
                    }))
                }
                try log.append(parts)
            }
            let watermark = try log.core.env.read { txn in try txn.indexedWatermark(log.core.dbs) }
            let last = try log.lastSeq()
            #expect(watermark > 0 && watermark < last, "watermark \(watermark), last \(last)")
            try checkIndexes(log, streams: streams, types: types)
            // Idle: the writer indexes the tail by itself.
            try waitFor("the idle writer to index the tail through seq \(last)") {
                try log.core.env.read { txn in try txn.indexedWatermark(log.core.dbs) } >= last
            }
            #expect(try log.core.env.read { txn in try txn.indexedWatermark(log.core.dbs) } == last)
            try checkIndexes(log, streams: streams, types: types)
            try log.append([NewEvent(type: "A", payload: nil)], to: "s0", expectedVersion: .exact(try log.streamVersion("s0")))
        }
        // Reopened: the tail was indexed on close.
        let log = try EventLog.open(at: dir.sub("s"))
        #expect(try log.core.env.read { txn in try txn.indexedWatermark(log.core.dbs) } == (try log.lastSeq()))
        try checkIndexes(log, streams: streams, types: types)
        #expect(try log.verify().ok)
    }
}
