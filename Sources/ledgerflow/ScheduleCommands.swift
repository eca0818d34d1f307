import ArgumentParser
import Catalog
import Domain
import Engine
import EventLog
import Foundation
import Models
import Runs

/// `ledgerflow schedules`: the schedules, their ticks and the runs they requested; when a cron
/// expression fires.
struct Schedules: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules", abstract: "Schedules: when each ticks next, what its ticks ran; preview a cron expression in a time zone.",
        subcommands: [SchedulesList.self, SchedulesTicks.self, SchedulesPreview.self], defaultSubcommand: SchedulesList.self)
}

/// What the schedule commands read: the catalog's plans and each schedule's folded stream.
struct ScheduleBook {
    let log: EventLog
    let plans: [String: SchedulePlan]

    init(_ store: StoreOptions) throws {
        log = try store.openForReading()
        plans = SchedulePlan.plans(in: try RunCommands.catalog(log)).plans
        snapshot = AutomationFolds.streamsSnapshot(log, atOrBefore: .max).snapshot
    }

    /// The folded stream of schedule `name`: from the engine's snapshot of the schedule streams
    /// (when there is one) and the events after it.
    func state(_ name: String) throws -> ScheduleStreamState {
        try AutomationFolds.schedules([name], log, through: .max, from: snapshot).state[name]
    }

    /// The engine's newest snapshot of the schedule streams.
    let snapshot: AutomationFolds.StreamsSnapshot?

    /// A run's status, read from its own stream; nil when there is no such run.
    func status(_ run: String) throws -> RunStatus? {
        var runs = RunsState()
        for e in try log.read(stream: RunEvents.stream(run: run)) { runs.evolve(e) }
        return runs.runs[run]?.status
    }

    static func utc(_ micros: Int64) -> String { ScheduleEvents.timeText(micros) }
}

struct SchedulesList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Each schedule (and model retraining schedule): its job, cron or interval, time zone, next ticks in UTC and local time, last tick, its run and that run's status.")
    @OptionGroup var store: StoreOptions
    @Option(help: "Next ticks shown per schedule (0–100).") var next = 3
    @Flag(help: "Print a JSON array.") var json = false

    func validate() throws {
        if !(0 ... 100).contains(next) { throw ValidationError("--next must be between 0 and 100") }
    }

    func run() throws {
        let book = try ScheduleBook(store)
        let now = Int64(Date().timeIntervalSince1970 * 1e6)
        var items: [Value] = []
        var blocks: [[String]] = []
        for plan in book.plans.values.sorted(by: { $0.name < $1.name }) {
            let state = try book.state(plan.name)
            let upcoming = plan.next(next, after: max(plan.floor(state), now))
            var m: [(String, Value)] = [("name", .string(plan.name)), ("version", .int(Int64(plan.version))), ("job", .string(plan.job))]
            if let model = plan.model { m.append(("model", .string(model))) }
            if let p = plan.jobProblem { m.append(("job_problem", .string(p))) }
            switch plan.timing {
            case .cron(let c): m.append(("cron", .string(c.description)))
            case .every(let micros, _): m += [("every", .string(DurationText.text(Double(micros) / 1e6))), ("every_seconds", .double(Double(micros) / 1e6))]
            }
            m.append(("timezone", .string(plan.zoneName)))
            if let s = plan.startAt { m.append(("start_at", .string(ScheduleBook.utc(s)))) }
            if let e = plan.endAt { m.append(("end_at", .string(ScheduleBook.utc(e)))) }
            m += [("catch_up", .string(plan.catchUp.rawValue)), ("max_catch_up", .int(Int64(plan.maxCatchUp))), ("overlap", .string(plan.overlap.rawValue)),
                  ("next", .array(upcoming.map { .object([("utc", .string(ScheduleBook.utc($0.nominal))), ("local", .string(plan.localText($0.nominal)))]) }))]
            var lastText = "none yet"
            if let t = state.lastTick {
                let status = try t.run.flatMap { try book.status($0) }
                var last: [(String, Value)] = [("nominal", .string(ScheduleBook.utc(t.nominal))), ("local", .string(t.local)),
                                               ("run", t.run.map { .string($0) } ?? .null), ("status", status.map { .string($0.rawValue) } ?? .null)]
                if t.catchUp == true { last.append(("catch_up", .bool(true))) }
                if t.queued == true { last.append(("queued", .bool(true))) }
                m.append(("last_tick", .object(last)))
                lastText = "\(ScheduleBook.utc(t.nominal))  \(t.local)  " + (t.run.map { "run \($0) \(status?.rawValue ?? "?")" } ?? "queued behind run \(t.waitingFor ?? "?")")
            } else {
                m.append(("last_tick", .null))
            }
            m += [("queued", .int(Int64(state.queued.count))), ("ticked", .int(Int64(state.ticked))), ("skipped", .int(Int64(state.skipped)))]
            items.append(.object(m))
            var block = ["\(plan.name)  \(plan.whenText) in \(plan.zoneName) → job \(plan.job.isEmpty ? "(none)" : plan.job)  (v\(plan.version); catch_up \(plan.catchUp.rawValue), overlap \(plan.overlap.rawValue))"]
            if let p = plan.jobProblem { block.append("  not runnable: \(p)") }
            for (i, t) in upcoming.enumerated() { block.append("  \(i == 0 ? "next" : "    ")  \(ScheduleBook.utc(t.nominal))  \(plan.localText(t.nominal))") }
            if upcoming.isEmpty { block.append("  next  none (past end_at, or the expression does not fire again)") }
            block.append("  last  \(lastText)\(state.queued.isEmpty ? "" : "; \(state.queued.count) queued")\(state.skipped > 0 ? "; \(state.skipped) skipped in all" : "")")
            blocks.append(block)
        }
        if json {
            Output.line(prettyJSON(.array(items)))
            return
        }
        if blocks.isEmpty { Output.line("no schedules; define one with `kind: schedule` (see docs/metadata.md)") }
        for (i, b) in blocks.enumerated() {
            if i > 0 { Output.line("") }
            b.forEach(Output.line)
        }
    }
}

struct SchedulesTicks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ticks",
        abstract: "A schedule's history: its ticks with their runs and the runs' status, skipped ticks and why, queued ticks and when they ran.")
    @OptionGroup var store: StoreOptions
    @Argument(help: ArgumentHelp("The schedule (model:M for model M's retraining schedule).", valueName: "name")) var name: String
    @Option(help: "The newest N events of the schedule's stream (0: all).") var last = 100
    @Flag(help: "Print a JSON array, oldest first.") var json = false

    func validate() throws {
        if last < 0 { throw ValidationError("--last must be 0 or more") }
    }

    func run() throws {
        let book = try ScheduleBook(store)
        let stream = ScheduleEvents.stream(schedule: name)
        let version = try book.log.streamVersion(stream)
        guard version > 0 || book.plans[name] != nil else {
            let names = book.plans.keys.sorted()
            throw CommandFailure(message: "no schedule '\(name)'; " + (Suggest.closest(to: name, in: names).map { "did you mean '\($0)'? " } ?? "")
                                 + "`ledgerflow schedules` lists them")
        }
        let from = last == 0 || version <= UInt64(last) ? 1 : version - UInt64(last) + 1
        var events: [RecordedEvent] = []
        var next = from
        while next <= version {
            let chunk = try book.log.read(stream: stream, fromVersion: next, limit: 4096)
            events += chunk
            guard chunk.count == 4096, let l = chunk.last else { break }
            next = l.streamVersion + 1
        }
        // Queued ticks: the run their release requested.
        var releasedRun: [Int64: String] = [:]
        for e in events { if let r = try? e.decodeIf(ScheduleTickReleased.self), let run = r.run { releasedRun[r.nominal] = run } }
        var statuses: [String: RunStatus?] = [:]
        func status(_ run: String?) throws -> Value {
            guard let run else { return .null }
            if statuses[run] == nil { statuses[run] = try book.status(run) }
            return (statuses[run] ?? nil).map { .string($0.rawValue) } ?? .null
        }
        var items: [Value] = []
        var lines: [String] = []
        for e in events {
            switch e.type {
            case ScheduleTicked.type:
                let t = try e.decode(ScheduleTicked.self)
                let run = t.run ?? releasedRun[t.nominal]
                var m: [(String, Value)] = [("event", .string("tick")), ("seq", .int(Int64(e.seq))), ("schedule_version", .int(Int64(t.scheduleVersion))),
                                            ("nominal", .string(ScheduleBook.utc(t.nominal))), ("local", .string(t.local)),
                                            ("run", run.map { .string($0) } ?? .null), ("status", try status(run)), ("fired_at", .string(ScheduleBook.utc(t.firedAt)))]
                if t.catchUp == true { m.append(("catch_up", .bool(true))) }
                if t.queued == true { m += [("queued", .bool(true)), ("waiting_for", t.waitingFor.map { .string($0) } ?? .null)] }
                if let a = t.adjustment { m += [("adjustment", .string(a.rawValue)), ("wall_time", t.wallTime.map { .string($0) } ?? .null)] }
                items.append(.object(m))
                var line = "tick  \(ScheduleBook.utc(t.nominal))  \(t.local)  "
                if let run { line += "run \(run) \(try status(run).stringValue ?? "?")" } else { line += "queued behind run \(t.waitingFor ?? "?")" }
                if t.queued == true && t.run == nil && run != nil { line += " (queued behind run \(t.waitingFor ?? "?"))" }
                if t.catchUp == true { line += " (catch-up)" }
                if let a = t.adjustment { line += a == .shiftedPastGap ? " (\(t.wallTime ?? "") does not exist: after the gap)" : " (\(t.wallTime ?? "") occurs twice: the first)" }
                lines.append(line)
            case ScheduleTickSkipped.type:
                let s = try e.decode(ScheduleTickSkipped.self)
                var m: [(String, Value)] = [("event", .string("skip")), ("seq", .int(Int64(e.seq))), ("schedule_version", .int(Int64(s.scheduleVersion))),
                                            ("nominal", .string(ScheduleBook.utc(s.nominal))), ("local", .string(s.local)), ("count", .int(Int64(s.count))),
                                            ("reason", .string(s.reason.rawValue)), ("detail", .string(s.detail)), ("decided_at", .string(ScheduleBook.utc(s.decidedAt)))]
                if let t = s.through { m.append(("through", .string(ScheduleBook.utc(t)))) }
                if let a = s.activeRun { m.append(("active_run", .string(a))) }
                items.append(.object(m))
                let range = s.through.map { "\(ScheduleBook.utc(s.nominal)) … \(ScheduleBook.utc($0)) (\(s.count) ticks)" } ?? "\(ScheduleBook.utc(s.nominal))  \(s.local)"
                lines.append("skip  \(range)  \(s.reason.rawValue): \(s.detail)")
            case ScheduleTickReleased.type:
                let r = try e.decode(ScheduleTickReleased.self)
                var m: [(String, Value)] = [("event", .string("release")), ("seq", .int(Int64(e.seq))), ("schedule_version", .int(Int64(r.scheduleVersion))),
                                            ("nominal", .string(ScheduleBook.utc(r.nominal))), ("run", r.run.map { .string($0) } ?? .null),
                                            ("status", try status(r.run)), ("released_at", .string(ScheduleBook.utc(r.releasedAt)))]
                if let a = r.after { m.append(("after", .string(a))) }
                if let err = r.error { m.append(("error", .string(err))) }
                items.append(.object(m))
                lines.append("ran   \(ScheduleBook.utc(r.nominal))  " + (r.run.map { "queued tick: run \($0) requested after run \(r.after ?? "?") ended" } ?? "queued tick dropped: \(r.error ?? "?")"))
            default:
                continue
            }
        }
        if json {
            Output.line(prettyJSON(.array(items)))
            return
        }
        if lines.isEmpty { Output.line("schedule \(name) has not ticked yet") }
        if from > 1 { Output.line("(the newest \(last) events; --last 0 shows all)") }
        lines.forEach(Output.line)
    }
}

struct SchedulesPreview: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preview",
        abstract: "The next fire times of a cron expression, strictly after a moment, in UTC and local time.",
        discussion: """
        The fields are local wall time in the time zone. A local time inside a spring-forward gap \
        fires at the first minute after the gap; a local time that occurs twice (fall back) fires \
        once, at its first occurrence. Both are marked in the list.
        """)
    @Argument(help: ArgumentHelp("A 5-field cron expression (minute hour day-of-month month day-of-week) or a macro such as @daily; quote it.", valueName: "cron"))
    var cron: String
    @Option(help: ArgumentHelp("An IANA time zone (Europe/Amsterdam); the fields are local time there.", valueName: "tz")) var timezone = "UTC"
    @Option(help: ArgumentHelp("List fire times strictly after this moment (RFC 3339, or a date meaning midnight UTC; default: now).", valueName: "time"))
    var after: String?
    @Option(help: "How many (1–1000).") var count = 5
    @Flag(help: "Print a JSON array of the fire times as UTC RFC 3339 strings.") var json = false

    func validate() throws {
        if !(1 ... 1000).contains(count) { throw ValidationError("--count must be between 1 and 1000") }
        if let after, Timestamp.parse(after) == nil {
            throw ValidationError("--after '\(after)' is not a time: write e.g. 2026-11-22T10:30:00Z or 2026-11-22")
        }
    }

    func run() throws {
        let schedule: CronSchedule
        let zone: TimeZone
        do throws(CronError) {
            schedule = try CronSchedule(cron)
        } catch {
            throw CommandFailure(message: "cron '\(cron)' is not valid: \(error); e.g. '30 2 * * *' is 02:30 every day")
        }
        do throws(CronError) { zone = try ScheduleTimeZone.named(timezone) } catch { throw CommandFailure(message: "--timezone: \(error)") }
        let start = after.flatMap(Timestamp.parse).map { Date(timeIntervalSince1970: Double($0) / 1e6) } ?? Date()
        let times = Array(schedule.fireTimes(after: start, in: zone).prefix(count))
        let iso = ISO8601DateFormatter()
        if json {
            Output.line(prettyJSON(.array(times.map { .string(iso.string(from: $0.instant)) })))
            return
        }
        if times.isEmpty {
            Output.line("'\(cron)' does not fire in the 8 years after \(iso.string(from: start))")
            return
        }
        Output.line("'\(cron)' in \(zone.identifier), after \(iso.string(from: start)):")
        for t in times {
            var note = ""
            switch t.adjustment {
            case .none: break
            case .shiftedPastGap: note = "  \(t.localText) does not exist (clocks spring forward): fires at the first minute after the gap"
            case .firstOfTwo: note = "  \(t.localText) occurs twice (clocks fall back): fires at the first"
            }
            Output.line("  \(iso.string(from: t.instant))  \(ScheduleTimeZone.localText(t.instant, in: zone))\(note)")
        }
    }
}
