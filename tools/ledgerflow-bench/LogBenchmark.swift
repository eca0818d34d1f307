import Domain
import EventLog
import Foundation
import LMDB
import Zstd

/// `ledgerflow-bench log`: the event log against the raw LMDB + zstd baseline, measured in one run.
enum LogBenchmark {
    struct Figures {
        var append = 0.0, durable = 0.0, group = 0.0, groupTasks = 0.0, scan = 0.0
        var rawAppend = 0.0, rawDurable = 0.0, rawScan = 0.0, bytesPerEvent = 0.0
    }

    static func run(_ o: Options) throws {
        let events = try o.int("events", default: 1_000_000)
        let repeats = max(1, try o.int("repeat", default: 3))
        let json = o.flag("json")
        // --only append|scan: run just that phase (for profiling).
        let only = o.string("only")
        let base = o.string("dir") ?? FileManager.default.temporaryDirectory.appendingPathComponent("ledgerflow-bench-\(getpid())").path
        try? FileManager.default.removeItem(atPath: base)
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { if ProcessInfo.processInfo.environment["LEDGERFLOW_BENCH_KEEP"] == nil { try? FileManager.default.removeItem(atPath: base) } }

        func say(_ s: String) { if !json { print(s); fflush(nil) } }
        say("generating \(events) pipeline events in memory…")
        let firstPlan = plan(events: events, batchSize: 10_000)
        let total = firstPlan.reduce(0) { $0 + $1.reduce(0) { $0 + $1.events.count } }
        let single = Array(firstPlan[0].flatMap { p in p.events.map { (p.stream, $0) } }.prefix(2_000))
        var spare: [[StreamAppend]]? = firstPlan

        var runs: [Figures] = []
        for r in 1 ... repeats {
            say("run \(r) of \(repeats)")
            var f = Figures()
            let dir = "\(base)/run\(r)"

            // 1. Batched append: ~10,000 events per append, durable (one fsync per append).
            let store = "\(dir)/log"
            do {
                let log = try EventLog.create(at: store)
                // The plan is consumed as it is appended, so the scan below runs in a process
                // holding no more than a reader would.
                var batches = spare ?? plan(events: events, batchSize: 10_000)
                spare = nil
                var appended: [[StreamAppend]] = []
                appended.reserveCapacity(batches.count)
                let t = Date()
                var i = 0
                while i < batches.count {
                    try log.append(batches[i], actor: "bench")
                    // Hand the input over, to be freed after the timed part.
                    appended.append(batches[i])
                    batches[i] = []
                    i += 1
                }
                f.append = Double(total) / Date().timeIntervalSince(t)
                batches = []
                appended = []
                say(String(format: "  batched append          %10.0f events/s", f.append))

                // 2. Full scan decoding every event (envelope + payload into Values).
                let t2 = Date()
                var n = 0
                var check = 0
                try log.scan { e in
                    n += 1
                    if case .members(let m) = e.payload { check &+= m.count }
                    return true
                }
                precondition(n == total && check > 0, "scan saw \(n) of \(total) events")
                f.scan = Double(n) / Date().timeIntervalSince(t2)
                say(String(format: "  full scan + decode      %10.0f events/s", f.scan))
                if only == "scan" {
                    for _ in 0 ..< 4 {
                        let t = Date()
                        try log.scan { e in if case .members(let m) = e.payload { check &+= m.count }; return true }
                        say(String(format: "  full scan + decode again %10.0f events/s", Double(n) / Date().timeIntervalSince(t)))
                    }
                }
                f.bytesPerEvent = try log.stats().bytesPerEvent
                say(String(format: "  bytes per event         %10.1f (data.mdb / events)", f.bytesPerEvent))
            }

            if only != nil && only != "group" { return }
            // 3. One durable commit per event.
            if only == nil {
                let log = try EventLog.create(at: "\(dir)/single")
                let t = Date()
                for (stream, e) in single { try log.append([e], to: stream, actor: "bench") }
                f.durable = Double(single.count) / Date().timeIntervalSince(t)
                say(String(format: "  durable single commits  %10.0f commits/s", f.durable))
            }

            // 4. Group commit: 16 concurrent producers, each appending one durable event at a time
            //    and waiting for it: as 16 Swift tasks, and as 16 OS threads (the figure reported).
            let perProducer = 1_000
            do {
                let log = try EventLog.create(at: "\(dir)/group")
                let t = Date()
                try runBlocking {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for p in 0 ..< 16 {
                            group.addTask {
                                for i in 0 ..< perProducer {
                                    try await log.append([producerEvent(p, i)], to: "run/p\(p)", actor: "bench")
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                let seconds = Date().timeIntervalSince(t)
                let written = try log.lastSeq()
                precondition(written == UInt64(16 * perProducer), "group commit wrote \(written) events")
                f.groupTasks = Double(written) / seconds
                let commits = try log.stats().transactions
                say(String(format: "  group commit (16 tasks) %10.0f events/s (%.1f events per commit)", f.groupTasks, Double(written) / Double(max(1, commits))))
            }
            do {
                let log = try EventLog.create(at: "\(dir)/group-threads")
                let finished = DispatchGroup()
                let t = Date()
                for p in 0 ..< 16 {
                    finished.enter()
                    let thread = Thread {
                        for i in 0 ..< perProducer {
                            _ = try? log.append([producerEvent(p, i)], to: "run/p\(p)", actor: "bench")
                        }
                        finished.leave()
                    }
                    thread.start()
                }
                finished.wait()
                let seconds = Date().timeIntervalSince(t)
                let written = try log.lastSeq()
                precondition(written == UInt64(16 * perProducer), "group commit (threads) wrote \(written) events")
                f.group = Double(written) / seconds
                let commits = try log.stats().transactions
                say(String(format: "  group commit (16 thr.)  %10.0f events/s (%.1f events per commit)", f.group, Double(written) / Double(max(1, commits))))
            }

            // 5. The raw baseline on the same bytes: plain LMDB puts of the stored records
            //    (pre-encoded, pre-compressed), and a raw cursor scan + zstd decompress.
            let raw = try rawBaseline(from: store, into: "\(dir)/raw", singles: single.count)
            f.rawAppend = raw.append
            f.rawDurable = raw.durable
            f.rawScan = raw.scan
            say(String(format: "  raw LMDB append         %10.0f events/s", f.rawAppend))
            say(String(format: "  raw durable commits     %10.0f commits/s", f.rawDurable))
            say(String(format: "  raw scan + decompress   %10.0f events/s", f.rawScan))
            say(String(format: "  ratios in this run: append %.2f× raw, durable commits %.2f× raw, scan %.2f× raw",
                       f.append / f.rawAppend, f.durable / f.rawDurable, f.scan / f.rawScan))
            runs.append(f)
            if ProcessInfo.processInfo.environment["LEDGERFLOW_BENCH_KEEP"] == nil { try? FileManager.default.removeItem(atPath: dir) }
        }

        func median(_ k: KeyPath<Figures, Double>) -> Double {
            let v = runs.map { $0[keyPath: k] }.sorted()
            return v[v.count / 2]
        }
        func medianRatio(_ a: KeyPath<Figures, Double>, _ b: KeyPath<Figures, Double>) -> Double {
            let v = runs.map { $0[keyPath: a] / $0[keyPath: b] }.sorted()
            return v[v.count / 2]
        }
        let m = Figures(append: median(\.append), durable: median(\.durable), group: median(\.group), groupTasks: median(\.groupTasks), scan: median(\.scan),
                        rawAppend: median(\.rawAppend), rawDurable: median(\.rawDurable), rawScan: median(\.rawScan),
                        bytesPerEvent: median(\.bytesPerEvent))
        if json {
            let v: Value = .object([
                "events": .int(Int64(total)), "repeats": .int(Int64(repeats)),
                "append_events_per_s": .double(m.append.rounded()), "durable_commits_per_s": .double(m.durable.rounded()),
                "group_commit_events_per_s": .double(m.group.rounded()), "group_commit_tasks_events_per_s": .double(m.groupTasks.rounded()),
                "scan_events_per_s": .double(m.scan.rounded()),
                "raw_append_events_per_s": .double(m.rawAppend.rounded()), "raw_durable_commits_per_s": .double(m.rawDurable.rounded()),
                "raw_scan_events_per_s": .double(m.rawScan.rounded()), "bytes_per_event": .double((m.bytesPerEvent * 10).rounded() / 10),
                "durable_vs_raw": .double((medianRatio(\.durable, \.rawDurable) * 100).rounded() / 100),
                "append_vs_raw": .double((medianRatio(\.append, \.rawAppend) * 100).rounded() / 100),
                "scan_vs_raw": .double((medianRatio(\.scan, \.rawScan) * 100).rounded() / 100),
            ])
            print(v.jsonString)
            return
        }
        print("")
        print("medians of \(repeats) runs, \(total) events (target in brackets)")
        // Ratios are taken within each run (against the raw figure of the same run), then the median.
        func row(_ name: String, _ value: Double, _ unit: String, _ ratio: Double?, _ target: String) {
            let ratio = ratio.map { String(format: "%5.2f× raw", $0) } ?? "         "
            print("  " + name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%12.0f ", value)
                  + unit.padding(toLength: 10, withPad: " ", startingAt: 0) + ratio + "   [" + target + "]")
        }
        row("batched append", m.append, "events/s", medianRatio(\.append, \.rawAppend), "≥ 500,000")
        row("durable single commits", m.durable, "commits/s", medianRatio(\.durable, \.rawDurable), "≥ 0.8× raw")
        row("group commit, 16 threads", m.group, "events/s", nil, "≥ 50,000")
        row("group commit, 16 tasks", m.groupTasks, "events/s", nil, "same load as Swift tasks")
        row("full scan + decode", m.scan, "events/s", medianRatio(\.scan, \.rawScan), "≥ 1,000,000")
        row("raw LMDB append", m.rawAppend, "events/s", nil, "baseline")
        row("raw durable commits", m.rawDurable, "commits/s", nil, "baseline")
        row("raw scan + decompress", m.rawScan, "events/s", nil, "baseline")
        print("  " + "bytes per event on disk".padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%12.1f", m.bytesPerEvent)
              + String(repeating: " ", count: 23) + "[≤ 80]")
    }

    /// Appends planned as on a fresh store with one writer: each tick's causes are the seqs the
    /// previous ticks will get. Ticks are grouped into appends of about `batchSize` events.
    static func plan(events: Int, batchSize: Int) -> [[StreamAppend]] {
        var gen = PipelineGenerator(seed: 7)
        var batches: [[StreamAppend]] = []
        var current: [StreamAppend] = []
        var inCurrent = 0
        var next: UInt64 = 1
        var total = 0
        while total < events {
            let tick = gen.nextBatch()
            let n = tick.reduce(0) { $0 + $1.events.count }
            gen.committed(firstSeq: next)
            next += UInt64(n)
            total += n
            current.append(contentsOf: tick)
            inCurrent += n
            if inCurrent >= batchSize {
                batches.append(current)
                current = []
                inCurrent = 0
            }
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }

    /// The raw limit for the same bytes: copies the stored records out of `store`, puts them into a
    /// fresh plain LMDB environment (10,000 per transaction, MDB_APPEND, durable), then `singles`
    /// one-record durable transactions, then scans the copy with a cursor and decompresses each
    /// payload (no decoding).
    static func rawBaseline(from store: String, into dir: String, singles: Int) throws -> (append: Double, durable: Double, scan: Double) {
        // Dictionaries by id, and the records.
        var dictionaries: [UInt32: CompressionDictionary] = [:]
        var records: [(UInt64, [UInt8])] = []
        do {
            var c = EventLog.Configuration()
            c.readOnly = true
            let log = try EventLog.open(at: store, configuration: c)
            for d in try log.dictionaries() { dictionaries[d.id] = try CompressionDictionary(id: d.id, bytes: try log.dictionaryBytes(d.id)) }
        }
        do {
            var o = Environment.Options()
            o.readOnly = true
            o.mapSize = 1 << 34
            let env = try Environment(path: store, options: o)
            let events = try env.openDatabase("events", create: false)
            try env.read { txn in
                try txn.withCursor(events) { c in
                    var e = try c.first()
                    while let entry = e {
                        records.append((UInt64(bigEndianBytes: entry.key), Array(entry.value)))
                        e = try c.next()
                    }
                }
            }
        }
        var o = Environment.Options()
        o.mapSize = 1 << 34
        let env = try Environment(path: dir, options: o)
        let db = try env.openDatabase("events")
        let t = Date()
        var i = 0
        while i < records.count {
            let end = min(records.count, i + 10_000)
            try env.write { txn in
                try txn.withCursor(db) { c in
                    for k in i ..< end {
                        try records[k].0.withBigEndianBytes { key in
                            try records[k].1.withUnsafeBytes { v in try c.put(key: key, value: v, flags: .append) }
                        }
                    }
                }
            }
            i = end
        }
        let append = Double(records.count) / Date().timeIntervalSince(t)

        // Single durable commits go to a fresh environment, as the log's do (a fresh store), so that
        // both grow their file the same way.
        let singleEnv = try Environment(path: dir + "-single", options: o)
        let singlesDB = try singleEnv.openDatabase("events")
        let t2 = Date()
        for k in 0 ..< min(singles, records.count) {
            try singleEnv.write { txn in
                try records[k].0.withBigEndianBytes { key in
                    try records[k].1.withUnsafeBytes { v in try txn.put(singlesDB, key: key, value: v, flags: .append) }
                }
            }
        }
        let durable = Double(min(singles, records.count)) / Date().timeIntervalSince(t2)

        let decompressor = try Decompressor()
        let t3 = Date()
        var n = 0
        var bytes = 0
        try env.read { txn in
            try txn.withCursor(db) { c in
                var e = try c.first()
                while let entry = e {
                    let loc = try StoredRecord.payload(seq: UInt64(bigEndianBytes: entry.key), record: entry.value)
                    let dictionary = loc.dictionaryID == 0 ? nil : dictionaries[loc.dictionaryID]
                    switch loc.encoding {
                    case 0: bytes &+= loc.bytes.count
                    case 1: bytes &+= try decompressor.decompress(loc.bytes, dictionary: dictionary) { $0.count }
                    default: bytes &+= try decompressor.decompressBlock(loc.bytes, dictionary: dictionary) { $0.count }
                    }
                    n += 1
                    e = try c.next()
                }
            }
        }
        precondition(n == records.count && bytes > 0)
        let scan = Double(n) / Date().timeIntervalSince(t3)
        return (append, durable, scan)
    }
}

/// The event producer `p` appends as its `i`th in the group-commit measurement.
func producerEvent(_ p: Int, _ i: Int) -> NewEvent {
    NewEvent(type: "StageStarted", payload: ["run": .string("p\(p)"), "stage": .string("s\(i % 5)"), "attempt": 1, "worker": .string("worker-\(p)")])
}

/// Runs async work to completion from synchronous code (the benchmark's main thread).
func runBlocking(_ body: @escaping @Sendable () async throws -> Void) throws {
    let done = DispatchSemaphore(value: 0)
    let outcome = Locked<(any Error)?>(nil)
    Task {
        do { try await body() } catch { outcome.withLock { $0 = error } }
        done.signal()
    }
    done.wait()
    if let e = outcome.withLock({ $0 }) { throw e }
}
