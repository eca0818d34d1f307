import Catalog
import Domain
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One delivery attempt of an outbox message, with everything it needs to be made on any thread:
/// the notifier as defined now and the secret definitions it refers to (values are read when
/// the attempt is made, never before).
public struct DeliveryAttempt: Sendable {
    public var request: NotificationRequested
    /// When the message was requested (the `Date` header: the same bytes on every attempt).
    public var requestedAtMicros: Int64
    public var notifier: NotifierSpec
    /// Secret name → its definition (those the notifier names).
    public var secrets: [String: SecretSpec]
    /// The project folder: relative `ca_file` and `from_file` paths resolve against it.
    public var root: String

    public init(request: NotificationRequested, requestedAtMicros: Int64, notifier: NotifierSpec, secrets: [String: SecretSpec], root: String) {
        self.request = request
        self.requestedAtMicros = requestedAtMicros
        self.notifier = notifier
        self.secrets = secrets
        self.root = root
    }

    /// The e-mail as sent.
    public func mail(from: String) -> MailMessage {
        MailMessage(messageID: request.messageID, dateMicros: requestedAtMicros, from: from, to: request.recipients, subject: request.subject,
                    text: request.text, html: request.html, headers: [("X-Ledgerflow-Key", request.key), ("X-Ledgerflow-Team", request.team)])
    }

    /// The webhook's JSON body.
    public var webhookBody: Value {
        var b = PayloadBuilder([("key", .string(request.key)), ("team", .string(request.team)), ("subject", .string(request.subject)),
                                ("text", .string(request.text)), ("message_id", .string(request.messageID)),
                                ("reasons", .array(request.reasons.map { .string($0) }))])
        b.set("run", request.run)
        b.set("outcome", request.outcome)
        return b.value
    }
}

/// Delivers outbox messages with the system `curl` (SMTP, SMTPS, STARTTLS, HTTP, HTTPS).
///
/// Nothing secret is put on curl's command line (which every user of the machine can read in
/// `/proc`): curl gets `-K -` and reads its whole configuration — URL, recipients, the SMTP
/// user and password, webhook headers — from a pipe on its standard input. The message or the
/// JSON body goes through a 0600 file in a 0700 temporary folder, removed when curl ends. curl
/// dot-stuffs SMTP data itself (a line starting with `.` is sent as `..`). Every message this
/// returns is masked with the secret values read for the attempt.
public enum CurlTransport {
    /// The program (`curl`, found on PATH).
    public static let program = "curl"

    /// Makes the attempt: the server's final reply when it accepted the message (`250 OK …`,
    /// `HTTP 200 …`), else why not (one line).
    public static func deliver(_ attempt: DeliveryAttempt, environment: [String: String] = ProcessInfo.processInfo.environment) -> Result<String, DeliveryFailure> {
        var values: [String: String] = [:]
        for name in attempt.notifier.secretNames {
            guard let def = attempt.secrets[name] else {
                return .failure(DeliveryFailure("secret '\(name)' is not defined; define it (kind: secret, from_env or from_file)"))
            }
            switch Secrets.value(of: def, root: attempt.root, environment: environment) {
            case .success(let v):
                guard v.count >= SecretMask.minimumLength else {
                    return .failure(DeliveryFailure("secret '\(name)' is shorter than \(SecretMask.minimumLength) characters; use a longer value"))
                }
                values[name] = v
            case .failure(let why): return .failure(DeliveryFailure("secret '\(name)' \(why)"))
            }
        }
        let mask = SecretMask(values.map { SecretMask.Secret(name: $0.key, value: $0.value) })
        let result = run(attempt, secrets: values, environment: environment)
        switch result {
        case .success(let reply): return .success(mask.mask(reply))
        case .failure(let f): return .failure(DeliveryFailure(mask.mask(f.message)))
        }
    }

    static func run(_ attempt: DeliveryAttempt, secrets: [String: String], environment: [String: String]) -> Result<String, DeliveryFailure> {
        let n = attempt.notifier
        let timeout = n.timeout ?? NotifierSpec.defaultTimeout
        guard let folder = makeTemporaryFolder() else { return .failure(DeliveryFailure("cannot create a temporary folder for the message")) }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var config: [(String, String?)] = [("silent", nil), ("show-error", nil), ("connect-timeout", format(min(timeout, 30))),
                                           ("max-time", format(timeout))]
        if let ca = n.caFile { config.append(("cacert", ca.hasPrefix("/") ? ca : (attempt.root as NSString).appendingPathComponent(ca))) }
        let payload = (folder as NSString).appendingPathComponent("payload")
        switch n.target {
        case .smtp(let smtp):
            guard writePrivate(attempt.mail(from: smtp.from).bytes, to: payload) else { return .failure(DeliveryFailure("cannot write the message to \(folder)")) }
            let scheme = smtp.security == .tls ? "smtps" : "smtp"
            // The URL's path is the name curl greets the server with (EHLO): the sender's domain.
            let domain = smtp.from.split(separator: "@").last.map(String.init) ?? "localhost"
            config += [("url", "\(scheme)://\(hostPart(smtp.host)):\(smtp.resolvedPort)/\(domain)"), ("mail-from", smtp.from), ("upload-file", payload), ("verbose", nil)]
            for r in attempt.request.recipients { config.append(("mail-rcpt", r)) }
            if smtp.security == .starttls { config.append(("ssl-reqd", nil)) }
            if let user = smtp.username, let secret = smtp.password {
                config.append(("user", "\(user):\(secrets[secret] ?? "")"))
            }
            let out = spawnCurl(config, timeout: timeout, environment: environment)
            return smtpResult(out)
        case .webhook(let hook):
            guard writePrivate(Array(attempt.webhookBody.jsonString.utf8), to: payload) else { return .failure(DeliveryFailure("cannot write the body to \(folder)")) }
            let response = (folder as NSString).appendingPathComponent("response")
            config += [("url", hook.url), ("request", "POST"), ("header", "Content-Type: application/json"), ("data-binary", "@" + payload),
                       ("output", response), ("write-out", "%{http_code}")]
            for h in hook.headers {
                switch h.value {
                case .text(let v): config.append(("header", "\(h.name): \(v)"))
                case .secret(let name): config.append(("header", "\(h.name): \(secrets[name] ?? "")"))
                case .invalid: continue
                }
            }
            let out = spawnCurl(config, timeout: timeout, environment: environment)
            let body = FileManager.default.contents(atPath: response).map { String(decoding: $0.prefix(4096), as: UTF8.self) } ?? ""
            return webhookResult(out, body: body, url: hook.url)
        }
    }

    /// What curl printed and how it ended.
    struct Output {
        var code: Int32
        var stdout: String
        var stderr: String
        /// Set when curl could not be started or did not end.
        var problem: String?
    }

    /// The reply to the end of the data (`< 250 …` after `< 354 …` in curl's verbose output).
    static func smtpResult(_ out: Output) -> Result<String, DeliveryFailure> {
        if let p = out.problem { return .failure(DeliveryFailure(p)) }
        let lines = out.stderr.split(whereSeparator: { $0.isNewline }).map(String.init)
        let replies = lines.filter { $0.hasPrefix("< ") }.map { String($0.dropFirst(2)) }
        let afterData: String? = {
            guard let i = lines.lastIndex(where: { $0.hasPrefix("< 354") }) else { return nil }
            return lines[(i + 1)...].first { $0.hasPrefix("< ") }.map { String($0.dropFirst(2)) }
        }()
        if out.code == 0 {
            return .success(clip(afterData ?? replies.last { $0.hasPrefix("2") } ?? "accepted (curl exited 0)"))
        }
        let error = lines.last { $0.hasPrefix("curl: (") } ?? "curl exited with code \(out.code)"
        let server = replies.last { $0.hasPrefix("4") || $0.hasPrefix("5") }
        return .failure(DeliveryFailure(clip(error + (server.map { "; the server said: \($0)" } ?? ""))))
    }

    static func webhookResult(_ out: Output, body: String, url: String) -> Result<String, DeliveryFailure> {
        if let p = out.problem { return .failure(DeliveryFailure(p)) }
        let firstLine = body.split(whereSeparator: { $0.isNewline }).first.map { String($0.prefix(200)) }
        let status = Int(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        if out.code == 0, (200 ..< 300).contains(status) {
            return .success(clip("HTTP \(status)" + (firstLine.map { " \($0)" } ?? "")))
        }
        if out.code != 0 {
            let error = out.stderr.split(whereSeparator: { $0.isNewline }).last { $0.hasPrefix("curl: (") }.map(String.init)
            return .failure(DeliveryFailure(clip(error ?? "curl exited with code \(out.code)")))
        }
        return .failure(DeliveryFailure(clip("HTTP \(status) from \(host(of: url))" + (firstLine.map { ": \($0)" } ?? ""))))
    }

    /// The URL's host (no path or query, which may hold a token), for messages.
    static func host(of url: String) -> String {
        let rest = url.components(separatedBy: "://").dropFirst().first ?? url
        return String(rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }.split(separator: "@").last ?? "")
    }

    static func hostPart(_ host: String) -> String { host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host }

    static func clip(_ s: String) -> String { s.count > 500 ? String(s.prefix(500)) + "…" : s }

    static func format(_ seconds: Double) -> String { String(format: "%.3f", max(seconds, 0.001)) }

    /// A curl configuration file's text: `name = "value"` lines, values escaped as curl reads them.
    static func configText(_ options: [(String, String?)]) -> String {
        options.map { name, value in
            guard let value else { return name }
            var escaped = ""
            for c in value.unicodeScalars {
                switch c {
                case "\\": escaped += "\\\\"
                case "\"": escaped += "\\\""
                case "\n": escaped += "\\n"
                case "\r": escaped += "\\r"
                case "\t": escaped += "\\t"
                default: escaped.unicodeScalars.append(c)
                }
            }
            return "\(name) = \"\(escaped)\""
        }.joined(separator: "\n") + "\n"
    }

    /// Runs `curl -K -` with `config` on its standard input and collects what it prints; kills it
    /// when it outlives its own `max-time` by 5 s.
    static func spawnCurl(_ config: [(String, String?)], timeout: Double, environment: [String: String]) -> Output {
        let text = Array(configText(config).utf8)
        // The whole configuration goes into the pipe before curl starts: it must fit the pipe's buffer.
        guard text.count < 60_000 else { return Output(code: -1, stdout: "", stderr: "", problem: "curl's configuration is too large (\(text.count) bytes); use fewer or shorter headers") }
        let input: (read: Int32, write: Int32)
        do { input = try ChildProcess.makePipe() } catch { return Output(code: -1, stdout: "", stderr: "", problem: error.message) }
        let written = text.withUnsafeBytes { raw in write(input.write, raw.baseAddress, raw.count) }
        close(input.write)
        guard written == text.count else {
            close(input.read)
            return Output(code: -1, stdout: "", stderr: "", problem: "cannot hand curl its configuration")
        }
        var env = environment
        // curl must not pick up a user's ~/.curlrc or proxy settings meant for something else.
        env["CURL_HOME"] = "/nonexistent"
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(argv: [program, "-q", "-K", "-"], workdir: "/", environment: env, stdin: input.read)
        } catch {
            close(input.read)
            return Output(code: -1, stdout: "", stderr: "", problem: "cannot start curl: \(error.message) (install curl)")
        }
        close(input.read)
        let done = Locked(false)
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout + 5) {
            if !done.withLock({ $0 }) { child.signal(SIGKILL) }
        }
        let (out, err) = collect(child)
        let code = child.wait()
        done.withLock { $0 = true }
        if code < 0 { return Output(code: code, stdout: out, stderr: err, problem: "curl was killed by signal \(-code) (the attempt took longer than \(format(timeout)) s)") }
        return Output(code: code, stdout: out, stderr: err, problem: nil)
    }

    /// Reads the child's stdout and stderr to their ends (at most 1 MiB each is kept).
    static func collect(_ child: ChildProcess) -> (String, String) {
        var buffers: [[UInt8]] = [[], []]
        var open = [true, true]
        let fds = [child.stdout, child.stderr]
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while open.contains(true) {
            var polls = (0 ..< 2).map { pollfd(fd: open[$0] ? fds[$0] : -1, events: Int16(POLLIN), revents: 0) }
            let n = poll(&polls, 2, 1000)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { break }
            for i in 0 ..< 2 where open[i] && polls[i].revents != 0 {
                let r = chunk.withUnsafeMutableBytes { read(fds[i], $0.baseAddress, $0.count) }
                if r > 0 {
                    if buffers[i].count < 1 << 20 { buffers[i] += chunk[0 ..< r] }
                } else if r == 0 || (errno != EINTR && errno != EAGAIN) {
                    open[i] = false
                }
            }
        }
        for fd in fds { close(fd) }
        return (String(decoding: buffers[0], as: UTF8.self), String(decoding: buffers[1], as: UTF8.self))
    }

    static func makeTemporaryFolder() -> String? {
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("ledgerflow-notify-XXXXXX").utf8CString)
        return template.withUnsafeMutableBufferPointer { p -> String? in
            guard let base = p.baseAddress, let r = mkdtemp(base) else { return nil }
            return String(cString: r)
        }
    }

    static func writePrivate(_ bytes: [UInt8], to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return false }
        }
        return true
    }
}

/// Why a delivery attempt failed (one line, secrets masked).
public struct DeliveryFailure: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
