import Domain
import EventLog
import Projections
import Runs

extension OutboxEntry {
    /// The message as JSON (`notifications --json`, the console): key, team, channel, recipients,
    /// subject, delivery status and attempts, the run it is about, the last error.
    public var value: Value {
        let n = self
        var b = PayloadBuilder([("key", .string(n.request.key)), ("stream", .string(n.stream)), ("team", .string(n.request.team)),
                                ("channel", .string(n.request.channel.rawValue)), ("notifier", .string(n.request.notifier)),
                                ("recipients", .array(n.request.recipients.map { .string($0) })), ("subject", .string(n.request.subject)),
                                ("status", .string(n.status.rawValue)), ("attempts", .int(Int64(n.attempts))),
                                ("message_id", .string(n.request.messageID)), ("requested_seq", .int(Int64(n.requestedSeq))),
                                ("requested_at", .string(RunViews.timestamp(n.requestedAtMicros))), ("reasons", .array(n.request.reasons.map { .string($0) }))])
        b.set("run", n.request.run)
        b.set("outcome", n.request.outcome)
        b.set("last_error", n.lastError)
        b.set("reply", n.reply)
        b.set("sent_at", n.sentAtMicros.map(RunViews.timestamp))
        b.set("next_attempt_at", n.nextAttemptAt.map(RunViews.timestamp))
        return b.value
    }
}

/// The notification outbox as `ledgerflow notifications --json` and the console read it.
public enum NotificationViews {
    /// The messages (about run `run`, or all) in order; fails (`ReadFailure`) when there is no such run.
    public static func entries(_ log: EventLog, run: String?) throws -> [OutboxEntry] {
        if let run, try log.read(stream: RunEvents.stream(run: run), limit: 1).isEmpty {
            throw ReadFailure(.notFound, "no run '\(run)'; `ledgerflow runs` lists them")
        }
        return try AutomationFolds.notifications(log).ordered(run: run)
    }
}
