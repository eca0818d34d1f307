import Domain

/// People to tell about run outcomes.
public struct TeamSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.team

    /// A run outcome a team can be told about.
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        case success, failure, cancelled
    }

    /// Free text for people.
    public var description: String?
    /// Addresses.
    public var emails: [String]
    /// Default [failure].
    public var notifyOn: [Outcome]?
    /// The smtp notifier that e-mails the team (default: the only smtp notifier).
    public var notifier: String?
    /// A webhook notifier also told.
    public var webhook: String?

    /// A value with these fields.
    public init(description: String? = nil, emails: [String], notifyOn: [Outcome]? = nil, notifier: String? = nil, webhook: String? = nil) {
        self.description = description
        self.emails = emails
        self.notifyOn = notifyOn
        self.notifier = notifier
        self.webhook = webhook
    }

    /// The run outcomes the team is told about (`notify_on`, default [failure]).
    public var outcomes: Set<Outcome> { Set(notifyOn ?? [.failure]) }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        emails = try f.strings("emails")
        notifier = try f.string(opt: "notifier")
        webhook = try f.string(opt: "webhook")
        if let words = try f.strings(opt: "notify_on") {
            var out: [Outcome] = []
            for (i, w) in words.enumerated() {
                guard let o = Outcome(rawValue: w) else {
                    throw f.failure("notify_on[\(i)]", expected: "one of success, failure, cancelled", found: .string(w))
                }
                out.append(o)
            }
            notifyOn = out
        } else {
            notifyOn = nil
        }
    }
}
