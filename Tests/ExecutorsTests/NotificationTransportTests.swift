import Catalog
import Domain
import Foundation
import TestSupport
import Testing
@testable import Executors

/// The e-mail ledgerflow builds, and its delivery through the system curl to real servers started
/// on 127.0.0.1 by the tests (aiosmtpd, python's http.server).
@Suite(.timeLimit(.minutes(1))) struct NotificationTransportTests {
    static func request(text: String = "Run 1 of job j failed.\n.a line starting with a dot\n", subject: String = "[ledgerflow] j run 1 failed: 0 succeeded, 1 failed",
                        recipients: [String] = ["de@example.com", "oncall@example.com"]) -> NotificationRequested {
        NotificationRequested(key: "run/1/failed", team: "data-eng", channel: .email, notifier: "mail", recipients: recipients, subject: subject,
                              text: text, html: "<p>Run 1 &amp; more</p>\n", messageID: "<run.1.failed.data-eng.email.s@ledgerflow>", cause: 9,
                              reasons: ["owner of job j"], run: "1", outcome: "failed")
    }

    @Test func theMessageIsCRLFMultipartWithAnEncodedSubjectAndShortLines() {
        let long = String(repeating: "é", count: 100) + " = end "
        let m = MailMessage(messageID: "<x@ledgerflow>", dateMicros: 1_767_225_600_000_000, from: "lf@example.com", to: ["a@example.com", "b@example.com"],
                            subject: "Über run 1 — ✓", text: "line one\n" + long + "\n", html: "<p>x</p>")
        let text = String(decoding: m.bytes, as: UTF8.self)
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "every line ends in CRLF")
        #expect(text.contains("Message-ID: <x@ledgerflow>\r\n"))
        #expect(text.contains("Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"))
        #expect(text.contains("To: a@example.com, b@example.com\r\n"))
        #expect(text.contains("Subject: =?UTF-8?B?"))
        let subjectLine = text.components(separatedBy: "\r\n").first { $0.hasPrefix("Subject: ") } ?? ""
        let word = subjectLine.dropFirst("Subject: =?UTF-8?B?".count).dropLast(2)
        #expect(String(decoding: Data(base64Encoded: String(word)) ?? Data(), as: UTF8.self) == "Über run 1 — ✓")
        #expect(text.contains("Content-Type: multipart/alternative; boundary=\"=_ledgerflow_alternative_0\""))
        #expect(text.contains("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable"))
        #expect(text.contains("Content-Type: text/html; charset=utf-8"))
        #expect(text.hasSuffix("--=_ledgerflow_alternative_0--\r\n"))
        #expect(text.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 78 })
        #expect(m.bytes.allSatisfy { $0 < 128 })
        #expect(text.contains("=3D end=20") || text.contains("=3D end =\r\n") || text.contains("=3D"))
        let received = ReceivedMail(from: "", recipients: [], data: text, login: nil)
        #expect(received.decodedBody.contains(long.trimmingCharacters(in: .whitespaces)))
        // A header value cannot start another header.
        let injected = MailMessage(messageID: "<x@y>", dateMicros: 0, from: "a@b.c", to: ["d@e.f"], subject: "hi\r\nBcc: evil@example.com", text: "", html: "")
        #expect(!String(decoding: injected.bytes, as: UTF8.self).contains("\r\nBcc:"))
    }

    static func attempt(_ notifier: NotifierSpec, secrets: [String: SecretSpec] = [:], root: String, request: NotificationRequested = request()) -> DeliveryAttempt {
        DeliveryAttempt(request: request, requestedAtMicros: 1_767_225_600_000_000, notifier: notifier, secrets: secrets, root: root)
    }

    @Test func deliversPlainSMTPWithEnvelopeAndBodyAndDotLinesIntact() throws {
        let dir = TemporaryDirectory()
        let sink = try MailSink(folder: dir.sub("box"))
        let n = NotifierSpec(target: .smtp(.init(host: "127.0.0.1", port: Int64(sink.port), from: "ledgerflow@example.com")))
        let result = CurlTransport.deliver(Self.attempt(n, root: dir.path))
        let reply = try result.get()
        #expect(reply == "250 OK stored as 0001")
        let mail = try #require(try sink.messages().first)
        #expect(mail.from == "ledgerflow@example.com")
        #expect(mail.recipients == ["de@example.com", "oncall@example.com"])
        #expect(mail.header("Subject") == "[ledgerflow] j run 1 failed: 0 succeeded, 1 failed")
        #expect(mail.header("Message-ID") == "<run.1.failed.data-eng.email.s@ledgerflow>")
        #expect(mail.decodedBody.contains("\r\n.a line starting with a dot\r\n"), "curl dot-stuffs and the server unstuffs")
        #expect(mail.decodedBody.contains("<p>Run 1 &amp; more</p>"))
    }

    @Test func startTLSWithASelfSignedCertificateAndAuthFromASecret() throws {
        let dir = TemporaryDirectory()
        let (cert, key) = try selfSignedCertificate(in: dir.path)
        let password = "pw-\(UUID().uuidString)"
        let sink = try MailSink(folder: dir.sub("box"), security: "starttls", cert: cert, key: key, auth: ("alice", password))
        let n = NotifierSpec(target: .smtp(.init(host: "127.0.0.1", port: Int64(sink.port), security: .starttls, username: "alice", password: "smtp_pw",
                                                 from: "ledgerflow@example.com")), caFile: "cert.pem")
        let secrets = ["smtp_pw": SecretSpec(fromEnv: "NOTIFY_TEST_PW")]
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_TEST_PW"] = password
        let reply = try CurlTransport.deliver(Self.attempt(n, secrets: secrets, root: dir.path), environment: env).get()
        #expect(reply.hasPrefix("250 OK"))
        let mail = try #require(try sink.messages().first)
        #expect(mail.login == "alice")
        #expect(!mail.data.contains(password))
        // A wrong password is refused; the failure names the server's reply and not the password.
        env["NOTIFY_TEST_PW"] = "wrong-\(password)"
        let refused = CurlTransport.deliver(Self.attempt(n, secrets: secrets, root: dir.path), environment: env)
        guard case .failure(let why) = refused else { Issue.record("a wrong password was accepted"); return }
        #expect(why.message.contains("535"), "\(why)")
        #expect(!why.message.contains(password))
        // Without the private CA the certificate is not trusted.
        var untrusted = n
        untrusted.caFile = nil
        env["NOTIFY_TEST_PW"] = password
        guard case .failure(let tls) = CurlTransport.deliver(Self.attempt(untrusted, secrets: secrets, root: dir.path), environment: env) else {
            Issue.record("a self-signed certificate was trusted without ca_file"); return
        }
        #expect(tls.message.contains("curl: (60)") || tls.message.lowercased().contains("certificate"), "\(tls)")
        #expect(try sink.messages().count == 1)
    }

    @Test func implicitTLS() throws {
        let dir = TemporaryDirectory()
        let (cert, key) = try selfSignedCertificate(in: dir.path)
        let sink = try MailSink(folder: dir.sub("box"), security: "tls", cert: cert, key: key)
        let n = NotifierSpec(target: .smtp(.init(host: "127.0.0.1", port: Int64(sink.port), security: .tls, from: "ledgerflow@example.com")), caFile: cert)
        #expect(try CurlTransport.deliver(Self.attempt(n, root: dir.path)).get().hasPrefix("250 OK"))
        #expect(try sink.messages().count == 1)
    }

    @Test func aServerThatIsDownOrASecretThatCannotBeReadIsAFailureSayingWhy() throws {
        let dir = TemporaryDirectory()
        let port = try freeLocalPort()
        let n = NotifierSpec(target: .smtp(.init(host: "127.0.0.1", port: Int64(port), from: "ledgerflow@example.com")), timeout: 5)
        guard case .failure(let down) = CurlTransport.deliver(Self.attempt(n, root: dir.path)) else { Issue.record("delivered to nothing"); return }
        #expect(down.message.hasPrefix("curl: (7)"), "\(down)")
        let auth = NotifierSpec(target: .smtp(.init(host: "127.0.0.1", port: Int64(port), security: .starttls, username: "u", password: "pw",
                                                    from: "ledgerflow@example.com")))
        guard case .failure(let missing) = CurlTransport.deliver(Self.attempt(auth, secrets: ["pw": SecretSpec(fromEnv: "NOTIFY_TEST_UNSET_VARIABLE")], root: dir.path),
                                                                 environment: [:]) else {
            Issue.record("an unreadable secret did not fail"); return
        }
        #expect(missing.message == "secret 'pw' comes from environment variable NOTIFY_TEST_UNSET_VARIABLE, which is not set in the engine's environment")
    }

    @Test func aWebhookGetsTheJSONBodyAndAHeaderFromASecret() throws {
        let dir = TemporaryDirectory()
        let sink = try WebhookSink(folder: dir.sub("hooks"))
        let token = "tok-\(UUID().uuidString)"
        try token.write(toFile: dir.sub("token.txt"), atomically: true, encoding: .utf8)
        let n = NotifierSpec(target: .webhook(.init(url: "http://127.0.0.1:\(sink.port)/hooks/ledgerflow?x=1",
                                                    headers: [("X-Api-Token", .secret("hook_token")), ("X-Team", .text("data-eng"))])))
        let reply = try CurlTransport.deliver(Self.attempt(n, secrets: ["hook_token": SecretSpec(fromFile: "token.txt")], root: dir.path)).get()
        #expect(reply == "HTTP 200 ok")
        let r = try #require(try sink.requests().first)
        #expect(r.path == "/hooks/ledgerflow?x=1")
        #expect(r.headers["x-api-token"] == token)
        #expect(r.headers["x-team"] == "data-eng")
        #expect(r.headers["content-type"] == "application/json")
        let body = try Value(json: r.body)
        #expect(body["subject"] == .string("[ledgerflow] j run 1 failed: 0 succeeded, 1 failed"))
        #expect(body["team"] == .string("data-eng") && body["run"] == .string("1") && body["outcome"] == .string("failed"))
        #expect(body["message_id"] == .string("<run.1.failed.data-eng.email.s@ledgerflow>"))
        // A server error is a failure naming the status.
        let failing = try WebhookSink(folder: dir.sub("failing"), status: 503)
        let bad = NotifierSpec(target: .webhook(.init(url: "http://127.0.0.1:\(failing.port)/h")))
        guard case .failure(let why) = CurlTransport.deliver(Self.attempt(bad, root: dir.path)) else { Issue.record("a 503 was taken as delivered"); return }
        #expect(why.message == "HTTP 503 from 127.0.0.1:\(failing.port): ok")
    }
}
