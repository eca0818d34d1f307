import Catalog
import Domain
import Testing
@testable import Runs

/// Notifications, pure: who is told about a run or an alert, what the message says, and the
/// outbox's decisions — given/when/then, no storage.
@Suite struct NotificationTests {
    // MARK: given

    static let job = try! JobSpec(.object([
        ("owner", "data-eng"),
        ("stages", .array([
            .object([("name", "extract"), ("type", "script"), ("command", ["true"])]),
            .object([("name", "score"), ("type", "script"), ("command", ["true"]), ("after", ["extract"]), ("owner", "ml-ops")]),
            .object([("name", "store"), ("type", "script"), ("command", ["true"]), ("after", ["score"])]),
            .object([("name", "side"), ("type", "script"), ("command", ["true"])]),
        ])),
    ]))

    static let mail = NotifierSpec(target: .smtp(.init(host: "127.0.0.1", from: "ledgerflow@example.com")))
    static let hook = NotifierSpec(target: .webhook(.init(url: "http://127.0.0.1:9/hook")))

    static func directory(_ teams: [String: TeamSpec], notifiers: [String: NotifierSpec] = ["mail": mail]) -> NotificationRouting.Directory {
        NotificationRouting.Directory(teams: teams, notifiers: notifiers)
    }

    static let teams: [String: TeamSpec] = [
        "data-eng": TeamSpec(emails: ["de@example.com", "oncall@example.com"]),
        "ml-ops": TeamSpec(emails: ["ml@example.com"]),
        "analysts": TeamSpec(emails: ["an@example.com"], notifyOn: [.success]),
    ]

    /// A run of `job` in which `score` fails twice (its last error holding HTML), `store` is
    /// skipped, `extract` and `side` succeed (extract writing a dataset).
    static func failedRun() throws -> (Given, String) {
        var g = Given()
        let r = try g.requested(["extract", "score<-extract", "store<-score", "side"], retry: ["score": 2], job: "churn_scoring")
        g.schedule(r)
        try g.start(r, "extract")
        g.record([DatasetVersionWritten(dataset: "customers", run: r, stage: "extract", attempt: 1, location: "out/customers", format: "csv",
                                        mode: "replace", rows: 120, schema: [], contentHash: "h",
                                        partitions: [WrittenPartition(values: .object([("country", "NL")]), location: "out/customers/country=NL", rows: 120)]).event()],
                 stream: RunEvents.stream(dataset: "customers"))
        try g.complete(r, "extract", .succeeded(outputs: .object([("metrics", .object([("rows_in", 120)]))]),
                                                datasets: [DatasetRef(dataset: "customers", version: 1)],
                                                inputs: [StageInput(dataset: "raw", version: nil, location: "in/raw.csv", format: "csv", rows: 130, schema: [], contentHash: nil)]))
        try g.start(r, "side"); try g.complete(r, "side", ok)
        g.schedule(r)
        try g.start(r, "score"); try g.complete(r, "score", .failed(reason: "error", error: "first try"))
        g.now += 10_000_000
        g.schedule(r)
        try g.start(r, "score"); try g.complete(r, "score", .failed(reason: "error", error: "bad <b>row</b> & \"quote\""))
        g.schedule(r)
        #expect(g.state.runs[r]?.status == .failed)
        return (g, r)
    }

    static func report(_ g: Given, _ r: String) -> RunReport {
        let run = g.state.runs[r]!
        let extract = g.events.first { $0.type == StageSucceeded.type }.flatMap { try? $0.decode(StageSucceeded.self) }
        let written = g.events.first { $0.type == DatasetVersionWritten.type }!
        return RunReport(run: run, jobOwner: "data-eng", stageOwners: ["score": "ml-ops"], inputs: ["extract": extract?.inputs ?? []],
                         partitions: [written.seq: (try? written.decode(DatasetVersionWritten.self))?.partitions ?? []])
    }

    // MARK: routing

    @Test func aFailedRunReachesTheJobOwnerAndTheOwnerOfTheFailedStage() throws {
        let (g, r) = try Self.failedRun()
        let audience = NotificationRouting.audience(run: g.state.runs[r]!, job: Self.job, teams: Self.teams)
        #expect(audience == [.init(team: "data-eng", reasons: ["owner of job churn_scoring"]),
                             .init(team: "ml-ops", reasons: ["owner of stage score"])])
    }

    @Test func aSucceededRunReachesOnlyTeamsThatAskForSuccess() throws {
        var g = Given()
        let r = try g.requested(["a"], job: "churn_scoring")
        g.schedule(r); try g.start(r, "a"); try g.complete(r, "a", ok); g.schedule(r)
        let run = try #require(g.state.runs[r])
        #expect(run.status == .succeeded)
        // data-eng is told about failures only (the default).
        #expect(NotificationRouting.audience(run: run, job: Self.job, teams: Self.teams).isEmpty)
        var job = Self.job
        job.owner = "analysts"
        #expect(NotificationRouting.audience(run: run, job: job, teams: Self.teams) == [.init(team: "analysts", reasons: ["owner of job churn_scoring"])])
    }

    @Test func aTeamOwningTheJobAndTheFailedStageGetsOneMessageWithBothReasons() throws {
        let (g, r) = try Self.failedRun()
        var job = Self.job
        job.stages[1].common.owner = "data-eng"
        let audience = NotificationRouting.audience(run: g.state.runs[r]!, job: job, teams: Self.teams)
        #expect(audience == [.init(team: "data-eng", reasons: ["owner of job churn_scoring", "owner of stage score"])])
        let (requests, _) = NotificationDecider.runEnded(Self.report(g, r), job: job, directory: Self.directory(Self.teams), cause: 99, store: "s1",
                                                         requested: { _ in false })
        #expect(requests.count == 1)
    }

    /// A run's own owner (a for_each item's `item_owner`) is told when it fails, and only then.
    @Test func aRunsOwnOwnerHearsOfItsFailureOnly() throws {
        let (g, r) = try Self.failedRun()
        var run = try #require(g.state.runs[r])
        run.owner = "analysts"
        run.trigger = .parent(run: "7", stage: "modules", attempt: 1, item: 2)
        let audience = NotificationRouting.audience(run: run, job: Self.job, teams: Self.teams)
        #expect(audience.contains(.init(team: "analysts", reasons: ["owner of this run (item 2 of stage modules in run 7)"])), "\(audience)")
        var h = Given()
        let fine = try h.requested(["a"], job: "churn_scoring")
        h.schedule(fine); try h.start(fine, "a"); try h.complete(fine, "a", ok); h.schedule(fine)
        var succeeded = try #require(h.state.runs[fine])
        succeeded.owner = "ml-ops"
        #expect(NotificationRouting.audience(run: succeeded, job: Self.job, teams: Self.teams).isEmpty)
        run.owner = "no-such-team"
        #expect(!NotificationRouting.audience(run: run, job: Self.job, teams: Self.teams).contains { $0.team == "no-such-team" })
    }

    @Test func aTeamIsReachedThroughItsNotifierOrTheOnlySmtpOneAndItsWebhook() {
        let plain = TeamSpec(emails: ["a@example.com"])
        var out = NotificationRouting.deliveries(team: "t", plain, notifiers: ["mail": Self.mail, "hook": Self.hook])
        #expect(out.deliveries == [.init(channel: .email, notifier: "mail", recipients: ["a@example.com"])])
        #expect(out.problems.isEmpty)
        let both = TeamSpec(emails: ["a@example.com"], notifier: "mail", webhook: "hook")
        out = NotificationRouting.deliveries(team: "t", both, notifiers: ["mail": Self.mail, "other": Self.mail, "hook": Self.hook])
        #expect(out.deliveries.map(\.channel) == [.email, .webhook])
        out = NotificationRouting.deliveries(team: "t", plain, notifiers: ["mail": Self.mail, "other": Self.mail])
        #expect(out.deliveries.isEmpty)
        #expect(out.problems == ["team t names no notifier and 2 smtp notifiers are defined; no e-mail requested"])
        out = NotificationRouting.deliveries(team: "t", plain, notifiers: [:])
        #expect(out.problems == ["team t has no smtp notifier (none is defined); no e-mail requested"])
    }

    // MARK: the reactor's decisions

    @Test func aRunEndAsksForOneMessagePerTeamAndChannelOnce() throws {
        let (g, r) = try Self.failedRun()
        var teams = Self.teams
        teams["ml-ops"]?.webhook = "hook"
        let dir = Self.directory(teams, notifiers: ["mail": Self.mail, "hook": Self.hook])
        let (requests, problems) = NotificationDecider.runEnded(Self.report(g, r), job: Self.job, directory: dir, cause: 77, store: "0123456789abcdef",
                                                                requested: { _ in false })
        #expect(problems.isEmpty)
        #expect(requests.map(\.stream) == ["notification/data-eng/email/run/\(r)/failed", "notification/ml-ops/email/run/\(r)/failed",
                                           "notification/ml-ops/webhook/run/\(r)/failed"])
        let first = try #require(requests.first?.event)
        #expect(first.key == "run/\(r)/failed" && first.team == "data-eng" && first.notifier == "mail" && first.cause == 77)
        #expect(first.recipients == ["de@example.com", "oncall@example.com"])
        #expect(first.messageID == "<run.\(r).failed.data-eng.email.0123456789ab@ledgerflow>")
        #expect(Set(requests.map(\.event.messageID)).count == 3)
        // Decided again on a state that holds them: nothing more.
        let done = Set(requests.map(\.stream))
        #expect(NotificationDecider.runEnded(Self.report(g, r), job: Self.job, directory: dir, cause: 77, store: "0123456789abcdef",
                                             requested: { done.contains($0) }).requests.isEmpty)
        // The same inputs give the same bytes.
        let again = NotificationDecider.runEnded(Self.report(g, r), job: Self.job, directory: dir, cause: 77, store: "0123456789abcdef", requested: { _ in false })
        #expect(again.requests.map { $0.event.payload.canonicalBytes } == requests.map { $0.event.payload.canonicalBytes })
    }

    @Test func anAlertGoesToItsTeam() {
        let alert = AlertRaised(team: "ml-ops", rule: RuleRef(kind: "monitor", name: "acc_floor", version: 2), crossing: 40,
                                message: "monitor acc_floor: churn v3 accuracy = 0.61, below 0.7")
        let (requests, problems) = NotificationDecider.alertRaised(alert, seq: 41, directory: Self.directory(Self.teams), store: "s", requested: { _ in false })
        #expect(problems.isEmpty)
        let r = requests.first
        #expect(requests.count == 1)
        #expect(r?.stream == "notification/ml-ops/email/alert/41")
        #expect(r?.event.subject == "[ledgerflow] alert for ml-ops: monitor acc_floor: churn v3 accuracy = 0.61, below 0.7")
        #expect(r?.event.text.contains("from monitor acc_floor (version 2)") == true)
        #expect(r?.event.reasons == ["alerted by monitor acc_floor"])
        let unknown = AlertRaised(team: "nobody", rule: alert.rule, crossing: 40, message: "m")
        #expect(NotificationDecider.alertRaised(unknown, seq: 41, directory: Self.directory(Self.teams), store: "s", requested: { _ in false }).requests.isEmpty)
    }

    // MARK: rendering

    @Test func theMessageSaysWhatHappenedToEveryStageAndWhereToLook() throws {
        let (g, r) = try Self.failedRun()
        let m = NotificationMessage.run(Self.report(g, r), reasons: ["owner of stage score"])
        #expect(m.subject == "[ledgerflow] churn_scoring run \(r) failed: 2 succeeded, 1 failed, 1 skipped")
        let t = m.text
        #expect(t.hasPrefix("Run \(r) of job churn_scoring failed after "))
        #expect(t.contains("You are told as: owner of stage score."))
        #expect(t.contains("- extract (script): succeeded, 1 attempt,"))
        #expect(t.contains("read 130 rows from raw"))
        #expect(t.contains("wrote customers v1 (120 rows), partitions country=NL"))
        #expect(t.contains("metrics rows_in=120"))
        #expect(t.contains("- score (script): failed, 2 attempts"))
        #expect(t.contains("owner ml-ops"))
        #expect(t.contains("- store (script): skipped, 0 attempts"))
        #expect(t.contains("- stage score, attempt 1 [error], owner ml-ops: first try"))
        #expect(t.contains("- stage score, attempt 2 [error], owner ml-ops: bad <b>row</b> & \"quote\""))
        #expect(t.contains("  ledgerflow status \(r)\n  ledgerflow logs \(r) score\n"))
        let h = m.html
        #expect(h.contains("bad &lt;b&gt;row&lt;/b&gt; &amp; &quot;quote&quot;"))
        #expect(!h.contains("<b>row</b>"))
        #expect(h.contains("<td>score</td><td>script</td><td>failed</td><td>2</td>"))
        #expect(h.contains("ledgerflow logs \(r) score"))
    }

    @Test func htmlEscapingCoversEveryMarkupCharacter() {
        #expect(NotificationMessage.escape("<a href='x'>\"&\"</a>") == "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;")
    }

    // MARK: the outbox

    static func requested(_ stream: String = "notification/t/email/run/1/failed", at micros: Int64 = 1_000) -> RecordedEvent {
        RecordedEvent(seq: 10, recordedAtMicros: micros, stream: stream, streamVersion: 1, type: NotificationRequested.type,
                      payload: NotificationRequested.example.payload)
    }

    static func recorded(_ e: any DomainEvent, seq: UInt64, version: UInt64, at micros: Int64) -> RecordedEvent {
        RecordedEvent(seq: seq, recordedAtMicros: micros, stream: "notification/t/email/run/1/failed", streamVersion: version, type: type(of: e).type,
                      payload: e.payload)
    }

    @Test func aRequestIsDueAtOnceAFailureAtItsRetryTimeAndASentOneNever() throws {
        var s = NotificationsState()
        s.evolve(Self.requested())
        #expect(s.due(now: 1_000).map(\.stream) == ["notification/t/email/run/1/failed"])
        let entry = try #require(s.entries.values.first)
        #expect(NotificationOutbox.nextAttempt(entry) == 1 && entry.version == 1)

        let policy = NotificationOutbox.Policy(maxAttempts: 3, backoff: 30, maxBackoff: 3600)
        let f1 = NotificationOutbox.failed(entry, attempt: 1, error: "refused", policy: policy, nowMicros: 2_000)
        #expect(f1 == NotificationFailed(attempt: 1, messageID: entry.request.messageID, error: "refused", givenUp: false, nextAttemptAt: 30_002_000))
        s.evolve(Self.recorded(f1, seq: 11, version: 2, at: 2_000))
        #expect(s.due(now: 30_001_999).isEmpty)
        #expect(s.nextDue(after: 2_000) == 30_002_000)
        #expect(s.due(now: 30_002_000).count == 1)
        #expect(s.entries.values.first?.status == .failed && s.entries.values.first?.attempts == 1)

        let sent = NotificationOutbox.sent(try #require(s.entries.values.first), attempt: 2, reply: "250 OK")
        s.evolve(Self.recorded(sent, seq: 12, version: 3, at: 40_000_000))
        #expect(s.due(now: .max).isEmpty && s.nextDue(after: 0) == nil)
        #expect(s.entries.values.first?.status == .sent && s.entries.values.first?.reply == "250 OK" && s.entries.values.first?.version == 3)
    }

    @Test func theLastAttemptAllowedGivesUp() throws {
        var s = NotificationsState()
        s.evolve(Self.requested())
        let policy = NotificationOutbox.Policy(maxAttempts: 2, backoff: 1, maxBackoff: 10)
        let f1 = NotificationOutbox.failed(try #require(s.entries.values.first), attempt: 1, error: "x", policy: policy, nowMicros: 0)
        s.evolve(Self.recorded(f1, seq: 11, version: 2, at: 0))
        let f2 = NotificationOutbox.failed(try #require(s.entries.values.first), attempt: 2, error: "y", policy: policy, nowMicros: 5)
        #expect(f2.givenUp && f2.nextAttemptAt == nil)
        s.evolve(Self.recorded(f2, seq: 12, version: 3, at: 5))
        #expect(s.entries.values.first?.status == .givenUp && s.entries.values.first?.lastError == "y")
        #expect(s.due(now: .max).isEmpty)
    }

    @Test func backoffDoublesUpToItsCap() {
        let p = NotificationOutbox.Policy(maxAttempts: 10, backoff: 30, maxBackoff: 3600)
        #expect((1 ... 9).map { p.wait(afterAttempt: $0) } == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600])
        #expect(NotificationOutbox.Policy(nil) == NotificationOutbox.Policy(maxAttempts: 8, backoff: 30, maxBackoff: 3600))
    }
}
