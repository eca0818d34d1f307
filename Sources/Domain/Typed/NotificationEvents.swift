/// The notification outbox's streams and event types. Each message has a stream of its own,
/// `notification/<team>/<channel>/<key>` (the key is `run/<run>/<outcome>` or `alert/<seq>`):
/// `NotificationRequested` is its first event (appended with `.noStream`, so a message is
/// requested at most once per key), then one `NotificationSent` or `NotificationFailed` per
/// delivery attempt, each at the stream's exact next version.
public enum NotificationEvents {
    /// Every notification event type, in the order of the reference.
    public static let all: [any DomainEvent.Type] = [NotificationRequested.self, NotificationSent.self, NotificationFailed.self]
    /// Every type name above.
    public static let types: Set<String> = Set(all.map { $0.type })

    public static let streamPrefix = "notification/"

    /// The stream of the message for `team` on `channel` with `key`.
    public static func stream(team: String, channel: NotificationChannel, key: String) -> String {
        "\(streamPrefix)\(team)/\(channel.rawValue)/\(key)"
    }

    /// The key of a run's message: `run/<run>/<outcome>`.
    public static func key(run: String, outcome: String) -> String { "run/\(run)/\(outcome)" }
    /// The key of an alert's message: `alert/<seq of the AlertRaised>`.
    public static func key(alert seq: UInt64) -> String { "alert/\(seq)" }
}

/// How a message is delivered.
public enum NotificationChannel: String, Sendable, Hashable, CaseIterable {
    /// E-mail through an smtp notifier.
    case email
    /// A JSON POST through a webhook notifier.
    case webhook
}

/// A message to a team was decided: what it says, to whom and through which notifier. Appended
/// once per key (the stream's first event); the delivery worker sends it afterwards.
public struct NotificationRequested: DomainEvent {
    public static let type = "NotificationRequested"

    /// `run/<run>/<outcome>` or `alert/<seq>`.
    public var key: String
    public var team: String
    public var channel: NotificationChannel
    /// The notifier definition that delivers it (read when sending).
    public var notifier: String
    /// E-mail addresses (webhooks: none).
    public var recipients: [String]
    public var subject: String
    /// The plain-text body.
    public var text: String
    /// The HTML body.
    public var html: String
    /// The Message-ID header (with its angle brackets), the same on every attempt.
    public var messageID: String
    /// The seq of the event that caused it (the run's end, or the AlertRaised).
    public var cause: UInt64
    /// Why the team hears about it (`owner of job churn_scoring`, `owner of stage score`).
    public var reasons: [String]
    /// The run, for run outcomes.
    public var run: String?
    /// succeeded, failed or cancelled, for run outcomes.
    public var outcome: String?

    /// A request.
    public init(key: String, team: String, channel: NotificationChannel, notifier: String, recipients: [String], subject: String, text: String,
                html: String, messageID: String, cause: UInt64, reasons: [String], run: String? = nil, outcome: String? = nil) {
        self.key = key
        self.team = team
        self.channel = channel
        self.notifier = notifier
        self.recipients = recipients
        self.subject = subject
        self.text = text
        self.html = html
        self.messageID = messageID
        self.cause = cause
        self.reasons = reasons
        self.run = run
        self.outcome = outcome
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        key = try f.string("key")
        team = try f.string("team")
        let c = try f.string("channel")
        guard let channel = NotificationChannel(rawValue: c) else { throw f.failure("channel", expected: "email or webhook", found: .string(c)) }
        self.channel = channel
        notifier = try f.string("notifier")
        recipients = try f.strings("recipients")
        subject = try f.string("subject")
        text = try f.string("text")
        html = try f.string("html")
        messageID = try f.string("message_id")
        cause = try f.uint("cause")
        reasons = try f.strings("reasons")
        run = try f.string(opt: "run")
        outcome = try f.string(opt: "outcome")
    }

    public var payload: Value {
        var b = PayloadBuilder([("key", .string(key)), ("team", .string(team)), ("channel", .string(channel.rawValue)),
                                ("notifier", .string(notifier)), ("recipients", .array(recipients.map { .string($0) })),
                                ("subject", .string(subject)), ("text", .string(text)), ("html", .string(html)),
                                ("message_id", .string(messageID)), ("cause", .int(Int64(cause))),
                                ("reasons", .array(reasons.map { .string($0) }))])
        b.set("run", run)
        b.set("outcome", outcome)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A message to a team was decided (once per key: the stream's first event); the engine's delivery worker sends it.",
        stream: "notification/<team>/<channel>/<key>",
        fields: [
            FieldDocumentation("key", "text", "run/<run>/<outcome> or alert/<seq of the AlertRaised>"),
            FieldDocumentation("team", "text", "the team told"),
            FieldDocumentation("channel", "text", "email or webhook"),
            FieldDocumentation("notifier", "text", "the notifier definition that delivers it (read when sending)"),
            FieldDocumentation("recipients", "list of text", "the e-mail addresses (webhooks: none)"),
            FieldDocumentation("subject", "text", "the subject line"),
            FieldDocumentation("text", "text", "the plain-text body"),
            FieldDocumentation("html", "text", "the HTML body"),
            FieldDocumentation("message_id", "text", "the Message-ID header, the same on every attempt (receivers de-duplicate on it)"),
            FieldDocumentation("cause", "integer", "the seq of the event that caused it (the run's end, or the AlertRaised)"),
            FieldDocumentation("reasons", "list of text", "why the team hears about it (owner of the job, owner of a failed stage, alerted by a rule)"),
            .optional("run", "text", "the run (run outcomes)"),
            .optional("outcome", "text", "succeeded, failed or cancelled (run outcomes)"),
        ])

    public static let example = NotificationRequested(
        key: "run/42/failed", team: "data-eng", channel: .email, notifier: "mail", recipients: ["oncall@example.com"],
        subject: "[ledgerflow] churn_scoring run 42 failed: 3 succeeded, 1 failed, 1 skipped",
        text: "Run 42 of job churn_scoring failed.\r\n", html: "<p>Run 42 of job churn_scoring failed.</p>",
        messageID: "<run-42-failed.data-eng.email.5f0c2a@ledgerflow>", cause: 1207, reasons: ["owner of job churn_scoring"],
        run: "42", outcome: "failed")
}

/// A delivery attempt succeeded: the server accepted the message.
public struct NotificationSent: DomainEvent {
    public static let type = "NotificationSent"

    /// The attempt (1, 2, …).
    public var attempt: Int
    public var messageID: String
    /// The server's final reply (`250 OK …`, `HTTP 200`).
    public var reply: String

    /// A sent message.
    public init(attempt: Int, messageID: String, reply: String) {
        self.attempt = attempt
        self.messageID = messageID
        self.reply = reply
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(attempt: Int(try f.int("attempt")), messageID: try f.string("message_id"), reply: try f.string("reply"))
    }

    public var payload: Value {
        PayloadBuilder([("attempt", .int(Int64(attempt))), ("message_id", .string(messageID)), ("reply", .string(reply))]).value
    }

    public static let documentation = EventDocumentation(
        "A delivery attempt succeeded: the server accepted the message.",
        stream: "notification/<team>/<channel>/<key>",
        fields: [
            FieldDocumentation("attempt", "integer", "the attempt (1, 2, …)"),
            FieldDocumentation("message_id", "text", "the message's Message-ID"),
            FieldDocumentation("reply", "text", "the server's final reply (SMTP: to the end of the data, e.g. 250 OK; webhooks: HTTP and the status)"),
        ])

    public static let example = NotificationSent(attempt: 2, messageID: "<run-42-failed.data-eng.email.5f0c2a@ledgerflow>", reply: "250 OK queued as 7AF3")
}

/// A delivery attempt failed: retried at `next_attempt_at`, or given up after the notifier's
/// `max_attempts`.
public struct NotificationFailed: DomainEvent {
    public static let type = "NotificationFailed"

    /// The attempt (1, 2, …).
    public var attempt: Int
    public var messageID: String
    /// What went wrong, one line (secrets masked).
    public var error: String
    /// No attempt follows.
    public var givenUp: Bool
    /// When the next attempt is due (µs since 1970), unless given up.
    public var nextAttemptAt: Int64?

    /// A failed attempt.
    public init(attempt: Int, messageID: String, error: String, givenUp: Bool, nextAttemptAt: Int64? = nil) {
        self.attempt = attempt
        self.messageID = messageID
        self.error = error
        self.givenUp = givenUp
        self.nextAttemptAt = nextAttemptAt
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        self.init(attempt: Int(try f.int("attempt")), messageID: try f.string("message_id"), error: try f.string("error"),
                  givenUp: try f.bool("given_up"), nextAttemptAt: try f.int(opt: "next_attempt_at"))
    }

    public var payload: Value {
        var b = PayloadBuilder([("attempt", .int(Int64(attempt))), ("message_id", .string(messageID)), ("error", .string(error)),
                                ("given_up", .bool(givenUp))])
        b.set("next_attempt_at", nextAttemptAt)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A delivery attempt failed: retried at next_attempt_at, or given up after the notifier's max_attempts.",
        stream: "notification/<team>/<channel>/<key>",
        fields: [
            FieldDocumentation("attempt", "integer", "the attempt (1, 2, …)"),
            FieldDocumentation("message_id", "text", "the message's Message-ID"),
            FieldDocumentation("error", "text", "what went wrong, one line (secret values masked)"),
            FieldDocumentation("given_up", "boolean", "no attempt follows (max_attempts reached)"),
            .optional("next_attempt_at", "integer", "when the next attempt is due, µs since 1970 (absent when given up)"),
        ])

    public static let example = NotificationFailed(attempt: 1, messageID: "<run-42-failed.data-eng.email.5f0c2a@ledgerflow>",
                                                   error: "curl: (7) Failed to connect to mail.example.com port 587: Connection refused",
                                                   givenUp: false, nextAttemptAt: 1_767_225_630_000_000)
}
