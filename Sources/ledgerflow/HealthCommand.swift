import ArgumentParser
import Catalog
import Domain
import Engine
import EventLog
import Foundation
import Models
import Runs

/// `ledgerflow health`: is the service doing its job — for people, monitoring and systemd.
struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The service's health: the engine, each reactor's checkpoint and lag, and what it watches; exits 1 when unhealthy.",
        discussion: """
        Unhealthy when: no engine holds the store's lock; the engine has not finished a step for \
        --stale seconds; its steps are failing; a reactor is more than --max-lag seconds behind the \
        log; a schedule's next tick is more than --max-lag seconds overdue; a sensor is in error or \
        has not polled for --stale seconds past its next poll; a notification has waited more than \
        --max-outbox-age seconds, or one was given up in the last 24 hours. A reactor's lag is the \
        events after its checkpoint and the age of the oldest of them.
        """)
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print a JSON object.") var json = false
    @Option(name: .customLong("max-lag"), help: ArgumentHelp("Seconds a reactor may be behind the log (default 60).", valueName: "seconds"))
    var maxLag = 60.0
    @Option(help: ArgumentHelp("Seconds without a finished step after which a running engine counts as stuck (default 30).", valueName: "seconds"))
    var stale = 30.0
    @Option(name: .customLong("max-outbox-age"), help: ArgumentHelp("Seconds a notification may wait to be sent (default 3600).", valueName: "seconds"))
    var maxOutboxAge = 3600.0

    func validate() throws {
        if !(maxLag > 0) { throw ValidationError("--max-lag must be a number of seconds above 0 (got \(maxLag))") }
        if !(stale > 0) { throw ValidationError("--stale must be a number of seconds above 0 (got \(stale))") }
        if !(maxOutboxAge > 0) { throw ValidationError("--max-outbox-age must be a number of seconds above 0 (got \(maxOutboxAge))") }
    }

    func run() throws {
        let log = try store.openForReading()
        var report = try HealthReport.gather(log: log, store: store.path, maxLag: maxLag, stale: stale, now: Date())
        try report.gatherAutomation(log: log, store: store.path, maxLag: maxLag, stale: stale, maxOutboxAge: maxOutboxAge)
        if json {
            Output.line(prettyJSON(report.value))
        } else {
            for line in report.text { Output.line(line) }
        }
        Output.flush()
        if !report.problems.isEmpty { throw CommandFailure(message: "unhealthy: \(report.problems.first!)\(report.problems.count > 1 ? " (and \(report.problems.count - 1) more)" : "")") }
    }
}

