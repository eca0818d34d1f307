import ArgumentParser
import Catalog
import Domain
import Engine
import EventLog
import Foundation
import Models
import Runs

/// `ledgerflow sensors`: the file sensors, their state and their arrivals.
struct SensorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sensors", abstract: "File sensors: what each watches, its state (ok or error), its last poll and its arrivals.",
        subcommands: [SensorsList.self, SensorsArrivals.self], defaultSubcommand: SensorsList.self)
}

/// What the CLI reads about one sensor: its definition (when it has one), its stream and the
/// engine's status file.
struct SensorReport {
    let name: String
    let spec: SensorSpec?
    let version: UInt64?
    let history: SensorHistory
    /// This sensor's entry in `<store>/status/sensors.json`, when the file holds one.
    let status: Value?

    static func load(_ log: EventLog, store: String, name: String, catalog: CatalogState) throws -> SensorReport {
        let entry = catalog.entries[DefinitionKey(.sensor, name)]
        var history = SensorHistory()
        for e in try log.read(stream: SensorEvents.stream(sensor: name)) { history.evolve(e) }
        let status = statusFile(store: store)?["sensors"]?.arrayValue?.first { $0["name"]?.stringValue == name }
        return SensorReport(name: name, spec: try entry?.spec(as: SensorSpec.self), version: entry?.version, history: history, status: status)
    }

    /// The engine's status file, when present and readable.
    static func statusFile(store: String) -> Value? {
        try? StatusFile.read(store: store, name: "sensors")
    }

    func folder(store: String) -> String? {
        guard let spec else { return nil }
        let absolute = URL(fileURLWithPath: store).standardizedFileURL.path
        return StoreGuard.canonical(spec.path, relativeTo: (absolute as NSString).deletingLastPathComponent)
    }

    static func arrivalValue(_ a: SensorHistory.Arrival, runs: RunsState) -> Value {
        let e = a.event
        var m: [(String, Value)] = [("seq", .int(Int64(a.seq))), ("at", .string(Timestamp.rfc3339(micros: a.recordedAtMicros))),
                                    ("file", .string(e.file)), ("size", .int(e.size)), ("mtime", .string(Timestamp.rfc3339(micros: e.mtimeMicros))),
                                    ("mtime_us", .int(e.mtimeMicros)), ("after_run", .string(e.afterRun.rawValue))]
        if let run = e.run {
            m.append(("run", .string(run)))
            m.append(("run_status", .string(runs.runs[run]?.status.rawValue ?? "unknown")))
        } else {
            m.append(("run", .null))
        }
        if let error = e.error { m.append(("error", .string(error))) }
        if let h = a.handled {
            var o: [(String, Value)] = [("outcome", .string(h.outcome.rawValue))]
            if let to = h.to { o.append(("to", .string(to))) }
            if let error = h.error { o.append(("error", .string(error))) }
            if let note = h.note { o.append(("note", .string(note))) }
            m.append(("marker", .object(o)))
        } else {
            m.append(("marker", e.run == nil ? .object([("outcome", .string("kept"))]) : .object([("outcome", .string("pending"))])))
        }
        return .object(m)
    }

    static func markerText(_ a: SensorHistory.Arrival) -> String {
        guard let h = a.handled else { return a.event.run == nil ? "kept" : "pending (\(a.event.afterRun.rawValue))" }
        switch h.outcome {
        case .moved: return "moved to \(h.to ?? "?")"
        case .failed: return "failed: \(h.error ?? "")"
        default: return h.outcome.rawValue + (h.note.map { " (\($0))" } ?? "")
        }
    }
}

struct SensorsList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Each sensor: folder, pattern, job, state (ok or error, from the log), last poll (from the running engine's status file), arrivals and the last one.",
        discussion: """
        The state and arrivals come from the log. The last and next poll come from \
        <store>/status/sensors.json, which a running engine rewrites after each poll; without it they are not known.
        """)
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print a JSON array.") var json = false

    func run() throws {
        let log = try store.openForReading()
        let catalog = try RunCommands.catalog(log)
        let runs = try RunCommands.runs(log)
        let names = catalog.entries.keys.filter { $0.kind == .sensor }.map(\.name).sorted()
        var reports: [SensorReport] = []
        for name in names { reports.append(try SensorReport.load(log, store: store.path, name: name, catalog: catalog)) }
        if json {
            Output.line(prettyJSON(.array(reports.map { value($0, runs: runs) })))
            return
        }
        if reports.isEmpty {
            Output.line("no sensors (define one with kind: sensor and `ledgerflow apply`)")
            return
        }
        printTable(["SENSOR", "FOLDER", "PATTERN", "JOB", "STATE", "LAST POLL", "ARRIVALS", "LAST ARRIVAL"], reports.map { r in
            let state = r.history.error.map { "error: \($0)" } ?? "ok"
            let last = r.history.arrivals.last.map { a in
                "\(a.event.file) → " + (a.event.run.map { "run \($0) (\(runs.runs[$0]?.status.rawValue ?? "unknown"))" } ?? "no run: \(a.event.error ?? "")")
            } ?? "—"
            return [r.name, r.folder(store: store.path) ?? "", r.spec?.glob ?? "", r.spec?.job ?? "", state,
                    r.status?["last_poll"]?.stringValue ?? "—", String(r.history.arrivals.count), last]
        })
    }

    func value(_ r: SensorReport, runs: RunsState) -> Value {
        var m: [(String, Value)] = [("name", .string(r.name)), ("version", r.version.map { .int(Int64($0)) } ?? .null),
                                    ("folder", r.folder(store: store.path).map(Value.string) ?? .null),
                                    ("pattern", r.spec.map { .string($0.glob) } ?? .null), ("recursive", .bool(r.spec?.isRecursive ?? false)),
                                    ("job", r.spec.map { .string($0.job) } ?? .null),
                                    ("state", .string(r.history.error == nil ? "ok" : "error")), ("error", r.history.error.map(Value.string) ?? .null),
                                    ("arrivals", .int(Int64(r.history.arrivals.count)))]
        m.append(("last_arrival", r.history.arrivals.last.map { SensorReport.arrivalValue($0, runs: runs) } ?? .null))
        for key in ["last_poll", "next_poll", "files_seen", "entries", "settling"] { m.append((key, r.status?[key] ?? .null)) }
        if r.history.unreadable > 0 { m.append(("unreadable_events", .int(Int64(r.history.unreadable)))) }
        return .object(m)
    }
}

struct SensorsArrivals: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arrivals", abstract: "The files a sensor has counted: size, mtime, the run each started, its status, and what became of the marker.")
    @OptionGroup var store: StoreOptions
    @Argument(help: ArgumentHelp("The sensor.", valueName: "name")) var name: String
    @Option(parsing: .unconditional, help: "The newest this many (default all).") var limit: Int?
    @Flag(help: "Print a JSON array, oldest first.") var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1 (got \(limit))") }
    }

    func run() throws {
        let log = try store.openForReading()
        let catalog = try RunCommands.catalog(log)
        let known = catalog.entries[DefinitionKey(.sensor, name)] != nil
        let recorded = try log.streamVersion(SensorEvents.stream(sensor: name)) > 0
        guard known || recorded else {
            let names = catalog.entries.keys.filter { $0.kind == .sensor }.map(\.name)
            let hint = Suggest.closest(to: name, in: names).map { "did you mean '\($0)'?" } ?? "`ledgerflow sensors` lists them"
            throw CommandFailure(message: "no sensor '\(name)'; \(hint)")
        }
        let report = try SensorReport.load(log, store: store.path, name: name, catalog: catalog)
        let runs = try RunCommands.runs(log)
        let arrivals = limit.map { Array(report.history.arrivals.suffix($0)) } ?? report.history.arrivals
        if json {
            Output.line(prettyJSON(.array(arrivals.map { SensorReport.arrivalValue($0, runs: runs) })))
            return
        }
        if arrivals.isEmpty {
            Output.line("sensor \(name): no arrivals yet")
            return
        }
        printTable(["SEQ", "FILE", "SIZE", "MTIME", "RUN", "RUN STATUS", "MARKER"], arrivals.map { a in
            let e = a.event
            return [String(a.seq), e.file, String(e.size), Timestamp.rfc3339(micros: e.mtimeMicros), e.run ?? "—",
                    e.run.map { runs.runs[$0]?.status.rawValue ?? "unknown" } ?? "no run: \(e.error ?? "")", SensorReport.markerText(a)]
        })
    }
}
