import Domain
@testable import EventLog
import Foundation
import Testing
import TestSupport

/// The pages of the store's map a process holds resident stay within a budget (`ResidentMap`):
/// measured on the map itself, in `/proc/self/smaps`, so other tests running in this process do
/// not disturb the figures.
@Suite(.timeLimit(.minutes(2))) struct ResidentMapTests {
    /// A store of about 12 MiB: 6,000 events of 250 random (incompressible) 64-bit integers.
    func filledStore(_ dir: TemporaryDirectory, budget: Int) throws -> (log: EventLog, payloads: [Value]) {
        var c = EventLog.Configuration()
        c.durable = false
        c.dictionaryTraining = .manual
        c.residentMapBudget = budget
        let log = try EventLog.create(at: dir.sub("s"), configuration: c)
        var rng = SplitMix64.forRun()
        var payloads: [Value] = []
        for b in 0 ..< 60 {
            let batch = (0 ..< 100).map { _ in Value.array((0 ..< 250).map { _ in .int(Int64(bitPattern: rng.next())) }) }
            payloads += batch
            try log.append(batch.map { NewEvent(type: "Fill", payload: $0) }, to: "fill/\(b)")
        }
        return (log, payloads)
    }

    /// Resident bytes of the maps of `store`'s data.mdb in this process (smaps' Rss lines), found
    /// by the file's inode.
    func mappedBytes(_ store: String) throws -> Int {
        var file = stat()
        guard stat((store as NSString).appendingPathComponent("data.mdb"), &file) == 0 else { throw CocoaError(.fileNoSuchFile) }
        var total = 0, inside = false
        // Read to the end (String(contentsOfFile:) stops after a procfs file's first page).
        guard let data = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/smaps")).readToEnd() else { return 0 }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                inside = fields.count >= 6 && UInt64(fields[4]) == UInt64(file.st_ino) && fields[5].hasSuffix("data.mdb")
            } else if inside, fields.first == "Rss:", fields.count >= 2, let kb = Int(fields[1]) {
                total += kb * 1024
            }
        }
        return total
    }

    @Test func releasingTheMapsPagesDropsThemFromTheResidentSetAndLosesNothing() throws {
        let dir = TemporaryDirectory()
        let (log, payloads) = try filledStore(dir, budget: 0)
        #expect(try log.read().map(\.payload) == payloads)
        let before = try mappedBytes(log.path)
        #expect(before >= 8 << 20, "reading every event maps the store: \(before) bytes resident")
        let advised = log.core.env.releaseResidentPages()
        #expect(advised >= 12 << 20, "the whole map is advised: \(advised) bytes")
        let after = try mappedBytes(log.path)
        #expect(after < 1 << 20, "resident after the release: \(after) bytes (before: \(before))")
        // The pages come back from the page cache: everything reads as before, and the log verifies.
        #expect(try log.read().map(\.payload) == payloads)
        #expect(try log.verify().ok)
    }

    @Test func pointReadsSpreadOverTheStoreStayWithinTheBudget() throws {
        let dir = TemporaryDirectory()
        let (log, payloads) = try filledStore(dir, budget: 0)
        let store = log.path
        let budget = 1 << 20, every = 8
        // Start from nothing resident (appending read pages through the map too), as a store just opened.
        _ = log.core.env.releaseResidentPages()
        let map = ResidentMap(budget: budget, checkEvery: every) { try? ResidentMapTests().mappedBytes(store) }
        var rng = SplitMix64.forRun()
        var highest = 0
        for _ in 0 ..< 200 {
            let seq = 1 + rng.next() % UInt64(payloads.count)
            #expect(try log.event(at: seq)?.payload == payloads[Int(seq - 1)])
            map.touched(1, log.core.env)
            highest = max(highest, try mappedBytes(store))
        }
        // Between two checks, `every` reads; each maps at most 3 pages of the tree (root, branch,
        // leaf) with the kernel's fault-around of 16 pages each.
        let bound = budget + every * 3 * 64 * 1024
        #expect(map.releaseCount > 0)
        #expect(highest <= bound, "at most \(highest) bytes resident against a bound of \(bound) (\(rng))")

        // Without the budget the same number of reads maps much more of the store.
        _ = log.core.env.releaseResidentPages()
        for _ in 0 ..< 200 { _ = try log.event(at: 1 + rng.next() % UInt64(payloads.count)) }
        let unbounded = try mappedBytes(store)
        #expect(unbounded > 2 * bound, "\(unbounded) bytes resident without the budget")
    }

    @Test func theLogLetsGoOfItsPagesPastItsBudget() throws {
        let dir = TemporaryDirectory()
        let (log, payloads) = try filledStore(dir, budget: 1 << 20)
        var rng = SplitMix64.forRun()
        for _ in 0 ..< 2_000 {
            let seq = 1 + rng.next() % UInt64(payloads.count)
            #expect(try log.event(at: seq)?.payload == payloads[Int(seq - 1)])
        }
        #expect(log.core.resident.releaseCount > 0, "\(rng)")
        #expect(try log.read().map(\.payload) == payloads)
    }
}
