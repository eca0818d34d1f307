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

    /// A value with these fields.
    public init(description: String? = nil, emails: [String], notifyOn: [Outcome]? = nil) {
        self.description = description
        self.emails = emails
        self.notifyOn = notifyOn
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        emails = try f.strings("emails")
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
