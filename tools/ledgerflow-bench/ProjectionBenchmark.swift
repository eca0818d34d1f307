import Catalog
import Domain
import EventLog
import Foundation
import Projections

/// `ledgerflow-bench projection`: rebuild speed of the catalog projection, and the time to answer
/// "the catalog as of seq N" with and without snapshots, on a generated store of pipeline events
/// interleaved with many metadata changes.
enum ProjectionBenchmark {
    static func run(_ o: Options) throws {
        let events = try o.int("events", default: 1_000_000)
        let share = Double(try o.int("metadata-percent", default: 25)) / 100
        let definitionCount = max(1, try o.int("definitions", default: 2_000))
        let repeats = max(1, try o.int("repeat", default: 3))
        let queries = max(1, try o.int("queries", default: 50))
        let snapshotEvery = max(1, try o.int("snapshot-every", default: 5_000))
        let base = o.string("dir") ?? FileManager.default.temporaryDirectory.path
        let path = (base as NSString).appendingPathComponent("ledgerflow-bench-projection-\(UUID().uuidString)")
        defer { if ProcessInfo.processInfo.environment["LEDGERFLOW_BENCH_KEEP"] == nil { try? FileManager.default.removeItem(atPath: path) } }

        // 1. The store: pipeline ticks and catalog changes interleaved until `events`.
        var c = EventLog.Configuration()
        c.durable = false
        let log = try EventLog.create(at: path, configuration: c)
        let templates = try loadTemplates(o.string("templates") ?? "fixtures/examples/churn")
        var generator = PipelineGenerator(seed: 7, prefix: "")
        var rng = SplitMix64(seed: 11)
        var state = CatalogState()
        var revision = 0
        let started = Date()
        var head: UInt64 = 0
        var metadataEvents = 0
        while head < UInt64(events) {
            let tick = generator.nextBatch()
            let r = try log.append(tick, actor: "generator")
            if let first = r.firstSeq { generator.committed(firstSeq: first) }
            head = r.lastSeq ?? head
            // Keep the catalog changes at `share` of the log.
            while Double(metadataEvents) < share * Double(head) && head < UInt64(events) {
                revision += 1
                let n = min(256, events - Int(head))
                var defs: [Definition] = []
                var seen: Set<Int> = []
                for _ in 0 ..< n {
                    let i = Int(rng.next() % UInt64(definitionCount))
                    guard seen.insert(i).inserted else { continue }
                    let t = templates[i % templates.count]
                    let spec = t.spec.setting("description", to: .string("revision \(revision) of \(t.name) #\(i)"))
                    defs.append(Definition(key: DefinitionKey(t.kind, "\(t.name)_\(i)"), spec: spec, location: t.location))
                }
                let plan = ApplyPlan.decide(catalog: state, definitions: defs, prune: false, message: "bench revision \(revision)")
                let result = try log.append(plan.appends, actor: "bench", correlation: .shared)
                guard let first = result.firstSeq, let last = result.lastSeq else { break }
                var seq = first
                for a in plan.appends {
                    for e in a.events {
                        let version = result.streamVersions[a.stream] ?? 1
                        state.evolve(RecordedEvent(seq: seq, recordedAtMicros: result.recordedAtMicros, stream: a.stream, streamVersion: version,
                                                   type: e.type, actor: "bench", payload: e.payload))
                        seq += 1
                    }
                }
                metadataEvents += Int(last - first + 1)
                head = last
            }
        }
        let stats = try log.stats()
        if !o.flag("json") {
            print(String(format: "store: %d events (%d catalog changes over %d definitions, %.0f B/event) generated in %.1f s",
                         stats.events, metadataEvents, state.entries.count, stats.bytesPerEvent, Date().timeIntervalSince(started)))
        }

        // 2. Measurements, median of `repeats`.
        var runner = ProjectionRunner(log: log, projection: CatalogProjection())
        runner.snapshotEvery = snapshotEvery
        var readRates: [Double] = [], rebuildRates: [Double] = [], rebuildLogRates: [Double] = [], snapshotCounts: [Int] = []
        for _ in 0 ..< repeats {
            // Baseline: read and decode the catalog's events (through the type index) without folding.
            var t = Date()
            var n = 0
            try runner.forEachEvent(from: 1, through: head) { _ in n += 1 }
            readRates.append(Double(n) / Date().timeIntervalSince(t))
            t = Date()
            let fold = try runner.rebuild()
            let s = Date().timeIntervalSince(t)
            guard fold.state == state else { throw UsageError("the rebuilt catalog differs from the generated one") }
            rebuildRates.append(Double(fold.folded) / s)
            rebuildLogRates.append(Double(fold.through) / s)
            snapshotCounts.append(fold.snapshotsWritten)
        }

        // As-of queries at random seqs (the same seqs for both), each checked against the other.
        var seqs: [UInt64] = []
        for _ in 0 ..< queries { seqs.append(1 + rng.next() % head) }
        var withSnapshots: [Double] = [], withoutSnapshots: [Double] = [], folded: [Double] = []
        for (i, seq) in seqs.enumerated() {
            var t = Date()
            let a = try runner.state(at: seq)
            withSnapshots.append(Date().timeIntervalSince(t) * 1000)
            folded.append(Double(a.folded))
            if i < max(5, queries / 5) { // each costs a fold from seq 1: fewer of them
                t = Date()
                let b = try runner.state(at: seq, useSnapshots: false)
                withoutSnapshots.append(Date().timeIntervalSince(t) * 1000)
                guard a.state == b.state else { throw UsageError("as-of \(seq) differs with and without snapshots") }
            }
        }
        let snapshots = try log.snapshots("catalog")
        let snapshotBytes = snapshots.last?.stateBytes ?? 0
        log.close()

        let figures: [(String, Value)] = [
            ("rebuild_events_per_s", .double(median(rebuildRates).rounded())),
            ("as_of_ms_with_snapshots", .double(round3(median(withSnapshots)))),
            ("as_of_ms_without_snapshots", .double(round3(median(withoutSnapshots)))),
            ("read_events_per_s", .double(median(readRates).rounded())),
            ("rebuild_vs_read", .double(round3(median(rebuildRates) / median(readRates)))),
            ("rebuild_log_events_per_s", .double(median(rebuildLogRates).rounded())),
            ("as_of_ms_with_snapshots_p90", .double(round3(percentile(withSnapshots, 0.9)))),
            ("as_of_ms_with_snapshots_max", .double(round3(withSnapshots.max() ?? 0))),
            ("as_of_events_folded_median", .double(median(folded))),
            ("events", .int(Int64(head))), ("catalog_events", .int(Int64(metadataEvents))),
            ("definitions", .int(Int64(state.entries.count))), ("snapshots", .int(Int64(snapshotCounts.last ?? 0))),
            ("snapshot_every", .int(Int64(snapshotEvery))), ("snapshot_state_bytes", .int(Int64(snapshotBytes))),
            ("queries", .int(Int64(queries))), ("repeat", .int(Int64(repeats))),
        ]
        if o.flag("json") {
            print(Value.object(figures).jsonString)
            return
        }
        print(String(format: "baseline: reading the %d catalog events (type index, decoded, not folded): %.0f events/s", metadataEvents, median(readRates)))
        print(String(format: "rebuild of the catalog projection: %.0f catalog events/s folded (%.2f× the read baseline; %.0f log events/s covered), %d snapshots written",
                     median(rebuildRates), median(rebuildRates) / median(readRates), median(rebuildLogRates), snapshotCounts.last ?? 0))
        print(String(format: "catalog as of a random seq: %.2f ms with snapshots (p90 %.2f, max %.2f; median %.0f events folded after the snapshot), %.1f ms without",
                     median(withSnapshots), percentile(withSnapshots, 0.9), withSnapshots.max() ?? 0, median(folded), median(withoutSnapshots)))
        print(String(format: "snapshot: %d definitions, %.1f KiB encoded", state.entries.count, Double(snapshotBytes) / 1024))
    }

    /// The definitions used as templates for generated changes.
    static func loadTemplates(_ path: String) throws -> [Definition] {
        let (files, fileErrors) = DefinitionLoader.files([path])
        let (defs, errors) = DefinitionLoader.load(files: files)
        guard fileErrors.isEmpty, errors.isEmpty, !defs.isEmpty else {
            throw UsageError("cannot read template definitions from \(path) (run from the repository root or pass --templates DIR)")
        }
        return defs
    }

    static func median(_ xs: [Double]) -> Double { percentile(xs, 0.5) }
    static func percentile(_ xs: [Double], _ p: Double) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
    }
    static func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
}
