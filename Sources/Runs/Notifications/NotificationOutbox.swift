import Catalog
import Domain

/// Where one message of the outbox is, folded from its stream.
public struct OutboxEntry: Sendable, Hashable {
    /// requested (no attempt yet), failed (retry due at `nextAttemptAt`), sent, given up.
    public enum Status: String, Sendable, Hashable {
        case requested, failed, sent
        case givenUp = "given up"
    }

    public var stream: String
    public var request: NotificationRequested
    public var requestedSeq: UInt64
    public var requestedAtMicros: Int64
    /// The stream's version (the next append is expected at this).
    public var version: UInt64
    public var status: Status = .requested
    /// Attempts made (sent or failed).
    public var attempts = 0
    public var lastError: String?
    public var nextAttemptAt: Int64?
    public var reply: String?
    public var sentAtMicros: Int64?

    /// Whether an attempt is still to be made.
    public var isPending: Bool { status == .requested || status == .failed }

    /// When the next attempt is due (nil: none will be made).
    public var dueAt: Int64? {
        switch status {
        case .requested: return requestedAtMicros
        case .failed: return nextAttemptAt ?? requestedAtMicros
        case .sent, .givenUp: return nil
        }
    }
}

/// The notification outbox (pure): every message by stream, folded from the notification
/// events, and the decisions of its delivery worker.
public struct NotificationsState: Sendable, Hashable {
    public var entries: [String: OutboxEntry] = [:]
    /// Messages still to be attempted (requested or failed with a retry).
    public private(set) var pending: Set<String> = []
    /// The state covers the log through this seq.
    public var lastSeq: UInt64 = 0

    public init() {}

    /// Folds one event (others are ignored; a notification event that does not decode is left out).
    public mutating func evolve(_ e: RecordedEvent) {
        if e.seq > lastSeq { lastSeq = e.seq }
        guard NotificationEvents.types.contains(e.type) else { return }
        switch e.type {
        case NotificationRequested.type:
            guard let r = try? e.decode(NotificationRequested.self), entries[e.stream] == nil else { return }
            entries[e.stream] = OutboxEntry(stream: e.stream, request: r, requestedSeq: e.seq, requestedAtMicros: e.recordedAtMicros,
                                            version: e.streamVersion)
            pending.insert(e.stream)
        case NotificationSent.type:
            guard var n = entries[e.stream], let s = try? e.decode(NotificationSent.self) else { return }
            n.version = e.streamVersion
            n.attempts = max(n.attempts, s.attempt)
            n.status = .sent
            n.reply = s.reply
            n.sentAtMicros = e.recordedAtMicros
            n.nextAttemptAt = nil
            entries[e.stream] = n
            pending.remove(e.stream)
        case NotificationFailed.type:
            guard var n = entries[e.stream], let f = try? e.decode(NotificationFailed.self) else { return }
            n.version = e.streamVersion
            n.attempts = max(n.attempts, f.attempt)
            n.lastError = f.error
            if n.status != .sent {
                n.status = f.givenUp ? .givenUp : .failed
                n.nextAttemptAt = f.givenUp ? nil : f.nextAttemptAt
            }
            entries[e.stream] = n
            if n.isPending { pending.insert(e.stream) } else { pending.remove(e.stream) }
        default: break
        }
    }

    /// Forgets the messages that are settled (sent or given up), but those in `keeping`: what a
    /// long-running engine no longer needs (a message is requested at most once whatever it
    /// holds: its stream is appended with `.noStream`).
    public mutating func dropSettled(keeping: Set<String> = []) {
        entries = entries.filter { pending.contains($0.key) || keeping.contains($0.key) }
    }

    /// Messages whose next attempt is due at `now`, oldest request first.
    public func due(now: Int64) -> [OutboxEntry] {
        pending.compactMap { entries[$0] }.filter { ($0.dueAt ?? .max) <= now }.sorted { $0.requestedSeq < $1.requestedSeq }
    }

    /// The earliest time a pending message is due after `now`, if any.
    public func nextDue(after now: Int64) -> Int64? {
        pending.compactMap { entries[$0]?.dueAt }.filter { $0 > now }.min()
    }

    /// Messages, oldest request first (`run`: those about that run only).
    public func ordered(run: String? = nil) -> [OutboxEntry] {
        entries.values.filter { run == nil || $0.request.run == run }.sorted { $0.requestedSeq < $1.requestedSeq }
    }
}

/// The delivery worker's decisions (pure): what to record after an attempt.
public enum NotificationOutbox {
    /// A notifier's retry policy.
    public struct Policy: Sendable, Hashable {
        public var maxAttempts: Int
        /// Seconds before the second attempt; each further wait doubles.
        public var backoff: Double
        public var maxBackoff: Double

        public init(maxAttempts: Int = Int(NotifierSpec.defaultMaxAttempts), backoff: Double = NotifierSpec.defaultBackoff,
                    maxBackoff: Double = NotifierSpec.defaultMaxBackoff) {
            self.maxAttempts = maxAttempts
            self.backoff = backoff
            self.maxBackoff = maxBackoff
        }

        /// The policy a notifier's spec gives (the defaults when it has none, or is gone).
        public init(_ spec: NotifierSpec?) {
            self.init(maxAttempts: Int(spec?.maxAttempts ?? NotifierSpec.defaultMaxAttempts), backoff: spec?.backoff ?? NotifierSpec.defaultBackoff,
                      maxBackoff: spec?.maxBackoff ?? NotifierSpec.defaultMaxBackoff)
        }

        /// The wait after failed attempt `n` (1-based): backoff × 2^(n−1), at most maxBackoff.
        public func wait(afterAttempt n: Int) -> Double {
            var w = backoff
            for _ in 1 ..< max(n, 1) {
                w *= 2
                if w >= maxBackoff { break }
            }
            return min(w, maxBackoff)
        }
    }

    /// The attempt number the next delivery of `entry` makes.
    public static func nextAttempt(_ entry: OutboxEntry) -> Int { entry.attempts + 1 }

    /// What to record when the attempt was accepted by the server.
    public static func sent(_ entry: OutboxEntry, attempt: Int, reply: String) -> NotificationSent {
        NotificationSent(attempt: attempt, messageID: entry.request.messageID, reply: reply)
    }

    /// What to record when the attempt failed: a retry after the policy's wait, or given up when
    /// it was the last attempt allowed.
    public static func failed(_ entry: OutboxEntry, attempt: Int, error: String, policy: Policy, nowMicros: Int64) -> NotificationFailed {
        if attempt >= policy.maxAttempts {
            return NotificationFailed(attempt: attempt, messageID: entry.request.messageID, error: error, givenUp: true)
        }
        let next = nowMicros + Int64((policy.wait(afterAttempt: attempt) * 1e6).rounded())
        return NotificationFailed(attempt: attempt, messageID: entry.request.messageID, error: error, givenUp: false, nextAttemptAt: next)
    }
}
