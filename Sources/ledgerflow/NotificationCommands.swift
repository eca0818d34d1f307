import ArgumentParser
import Domain
import EventLog
import Engine
import Foundation
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
        if let run = runID, try log.read(stream: RunEvents.stream(run: run), limit: 1).isEmpty {
            throw CommandFailure(message: "no run '\(run)'; `ledgerflow runs` lists them")
        }
        let state = try AutomationFolds.notifications(log)
        let entries = state.ordered(run: runID)
        if json {
            Output.line(prettyJSON(.array(entries.map(notificationValue))))
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

/// One outbox message as JSON.
func notificationValue(_ n: OutboxEntry) -> Value {
    var b = PayloadBuilder([("key", .string(n.request.key)), ("stream", .string(n.stream)), ("team", .string(n.request.team)),
                            ("channel", .string(n.request.channel.rawValue)), ("notifier", .string(n.request.notifier)),
                            ("recipients", .array(n.request.recipients.map { .string($0) })), ("subject", .string(n.request.subject)),
                            ("status", .string(n.status.rawValue)), ("attempts", .int(Int64(n.attempts))),
                            ("message_id", .string(n.request.messageID)), ("requested_seq", .int(Int64(n.requestedSeq))),
                            ("requested_at", .string(timestamp(n.requestedAtMicros))), ("reasons", .array(n.request.reasons.map { .string($0) }))])
    b.set("run", n.request.run)
    b.set("outcome", n.request.outcome)
    b.set("last_error", n.lastError)
    b.set("reply", n.reply)
    b.set("sent_at", n.sentAtMicros.map(timestamp))
    b.set("next_attempt_at", n.nextAttemptAt.map(timestamp))
    return b.value
}
