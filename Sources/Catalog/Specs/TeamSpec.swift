import Domain

/// People to tell about run outcomes.
public struct TeamSpec: KindSpec {
    public static let kind = DefinitionKind.team

    /// A run outcome a team can be told about.
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        case success, failure, cancelled
    }

    public var description: String?
    public var emails: [String]
    /// Default [failure].
    public var notifyOn: [Outcome]?

    public init(description: String? = nil, emails: [String], notifyOn: [Outcome]? = nil) {
        self.description = description
        self.emails = emails
        self.notifyOn = notifyOn
    }

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
