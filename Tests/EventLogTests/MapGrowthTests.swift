import Domain
import EventLog
import Foundation
import Testing
import TestSupport

/// Growing the map replaces it (LMDB unmaps and maps it again): no read transaction of the process
/// may walk it meanwhile.
@Suite(.timeLimit(.minutes(2))) struct MapGrowthTests {
    @Test func readersKeepReadingWhileTheWriterGrowsTheMap() throws {
        let dir = TemporaryDirectory()
        var c = EventLog.Configuration()
        c.durable = false
        c.mapSize = 1 << 20 // 1 MiB: the appends below grow it several times
        c.dictionaryTraining = .manual
        let log = try EventLog.create(at: dir.sub("s"), configuration: c)
        let stop = Locked(false)
        let reads = Locked(0)
        let failures = Locked<[String]>([])
        let readers = (0 ..< 3).map { _ in
            Thread {
                while !stop.withLock({ $0 }) {
                    do {
                        // Whole scans: each holds one read transaction over many pages.
                        var bytes = 0
                        for e in try log.read() { bytes += e.payload.stringValue?.count ?? 0 }
                        reads.withLock { $0 += 1 }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }
        }
        readers.forEach { $0.start() }
        var rng = SplitMix64.forRun()
        for b in 0 ..< 40 {
            // Random text does not compress: 40 × 100 × ~2 KiB is about 8 MiB, three doublings.
            try log.append((0 ..< 100).map { _ in
                NewEvent(type: "Fill", payload: .string((0 ..< 160).map { _ in String(rng.next() % 1_000_000_000_000, radix: 36) }.joined()))
            }, to: "fill/\(b)")
        }
        stop.withLock { $0 = true }
        try waitFor("the readers to stop", timeout: 60) { readers.allSatisfy(\.isFinished) }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(3) })")
        #expect(reads.withLock { $0 } > 0)
        #expect(try log.stats().mapSize >= 8 << 20, "\(rng)")
        #expect(try log.lastSeq() == 4_000)
        #expect(try log.verify().ok)
    }
}
