import Domain
import Foundation
import TestSupport
import Testing

/// Notifications through the built binary: apply a notifier, teams and a failing job, `work
/// --once`, and the mailbox (a real aiosmtpd with STARTTLS and AUTH) has the messages; `ledgerflow
/// notifications` lists them; the SMTP password appears nowhere.
@Suite(.timeLimit(.minutes(2))) struct NotificationsCLITests {
    @Test func workOnceMailsTheOwnersAndNotificationsListsWhatWasSent() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub(".ledgerflow")
        let (cert, key) = try selfSignedCertificate(in: dir.path)
        let password = "cli-smtp-\(UUID().uuidString)"
        let sink = try MailSink(folder: dir.sub("mailbox"), security: "starttls", cert: cert, key: key, auth: ("mailer", password))
        var env = ProcessInfo.processInfo.environment
        env["LEDGERFLOW_TEST_SMTP_PASSWORD"] = password
        func lf(_ args: [String]) throws -> RunResult { try ledgerflow(args + ["--store", store], environment: env, cwd: dir.path, timeout: 90) }
        try """
        kind: secret
        name: smtp_password
        from_env: LEDGERFLOW_TEST_SMTP_PASSWORD
        ---
        kind: notifier
        name: mail
        type: smtp
        host: 127.0.0.1
        port: \(sink.port)
        security: starttls
        ca_file: cert.pem
        username: mailer
        password: {secret: smtp_password}
        from: ledgerflow@example.com
        ---
        kind: team
        name: data-eng
        emails: [de@example.com]
        ---
        kind: team
        name: ml-ops
        emails: [ml@example.com]
        ---
        kind: job
        name: churn_scoring
        owner: data-eng
        stages:
          - {name: extract, type: script, command: ["true"]}
          - {name: score, type: script, after: [extract], owner: ml-ops, command: [sh, -c, "echo scoring blew up >&2; exit 2"]}
        """.write(toFile: dir.sub("defs.yaml"), atomically: true, encoding: .utf8)
        #expect(try lf(["init"]).status == 0)
        let applied = try lf(["apply", "defs.yaml"])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(try lf(["run", "churn_scoring", "--detach"]).status == 0)
        let work = try lf(["work", "--once"])
        #expect(work.status == 0, "\(work.stderr)")
        #expect(work.stderr.contains("notification requested: [ledgerflow] churn_scoring run 1 failed: 1 succeeded, 1 failed → team data-eng"), "\(work.stderr)")

        let mails = try sink.messages()
        #expect(mails.count == 2)
        #expect(Set(mails.flatMap(\.recipients)) == ["de@example.com", "ml@example.com"])
        #expect(mails.allSatisfy { $0.header("Subject") == "[ledgerflow] churn_scoring run 1 failed: 1 succeeded, 1 failed" && $0.login == "mailer" })
        #expect(mails.allSatisfy { $0.decodedBody.contains("- stage score, attempt 1 [error], owner ml-ops:") && $0.decodedBody.contains("last stderr line: scoring blew up") })

        let listed = try lf(["notifications", "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let items = try Value(json: listed.stdout).arrayValue ?? []
        #expect(items.count == 2)
        #expect(items.allSatisfy { $0["status"] == .string("sent") && $0["attempts"] == .int(1) && $0["key"] == .string("run/1/failed") })
        #expect(Set(items.compactMap { $0["team"]?.stringValue }) == ["data-eng", "ml-ops"])
        #expect(Set(items.compactMap { $0["message_id"]?.stringValue }) == Set(mails.compactMap { $0.header("Message-ID") }))
        let text = try lf(["notifications", "--run", "1"])
        #expect(text.status == 0 && text.stdout.contains("run/1/failed") && text.stdout.contains("sent"))

        let unknown = try lf(["notifications", "--run", "99"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr == "ledgerflow: no run '99'; `ledgerflow runs` lists them\n")

        // The password is in no event, no output and no mail.
        let events = try lf(["events", "--json"])
        #expect(events.status == 0)
        #expect(events.stdout.contains("NotificationSent"))
        for output in [events.stdout, events.stderr, work.stdout, work.stderr, listed.stdout, applied.stderr] { #expect(!output.contains(password)) }
        #expect(mails.allSatisfy { !$0.data.contains(password) })

        // A second engine sends nothing again.
        #expect(try lf(["work", "--once"]).status == 0)
        #expect(try sink.messages().count == 2)
    }
}
