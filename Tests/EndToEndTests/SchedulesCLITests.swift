import Foundation
import Domain
import TestSupport
import Testing

/// `ledgerflow schedules preview` through the built binary.
@Suite(.timeLimit(.minutes(1))) struct SchedulesCLITests {
    @Test func previewListsFireTimesInUTCAndLocalTimeWithTheDSTRules() throws {
        let json = try ledgerflow(["schedules", "preview", "30 2 * * *", "--timezone", "Europe/Amsterdam",
                                   "--after", "2026-10-24T12:00:00Z", "--count", "3", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        #expect(json.stdout.filter { !$0.isWhitespace } == #"["2026-10-25T00:30:00Z","2026-10-26T01:30:00Z","2026-10-27T01:30:00Z"]"#)

        let text = try ledgerflow(["schedules", "preview", "30 2 * * *", "--timezone", "Europe/Amsterdam",
                                   "--after", "2026-03-28T12:00:00Z", "--count", "2"])
        #expect(text.status == 0)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[1].contains("2026-03-29T01:00:00Z  2026-03-29 03:00 +02:00") && lines[1].contains("02:30 does not exist"))
        #expect(lines[2] == "  2026-03-30T00:30:00Z  2026-03-30 02:30 +02:00")
    }

    @Test func anInvalidExpressionOrTimeZoneIsOneLineAndExit1() throws {
        let cron = try ledgerflow(["schedules", "preview", "0 25 * * *"])
        #expect(cron.status == 1 && !cron.signalled)
        #expect(cron.stderr == "ledgerflow: cron '0 25 * * *' is not valid: hour 25 is out of range 0–23; e.g. '30 2 * * *' is 02:30 every day\n")
        let zone = try ledgerflow(["schedules", "preview", "@daily", "--timezone", "Europe/Atlantis"])
        #expect(zone.status == 1)
        #expect(zone.stderr.split(separator: "\n").count == 1 && zone.stderr.contains("unknown time zone 'Europe/Atlantis'"))
        let usage = try ledgerflow(["schedules", "preview", "@daily", "--after", "yesterday"])
        #expect(usage.status == 2)
    }
}

/// Schedules that run by themselves, through the built binary: catch-up after downtime, a
/// SIGKILLed engine, the schedule commands, `why`, and definitions refused at apply.
@Suite(.serialized) struct ScheduleRunTests {
    static func rfc3339(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: d)
    }

    /// The payloads of every event of `type`, oldest first.
    static func payloads(_ p: RunCLITests.Project, _ type: String) throws -> [Value] {
        let r = try p.lf(["events", "--json", "--type", type])
        #expect(r.status == 0, "\(r.stderr)")
        return try r.lines.map { try Value(json: $0) }.compactMap { $0["payload"] }
    }

    /// Every nominal tick of schedule `name` recorded, as seconds since 1970, with how often each
    /// was recorded (ticks, and every second of each skip range of a 1 s schedule); and the run
    /// of each tick.
    static func ledger(_ p: RunCLITests.Project, _ name: String) throws -> (recorded: [Int64: Int], runOfTick: [Int64: String]) {
        var recorded: [Int64: Int] = [:]
        var runOfTick: [Int64: String] = [:]
        func seconds(_ v: Value?) -> Int64 { (v?.stringValue.flatMap(Timestamp.parse) ?? -1_000_000) / 1_000_000 }
        for t in try payloads(p, "ScheduleTicked") where t["schedule"]?.stringValue == name {
            recorded[seconds(t["nominal"]), default: 0] += 1
            if let run = t["run"]?.stringValue { runOfTick[seconds(t["nominal"])] = run }
        }
        for s in try payloads(p, "ScheduleTickSkipped") where s["schedule"]?.stringValue == name {
            let first = seconds(s["nominal"]), last = s["through"] == nil ? first : seconds(s["through"])
            #expect(Int64(s["count"]?.intValue ?? 0) == last - first + 1)
            for t in first ... last { recorded[t, default: 0] += 1 }
        }
        for r in try payloads(p, "ScheduleTickReleased") where r["schedule"]?.stringValue == name {
            if let run = r["run"]?.stringValue { runOfTick[seconds(r["nominal"])] = run }
        }
        return (recorded, runOfTick)
    }

    @Test(.timeLimit(.minutes(1))) func everySecondCatchesUpOneRunPerNominalTickAndTheCommandsTellIt() throws {
        let start = Self.rfc3339(Date().addingTimeInterval(-5))
        let p = try RunCLITests.Project("""
        kind: job
        name: tick
        stages: [{name: a, type: script, command: [sh, -c, "echo $LEDGERFLOW_PARAM_SCHEDULED_TIME >> ticks.txt"]}]
        ---
        kind: schedule
        name: every_second
        job: tick
        every: 1s
        start_at: \(start)
        catch_up: all
        overlap: queue
        """)
        // The engine is down for three seconds: then one `work --once` catches up.
        Thread.sleep(forTimeInterval: 3)
        let once = try p.lf(["work", "--once"])
        #expect(once.status == 0, "\(once.stderr)")
        let (recorded, runOfTick) = try Self.ledger(p, "every_second")
        let nominals = recorded.keys.sorted()
        #expect(nominals.count >= 2)
        #expect(recorded.values.allSatisfy { $0 == 1 })
        // Consecutive seconds, each ticked (no skips under 50), each with its own run.
        #expect(nominals.last.map { $0 - nominals[0] + 1 } == Int64(nominals.count))
        #expect(Set(runOfTick.keys) == Set(nominals) && Set(runOfTick.values).count == nominals.count)
        // The runs: one per tick, in nominal order, each with its scheduled_time, all succeeded.
        let runs = try p.runs()
        #expect(runs.count == nominals.count)
        for r in runs {
            #expect(r["status"] == .string("succeeded"))
            #expect(r["trigger"]?["type"] == .string("schedule") && r["trigger"]?["schedule"] == .string("every_second"))
        }
        let written = try String(contentsOfFile: p.root + "/ticks.txt", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(written == nominals.map { ScheduleEvents.timeText($0 * 1_000_000) })

        let list = try p.lf(["schedules", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        let item = try #require(try Value(json: list.stdout).arrayValue?.first)
        #expect(item["name"] == .string("every_second") && item["job"] == .string("tick") && item["every"] == .string("1s"))
        #expect(item["timezone"] == .string("UTC") && item["next"]?.arrayValue?.count == 3)
        #expect(item["last_tick"]?["nominal"] == .string(written.last ?? "") && item["last_tick"]?["status"] == .string("succeeded"))
        #expect(item["ticked"]?.intValue == Int64(nominals.count))

        let history = try p.lf(["schedules", "ticks", "every_second", "--json"])
        #expect(history.status == 0, "\(history.stderr)")
        let entries = try Value(json: history.stdout).arrayValue ?? []
        let tickEntries = entries.filter { $0["event"] == .string("tick") }
        #expect(tickEntries.count == nominals.count)
        #expect(tickEntries.allSatisfy { $0["status"] == .string("succeeded") && $0["run"]?.stringValue != nil })
        // All but the first waited behind the run before them (overlap queue) and were released.
        #expect(entries.filter { $0["event"] == .string("release") }.count == nominals.count - 1)

        let second = try #require(runOfTick[nominals[1]])
        let why = try p.lf(["why", second, "--json"])
        #expect(why.status == 0, "\(why.stderr)")
        let chain = try Value(json: why.stdout)["chain"]?.arrayValue ?? []
        #expect(chain.count == 2 && chain[1]["kind"] == .string("schedule"))
        let text = chain[1]["text"]?.stringValue ?? ""
        #expect(text.contains("schedule every_second v1 (every 1s in UTC) ticked for \(written[1])") && text.contains("queued behind run"), "\(text)")

        let unknown = try p.lf(["schedules", "ticks", "every_secnod"])
        #expect(unknown.status == 1 && unknown.stderr == "ledgerflow: no schedule 'every_secnod'; did you mean 'every_second'? `ledgerflow schedules` lists them\n")
    }

    @Test(.timeLimit(.minutes(2))) func aSIGKILLedEngineAndItsRestartLeaveOneTickAndOneRunPerNominalTick() throws {
        let p = try RunCLITests.Project("""
        kind: job
        name: tick
        stages: [{name: a, type: script, command: [sh, -c, "sleep 0.3"]}]
        ---
        kind: schedule
        name: pulse
        job: tick
        every: 1s
        catch_up: all
        overlap: allow
        """)
        for round in 0 ..< 2 {
            let engine = try p.startEngine()
            let before = try Self.ledger(p, "pulse").recorded.count
            try waitFor("round \(round): three more ticks", timeout: 30, interval: 0.2) {
                try Self.ledger(p, "pulse").recorded.count >= before + 3
            }
            // Killed mid-way: a run may be running, a step half-decided.
            engine.stop(SIGKILL)
            _ = try engine.finish()
            Thread.sleep(forTimeInterval: 1.5)
        }
        let once = try p.lf(["work", "--once"])
        #expect(once.status == 0, "\(once.stderr)")
        let (recorded, runOfTick) = try Self.ledger(p, "pulse")
        let nominals = recorded.keys.sorted()
        #expect(nominals.count >= 7) // two rounds of three or more, and the second downtime caught up
        // Every second from the first tick to the last is recorded exactly once.
        #expect(recorded.values.allSatisfy { $0 == 1 }, "\(recorded.filter { $0.value != 1 })")
        #expect(nominals.last.map { $0 - nominals[0] + 1 } == Int64(nominals.count))
        // Each tick has one run of its own, and every scheduled run belongs to one tick.
        let requested = try Self.payloads(p, "RunRequested")
        #expect(requested.count == runOfTick.count && Set(runOfTick.values).count == runOfTick.count)
        for r in requested {
            let tick = (r["trigger"]?["tick"]?.stringValue.flatMap(Timestamp.parse) ?? 0) / 1_000_000
            #expect(runOfTick[tick] == r["run"]?.stringValue)
        }
        // Every run has ended (one the kill interrupted was recovered and failed on record).
        #expect(try p.runs().allSatisfy { $0["status"] != .string("running") })
    }

    @Test(.timeLimit(.minutes(1)), arguments: [
        ("timezone: Mars/Base\ncron: '0 6 * * *'", "bad.yaml:8:11: timezone of schedule 's' is 'Mars/Base', which is not a known time zone"),
        ("every: 0.5s", "bad.yaml:8:8: every of schedule 's' is 0.5s, below the shortest interval of 1s; use 1s or more"),
    ])
    func aBadScheduleIsOneLineWithFileAndLineAndNothingIsAppended(_ fields: String, _ expected: String) throws {
        let dir = TemporaryDirectory()
        let store = dir.sub(".ledgerflow")
        #expect(try ledgerflow(["init", "--store", store]).status == 0)
        try ("kind: job\nname: j\nstages: [{name: a, type: script, command: [\"true\"]}]\n---\nkind: schedule\nname: s\njob: j\n" + fields + "\n")
            .write(toFile: dir.sub("bad.yaml"), atomically: true, encoding: .utf8)
        let r = try ledgerflow(["apply", "bad.yaml", "--store", store], cwd: dir.path)
        #expect(r.status == 1 && !r.signalled)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 2 && lines[0].hasPrefix(expected), "\(r.stderr)")
        #expect(lines.last == "ledgerflow: apply failed: 1 error in 1 file; nothing was appended")
        let events = try ledgerflow(["events", "--json", "--store", store])
        #expect(events.status == 0 && events.stdout.isEmpty)
    }
}
