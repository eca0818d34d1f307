import Domain
import EventLog
import Foundation

/// `ledgerflow-bench`: the synthetic event generator and the benchmarks (`make bench`).
@main
enum Bench {
    static let usage = """
    usage: ledgerflow-bench <command> [options]

    commands:
      generate --store DIR --events N [--seed S] [--prefix P] [--no-sync]
          Append a realistic pipeline history of about N events (creates the store if needed).
      log [--events N] [--repeat R] [--json] [--dir DIR] [--only append|scan]
          Measure the event log against the raw LMDB + zstd baseline, in one run (median of R, default 3).
          LEDGERFLOW_BENCH_KEEP=1 keeps the stores; LEDGERFLOW_TRACE_COMMITS=1 traces every commit.
      projection [--events N] [--metadata-percent P] [--definitions D] [--repeat R] [--queries Q]
                 [--snapshot-every K] [--templates DIR] [--json] [--dir DIR]
          Rebuild of the catalog projection and `catalog --at-seq` with and without snapshots on a
          store of N events (default 1,000,000; P% catalog changes, default 25, over D definitions).
      engine [--stages N] [--scripts S] [--repeat R] [--json] [--dir DIR]
          Engine cost per stage on a durable store: N no-op stages chained (default 200), N fanned
          out and joined, S script stages running `true` chained (default 50); against one
          durable append, measured in the same run.
      ml [--rows N] [--repeat R] [--json] [--dir DIR]
          Score N rows (default 1,000,000) with logistic regression over 20 features: every prediction
          recorded as an event (durable), and the same scoring without logging, in one run.
      lineage [--events N] [--predictions P] [--queries Q] [--templates DIR] [--json] [--dir DIR]
          `why` and `lineage --depth 5` (median of Q warm queries) and `replay --at-seq` at the middle,
          on a generated churn history of N events (default 10,000,000; P predictions per scoring
          run, default 500); against a point read and a decode of every event up to the middle.
      service [--events N] [--labels L] [--entities E] [--ledgerflow PATH] [--json] [--dir DIR]
              [--prepare-only | --from DIR]
          The engine as a service on a generated churn history of N events (default 10,000,000):
          `ledgerflow work` (the release binary next to this one, or PATH) from start to its first
          committed step, cold (no snapshot yet) and warm, its peak RSS after one run, and an
          evaluate stage over L labels (default 10,000, of E customers, default 100,000); against
          `ledgerflow events --from HEAD --limit 1` and L point reads of predictions. --prepare-only
          leaves the prepared store and prints its folder; --from DIR measures a copy of one.
      http --from DIR [--clients N] [--json]
          The operations console over a copy of a prepared history (the service benchmark's store,
          --prepare-only): runs page and run page server time, event-stream latency with N
          connected clients (default 200), runs API requests per second, against a static file.
      spark [--rows N] [--no-cluster] [--ledgerflow PATH] [--json] [--dir DIR]
          Score N rows (default 10,000,000) with the logistic churn model, every prediction recorded:
          in process, with engine spark on local[2], and on a standalone cluster (a master and one
          worker on 127.0.0.1) through the release binary: rows/s, spark-submit to first task, and
          the log's share (the log alone appending as many prediction events, against each run).
      codec [--events N]
          Measure the payload encodings (canonical binary vs Foundation JSON).
      scan --store DIR [--repeat R]
          Time full scans (decoding every event) of an existing store.
      append-loop --store DIR --batch N [--batches B] [--prefix P]
          Append batches of N numbered events and print `committed BATCH LASTSEQ` after each
          (used by the crash and concurrency tests).
    """

    static func main() {
        var args = Array(CommandLine.arguments.dropFirst())
        guard let command = args.first else {
            FileHandle.standardError.write(Data((usage + "\n").utf8))
            exit(2)
        }
        args.removeFirst()
        do {
            let options = try Options(args)
            switch command {
            case "generate": try Generate.run(options)
            case "log": try LogBenchmark.run(options)
            case "append-loop": try AppendLoop.run(options)
            case "scan": try ScanStore.run(options)
            case "codec": try CodecBenchmark.run(options)
            case "projection": try ProjectionBenchmark.run(options)
            case "engine": try EngineBenchmark.run(options)
            case "ml": try MLBenchmark.run(options)
            case "lineage": try LineageBenchmark.run(options)
            case "service": try ServiceBenchmark.run(options)
            case "http": try HTTPBenchmark.run(options)
            case "spark": try SparkBenchmark.run(options)
            case "-h", "--help", "help": print(usage)
            default: throw UsageError("unknown command '\(command)'")
            }
        } catch let e as UsageError {
            FileHandle.standardError.write(Data("ledgerflow-bench: \(e.message)\n\(usage)\n".utf8))
            exit(2)
        } catch {
            FileHandle.standardError.write(Data("ledgerflow-bench: error: \(error)\n".utf8))
            exit(1)
        }
    }
}

struct UsageError: Error {
    let message: String
    init(_ m: String) { message = m }
}

/// `--name value` and `--flag` options.
struct Options {
    private var values: [String: String] = [:]
    private var flags: Set<String> = []
    static let flagNames: Set<String> = ["json", "no-sync", "prepare-only", "no-cluster"]

    init(_ args: [String]) throws {
        var i = 0
        while i < args.count {
            let a = args[i]
            guard a.hasPrefix("--") else { throw UsageError("unexpected argument '\(a)'") }
            let name = String(a.dropFirst(2))
            if Options.flagNames.contains(name) {
                flags.insert(name)
                i += 1
            } else {
                guard i + 1 < args.count else { throw UsageError("--\(name) needs a value") }
                values[name] = args[i + 1]
                i += 2
            }
        }
    }

    func string(_ name: String) -> String? { values[name] }
    func flag(_ name: String) -> Bool { flags.contains(name) }
    func int(_ name: String, default d: Int) throws -> Int {
        guard let v = values[name] else { return d }
        guard let n = Int(v.replacingOccurrences(of: "_", with: "")), n >= 0 else { throw UsageError("--\(name) must be a whole number (got '\(v)')") }
        return n
    }
    func required(_ name: String) throws -> String {
        guard let v = values[name] else { throw UsageError("--\(name) is required") }
        return v
    }
}

enum Generate {
    static func run(_ o: Options) throws {
        let path = try o.required("store")
        let target = try o.int("events", default: 100_000)
        var c = EventLog.Configuration()
        c.durable = !o.flag("no-sync")
        let log = EventLog.exists(at: path) ? try EventLog.open(at: path, configuration: c) : try EventLog.create(at: path, configuration: c)
        var gen = PipelineGenerator(seed: UInt64(try o.int("seed", default: 42)), prefix: o.string("prefix") ?? "")
        let start = Date()
        var written = 0
        while written < target {
            // One append per tick of the pipeline (one step of every active run); the generator
            // learns the seqs its events got, so causes are right even with other writers.
            let tick = gen.nextBatch()
            let result = try log.append(tick, actor: "generator")
            if let first = result.firstSeq { gen.committed(firstSeq: first) }
            written += tick.reduce(0) { $0 + $1.events.count }
        }
        let seconds = Date().timeIntervalSince(start)
        let s = try log.stats()
        print("generated \(written) events in \(String(format: "%.2f", seconds)) s into \(path); the store has \(s.events) events, \(String(format: "%.1f", s.bytesPerEvent)) bytes per event")
    }
}

enum AppendLoop {
    static func run(_ o: Options) throws {
        let path = try o.required("store")
        let batch = try o.int("batch", default: 100)
        let batches = try o.int("batches", default: Int.max)
        let prefix = o.string("prefix") ?? "loop"
        let log = EventLog.exists(at: path) ? try EventLog.open(at: path) : try EventLog.create(at: path)
        // Continue numbering after this prefix's last batch, so restarts extend the sequence.
        let counter = "\(prefix)/batches"
        var b = Int(try log.streamVersion(counter))
        var done = 0
        while done < batches {
            var events: [NewEvent] = []
            for i in 0 ..< batch {
                events.append(NewEvent(type: "LoopEvent", payload: ["prefix": .string(prefix), "batch": .int(Int64(b)), "i": .int(Int64(i)), "n": .int(Int64(batch)),
                                                                    "filler": .string(String(repeating: "x", count: (b * 7 + i) % 40))]))
            }
            let r = try log.append([
                StreamAppend(stream: "\(prefix)/\(b % 4)", events: events),
                StreamAppend(stream: counter, expectedVersion: .exact(UInt64(b)), events: [NewEvent(type: "LoopBatchCommitted", payload: ["batch": .int(Int64(b))])]),
            ], actor: "append-loop:\(prefix)")
            print("committed \(b) \(r.lastSeq ?? 0)")
            fflush(nil)
            b += 1
            done += 1
        }
    }
}

enum ScanStore {
    static func run(_ o: Options) throws {
        var c = EventLog.Configuration()
        c.readOnly = true
        let log = try EventLog.open(at: try o.required("store"), configuration: c)
        for _ in 0 ..< max(1, try o.int("repeat", default: 3)) {
            let t = Date()
            var n = 0
            try log.scan { _ in n += 1; return true }
            print(String(format: "scanned %d events: %.0f events/s", n, Double(n) / Date().timeIntervalSince(t)))
        }
    }
}
