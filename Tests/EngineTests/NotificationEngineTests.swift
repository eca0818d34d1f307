import Catalog
import Domain
import EventLog
import Foundation
import Runs
import TestSupport
import Testing
@testable import Engine

/// The notification reactor and its delivery worker, with real SMTP (aiosmtpd) and HTTP servers
/// on 127.0.0.1, the system curl, and a real store.
@Suite(.timeLimit(.minutes(2))) struct NotificationEngineTests {
    static func notifier(port: Int, extra: String = "") -> String {
        """
        kind: notifier
        name: mail
        type: smtp
        host: 127.0.0.1
        port: \(port)
        from: ledgerflow@example.com
        timeout: 10s
        \(extra)
        ---

        """
    }

    static let teams = """
    kind: team
    name: data-eng
    emails: [de@example.com]
    ---
    kind: team
    name: ml-ops
    emails: [ml@example.com, ml-lead@example.com]
    ---
    kind: team
    name: analysts
    emails: [an@example.com]
    notify_on: [success]
    ---

    """

    static let failingJob = """
    kind: job
    name: churn_scoring
    owner: data-eng
    stages:
      - {name: extract, type: script, command: ["true"]}
      - {name: score, type: script, after: [extract], owner: ml-ops, command: [sh, -c, "echo 'model <b>exploded</b> & died' >&2; exit 3"]}
      - {name: store, type: script, after: [score], command: ["true"]}

    """

    /// The engine's messages, collected.
    final class Reports: Sendable {
        let lines = Locked<[String]>([])
        var all: [String] { lines.withLock { $0 } }
    }

    static func engine(_ p: Project, reports: Reports, snapshotEvery: Int? = nil) -> Engine {
        var o = Engine.Options()
        o.pollInterval = 0.01
        if let snapshotEvery { o.history.snapshotEvery = snapshotEvery }
        o.log = { line in reports.lines.withLock { $0.append(line.message) } }
        return Engine(log: p.log, store: p.store, options: o)
    }

    static func outbox(_ log: EventLog) throws -> NotificationsState {
        var s = NotificationsState()
        var events: [RecordedEvent] = []
        for t in NotificationEvents.types { events += try log.read(type: t) }
        for e in events.sorted(by: { $0.seq < $1.seq }) { s.evolve(e) }
        return s
    }

    static func types(_ log: EventLog, _ type: String) throws -> Int { try log.read(type: type).count }

    @Test func aFailedRunTellsTheJobOwnerAndTheFailedStageOwnerOnceEach() throws {
        let p = try Project()
        let sink = try MailSink(folder: p.dir.sub("mailbox"))
        try p.apply(Self.notifier(port: sink.port) + Self.teams + Self.failingJob)
        let id = try RunCommands.request(p.log, job: "churn_scoring", trigger: RunTrigger(.manual), actor: "test")
        let reports = Reports()
        let state = try Self.engine(p, reports: reports).run { $0.active.isEmpty && !$0.runs.isEmpty }
        #expect(state.runs[id]?.status == .failed)
        let mails = try sink.messages()
        #expect(mails.count == 2, "\(reports.all)")
        let byTeam = Dictionary(uniqueKeysWithValues: mails.map { ($0.header("X-Ledgerflow-Team") ?? "", $0) })
        let de = try #require(byTeam["data-eng"]), ml = try #require(byTeam["ml-ops"])
        #expect(de.recipients == ["de@example.com"])
        #expect(ml.recipients == ["ml@example.com", "ml-lead@example.com"])
        for m in [de, ml] {
            #expect(m.from == "ledgerflow@example.com")
            #expect(m.header("Subject") == "[ledgerflow] churn_scoring run \(id) failed: 1 succeeded, 1 failed, 1 skipped")
            let body = m.decodedBody
            #expect(body.contains("- extract (script): succeeded, 1 attempt"))
            #expect(body.contains("- score (script): failed, 1 attempt"))
            #expect(body.contains("- store (script): skipped, 0 attempts"))
            #expect(body.contains("- stage score, attempt 1 [error], owner ml-ops: `sh -c echo 'model <b>exploded</b> & died' >&2; exit 3` exited with code 3; last stderr line: model <b>exploded</b> & died"))
            #expect(body.contains("model &lt;b&gt;exploded&lt;/b&gt; &amp; died"), "the HTML part escapes it")
            #expect(body.contains("ledgerflow status \(id)"))
            #expect(body.contains("ledgerflow logs \(id) score"))
        }
        #expect(de.decodedBody.contains("You are told as: owner of job churn_scoring."))
        #expect(ml.decodedBody.contains("You are told as: owner of stage score."))
        #expect(de.header("Message-ID") != ml.header("Message-ID"))
        #expect(try Self.types(p.log, NotificationRequested.type) == 2)
        #expect(try Self.types(p.log, NotificationSent.type) == 2)
        let sent = try Self.outbox(p.log).ordered()
        #expect(sent.allSatisfy { $0.status == .sent && $0.attempts == 1 && $0.reply?.hasPrefix("250 OK") == true })
        #expect(Set(sent.map(\.request.messageID)) == Set([de.header("Message-ID"), ml.header("Message-ID")].compactMap { $0 }))
        // Requested and sent once: another engine on the same store asks for nothing more.
        try Self.engine(p, reports: reports).run { _ in true }
        #expect(try sink.messages().count == 2)
        #expect(try Self.types(p.log, NotificationRequested.type) == 2)
        #expect(try p.log.checkpoint(Engine.notificationsCheckpoint) > 0)
    }

    @Test func aSucceededRunTellsTheTeamsThatAskForSuccessOnly() throws {
        let p = try Project()
        let sink = try MailSink(folder: p.dir.sub("mailbox"))
        try p.apply(Self.notifier(port: sink.port) + Self.teams + """
        kind: job
        name: report
        owner: analysts
        stages:
          - {name: a, type: script, command: ["true"]}
        ---
        kind: job
        name: quiet
        owner: data-eng
        stages:
          - {name: a, type: script, command: ["true"]}
        """)
        let ok = try RunCommands.request(p.log, job: "report", trigger: RunTrigger(.manual), actor: "test")
        _ = try RunCommands.request(p.log, job: "quiet", trigger: RunTrigger(.manual), actor: "test")
        try Self.engine(p, reports: Reports()).run { $0.active.isEmpty && !$0.runs.isEmpty }
        let mails = try sink.messages()
        #expect(mails.count == 1)
        #expect(mails.first?.recipients == ["an@example.com"])
        #expect(mails.first?.header("Subject") == "[ledgerflow] report run \(ok) succeeded: 1 succeeded")
        #expect(mails.first?.decodedBody.contains("ledgerflow logs \(ok)\r\n") == true)
    }

    @Test func anAlertReachesItsTeamByMailAndWebhookWithASecretHeader() throws {
        let p = try Project()
        let sink = try MailSink(folder: p.dir.sub("mailbox"))
        let hooks = try WebhookSink(folder: p.dir.sub("hooks"))
        let token = "hook-token-\(UUID().uuidString)"
        try token.write(toFile: p.dir.sub("hook.token"), atomically: true, encoding: .utf8)
        try p.apply(Self.notifier(port: sink.port) + """
        kind: secret
        name: hook_token
        from_file: hook.token
        ---
        kind: notifier
        name: chat
        type: webhook
        url: http://127.0.0.1:\(hooks.port)/alerts
        headers: {X-Token: {secret: hook_token}}
        ---
        kind: team
        name: ml-ops
        emails: [ml@example.com]
        webhook: chat
        """)
        // What the automation reactor records when a monitor crosses (see MLEngineTests for the crossing itself).
        let alert = AlertRaised(team: "ml-ops", rule: RuleRef(kind: "monitor", name: "accuracy_floor", version: 1), crossing: 1,
                                message: "monitor accuracy_floor: churn v2 accuracy = 0.61, below 0.7")
        let seq = try p.log.append([alert.event()], to: MLEvents.stream(rule: "monitor", "accuracy_floor"), actor: "test").firstSeq ?? 0
        try Self.engine(p, reports: Reports()).run { _ in true }
        let mail = try #require(try sink.messages().first)
        #expect(try sink.messages().count == 1)
        #expect(mail.recipients == ["ml@example.com"])
        #expect(mail.header("Subject") == "[ledgerflow] alert for ml-ops: monitor accuracy_floor: churn v2 accuracy = 0.61, below 0.7")
        #expect(mail.decodedBody.contains("Alert for team ml-ops from monitor accuracy_floor (version 1):"))
        let hook = try #require(try hooks.requests().first)
        #expect(hook.path == "/alerts" && hook.headers["x-token"] == token)
        let body = try Value(json: hook.body)
        #expect(body["key"] == .string("alert/\(seq)") && body["team"] == .string("ml-ops"))
        let json = try p.log.read().map { $0.envelopeValue.jsonString }.joined()
        #expect(!json.contains(token), "the header's secret value is not in the log")
    }

    @Test func anSMTPOutageDelaysMailAndBlocksNoRunThenItIsDeliveredOnceAfterARestart() throws {
        let p = try Project()
        let port = try freeLocalPort()
        try p.apply(Self.notifier(port: port, extra: "backoff: 1s\nmax_attempts: 5") + Self.teams + Self.failingJob + """
        ---
        kind: job
        name: other
        stages:
          - {name: a, type: script, command: ["true"]}
        """)
        let first = try RunCommands.request(p.log, job: "churn_scoring", trigger: RunTrigger(.manual), actor: "test")
        let reports = Reports()
        var state = try Self.engine(p, reports: reports).run { $0.active.isEmpty && !$0.runs.isEmpty }
        #expect(state.runs[first]?.status == .failed)
        var outbox = try Self.outbox(p.log)
        #expect(outbox.entries.count == 2)
        #expect(outbox.entries.values.allSatisfy { $0.status == .failed && $0.attempts == 1 && $0.nextAttemptAt != nil })
        #expect(outbox.entries.values.allSatisfy { $0.lastError?.hasPrefix("curl: (7)") == true }, "\(outbox.entries.values.map(\.lastError))")
        // Meanwhile runs go on.
        let second = try RunCommands.request(p.log, job: "other", trigger: RunTrigger(.manual), actor: "test")
        state = try Self.engine(p, reports: reports).run { $0.runs[second]?.status.isFinished == true }
        #expect(state.runs[second]?.status == .succeeded)
        // The server comes up; after the backoff a new engine (a restart) finds the pending mail and sends it once.
        let sink = try MailSink(folder: p.dir.sub("mailbox"), port: port)
        let due = try #require(outbox.entries.values.compactMap(\.nextAttemptAt).max())
        try waitFor("the retry time", timeout: 10) { Date().timeIntervalSince1970 * 1e6 > Double(due) }
        try Self.engine(p, reports: reports).run { _ in true }
        #expect(try sink.messages().count == 2, "\(reports.all)")
        outbox = try Self.outbox(p.log)
        #expect(outbox.entries.values.allSatisfy { $0.status == .sent && $0.attempts == 2 })
        try Self.engine(p, reports: reports).run { _ in true }
        #expect(try sink.messages().count == 2)
        #expect(try Self.types(p.log, NotificationSent.type) == 2)
    }

    /// With the engine's snapshot of the streams written at every idle moment, a restart loads only
    /// the pending messages: the one the snapshot lists is delivered once, and the messages settled
    /// before it (no longer in memory) are never requested again.
    @Test func aRestartFromTheStreamsSnapshotDeliversThePendingMessageOnceAndRequestsNothingTwice() throws {
        let p = try Project()
        let port = try freeLocalPort()
        try p.apply(Self.notifier(port: port, extra: "backoff: 1s\nmax_attempts: 5") + Self.teams + """
        kind: job
        name: report
        owner: analysts
        stages:
          - {name: a, type: script, command: ["true"]}
        """)
        let reports = Reports()
        // 1. The server is down: the first run's message fails and waits for its retry.
        let first = try RunCommands.request(p.log, job: "report", trigger: RunTrigger(.manual), actor: "test")
        try Self.engine(p, reports: reports, snapshotEvery: 1).run { $0.runs[first]?.status.isFinished == true }
        let (snapshot, rejected) = AutomationFolds.streamsSnapshot(p.log, atOrBefore: .max)
        #expect(rejected == nil)
        let pendingStream = try #require(try Self.outbox(p.log).entries.values.first { $0.request.run == first }?.stream)
        #expect(snapshot?.pendingNotifications == [pendingStream], "\(reports.all)")
        // 2. The server comes up: a restart delivers it once (after its backoff).
        let sink = try MailSink(folder: p.dir.sub("mailbox"), port: port)
        let due = try #require(try Self.outbox(p.log).entries[pendingStream]?.nextAttemptAt)
        try waitFor("the retry time", timeout: 10) { Date().timeIntervalSince1970 * 1e6 > Double(due) }
        try Self.engine(p, reports: reports, snapshotEvery: 1).run { _ in true }
        #expect(try sink.messages().count == 1)
        // 3. A second run; its message is sent, and the snapshot after it lists nothing pending.
        let second = try RunCommands.request(p.log, job: "report", trigger: RunTrigger(.manual), actor: "test")
        try Self.engine(p, reports: reports, snapshotEvery: 1).run { $0.runs[second]?.status.isFinished == true }
        try waitFor("the second message", timeout: 10) { try sink.messages().count == 2 }
        try Self.engine(p, reports: reports, snapshotEvery: 1).run { _ in true }
        #expect(AutomationFolds.streamsSnapshot(p.log, atOrBefore: .max).snapshot?.pendingNotifications == [])
        // 4. Restarts from that snapshot hold neither message, and request neither again.
        let requested = try Self.types(p.log, NotificationRequested.type)
        for _ in 0 ..< 2 { try Self.engine(p, reports: reports, snapshotEvery: 1).run { _ in true } }
        #expect(try Self.types(p.log, NotificationRequested.type) == requested)
        #expect(try Self.types(p.log, NotificationSent.type) == 2)
        #expect(try sink.messages().count == 2)
        let loaded = AutomationFolds.streamsSnapshot(p.log, atOrBefore: .max).snapshot
        #expect(try AutomationFolds.pendingOutbox(p.log, through: try p.log.lastSeq(), from: loaded).state.entries.isEmpty)
    }

    @Test func aMessageIsGivenUpAfterMaxAttempts() throws {
        let p = try Project()
        let port = try freeLocalPort()
        try p.apply(Self.notifier(port: port, extra: "backoff: 200ms\nmax_attempts: 2") + """
        kind: team
        name: data-eng
        emails: [de@example.com]
        ---
        kind: job
        name: broken
        owner: data-eng
        stages:
          - {name: a, type: script, command: ["false"]}
        """)
        _ = try RunCommands.request(p.log, job: "broken", trigger: RunTrigger(.manual), actor: "test")
        let reports = Reports()
        try Self.engine(p, reports: reports).run { $0.active.isEmpty && !$0.runs.isEmpty }
        try waitFor("the second attempt to be due", timeout: 10) {
            let next = try Self.outbox(p.log).entries.values.first?.nextAttemptAt ?? .max
            return Date().timeIntervalSince1970 * 1e6 > Double(next)
        }
        try Self.engine(p, reports: reports).run { _ in true }
        let entry = try #require(try Self.outbox(p.log).entries.values.first)
        #expect(entry.status == .givenUp && entry.attempts == 2)
        let last = try #require(try p.log.read(type: NotificationFailed.type).last).decode(NotificationFailed.self)
        #expect(last.givenUp && last.nextAttemptAt == nil && last.attempt == 2)
        #expect(reports.all.contains { $0.contains("given up after 2 attempts") }, "\(reports.all)")
        // Nothing more is attempted.
        try Self.engine(p, reports: reports).run { _ in true }
        #expect(try Self.types(p.log, NotificationFailed.type) == 2)
    }

    @Test func startTLSAndAuthWithAPasswordFromASecretThatIsNeverWrittenDown() throws {
        let p = try Project()
        let (cert, key) = try selfSignedCertificate(in: p.root)
        let password = "smtp-pass-\(UUID().uuidString)"
        let variable = "LEDGERFLOW_TEST_SMTP_PW_\(UUID().uuidString.prefix(8))"
        setenv(variable, password, 1)
        defer { unsetenv(variable) }
        let sink = try MailSink(folder: p.dir.sub("mailbox"), security: "starttls", cert: cert, key: key, auth: ("mailer", password))
        try p.apply("""
        kind: secret
        name: smtp_password
        from_env: \(variable)
        ---

        """ + Self.notifier(port: sink.port, extra: "security: starttls\nusername: mailer\npassword: {secret: smtp_password}\nca_file: cert.pem")
            + Self.teams + Self.failingJob)
        _ = try RunCommands.request(p.log, job: "churn_scoring", trigger: RunTrigger(.manual), actor: "test")
        let reports = Reports()
        try Self.engine(p, reports: reports).run { $0.active.isEmpty && !$0.runs.isEmpty }
        let mails = try sink.messages()
        #expect(mails.count == 2, "\(reports.all)")
        #expect(mails.allSatisfy { $0.login == "mailer" && !$0.data.contains(password) })
        let json = try p.log.read().map { $0.envelopeValue.jsonString }.joined()
        #expect(!json.contains(password))
        #expect(!reports.all.joined().contains(password))
    }

    @Test func anEngineStoppedBetweenTheRequestAndTheDeliveryLeavesItToTheNextOneWhichSendsItOnce() throws {
        let p = try Project()
        let sink = try MailSink(folder: p.dir.sub("mailbox"))
        try p.apply(Self.notifier(port: sink.port) + """
        kind: team
        name: data-eng
        emails: [de@example.com]
        ---
        kind: job
        name: broken
        owner: data-eng
        stages:
          - {name: a, type: script, command: ["false"]}
        """)
        _ = try RunCommands.request(p.log, job: "broken", trigger: RunTrigger(.manual), actor: "test")
        // The first engine is asked to stop as soon as it decides the request (it commits it, and
        // a stopping engine starts no delivery): as if it died right after the commit.
        let first = Locked<Engine?>(nil)
        var o = Engine.Options()
        o.pollInterval = 0.01
        o.log = { line in if line.message.hasPrefix("notification requested") { first.withLock { $0?.stop() } } }
        let engine = Engine(log: p.log, store: p.store, options: o)
        first.withLock { $0 = engine }
        try engine.run { _ in false }
        #expect(try Self.types(p.log, NotificationRequested.type) == 1)
        #expect(try Self.types(p.log, NotificationSent.type) + Self.types(p.log, NotificationFailed.type) == 0)
        #expect(try sink.messages().isEmpty)
        // The next engine finds it pending and sends it, once.
        try Self.engine(p, reports: Reports()).run { _ in true }
        #expect(try sink.messages().count == 1)
        try Self.engine(p, reports: Reports()).run { _ in true }
        #expect(try sink.messages().count == 1)
        let entry = try #require(try Self.outbox(p.log).entries.values.first)
        #expect(entry.status == .sent && entry.attempts == 1)
    }
}
