import ArgumentParser
import Domain
import EventLog
import Catalog
import Foundation
import Lineage

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an empty store.")
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let log = try EventLog.create(at: store.path)
        let stats = try log.stats()
        if json {
            Output.line(Value.object(["store": .string(absolute(store.path)), "id": .string(stats.storeID)]).jsonString)
        } else {
            Output.line("initialized an empty store at \(absolute(store.path)) (id \(stats.storeID))")
        }
    }
}

func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print events, optionally filtered, and follow new ones; or the reference of every event type.",
        subcommands: [EventsList.self, EventsSchema.self], defaultSubcommand: EventsList.self)
}

struct EventsSchema: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema", abstract: "Every event type the project writes, with its fields (docs/events.md is this, as Markdown).")
    @Argument(help: ArgumentHelp("Only this event type (e.g. StageSucceeded).", valueName: "type")) var type: String?
    @Flag(help: "Print Markdown (the reference part of docs/events.md).") var markdown = false
    @Flag(help: "JSON output: one object per type with its fields.") var json = false

    func validate() throws {
        if markdown && json { throw ValidationError("--markdown and --json exclude each other") }
        if let type, EventReference.type(named: type) == nil {
            let names = EventReference.all.map { $0.type }
            let hint = Suggest.closest(to: type, in: names).map { "did you mean '\($0)'?" } ?? "`ledgerflow events schema` lists them"
            throw ValidationError("no event type '\(type)'; \(hint)")
        }
    }

    func run() throws {
        let only = type.flatMap(EventReference.type(named:)).map { [$0] }
        if json { Output.line(prettyJSON(EventReference.value(only))); return }
        Output.line(markdown ? EventReference.markdown(only) : EventReference.text(only))
    }
}

struct EventsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Print events, optionally filtered, and follow new ones (the default).")
    @OptionGroup var store: StoreOptions
    @Option(help: "Only events of this stream.") var stream: String?
    @Option(help: "Only events of this type.") var type: String?
    @Option(parsing: .unconditional, help: "Only events of this correlation (the seq of the root of a causal tree).") var correlation: UInt64?
    @Option(parsing: .unconditional, help: "Start at this seq.") var from: UInt64 = 1
    @Option(parsing: .unconditional, help: "Print at most this many events.") var limit: Int?
    @Flag(help: "Keep printing new events as they are appended (stop with Ctrl-C).") var follow = false
    @Flag(help: "One JSON object per event per line: envelope fields, hash and decoded payload.") var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if from < 1 { throw ValidationError("--from must be at least 1 (seqs start at 1)") }
    }

    func run() async throws {
        let log = try store.openForReading()
        let filter = EventFilter(stream: stream, type: type, correlation: correlation)
        let options = ReadOptions(hashes: json)
        var printed = 0
        let max = limit ?? .max
        // Scan up to the head as it is now; following starts right after it.
        let headAtStart = try log.lastSeq()
        // An event that cannot be read is named on stderr where it would have been printed; the
        // others are printed all the same, and the command fails at the end.
        var unreadable: [UInt64] = []
        try log.scan(from: from, through: headAtStart, filter: filter, options: options, unreadable: { seq, reason in
            Output.flush()
            FileHandle.standardError.write(Data("ledgerflow: event \(seq) cannot be read, skipped: \(Main.oneLine(reason))\n".utf8))
            unreadable.append(seq)
            return true
        }) { e in
            emit(e)
            printed += 1
            return printed < max
        }
        Output.flush()
        if let first = unreadable.first {
            let n = unreadable.count
            throw CommandFailure(message: "\(n) event\(n == 1 ? "" : "s") could not be read (the first at seq \(first)); the others were printed: run `ledgerflow audit verify --store \(store.path)` and restore the store from a backup")
        }
        guard follow, printed < max else { return }
        // Ctrl-C or SIGTERM while following ends the command normally.
        let signals = SignalStop()
        signals.onSignal {
            Output.flush()
            Foundation.exit(0)
        }
        defer { withExtendedLifetime(signals) {} }
        for try await e in log.subscribe(after: Swift.max(headAtStart, from - 1), filter: filter, options: options) {
            emit(e)
            Output.flush()
            printed += 1
            if printed >= max { break }
        }
    }

    private func emit(_ e: RecordedEvent) {
        if json {
            Output.line(e.envelopeValue.jsonString)
        } else {
            let causation = e.causation.map { " ← \($0)" } ?? ""
            Output.line("\(pad(String(e.seq), 8))  \(Timestamp.rfc3339(micros: e.recordedAtMicros))  \(e.stream)#\(e.streamVersion)  \(e.type)  \(e.payload.jsonString)  [corr \(e.correlation)\(causation), \(e.actor)]")
        }
    }
}

/// SIGINT and SIGTERM for the commands that stop gracefully (`work`, `run`, `rerun`, and
/// `events --follow`, which ends normally). Create it
/// before the store is opened: it blocks both signals in this thread, so every thread started
/// afterwards (the log's writer, the engine's loop and workers) inherits the block, and a signal can
/// only be taken by the dispatch sources' signalfd. (Installed after the log was open, a thread
/// that had not blocked them, with their disposition SIG_IGN, could take a SIGTERM and drop it:
/// a `ledgerflow work` once outlived the test that stopped it.) Until `onSignal` says otherwise a
/// signal ends the command at once, as by default; scripts get an empty mask (`ChildProcess`).
final class SignalStop: @unchecked Sendable {
    // @unchecked Sendable: `sources` is written once, in init, and read only by deinit; the rest is
    // behind `state`'s lock.
    private let state = Locked<(requested: Bool, action: (@Sendable () -> Void)?)>((false, nil))
    private var sources: [any DispatchSourceSignal] = []

    init() {
        var set = sigset_t()
        sigemptyset(&set)
        for sig in [SIGINT, SIGTERM] { sigaddset(&set, sig) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        sources = [SIGINT, SIGTERM].map { sig -> any DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { [weak self] in self?.fire(sig) }
            s.resume()
            return s
        }
    }

    deinit { sources.forEach { $0.cancel() } }

    /// What a signal does from now on; runs it at once when a signal already came.
    func onSignal(_ action: @escaping @Sendable () -> Void) {
        let already = state.withLock { s -> Bool in
            s.action = action
            return s.requested
        }
        if already { action() }
    }

    private func fire(_ sig: Int32) {
        let action = state.withLock { s -> (@Sendable () -> Void)? in
            s.requested = true
            return s.action
        }
        if let action { action() } else {
            Output.flush()
            exit(128 + sig)
        }
    }
}

func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[u])
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Counts and sizes of the store: events, bytes, types, dictionaries.")
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let log = try store.openForReading()
        let s = try log.stats()
        if json {
            let v: Value = .object([
                "store": .string(absolute(store.path)),
                "store_id": .string(s.storeID),
                "events": .int(Int64(s.events)),
                "streams": .int(Int64(s.streams)),
                "head": .object(["seq": .int(Int64(s.head.seq)), "hash": .string(s.head.hash.hex),
                                 "recordedAt": s.head.seq == 0 ? .null : .string(Timestamp.rfc3339(micros: s.head.recordedAtMicros))]),
                "bytes_on_disk": .int(Int64(s.fileBytes)),
                "bytes_used": .int(Int64(s.usedBytes)),
                "bytes_per_event": .double((s.bytesPerEvent * 100).rounded() / 100),
                "types": .object(Dictionary(uniqueKeysWithValues: s.countsByType.map { ($0.type, Value.int(Int64($0.count))) })),
                "dictionaries": .array(s.dictionaries.map { d in
                    .object(["id": .int(Int64(d.id)), "bytes": .int(Int64(d.bytes)), "installed_at_seq": .int(Int64(d.installedAtSeq)),
                             "samples": .int(Int64(d.samples)), "current": .bool(d.isCurrent),
                             "created_at": .string(Timestamp.rfc3339(micros: d.createdAtMicros))])
                }),
                "databases": .object(Dictionary(uniqueKeysWithValues: s.databases.map {
                    ($0.name, Value.object(["entries": .int(Int64($0.entries)), "bytes": .int(Int64($0.bytes))]))
                })),
                "map_size": .int(Int64(s.mapSize)),
                "page_size": .int(Int64(s.pageSize)),
            ])
            Output.line(v.jsonString)
            return
        }
        Output.line("store         \(absolute(store.path)) (id \(s.storeID))")
        Output.line("events        \(s.events) in \(s.streams) streams" + (s.events > 0 ? ", last at \(Timestamp.rfc3339(micros: s.head.recordedAtMicros))" : ""))
        Output.line("on disk       \(formatBytes(s.fileBytes)) (data.mdb; \(formatBytes(s.usedBytes)) in use)" +
                    (s.events > 0 ? String(format: ", %.1f bytes per event", s.bytesPerEvent) : ""))
        Output.line("head          seq \(s.head.seq) hash \(s.head.hash.hex)")
        if s.countsByType.isEmpty {
            Output.line("types         (none)")
        }
        for (i, t) in s.countsByType.enumerated() {
            Output.line("\(i == 0 ? "types       " : "            ")  \(pad(String(t.count), 10))  \(t.type)")
        }
        if s.dictionaries.isEmpty {
            Output.line("dictionaries  none yet (payloads are compressed without one until the store has enough events to train one)")
        }
        for (i, d) in s.dictionaries.enumerated() {
            Output.line("\(i == 0 ? "dictionaries" : "            ")  #\(d.id) \(formatBytes(d.bytes)), trained on \(d.samples) payloads at seq \(d.installedAtSeq)\(d.isCurrent ? " (current)" : "")")
        }
        for (i, db) in s.databases.enumerated() {
            Output.line("\(i == 0 ? "databases   " : "            ")  \(db.name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(pad(String(db.entries), 10)) entries  \(formatBytes(db.bytes))")
        }
    }
}

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Verify the hash chain, or print its head as an anchor to keep elsewhere.",
                                                    subcommands: [Verify.self, Head.self, Export.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recompute the hash chain from seq 1 and check the indexes against the events; name the first bad seq (and index mismatch) and exit 1.")
        @OptionGroup var store: StoreOptions
        @Flag(inversion: .prefixedNo, help: "Also rebuild what the indexes, stream heads and names tables should hold from the events' headers and report the first mismatch of each (on by default: about a third more time than the chain alone).")
        var indexes = true
        @Option(help: ArgumentHelp("Also prove the log up to SEQ is unchanged: the value `audit head` printed then.", valueName: "seq:hash"))
        var anchor: String?
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws { _ = try parsedAnchor() }

        func parsedAnchor() throws -> (seq: UInt64, hash: ChainHash)? {
            guard let anchor else { return nil }
            guard let parsed = ChainHead.parseAnchor(anchor) else {
                throw ValidationError("--anchor must be SEQ:HASH with a 64-digit hex hash, as `ledgerflow audit head` prints it (got '\(anchor)')")
            }
            return parsed
        }

        func run() throws {
            let log = try store.openForReading()
            let report = try log.verify(anchor: try parsedAnchor())
            let indexReport = indexes ? try log.verifyIndexes() : nil
            if json {
                Output.line(report.value(indexes: indexReport).jsonString)
                if !report.ok(indexes: indexReport) { throw CommandFailure(message: "") }
                return
            }
            if let indexReport, !indexReport.ok {
                for p in indexReport.problems.dropLast() { FileHandle.standardError.write(Data("ledgerflow: audit verify: index mismatch: \(p)\n".utf8)) }
            }
            if let p = report.problem {
                if let indexReport, !indexReport.ok, let last = indexReport.problems.last {
                    FileHandle.standardError.write(Data("ledgerflow: audit verify: index mismatch: \(last)\n".utf8))
                }
                throw CommandFailure(message: "audit verify: FAILED at seq \(p.seq): \(p.reason)")
            }
            if let indexReport, let last = indexReport.problems.last {
                throw CommandFailure(message: "audit verify: index mismatch: \(last) (the chain verified; the indexes are derived from it: restore the store from a backup)")
            }
            let anchorNote = report.anchor.map { " and matches the anchor at seq \($0.seq)" } ?? ""
            let head = report.head ?? ChainHead.genesisHead
            Output.line("chain verified: \(report.eventsChecked) events, head seq \(head.seq) hash \(head.hash.hex)\(anchorNote)")
            if let indexReport {
                Output.line("indexes verified: stream, correlation and type postings, stream heads and names match the \(indexReport.eventsIndexed) indexed events")
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export events as JSON Lines (envelopes with their chain hashes), or stage attempts as OpenLineage RunEvents.",
            discussion: """
            jsonl: every line is re-verifiable offline: hash = SHA-256(previousHash ‖ canonical(event)), where canonical(event) is \
            the record layout of ARCHITECTURE.md "The hash chain" with the payload's canonical encoding. \
            `python3 tools/verify-export.py FILE [--anchor SEQ:HASH]` does it (it shares no code with ledgerflow). \
            openlineage: one RunEvent per stage transition, for Marquez or any OpenLineage consumer; \
            `python3 tools/validate-openlineage.py FILE` checks each line against the official schemas in fixtures/openlineage/.
            """)
        @OptionGroup var store: StoreOptions
        @Option(parsing: .unconditional, help: "First seq.") var from: UInt64 = 1
        @Option(parsing: .unconditional, help: "Last seq (default: the head).") var to: UInt64?
        @Option(parsing: .unconditional, help: "Only the events of this causal tree.") var correlation: UInt64?
        @Option(help: "jsonl (envelopes, re-verifiable), or openlineage (OpenLineage 2-0-2 RunEvents: START/COMPLETE/FAIL/ABORT per stage attempt).")
        var format = "jsonl"
        @Option(help: "The OpenLineage job namespace (--format openlineage).") var namespace = "ledgerflow"

        func validate() throws {
            if format != "jsonl" && format != "openlineage" { throw ValidationError("--format '\(format)' is not known; use jsonl or openlineage") }
            if namespace.isEmpty { throw ValidationError("--namespace must not be empty") }
            if from < 1 { throw ValidationError("--from must be at least 1 (seqs start at 1)") }
            if let to, to < from { throw ValidationError("--to \(to) is before --from \(from)") }
        }

        func run() throws {
            let log = try store.openForReading()
            let head = try log.lastSeq()
            let through = min(to ?? head, head)
            if format == "openlineage" {
                try OpenLineageExport(log: log, namespace: namespace).export(from: from, through: through, correlation: correlation) { Output.line($0.jsonString) }
                return
            }
            let options = ReadOptions(hashes: true, upcast: false)
            func hash(at seq: UInt64) throws -> ChainHash {
                guard seq > 0 else { return ChainHash.genesis }
                guard let h = try log.event(at: seq, options: options)?.hash else { throw CommandFailure(message: "event \(seq) has no hash; run `ledgerflow audit verify`") }
                return h
            }
            var previous: (seq: UInt64, hash: ChainHash)?
            try log.scan(from: from, through: through, filter: EventFilter(correlation: correlation), options: options) { e in
                let chained = previous.flatMap { $0.seq + 1 == e.seq ? $0.hash : nil }
                let before = try chained ?? hash(at: e.seq - 1)
                let line = e.envelopeValue.setting("recordedAtMicros", to: .int(e.recordedAtMicros)).setting("previousHash", to: .string(before.hex))
                Output.line(line.jsonString)
                if let h = e.hash { previous = (e.seq, h) }
                return true
            }
        }
    }

    struct Head: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print {seq, hash} of the last event: an anchor for `audit verify --anchor`.")
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            let log = try store.openForReading()
            let head = try log.head()
            if json {
                Output.line(head.anchorValue.jsonString)
            } else {
                Output.line("\(head.seq):\(head.hash.hex)")
            }
        }
    }
}
