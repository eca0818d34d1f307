import ArgumentParser
import Domain
import EventLog
import Engine
import Foundation
import Projections
import Runs

/// `ledgerflow notifications [--run N] [--json]`: the outbox, folded from the log.
struct Notifications: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The notification outbox: each message to a team, its recipients, subject and delivery status (requested, sent, failed, given up).")
    @OptionGroup var store: StoreOptions
    @Option(name: .customLong("run"), help: ArgumentHelp("Only the messages about this run.", valueName: "run")) var runID: String?
    @Flag(name: .long, help: "JSON output.") var json = false

    func run() throws {
        let log = try store.openForReading()
        let entries: [OutboxEntry]
        do { entries = try NotificationViews.entries(log, run: runID) } catch let e as ReadFailure { throw CommandFailure(message: e.description) }
        if json {
            Output.line(prettyJSON(.array(entries.map(\.value))))
            return
        }
        if entries.isEmpty { Output.line("no notifications\(runID.map { " about run \($0)" } ?? "")"); return }
        printTable(["KEY", "TEAM", "CHANNEL", "STATUS", "ATTEMPTS", "SUBJECT", "LAST ERROR"], entries.map { n in
            let status = n.status == .failed ? "failed (next \(n.nextAttemptAt.map(timestamp) ?? "?"))" : n.status.rawValue
            return [n.request.key, n.request.team, n.request.channel.rawValue, status, String(n.attempts), n.request.subject,
                    n.lastError.map { String($0.prefix(80)) } ?? ""]
        })
    }
}
