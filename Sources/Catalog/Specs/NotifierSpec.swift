import Domain

/// How teams are told: an SMTP server (e-mail) or a webhook (a JSON POST). Secrets (the SMTP
/// password, webhook headers) are references to `secret` definitions, read only when a message
/// is sent.
public struct NotifierSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.notifier

    /// The notifier's type.
    public enum NotifierType: String, Sendable, Hashable, CaseIterable {
        case smtp, webhook
    }

    /// How an SMTP connection is secured.
    public enum Security: String, Sendable, Hashable, CaseIterable {
        /// Plain SMTP.
        case none
        /// Plain connection upgraded with STARTTLS, which the server must offer.
        case starttls
        /// TLS from the first byte (SMTPS).
        case tls

        /// The port used when none is written.
        public var defaultPort: Int64 {
            switch self {
            case .none: return 25
            case .starttls: return 587
            case .tls: return 465
            }
        }
    }

    /// A webhook header's value: text, or a secret read at send time.
    public enum HeaderValue: Sendable, Hashable {
        case text(String)
        case secret(String)
        /// Neither text nor `{secret: NAME}` (refused by validation).
        case invalid(Value)

        init(_ v: Value) {
            switch v {
            case .string(let s): self = .text(s)
            case .int, .double, .bool: self = .text(v.jsonString)
            case .members(let m) where m.count == 1 && m[0].key == "secret":
                if case .string(let name) = m[0].value { self = .secret(name) } else { self = .invalid(v) }
            default: self = .invalid(v)
            }
        }
    }

    /// An SMTP server.
    public struct SMTP: Sendable, Hashable {
        public var host: String
        /// As written (see `resolvedPort`).
        public var port: Int64?
        public var security: Security
        public var username: String?
        /// The secret holding the password.
        public var password: String?
        /// The sender address.
        public var from: String

        /// A value with these fields.
        public init(host: String, port: Int64? = nil, security: Security = .none, username: String? = nil, password: String? = nil, from: String) {
            self.host = host
            self.port = port
            self.security = security
            self.username = username
            self.password = password
            self.from = from
        }

        /// The port: as written, else the security's default.
        public var resolvedPort: Int64 { port ?? security.defaultPort }
    }

    /// A webhook.
    public struct Webhook: Sendable, Hashable {
        public var url: String
        /// Header name → value, in name order.
        public var headers: [(name: String, value: HeaderValue)]

        /// A value with these fields.
        public init(url: String, headers: [(name: String, value: HeaderValue)] = []) {
            self.url = url
            self.headers = headers
        }

        public static func == (a: Webhook, b: Webhook) -> Bool {
            a.url == b.url && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
        }

        public func hash(into h: inout Hasher) {
            h.combine(url)
            for x in headers { h.combine(x.name); h.combine(x.value) }
        }
    }

    /// What the notifier talks to.
    public enum Target: Sendable, Hashable {
        case smtp(SMTP)
        case webhook(Webhook)
    }

    /// Defaults of the delivery policy.
    public static let defaultMaxAttempts: Int64 = 8
    public static let defaultBackoff = 30.0
    public static let defaultMaxBackoff = 3600.0
    public static let defaultTimeout = 30.0

    /// Free text for people.
    public var description: String?
    public var target: Target
    /// Seconds one attempt may take.
    public var timeout: Double?
    /// Attempts in all before giving up.
    public var maxAttempts: Int64?
    /// Seconds before the second attempt (each further wait doubles).
    public var backoff: Double?
    /// Longest wait, in seconds.
    public var maxBackoff: Double?
    /// PEM file of a private certificate authority.
    public var caFile: String?

    /// A value with these fields.
    public init(description: String? = nil, target: Target, timeout: Double? = nil, maxAttempts: Int64? = nil, backoff: Double? = nil,
                maxBackoff: Double? = nil, caFile: String? = nil) {
        self.description = description
        self.target = target
        self.timeout = timeout
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.maxBackoff = maxBackoff
        self.caFile = caFile
    }

    /// The notifier's type.
    public var type: NotifierType {
        switch target {
        case .smtp: return .smtp
        case .webhook: return .webhook
        }
    }

    /// The secrets the notifier reads when it sends (the password, secret headers), by name.
    public var secretNames: [String] {
        switch target {
        case .smtp(let s): return s.password.map { [$0] } ?? []
        case .webhook(let w): return w.headers.compactMap { if case .secret(let n) = $0.value { return n } else { return nil } }
        }
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        timeout = try f.duration(opt: "timeout")
        maxAttempts = try f.int(opt: "max_attempts")
        backoff = try f.duration(opt: "backoff")
        maxBackoff = try f.duration(opt: "max_backoff")
        caFile = try f.string(opt: "ca_file")
        switch try f.choice("type", NotifierType.self) {
        case .smtp:
            let password = try f.object(opt: "password").map { p throws(DecodingFailure) in try p.string("secret") }
            target = .smtp(SMTP(host: try f.string("host"), port: try f.int(opt: "port"), security: try f.choice(opt: "security") ?? .none,
                                username: try f.string(opt: "username"), password: password, from: try f.string("from")))
        case .webhook:
            var headers: [(name: String, value: HeaderValue)] = []
            for m in try f.mapping(opt: "headers") { headers.append((m.key, HeaderValue(m.value))) }
            target = .webhook(Webhook(url: try f.string("url"), headers: headers))
        }
    }
}
