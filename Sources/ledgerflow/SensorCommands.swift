import ArgumentParser
import Catalog
import Domain
import Engine
import EventLog
import Foundation
import Models
import Projections
import Runs

/// `ledgerflow sensors`: the file sensors, their state and their arrivals.
struct SensorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sensors", abstract: "File sensors: what each watches, its state (ok or error), its last poll and its arrivals.",
        subcommands: [SensorsList.self, SensorsArrivals.self], defaultSubcommand: SensorsList.self)
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
        let reports = try SensorReport.all(log, store: store.path, catalog: catalog)
        if json {
            Output.line(prettyJSON(.array(reports.map { $0.value(store: store.path, runs: runs) })))
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
        let report: SensorReport
        do { report = try SensorReport.named(log, store: store.path, name: name, catalog: catalog) } catch let e as ReadFailure {
            throw CommandFailure(message: e.description)
        }
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
