import Catalog
import Domain
import EventLog
import Foundation
import Models
import Projections
import Runs

/// What the schedule reads (`ledgerflow schedules … --json` and the console's API) see: the
/// catalog's plans and each schedule's folded stream; each read gives its JSON items and the
/// CLI's lines for people.
public struct ScheduleBook {
    public let log: EventLog
    public let plans: [String: SchedulePlan]

    public init(_ log: EventLog) throws {
        self.log = log
        plans = SchedulePlan.plans(in: try RunCommands.catalog(log)).plans
        snapshot = AutomationFolds.streamsSnapshot(log, atOrBefore: .max).snapshot
    }

    /// The folded stream of schedule `name`: from the engine's snapshot of the schedule streams
    /// (when there is one) and the events after it.
    public func state(_ name: String) throws -> ScheduleStreamState {
        try AutomationFolds.schedules([name], log, through: .max, from: snapshot).state[name]
    }

    /// The engine's newest snapshot of the schedule streams.
    let snapshot: AutomationFolds.StreamsSnapshot?

    /// A run's status, read from its own stream; nil when there is no such run.
    public func status(_ run: String) throws -> RunStatus? {
        var runs = RunsState()
        for e in try log.read(stream: RunEvents.stream(run: run)) { runs.evolve(e) }
        return runs.runs[run]?.status
    }

    public static func utc(_ micros: Int64) -> String { ScheduleEvents.timeText(micros) }

    /// Each schedule by name: its job, timing, time zone, the `next` ticks after `now` (µs), its
    /// last tick with its run's status, and its counts (`schedules list --json`); `blocks` are
    /// the CLI's lines, one block per schedule.
    public func list(next: Int, now: Int64) throws -> (items: [Value], blocks: [[String]]) {
        var items: [Value] = []
        var blocks: [[String]] = []
        for plan in plans.values.sorted(by: { $0.name < $1.name }) {
            let state = try self.state(plan.name)
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
                let status = try t.run.flatMap { try self.status($0) }
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
        return (items, blocks)
    }

    /// Schedule `name`'s newest `last` events (0: all) as ticks, skips and releases with their
    /// runs' statuses, oldest first (`schedules ticks --json`); `lines` are the CLI's; `from` the
    /// first stream version read. Fails (`ReadFailure`) when there is no such schedule.
    public func ticks(_ name: String, last: Int) throws -> (items: [Value], lines: [String], from: UInt64) {
        let stream = ScheduleEvents.stream(schedule: name)
        let version = try log.streamVersion(stream)
        guard version > 0 || plans[name] != nil else {
            let names = plans.keys.sorted()
            throw ReadFailure(.notFound, "no schedule '\(name)'; " + (Suggest.closest(to: name, in: names).map { "did you mean '\($0)'? " } ?? "")
                              + "`ledgerflow schedules` lists them")
        }
        let from = last == 0 || version <= UInt64(last) ? 1 : version - UInt64(last) + 1
        var events: [RecordedEvent] = []
        var next = from
        while next <= version {
            let chunk = try log.read(stream: stream, fromVersion: next, limit: 4096)
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
            if statuses[run] == nil { statuses[run] = try self.status(run) }
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
        return (items, lines, from)
    }
}
