import ArgumentParser
import Catalog
import Domain
import EventLog
import Foundation
import Projections

struct ProjectionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projection",
        abstract: "Inspect and rebuild projections (state folded from the log).",
        subcommands: [List.self, Show.self, Rebuild.self])

    static func runner(_ name: String, _ log: EventLog) throws -> AnyProjectionRunner {
        guard let r = ProjectionRegistry.named(name, log) else {
            let names = ProjectionRegistry.all(log).map(\.name)
            throw ValidationError("no projection named '\(name)'; \(Suggest.fix(for: name, in: names, noun: "one of"))")
        }
        return r
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each projection: checkpoint, lag, snapshots, state size.")
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let log = try store.openForReading()
            let head = try log.lastSeq()
            let checkpoints = try log.checkpoints()
            var rows: [[String]] = []
            var values: [Value] = []
            for r in ProjectionRegistry.all(log) {
                let snaps = try log.snapshots(r.name).filter { $0.version == r.version }
                let checkpoint = checkpoints[r.checkpointName] ?? 0
                let now = try r.current()
                let snapshotBytes = snaps.last?.stateBytes ?? 0
                values.append(.object([("name", .string(r.name)), ("summary", .string(r.summary)), ("checkpoint", .int(Int64(checkpoint))),
                                       ("head", .int(Int64(head))), ("lag", .int(Int64(head - min(head, checkpoint)))),
                                       ("snapshots", .array(snaps.map { .int(Int64($0.seq)) })),
                                       ("snapshot_bytes", .int(Int64(snaps.reduce(0) { $0 + $1.storedBytes }))),
                                       ("entries", .int(Int64(now.count))), ("state_bytes", .int(Int64(snapshotBytes))),
                                       ("event_types", r.eventTypes.map { .array($0.sorted().map(Value.string)) } ?? .null)]))
                let seqs = snaps.map { String($0.seq) }
                let shown = seqs.count > 6 ? seqs.prefix(3).joined(separator: ",") + ",…," + seqs.suffix(2).joined(separator: ",") : seqs.joined(separator: ",")
                rows.append([r.name, String(checkpoint), String(head - min(head, checkpoint)), "\(snaps.count)\(snaps.isEmpty ? "" : " (\(shown))")",
                             "\(now.count) entries" + (snapshotBytes > 0 ? ", \(formatBytes(snapshotBytes)) encoded" : ""), r.summary])
            }
            if json {
                Output.line(Value.object([("head", .int(Int64(head))), ("projections", .array(values))]).jsonString)
            } else {
                printTable(["NAME", "CHECKPOINT", "LAG", "SNAPSHOTS", "STATE", "WHAT"], rows)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A projection's state, now or as of a seq or time.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The projection.") var name: String
        @OptionGroup var moment: MomentOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let log = try store.openForReading()
            let r = try ProjectionCommand.runner(name, log)
            let (seq, phrase) = try moment.resolve(log)
            let started = ContinuousClock.now
            let s = try r.state(at: seq)
            let elapsed = ContinuousClock.now - started
            if json {
                Output.line(Value.object([("projection", .string(r.name)), ("seq", .int(Int64(seq))), ("state", s.rendered),
                                          ("from_snapshot", s.fold.fromSnapshot.map { .int(Int64($0)) } ?? .null),
                                          ("events_folded", .int(Int64(s.fold.folded)))]).jsonString)
            } else {
                let from = s.fold.fromSnapshot.map { "snapshot at seq \($0)" } ?? "the first event"
                Output.line("projection \(r.name) \(phrase): \(s.count) entries (from \(from) + \(s.fold.folded) events, \(milliseconds(elapsed)) ms)")
                Output.line(prettyJSON(s.rendered))
            }
        }
    }

    struct Rebuild: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drop a projection's snapshots and fold the log again from seq 1.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The projection.") var name: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let log = try store.openForWriting()
            let r = try ProjectionCommand.runner(name, log)
            let started = ContinuousClock.now
            let result = try r.rebuild()
            let elapsed = ContinuousClock.now - started
            let seconds = max(1e-9, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            let scanned = result.fold.through
            let rate = Double(result.fold.folded) / seconds
            if json {
                Output.line(Value.object([("projection", .string(r.name)), ("through", .int(Int64(scanned))), ("events_folded", .int(Int64(result.fold.folded))),
                                          ("snapshots_written", .int(Int64(result.fold.snapshotsWritten))), ("entries", .int(Int64(result.count))),
                                          ("seconds", .double((seconds * 1e6).rounded() / 1e6)), ("events_per_s", .double(rate.rounded()))]).jsonString)
            } else {
                Output.line("rebuilt \(r.name) through seq \(scanned): \(result.fold.folded) events folded in \(String(format: "%.3f", seconds)) s (\(Int(rate)) events/s), \(result.fold.snapshotsWritten) snapshot\(result.fold.snapshotsWritten == 1 ? "" : "s") written, \(result.count) entries")
            }
        }
    }
}

func milliseconds(_ d: Duration) -> String {
    let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    return String(format: "%.1f", ms)
}

/// `replay`: every projection (or one) as it was at a past moment, folded from the log.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every projection (or one) as it was at a seq or time: what the log said then.",
        discussion: "Deterministic: the same moment gives byte-identical --json output, with or without snapshots.")
    @OptionGroup var store: StoreOptions
    @OptionGroup var moment: MomentOptions
    @Option(help: "Only this projection.") var projection: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if moment.isNow { throw ValidationError("replay needs a moment: --at-seq N or --as-of TIME") }
    }

    func run() throws {
        let log = try store.openForReading()
        let runners = try projection.map { [try ProjectionCommand.runner($0, log)] } ?? ProjectionRegistry.all(log)
        let (seq, phrase) = try moment.resolve(log)
        var states: [(String, Value)] = []
        var counts: [(String, Int)] = []
        for r in runners {
            let s = try r.state(at: seq)
            states.append((r.name, s.rendered))
            counts.append((r.name, s.count))
        }
        if json {
            Output.line(Value.object([("seq", .int(Int64(seq))), ("projections", .object(states))]).jsonString)
            return
        }
        Output.line("replayed \(phrase):")
        for (name, n) in counts { Output.line("  \(name): \(n) entries") }
        for (name, state) in states {
            Output.line("")
            Output.line("== \(name) ==")
            Output.line(prettyJSON(state))
        }
    }
}
