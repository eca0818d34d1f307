import Domain
import EventLog
import Executors
import Foundation
import Runs

/// One delivery attempt of an outbox message, on a background thread: sends it (with
/// `CurlTransport`) and appends what happened — `NotificationSent` or `NotificationFailed` (a
/// retry time, or given up after the notifier's `max_attempts`) — to the message's stream at
/// the exact version the loop saw, directly (like `LogRecorder`), not in the loop's step.
///
/// Delivery is at least once: a crash after the server accepted the message and before the
/// record is committed sends it again at the next start (at most once more per such crash); the
/// Message-ID is the same on every attempt, so receivers can de-duplicate. A record refused
/// because the stream moved (another delivery recorded first) is dropped: the loop folds what is
/// there and decides again.
struct NotificationDelivery: Sendable {
    let log: EventLog
    let actor: String
    let clock: any LogClock
    /// Sends a line of the engine's log (component `notifications`).
    let report: @Sendable (String, LogLine.Level) -> Void
    let finished: Locked<[String: Bool]>
    let wake: @Sendable () -> Void

    static let queue = DispatchQueue(label: "ledgerflow.notification-delivery", attributes: .concurrent)

    func start(_ entry: OutboxEntry, attempt: Result<(DeliveryAttempt, NotificationOutbox.Policy), DeliveryFailure>) {
        Self.queue.async { self.deliver(entry, attempt) }
    }

    func deliver(_ entry: OutboxEntry, _ prepared: Result<(DeliveryAttempt, NotificationOutbox.Policy), DeliveryFailure>) {
        let number = NotificationOutbox.nextAttempt(entry)
        let what = "notification \(entry.request.messageID) to team \(entry.request.team) (\(entry.request.channel.rawValue))"
        let event: NewEvent
        switch prepared {
        case .failure(let why):
            let f = NotificationOutbox.failed(entry, attempt: number, error: why.message, policy: NotificationOutbox.Policy(nil), nowMicros: clock.nowMicros())
            report("\(what): attempt \(number) failed: \(why.message)\(Self.next(f))", .warning)
            event = f.event(causation: entry.requestedSeq)
        case .success(let (attempt, policy)):
            switch CurlTransport.deliver(attempt) {
            case .success(let reply):
                report("\(what): sent (attempt \(number)): \(reply)", .info)
                event = NotificationOutbox.sent(entry, attempt: number, reply: reply).event(causation: entry.requestedSeq)
            case .failure(let why):
                let f = NotificationOutbox.failed(entry, attempt: number, error: why.message, policy: policy, nowMicros: clock.nowMicros())
                report("\(what): attempt \(number) failed: \(why.message)\(Self.next(f))", .warning)
                event = f.event(causation: entry.requestedSeq)
            }
        }
        var appended = false
        do {
            try log.append([event], to: entry.stream, expectedVersion: .exact(entry.version), actor: actor)
            appended = true
        } catch {
            report("\(what): could not record attempt \(number): \(error)", .error)
        }
        finished.withLock { $0[entry.stream] = appended }
        wake()
    }

    static func next(_ f: NotificationFailed) -> String {
        if f.givenUp { return "; given up after \(f.attempt) attempt\(f.attempt == 1 ? "" : "s")" }
        return f.nextAttemptAt.map { "; next attempt at \(Timestamp.rfc3339(micros: $0))" } ?? ""
    }
}
