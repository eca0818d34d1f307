import Catalog
import Domain
import EventLog
import Foundation
import Models
import Runs

/// What `health` found: facts per part and the problems that make the service unhealthy.
public struct HealthReport: Sendable {
    struct Reactor { var name: String; var checkpoint: UInt64; var lagEvents: UInt64; var lagSeconds: Double }
    var head: UInt64
    var holder: Int32?
    var status: EngineStatus?
    var reactors: [Reactor] = []
    struct Schedule { var name: String; var next: Int64?; var last: Int64?; var lastRun: String? }
    var schedules: [Schedule] = []
    /// Each sensor's entry in `<store>/status/sensors.json` (nil: no engine has written one).
    var sensors: [Value]?
    var sensorNames: [String] = []
    struct Outbox { var pending = 0; var failing = 0; var oldestPendingMicros: Int64?; var givenUpLastDay = 0; var sent = 0 }
    var outbox = Outbox()
    public var problems: [String] = []
    var now: Date

    public static func gather(log: EventLog, store: String, maxLag: Double, stale: Double, now: Date) throws -> HealthReport {
        var r = HealthReport(head: try log.lastSeq(), holder: EngineLock.holder(store: store), status: nil, now: now)
        do { r.status = try EngineStatus.read(store: store) } catch { r.problems.append("\(error)") }
        let nowMicros = Int64(now.timeIntervalSince1970 * 1e6)
        if let pid = r.holder {
            if let s = r.status, s.pid == pid, !s.stopped {
                let quiet = Double(nowMicros - s.lastStepMicros) / 1e6
                if quiet > stale {
                    r.problems.append("the engine (pid \(pid)) has not finished a step for \(Int(quiet)) s: it may be stuck; see its log, or restart it")
                }
                if s.failedSteps > 0 {
                    r.problems.append("the engine's steps are failing (\(s.failedSteps) in a row): \(s.lastFailure ?? "?")")
                }
            } else {
                r.problems.append("the engine (pid \(pid)) has not reported its status yet (it writes \(EngineStatus.path(store: store)) once a second)")
            }
        } else {
            r.problems.append("no engine is running for this store: start one with `ledgerflow work` (tools/ledgerflow.service runs it under systemd)")
        }
        for (name, seq) in try log.checkpoints().sorted(by: { $0.key < $1.key }) where name.hasPrefix("reactor:") {
            var lag = Reactor(name: name, checkpoint: seq, lagEvents: r.head > seq ? r.head - seq : 0, lagSeconds: 0)
            if lag.lagEvents > 0, let oldest = try log.read(from: seq + 1, limit: 1).first {
                lag.lagSeconds = max(0, Double(nowMicros - oldest.recordedAtMicros) / 1e6)
            }
            if lag.lagSeconds > maxLag {
                r.problems.append("\(name) is \(lag.lagEvents) event(s), \(Int(lag.lagSeconds)) s behind the log (more than --max-lag \(Int(maxLag)) s)")
            }
            r.reactors.append(lag)
        }
        return r
    }

    /// Schedules (next and last tick), sensors (the engine's status file) and the outbox.
    public mutating func gatherAutomation(log: EventLog, store: String, maxLag: Double, stale: Double, maxOutboxAge: Double) throws {
        let nowMicros = Int64(now.timeIntervalSince1970 * 1e6)
        let running = holder != nil
        let catalog = try RunCommands.catalog(log)
        let plans = SchedulePlan.plans(in: catalog).plans
        // From the engine's snapshot of the schedule streams (when there is one) and what follows it.
        let state = try AutomationFolds.schedules(Set(plans.keys), log, through: .max, from: AutomationFolds.streamsSnapshot(log, atOrBefore: .max).snapshot).state
        for plan in plans.values.sorted(by: { $0.name < $1.name }) {
            let s = state[plan.name]
            // The first tick after what is recorded: when it is due and long past, nothing ticks.
            let next = plan.next(1, after: plan.floor(s)).first?.nominal
            schedules.append(Schedule(name: plan.name, next: next, last: s.lastTick?.nominal, lastRun: s.lastTick?.run))
            if let p = plan.jobProblem { problems.append("schedule \(plan.name) cannot run: \(p)") }
            if running, let next, Double(nowMicros - next) / 1e6 > maxLag {
                problems.append("schedule \(plan.name): its tick \(ScheduleEvents.timeText(next)) is \(Int(Double(nowMicros - next) / 1e6)) s overdue")
            }
        }
        sensorNames = catalog.entries.keys.filter { $0.kind == .sensor }.map(\.name).sorted()
        let file = try StatusFile.read(store: store, name: "sensors")
        sensors = file?["sensors"]?.arrayValue
        for name in sensorNames {
            guard let entry = sensors?.first(where: { $0["name"]?.stringValue == name }) else {
                if running && file != nil { problems.append("sensor \(name): the engine has not reported it yet") }
                continue
            }
            if entry["state"]?.stringValue == "error" {
                problems.append("sensor \(name): \(entry["error"]?.stringValue ?? "error")")
            } else if running, let next = entry["next_poll_us"]?.intValue, Double(nowMicros - next) / 1e6 > stale {
                problems.append("sensor \(name): no poll for \(Int(Double(nowMicros - next) / 1e6)) s past its next poll")
            }
        }
        for entry in try AutomationFolds.notifications(log).entries.values {
            switch entry.status {
            case .requested, .failed:
                outbox.pending += 1
                if entry.status == .failed { outbox.failing += 1 }
                outbox.oldestPendingMicros = min(outbox.oldestPendingMicros ?? .max, entry.requestedAtMicros)
            case .sent: outbox.sent += 1
            case .givenUp: if nowMicros - entry.requestedAtMicros < 86_400_000_000 { outbox.givenUpLastDay += 1 }
            }
        }
        if let oldest = outbox.oldestPendingMicros, Double(nowMicros - oldest) / 1e6 > maxOutboxAge {
            problems.append("the outbox holds \(outbox.pending) notification(s); the oldest has waited \(Int(Double(nowMicros - oldest) / 1e6)) s (see `ledgerflow notifications`)")
        }
        if outbox.givenUpLastDay > 0 {
            problems.append("\(outbox.givenUpLastDay) notification(s) requested in the last 24 hours were given up (see `ledgerflow notifications`)")
        }
    }

    public var healthy: Bool { problems.isEmpty }

    public var text: [String] {
        var out: [String] = []
        out.append("health: \(healthy ? "healthy" : "UNHEALTHY")")
        if let pid = holder {
            var line = "engine: running, pid \(pid)"
            if let s = status, s.pid == pid {
                line += ", \(s.engine), since \(Timestamp.rfc3339(micros: s.startedMicros)), last step \(String(format: "%.1f", Double(Int64(now.timeIntervalSince1970 * 1e6) - s.lastStepMicros) / 1e6)) s ago, \(s.running) attempt(s) running"
            }
            out.append(line)
        } else {
            out.append("engine: not running" + (status.map { ", last seen \(Timestamp.rfc3339(micros: $0.lastStepMicros)) (pid \($0.pid))" } ?? ""))
        }
        out.append("log: head seq \(head)")
        if reactors.isEmpty { out.append("reactors: none has a checkpoint yet (no engine has committed)") }
        for x in reactors {
            out.append("reactor \(x.name): checkpoint \(x.checkpoint), lag \(x.lagEvents) event(s), \(String(format: "%.1f", x.lagSeconds)) s")
        }
        for x in schedules {
            out.append("schedule \(x.name): next tick \(x.next.map(ScheduleEvents.timeText) ?? "none"), last \(x.last.map(ScheduleEvents.timeText) ?? "none yet")\(x.lastRun.map { " (run \($0))" } ?? "")")
        }
        for name in sensorNames {
            if let e = sensors?.first(where: { $0["name"]?.stringValue == name }) {
                out.append("sensor \(name): \(e["state"]?.stringValue ?? "?"), last poll \(e["last_poll"]?.stringValue ?? "none yet")\(e["error"]?.stringValue.map { ": \($0)" } ?? "")")
            } else {
                out.append("sensor \(name): no status (no engine has polled it)")
            }
        }
        out.append("outbox: \(outbox.pending) pending (\(outbox.failing) failing)\(outbox.oldestPendingMicros.map { ", oldest requested \(Timestamp.rfc3339(micros: $0))" } ?? ""), \(outbox.sent) sent, \(outbox.givenUpLastDay) given up in the last 24 h")
        for p in problems { out.append("problem: \(p)") }
        return out
    }

    public var value: Value {
        var engine: [(String, Value)] = [("running", .bool(holder != nil)), ("pid", holder.map { .int(Int64($0)) } ?? .null)]
        if let s = status {
            engine += [("engine", .string(s.engine)), ("started", .string(Timestamp.rfc3339(micros: s.startedMicros))),
                       ("last_step", .string(Timestamp.rfc3339(micros: s.lastStepMicros))), ("through_seq", .int(Int64(s.throughSeq))),
                       ("attempts_running", .int(Int64(s.running))), ("failed_steps", .int(Int64(s.failedSteps))),
                       ("last_failure", s.lastFailure.map(Value.string) ?? .null), ("stopped", .bool(s.stopped))]
        }
        return .object([
            ("healthy", .bool(healthy)),
            ("engine", .object(engine)),
            ("head_seq", .int(Int64(head))),
            ("reactors", .array(reactors.map { x in
                .object([("name", .string(x.name)), ("checkpoint", .int(Int64(x.checkpoint))), ("lag_events", .int(Int64(x.lagEvents))),
                         ("lag_seconds", .double(x.lagSeconds))])
            })),
            ("schedules", .array(schedules.map { x in
                .object([("name", .string(x.name)), ("next_tick", x.next.map { .string(ScheduleEvents.timeText($0)) } ?? .null),
                         ("last_tick", x.last.map { .string(ScheduleEvents.timeText($0)) } ?? .null), ("last_run", x.lastRun.map(Value.string) ?? .null)])
            })),
            ("sensors", .array(sensorNames.map { name in
                let e = sensors?.first { $0["name"]?.stringValue == name }
                return .object([("name", .string(name)), ("state", e?["state"] ?? .string("unknown")), ("last_poll", e?["last_poll"] ?? .null),
                                ("error", e?["error"] ?? .null)])
            })),
            ("outbox", .object([("pending", .int(Int64(outbox.pending))), ("failing", .int(Int64(outbox.failing))),
                                ("oldest_pending", outbox.oldestPendingMicros.map { .string(Timestamp.rfc3339(micros: $0)) } ?? .null),
                                ("sent", .int(Int64(outbox.sent))), ("given_up_last_day", .int(Int64(outbox.givenUpLastDay)))])),
            ("problems", .array(problems.map(Value.string))),
        ])
    }
}
