import Domain
import Foundation
import Testing
import TestSupport

/// Exactly once under kills (issue 17, item 8): `ledgerflow work` is killed with SIGKILL at random
/// moments (seeded: the seed is printed, `LEDGERFLOW_TEST_SEED` replays it) 30 times while a
/// schedule fires every second with `catch_up: all`, markers keep arriving in a sensor's folder and
/// every run fails to an owner team whose notifier is a live SMTP sink on 127.0.0.1. Then one
/// `work --once` finishes what is due, and the log and the mailbox must say:
///
/// - every nominal tick (1 s apart) from the first to the last is recorded exactly once (no gaps, no
///   doubles; with `overlap: allow` and `max_catch_up` far above the ticks, none is skipped), each
///   tick with one run whose `RunRequested` names it, and no other scheduled run;
/// - every marker written has exactly one `FileArrived` and exactly one run naming it;
/// - every run ended exactly once (failed), and each has exactly one `NotificationRequested` for
///   (team, run, failed), with exactly one `NotificationSent`;
/// - the sink received every requested Message-ID at least once, and nothing else; a copy beyond
///   the first comes only from an engine killed while it had that delivery in flight (after the
///   server accepted, before `NotificationSent` was committed; or its curl, which outlives it,
///   finished later), so no message has more copies than engines that lived between its request
///   and its record, and — an engine delivers one message per notifier at a time — the copies
///   beyond the first are at most the kills (one notifier here);
/// - `audit verify` passes.
///
/// `make chaos` (tools/chaos.sh automation) runs the same with 200 kills.
@Suite(.serialized, .timeLimit(.minutes(5))) struct AutomationChaosTests {
    /// How many deliveries of one notifier an engine runs at once: the most copies one kill can add.
    static let deliveriesAtOnce = 1

    static func defs(port: Int) -> String {
        """
        kind: notifier
        name: mail
        type: smtp
        host: 127.0.0.1
        port: \(port)
        from: ledgerflow@example.com
        timeout: 10s
        backoff: 1s
        max_backoff: 2s
        ---
        kind: team
        name: ops
        emails: [ops@example.com]
        ---
        kind: job
        name: pulse
        owner: ops
        stages: [{name: beat, type: script, command: [sh, -c, "sleep 0.3; exit 1"]}]
        ---
        kind: job
        name: load
        owner: ops
        stages: [{name: take, type: script, command: [sh, -c, "sleep 0.2; exit 3"]}]
        ---
        kind: schedule
        name: every_second
        job: pulse
        every: 1s
        catch_up: all
        max_catch_up: 10000
        overlap: allow
        ---
        kind: sensor
        name: drop
        path: incoming
        pattern: "*.done"
        poll_interval: 100ms
        job: load
        """
    }

    @Test func thirtyKillsLeaveEveryTickMarkerAndNotificationExactlyOnce() throws {
        let began = Date()
        let kills = 30
        var rng = SplitMix64.forRun()
        print("AutomationChaosTests: \(kills) kills, \(rng)")

        let dir = TemporaryDirectory()
        let root = dir.path
        let store = dir.sub(".ledgerflow")
        let sink = try MailSink(folder: dir.sub("mailbox"))
        defer { sink.stop() }
        func lf(_ args: [String], timeout: Double = 120) throws -> RunResult {
            try ledgerflow(args + ["--store", store], cwd: root, timeout: timeout)
        }
        try Self.defs(port: sink.port).write(toFile: dir.sub("defs.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir.sub("incoming"), withIntermediateDirectories: true)
        #expect(try lf(["init"]).status == 0)
        let applied = try lf(["apply", "defs.yaml"])
        try #require(applied.status == 0, "\(applied.stderr)")

        // Markers arrive every 200–400 ms for the whole kill loop, each written whole under a hidden
        // name and renamed into place (a listing never sees it half written).
        let written = Locked<[String]>([])
        let writing = Locked(true)
        let writerDone = DispatchSemaphore(value: 0)
        let incoming = dir.sub("incoming")
        let writerSeed = rng.next()
        let writer = Thread {
            var r = SplitMix64(seed: writerSeed)
            var i = 0
            while writing.withLock({ $0 }) {
                Thread.sleep(forTimeInterval: Double.random(in: 0.2 ... 0.4, using: &r))
                i += 1
                let name = "m\(i).done"
                let tmp = (incoming as NSString).appendingPathComponent(".m\(i).tmp")
                let ok = FileManager.default.createFile(atPath: tmp, contents: Data("marker \(i)\n".utf8))
                    && rename(tmp, (incoming as NSString).appendingPathComponent(name)) == 0
                if ok { written.withLock { $0.append(name) } }
            }
            writerDone.signal()
        }
        writer.start()
        defer { writing.withLock { $0 = false } }

        // The kill loop: an engine, a random moment (before it has opened the store, mid-step,
        // mid-delivery…), SIGKILL.
        var killed = 0
        // Each engine's life (µs, wall clock): from before its start to after its end.
        var lives: [ClosedRange<Int64>] = []
        func nowMicros() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }
        var exitedOnTheirOwn: [String] = []
        for k in 0 ..< kills {
            let born = nowMicros()
            let work = try BackgroundProcess(try binary("ledgerflow"), ["work", "--store", store], cwd: root)
            Thread.sleep(forTimeInterval: Double.random(in: 0.05 ... 1.5, using: &rng))
            work.signal(SIGKILL)
            let r = try work.finish(timeout: 30)
            lives.append(born ... nowMicros())
            if r.signalled && r.status == SIGKILL { killed += 1 } else { exitedOnTheirOwn.append("engine \(k + 1) exited \(r.status): \(r.stderr.suffix(300))") }
        }
        writing.withLock { $0 = false }
        writerDone.wait()
        let markers = written.withLock { $0 }
        #expect(exitedOnTheirOwn.isEmpty, "every engine was running when it was killed: \(exitedOnTheirOwn); \(rng)")

        // One engine finishes what is due: the ticks due at its start, every marker, every run,
        // every notification.
        let onceStarted = nowMicros()
        let once = try lf(["work", "--once"], timeout: 180)
        lives.append(onceStarted ... nowMicros())
        #expect(once.status == 0, "\(once.stderr.suffix(2000)); \(rng)")

        let listed = try lf(["events", "--json"], timeout: 120)
        try #require(listed.status == 0, "\(listed.stderr)")
        let events = try listed.lines.map { try Value(json: $0) }
        func payloads(_ type: String) -> [(stream: String, payload: Value)] {
            events.filter { $0["type"]?.stringValue == type }.map { ($0["stream"]?.stringValue ?? "", $0["payload"] ?? .null) }
        }
        func micros(_ v: Value?) -> Int64? { v?.stringValue.flatMap(Timestamp.parse) }

        // --- The schedule: every nominal tick once, each tick one run. An `every` schedule's ticks
        // are the moment of its apply plus whole seconds (nominals in µs, not whole seconds).
        let second: Int64 = 1_000_000
        let ticks = payloads("ScheduleTicked").map(\.payload).filter { $0["schedule"]?.stringValue == "every_second" }
        let skips = payloads("ScheduleTickSkipped").map(\.payload).filter { $0["schedule"]?.stringValue == "every_second" }
        var recorded: [Int64: Int] = [:]
        for t in ticks { recorded[micros(t["nominal"]) ?? -1, default: 0] += 1 }
        for s in skips {
            let first = micros(s["nominal"]) ?? -1
            let last = micros(s["through"]) ?? first
            #expect(s["count"]?.intValue == (last - first) / second + 1, "skip range \(s); \(rng)")
            for t in stride(from: first, through: last, by: Int(second)) { recorded[t, default: 0] += 1 }
        }
        let nominals = recorded.keys.sorted()
        let firstTick = nominals.first ?? 0, lastTick = nominals.last ?? 0
        let expected = Set(stride(from: firstTick, through: lastTick, by: Int(second)))
        #expect(nominals.count >= 10, "the schedule ticked through the kill loop; \(rng)")
        #expect(recorded.filter { $0.value != 1 }.isEmpty, "ticks recorded more than once: \(recorded.filter { $0.value != 1 }.keys.sorted()); \(rng)")
        #expect(Set(nominals) == expected,
                "ticks missing between the first and the last: \(expected.subtracting(nominals).sorted()), off the 1 s grid: \(Set(nominals).subtracting(expected).sorted()); \(rng)")
        #expect(skips.isEmpty, "overlap allow, catch_up all within max_catch_up: no tick is skipped; \(skips); \(rng)")
        #expect(payloads("ScheduleTickReleased").isEmpty)
        // The first tick is the schedule's first after it was applied; the last is the last one due
        // when the final engine started or later (none due then is missing at the end).
        let appliedAt = events.first { $0["type"]?.stringValue == "DefinitionApplied" && $0["stream"]?.stringValue?.contains("every_second") == true }
            .flatMap { micros($0["recordedAt"]) } ?? 0
        #expect(firstTick > appliedAt && firstTick <= appliedAt + second, "first tick \(firstTick) µs, applied at \(appliedAt) µs; \(rng)")
        #expect(lastTick > onceStarted - second, "last tick \(lastTick) µs, the final engine started at \(onceStarted) µs; \(rng)")

        let requested = payloads("RunRequested").map(\.payload)
        let scheduled = requested.filter { $0["trigger"]?["type"]?.stringValue == "schedule" }
        let sensed = requested.filter { $0["trigger"]?["type"]?.stringValue == "sensor" }
        var runOfTick: [Int64: String] = [:]
        for t in ticks {
            let nominal = micros(t["nominal"]) ?? -1
            if let run = t["run"]?.stringValue { runOfTick[nominal] = run } else { Issue.record("tick \(nominal) has no run; \(rng)") }
        }
        var scheduledRunsOfTick: [Int64: [String]] = [:]
        for r in scheduled {
            #expect(r["trigger"]?["schedule"]?.stringValue == "every_second" && r["job"]?.stringValue == "pulse")
            scheduledRunsOfTick[micros(r["trigger"]?["tick"]) ?? -1, default: []].append(r["run"]?.stringValue ?? "?")
        }
        #expect(scheduled.count == ticks.count, "\(scheduled.count) scheduled runs for \(ticks.count) ticks; \(rng)")
        for (nominal, run) in runOfTick where scheduledRunsOfTick[nominal] != [run] {
            Issue.record("tick \(nominal) names run \(run), the runs requested for it are \(scheduledRunsOfTick[nominal] ?? []); \(rng)")
        }

        // --- The sensor: every marker one arrival and one run.
        let arrivals = payloads("FileArrived").map(\.payload).filter { $0["sensor"]?.stringValue == "drop" }
        var arrivalsOf: [String: [Value]] = [:]
        for a in arrivals { arrivalsOf[a["file"]?.stringValue ?? "?", default: []].append(a) }
        var sensedRunsOf: [String: [String]] = [:]
        for r in sensed {
            #expect(r["trigger"]?["sensor"]?.stringValue == "drop" && r["job"]?.stringValue == "load")
            sensedRunsOf[r["trigger"]?["file"]?.stringValue ?? "?", default: []].append(r["run"]?.stringValue ?? "?")
        }
        #expect(markers.count >= 20, "markers kept arriving through the kill loop; \(rng)")
        #expect(Set(arrivalsOf.keys) == Set(markers), "arrivals of files never written: \(Set(arrivalsOf.keys).subtracting(markers).sorted()), markers with none: \(Set(markers).subtracting(arrivalsOf.keys).sorted()); \(rng)")
        for m in markers {
            let a = arrivalsOf[m] ?? []
            let runs = sensedRunsOf[m] ?? []
            #expect(a.count == 1, "\(m): \(a.count) arrivals; \(rng)")
            #expect(runs.count == 1, "\(m): runs \(runs); \(rng)")
            #expect(a.count != 1 || runs.count != 1 || a[0]["run"]?.stringValue == runs[0], "\(m): the arrival names run \(a.first?["run"] ?? .null), its run is \(runs); \(rng)")
        }
        #expect(sensed.count == markers.count, "\(sensed.count) sensed runs for \(markers.count) markers; \(rng)")
        #expect(requested.count == scheduled.count + sensed.count, "no run but the scheduled and sensed ones")

        // --- Runs: each ended once, failed.
        var ends: [String: [String]] = [:]
        for e in events where ["RunSucceeded", "RunFailed", "RunCancelled"].contains(e["type"]?.stringValue ?? "") {
            ends[e["stream"]?.stringValue ?? "?", default: []].append(e["type"]?.stringValue ?? "?")
        }
        let runIDs = requested.compactMap { $0["run"]?.stringValue }
        #expect(Set(runIDs).count == runIDs.count)
        for id in runIDs where ends["run/\(id)"] != ["RunFailed"] {
            Issue.record("run \(id) ended \(ends["run/\(id)"] ?? []), expected failed once; \(rng)")
        }
        #expect(ends.count == runIDs.count)

        // --- Notifications: requested once per (team, run, outcome), sent once on record, received
        // at least once.
        let notes = payloads("NotificationRequested")
        var requestsOf: [String: [Value]] = [:]
        for n in notes {
            let p = n.payload
            requestsOf["\(p["team"]?.stringValue ?? "?") \(p["run"]?.stringValue ?? "?") \(p["outcome"]?.stringValue ?? "?")", default: []].append(p)
        }
        for id in runIDs where requestsOf["ops \(id) failed"]?.count != 1 {
            Issue.record("run \(id): \(requestsOf["ops \(id) failed"]?.count ?? 0) notifications requested for team ops, expected 1; \(rng)")
        }
        #expect(notes.count == runIDs.count, "\(notes.count) notifications requested for \(runIDs.count) failed runs; \(rng)")
        var sentOn: [String: Int] = [:]
        for s in payloads("NotificationSent") { sentOn[s.stream, default: 0] += 1 }
        let failedAttempts = payloads("NotificationFailed").count
        for n in notes where sentOn[n.stream] != 1 {
            Issue.record("\(n.stream): \(sentOn[n.stream] ?? 0) NotificationSent, expected 1; \(rng)")
        }
        let mails = try sink.messages()
        #expect(mails.allSatisfy { $0.recipients == ["ops@example.com"] })
        var copies: [String: Int] = [:]
        for m in mails { copies[m.header("Message-ID") ?? "?", default: 0] += 1 }
        let ids = Set(notes.compactMap { $0.payload["message_id"]?.stringValue })
        #expect(ids.count == notes.count, "message ids are distinct")
        let missing = ids.filter { copies[$0] == nil }
        #expect(missing.isEmpty, "requested but never received: \(missing.sorted().prefix(10)); \(rng)")
        #expect(Set(copies.keys).subtracting(ids).isEmpty, "received but never requested: \(Set(copies.keys).subtracting(ids)); \(rng)")
        let duplicates = copies.values.reduce(0) { $0 + max(0, $1 - 1) }
        // An engine hands a message to curl at most once (until its attempt is recorded), so each
        // copy was sent by another engine that lived between the request's commit and the
        // NotificationSent's: no message has more copies than such engines.
        let recordedAt = Dictionary(events.map { ($0["seq"]?.intValue ?? 0, micros($0["recordedAt"]) ?? 0) }, uniquingKeysWith: { a, _ in a })
        var requestedAt: [String: Int64] = [:], sentAt: [String: Int64] = [:]
        for e in events {
            let stream = e["stream"]?.stringValue ?? ""
            let at = recordedAt[e["seq"]?.intValue ?? 0] ?? 0
            if e["type"]?.stringValue == "NotificationRequested" { requestedAt[stream] = at }
            if e["type"]?.stringValue == "NotificationSent" { sentAt[stream] = at }
        }
        for n in notes {
            guard let id = n.payload["message_id"]?.stringValue, let from = requestedAt[n.stream], let to = sentAt[n.stream] else { continue }
            let engines = lives.filter { $0.lowerBound <= to && $0.upperBound >= from }.count
            #expect((copies[id] ?? 0) <= engines, "\(id) received \(copies[id] ?? 0) times, \(engines) engines lived between its request and its record; \(rng)")
        }
        #expect(duplicates <= Self.deliveriesAtOnce * killed, "\(duplicates) duplicate deliveries for \(killed) kills; \(rng)")

        // --- The chain and indexes.
        let verify = try lf(["audit", "verify"], timeout: 180) // the indexes too (on by default)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr); \(rng)")

        let interrupted = events.filter { $0["type"]?.stringValue == "StageFailed" && $0["payload"]?["reason"]?.stringValue == "interrupted" }.count
        let wall = Date().timeIntervalSince(began)
        print("""
        AutomationChaosTests: \(killed) kills, \(nominals.count) ticks, \(markers.count) markers, \(runIDs.count) runs \
        (\(interrupted) attempts interrupted), \(notes.count) notifications (\(mails.count) received, \(duplicates) duplicate deliveries, \
        \(failedAttempts) failed attempts), \(events.count) events, \(String(format: "%.1f", wall)) s, \(rng)
        """)
    }
}
