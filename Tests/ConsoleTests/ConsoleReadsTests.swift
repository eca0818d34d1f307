import Console
import Domain
import Foundation
import TestSupport
import Testing

/// The API's reads beyond runs, events and health, over real HTTP against a store the built
/// binary made (catalog history, a model trained twice and promoted, a schedule that ticked, a
/// sensor that saw a file, a failed run whose notification could not be delivered): each answers
/// exactly what the CLI's `--json` prints for the same read, bad parameters are one-line JSON
/// errors, and the secret a job prints is in no answer.
@Suite(.timeLimit(.minutes(3))) struct ConsoleReadsTests {
    /// `ConsoleTests.Served`'s store (a secret `token`, jobs `hostile`, `child`, `loop`) with more
    /// applied: a team and an unreachable notifier, a failing job that prints the secret, a model
    /// with its training job, a schedule every second and a sensor; then two trainings, a
    /// promotion, a failed run, a marker and one `work --once`.
    static func served() async throws -> ConsoleTests.Served {
        let s = try ConsoleTests.Served()
        var csv = ["customer_id,tenure_months,monthly_charges,churned"]
        for i in 1 ... 200 { csv.append("\(i),\(1 + (i * 7) % 60),\(20 + (i * 13) % 80),\(i % 3 == 0 ? 1 : 0)") }
        try FileManager.default.createDirectory(atPath: s.dir.sub("data"), withIntermediateDirectories: true)
        try (csv.joined(separator: "\n") + "\n").write(toFile: s.dir.sub("data/customers.csv"), atomically: true, encoding: .utf8)
        let start = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-2))
        try """
        kind: notifier
        name: mail
        type: smtp
        host: 127.0.0.1
        port: \(try freeLocalPort())
        from: ledgerflow@example.com
        ---
        kind: team
        name: ops
        emails: [ops@example.com]
        ---
        kind: job
        name: bad
        owner: ops
        stages:
          - {name: a, type: script, command: [sh, -c, "echo leaked $TOKEN >&2; exit 4"], env: {TOKEN: {secret: token}}}
        ---
        kind: source
        name: customers
        type: csv
        path: data/customers.csv
        ---
        kind: model
        name: churn
        type: logistic_regression
        target: churned
        training_dataset: customers
        feature_columns: [tenure_months, monthly_charges]
        prediction_fields: [p, label]
        aliases: [production]
        ---
        kind: job
        name: train
        stages: [{name: train, type: train, model: churn}]
        ---
        kind: job
        name: tick
        stages: [{name: a, type: script, command: ["true"]}]
        ---
        kind: schedule
        name: every_second
        job: tick
        every: 1s
        start_at: \(start)
        catch_up: latest
        ---
        kind: sensor
        name: drop
        path: incoming
        job: tick
        """.write(toFile: s.dir.sub("more.yaml"), atomically: true, encoding: .utf8)
        let applied = try s.lf(["apply", "more.yaml", "--message", "automation"])
        #expect(applied.status == 0, "\(applied.stderr)")
        let appliedAt = Date()
        try FileManager.default.createDirectory(atPath: s.dir.sub("incoming"), withIntermediateDirectories: true)
        try "ok".write(toFile: s.dir.sub("incoming/2026-12-01.done"), atomically: true, encoding: .utf8)
        for args in [["run", "train"], ["run", "train"], ["models", "promote", "churn", "2", "--alias", "production"], ["run", "bad", "--detach"]] {
            let r = try s.lf(args)
            #expect(r.status == 0 || args == ["run", "bad", "--detach"], "\(args): \(r.stderr)")
        }
        // A schedule ticks only after it was applied: let a whole second pass, so one tick is due.
        try await Task.sleep(for: .seconds(max(0, 1.5 - Date().timeIntervalSince(appliedAt))))
        let once = try s.lf(["work", "--once"])
        #expect(once.status == 0, "\(once.stderr)")
        try await s.start()
        return s
    }

    /// The CLI's `--json` output for `args`, parsed.
    static func cli(_ s: ConsoleTests.Served, _ args: [String]) throws -> Value {
        let r = try s.lf(args + ["--json"])
        #expect(r.status == 0, "\(args): \(r.stderr)")
        return try Value(json: r.stdout)
    }

    /// The error a bad request gets: its status and its one line.
    static func error(_ s: ConsoleTests.Served, _ path: String) async throws -> (status: Int, message: String) {
        let r = try await s.get(path)
        let message = try Value(json: r.body)["error"]?.stringValue ?? ""
        #expect(!message.contains("\n"), "\(path): one line: \(message)")
        return (r.status, message)
    }

    @Test func theCatalogNowAtAMomentOneDefinitionAndItsHistoryAreWhatTheCLIPrints() async throws {
        let s = try await Self.served()
        defer { Task { await s.stop() } }
        let now = try await s.json("/api/catalog")
        #expect(now == (try Self.cli(s, ["catalog", "show"])))
        let names = now["definitions"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names.contains("hostile") && names.contains("every_second") && names.contains("churn"), "\(names)")
        // As of the first apply: only its definitions (a seq), and nothing before the log began (a time).
        let history = try await s.json("/api/catalog/job/hostile/history")
        #expect(history == (try Self.cli(s, ["catalog", "history", "job", "hostile"])))
        #expect(history["versions"]?.arrayValue?.first?["action"] == "created" && history["versions"]?.arrayValue?.first?["spec"]?["description"] == "<script>alert('d')</script>")
        // The first apply's last definition (they are appended in key order).
        let firstApply = try await s.json("/api/catalog/job/loop/history")["versions"]?.arrayValue?.first?["seq"]?.intValue ?? 0
        #expect(firstApply > 0)
        let then = try await s.json("/api/catalog?as_of=\(firstApply)")
        #expect(then == (try Self.cli(s, ["catalog", "show", "--at-seq", String(firstApply)])))
        #expect(then["definitions"]?.arrayValue?.contains { $0["name"] == "churn" } == false)
        let jobs = try await s.json("/api/catalog?kind=job&as_of=\(firstApply)")
        #expect(jobs == (try Self.cli(s, ["catalog", "show", "job", "--at-seq", String(firstApply)])))
        #expect(jobs["definitions"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["child", "hostile", "loop"])
        let before = try await s.json("/api/catalog?as_of=2001-01-01T00:00:00Z")
        #expect(before["seq"] == .int(0) && before["definitions"]?.arrayValue?.isEmpty == true)
        let schedule = try await s.json("/api/catalog/schedule/every_second")
        #expect(schedule == (try Self.cli(s, ["catalog", "show", "schedule", "every_second"])))
        #expect(schedule["spec"]?["every"] == "1s" && schedule["message"] == "automation")
        let gone = try await s.get("/api/catalog/schedule/every_second?as_of=\(firstApply)")
        #expect(gone.status == 404 && gone.body.contains("as of seq \(firstApply)"), "\(gone.body)")

        let e1 = try await Self.error(s, "/api/catalog?as_of=yesterday")
        #expect(e1.status == 400 && e1.message.contains("as_of 'yesterday' is neither a seq nor a time"), "\(e1)")
        let e2 = try await Self.error(s, "/api/catalog?as_of=99999999")
        #expect(e2.status == 400 && e2.message.hasPrefix("as_of 99999999 is past the end of the log (last seq"), "\(e2)")
        let e3 = try await Self.error(s, "/api/catalog?kind=jobz")
        #expect(e3.status == 400 && e3.message.contains("kind 'jobz' is not known"), "\(e3)")
        let e4 = try await Self.error(s, "/api/catalog/job/hostil")
        #expect(e4.status == 404 && e4.message.contains("no job named 'hostil'") && e4.message.contains("did you mean 'hostile'?"), "\(e4)")
        let e5 = try await Self.error(s, "/api/catalog/jobz/hostile/history")
        #expect(e5.status == 404 && e5.message.contains("unknown kind 'jobz'"), "\(e5)")
        let e6 = try await Self.error(s, "/api/catalog/job/hostil/history")
        #expect(e6.status == 404 && e6.message.contains("was never defined; did you mean 'hostile'?"), "\(e6)")
    }

    @Test func modelsLineageAndWhyAreWhatTheCLIPrints() async throws {
        let s = try await Self.served()
        defer { Task { await s.stop() } }
        let models = try await s.json("/api/models")
        #expect(models == (try Self.cli(s, ["models", "list"])))
        #expect(models["models"]?.arrayValue?.first?["versions"] == .int(2) && models["models"]?.arrayValue?.first?["aliases"]?["production"] == .int(2))
        let churn = try await s.json("/api/models/churn")
        #expect(churn == (try Self.cli(s, ["models", "show", "churn"])))
        #expect(churn["alias_history"]?.arrayValue?.first?["alias"] == "production")
        let diff = try await s.json("/api/models/churn/diff")
        #expect(diff == (try Self.cli(s, ["models", "diff", "churn"])))
        #expect(diff["from"] == .int(1) && diff["to"] == .int(2) && diff["changes"]?.arrayValue?.contains { $0["field"] == "run" } == true, "\(diff)")
        let byAlias = try await s.json("/api/models/churn/diff?from=production&to=v1")
        #expect(byAlias == (try Self.cli(s, ["models", "diff", "churn", "production", "v1"])))
        #expect(byAlias["from"] == .int(2) && byAlias["to"] == .int(1))

        let trainRun = churn["versions"]?.arrayValue?.last?["run"]?.stringValue ?? "?"
        let lineage = try await s.json("/api/lineage?node=model:churn&direction=upstream&depth=2")
        #expect(lineage == (try Self.cli(s, ["lineage", "model:churn", "--upstream", "--depth", "2"])))
        #expect(lineage.jsonString.contains("run:\(trainRun)"), "\(lineage.jsonString)")
        let svg = try await s.get("/api/lineage/svg?node=model:churn&direction=upstream&depth=2")
        #expect(svg.status == 200 && svg.body.contains("<svg") && svg.body.contains("churn"), "\(svg.body.prefix(300))")
        #expect((svg.headers["Content-Type"] as? String)?.hasPrefix("image/svg+xml") == true)
        let why = try await s.json("/api/runs/4/why")
        #expect(why == (try Self.cli(s, ["why", "4"])))
        #expect(why["chain"]?.arrayValue?.count ?? 0 >= 2, "a loop's item runs back to its parent: \(why)")

        let e1 = try await Self.error(s, "/api/models/chrun")
        #expect(e1.status == 404 && e1.message.contains("no model 'chrun' is registered; registered: churn"), "\(e1)")
        let e2 = try await Self.error(s, "/api/models/churn/diff?from=9")
        #expect(e2.status == 404 && e2.message.contains("no version 9"), "\(e2)")
        let e3 = try await Self.error(s, "/api/models/churn/diff?to=2")
        #expect(e3.status == 400 && e3.message.contains("to needs from"), "\(e3)")
        let e4 = try await Self.error(s, "/api/lineage?direction=upstream")
        #expect(e4.status == 400 && e4.message.hasPrefix("node is required"), "\(e4)")
        let e5 = try await Self.error(s, "/api/lineage?node=model:churn&direction=sideways")
        #expect(e5.status == 400 && e5.message.contains("direction 'sideways'"), "\(e5)")
        let e6 = try await Self.error(s, "/api/lineage?node=model:churn&depth=0")
        #expect(e6.status == 400 && e6.message.contains("depth must be a whole number from 1 to 50"), "\(e6)")
        let e7 = try await Self.error(s, "/api/lineage?node=run:99")
        #expect(e7.status == 404 && e7.message.contains("no run '99'"), "\(e7)")
        let e8 = try await Self.error(s, "/api/lineage?node=banana")
        #expect(e8.status == 400 && e8.message.contains("is not a lineage node"), "\(e8)")
        let e9 = try await Self.error(s, "/api/lineage/svg?node=model:churn&at_seq=99999999")
        #expect(e9.status == 400 && e9.message.contains("at_seq 99999999 is past the end of the log"), "\(e9)")
        let e11 = try await Self.error(s, "/api/lineage?node=model:churn&column=p")
        #expect(e11.status == 400 && e11.message.contains("column lineage is for a dataset ledgerflow wrote"), "\(e11)")
        let e12 = try await Self.error(s, "/api/lineage?node=dataset:customers&column=p&direction=downstream")
        #expect(e12.status == 400 && e12.message.contains("column traces a column upstream"), "\(e12)")
        let e13 = try await Self.error(s, "/api/lineage/svg?node=dataset:nope&column=p")
        #expect(e13.status == 404, "\(e13)")
        let e10 = try await Self.error(s, "/api/runs/99/why")
        #expect(e10.status == 404 && e10.message.contains("no run '99'"), "\(e10)")
    }

    @Test func schedulesSensorsNotificationsAndTheAuditAreWhatTheCLIPrints() async throws {
        let s = try await Self.served()
        defer { Task { await s.stop() } }
        // The next ticks move with the clock: compared without them.
        func withoutNext(_ v: Value) -> [Value] { (v.arrayValue ?? []).map { $0.setting("next", to: .null) } }
        let schedules = try await s.json("/api/schedules?next=2")
        #expect(withoutNext(schedules) == withoutNext(try Self.cli(s, ["schedules", "list", "--next", "2"])))
        #expect(schedules.arrayValue?.first?["next"]?.arrayValue?.count == 2 && schedules.arrayValue?.first?["last_tick"]?["run"] != .null, "\(schedules)")
        let ticks = try await s.json("/api/schedules/every_second/ticks")
        #expect(ticks == (try Self.cli(s, ["schedules", "ticks", "every_second"])))
        #expect(ticks.arrayValue?.contains { $0["event"] == "tick" && $0["status"] == "succeeded" } == true, "\(ticks)")
        let newest = try await s.json("/api/schedules/every_second/ticks?last=1")
        #expect(newest == (try Self.cli(s, ["schedules", "ticks", "every_second", "--last", "1"])))
        #expect(newest.arrayValue?.count == 1)
        let sensors = try await s.json("/api/sensors")
        #expect(sensors == (try Self.cli(s, ["sensors", "list"])))
        #expect(sensors.arrayValue?.first?["name"] == "drop" && sensors.arrayValue?.first?["arrivals"] == .int(1))
        let arrivals = try await s.json("/api/sensors/drop/arrivals?limit=5")
        #expect(arrivals == (try Self.cli(s, ["sensors", "arrivals", "drop", "--limit", "5"])))
        #expect(arrivals.arrayValue?.first?["file"] == "2026-12-01.done" && arrivals.arrayValue?.first?["size"] == .int(2))
        let notifications = try await s.json("/api/notifications")
        #expect(notifications == (try Self.cli(s, ["notifications"])))
        let badRun = notifications.arrayValue?.first?["run"]?.stringValue ?? "?"
        #expect(notifications.arrayValue?.first?["team"] == "ops" && notifications.arrayValue?.first?["attempts"] == .int(1), "\(notifications)")
        let ofRun = try await s.json("/api/notifications?run=\(badRun)")
        #expect(ofRun == (try Self.cli(s, ["notifications", "--run", badRun])))
        #expect(ofRun.arrayValue?.count == 1)
        #expect(try await s.json("/api/notifications?run=1").arrayValue?.isEmpty == true)

        let head = try await s.json("/api/audit/head")
        #expect(head == (try Self.cli(s, ["audit", "head"])))
        let verified = try await s.json("/api/audit/verify")
        #expect(verified == (try Self.cli(s, ["audit", "verify"])))
        #expect(verified["ok"] == .bool(true) && verified["events_checked"] == head["seq"] && verified["indexes"]?["ok"] == .bool(true))
        let anchored = try await s.json("/api/audit/verify?indexes=false&anchor=\(head["seq"]?.intValue ?? 0):\(head["hash"]?.stringValue ?? "")")
        #expect(anchored["ok"] == .bool(true) && anchored["anchor"] == head && anchored["indexes"] == nil, "\(anchored)")
        let wrong = try await s.json("/api/audit/verify?indexes=false&anchor=1:\(String(repeating: "0", count: 64))")
        #expect(wrong["ok"] == .bool(false) && wrong["chain_ok"] == .bool(false), "\(wrong)")

        let e1 = try await Self.error(s, "/api/schedules?next=101")
        #expect(e1.status == 400 && e1.message.contains("next must be a whole number from 0 to 100"), "\(e1)")
        let e2 = try await Self.error(s, "/api/schedules/every_secnod/ticks")
        #expect(e2.status == 404 && e2.message.contains("no schedule 'every_secnod'; did you mean 'every_second'?"), "\(e2)")
        let e3 = try await Self.error(s, "/api/sensors/drop/arrivals?limit=0")
        #expect(e3.status == 400 && e3.message.contains("limit must be a whole number from 1"), "\(e3)")
        let e4 = try await Self.error(s, "/api/sensors/dorp/arrivals")
        #expect(e4.status == 404 && e4.message.contains("no sensor 'dorp'; did you mean 'drop'?"), "\(e4)")
        let e5 = try await Self.error(s, "/api/notifications?run=99")
        #expect(e5.status == 404 && e5.message.contains("no run '99'"), "\(e5)")
        let e6 = try await Self.error(s, "/api/audit/verify?anchor=12")
        #expect(e6.status == 400 && e6.message.contains("anchor must be SEQ:HASH"), "\(e6)")
        let e7 = try await Self.error(s, "/api/audit/verify?indexes=maybe")
        #expect(e7.status == 400 && e7.message.contains("indexes must be true or false"), "\(e7)")
    }

    /// The secret the jobs print (to stdout and into a failure's stderr) is in no read's answer.
    @Test func theSecretIsInNoAnswer() async throws {
        let s = try await Self.served()
        defer { Task { await s.stop() } }
        #expect(try String(contentsOfFile: s.dir.sub("token.txt"), encoding: .utf8) == "s3cr3t-value")
        let runs = try await s.json("/api/runs?job=bad")
        let bad = runs["runs"]?.arrayValue?.first?["run"]?.stringValue ?? "?"
        #expect(runs["runs"]?.arrayValue?.first?["status"] == "failed", "\(runs)")
        let paths = ["/api/catalog", "/api/catalog/secret/token", "/api/catalog/secret/token/history", "/api/catalog/job/bad/history",
                     "/api/models", "/api/models/churn", "/api/models/churn/diff", "/api/lineage?node=run:1", "/api/lineage?node=run:\(bad)",
                     "/api/lineage/svg?node=run:\(bad)", "/api/runs/1/why", "/api/runs/\(bad)/why", "/api/schedules", "/api/schedules/every_second/ticks",
                     "/api/sensors", "/api/sensors/drop/arrivals", "/api/notifications", "/api/notifications?run=\(bad)", "/api/audit/head", "/api/audit/verify"]
        for path in paths {
            let r = try await s.get(path)
            #expect(r.status == 200, "\(path): \(r.status) \(r.body.prefix(300))")
            #expect(!r.body.contains("s3cr3t-value"), "\(path) shows the secret")
        }
    }
}
