import ArgumentParser
import Domain
import Engine
import EventLog
import Foundation

/// `ledgerflow health`: is the service doing its job — for people, monitoring and systemd.
struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The service's health: the engine, each reactor's checkpoint and lag, and what it watches; exits 1 when unhealthy.",
        discussion: """
        Unhealthy when: no engine holds the store's lock; the engine has not finished a step for \
        --stale seconds; its steps are failing; a reactor is more than --max-lag seconds behind the \
        log. A reactor's lag is the events after its checkpoint and the age of the oldest of them.
        """)
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print a JSON object.") var json = false
    @Option(name: .customLong("max-lag"), help: ArgumentHelp("Seconds a reactor may be behind the log (default 60).", valueName: "seconds"))
    var maxLag = 60.0
    @Option(help: ArgumentHelp("Seconds without a finished step after which a running engine counts as stuck (default 30).", valueName: "seconds"))
    var stale = 30.0

    func validate() throws {
        if !(maxLag > 0) { throw ValidationError("--max-lag must be a number of seconds above 0 (got \(maxLag))") }
        if !(stale > 0) { throw ValidationError("--stale must be a number of seconds above 0 (got \(stale))") }
    }

    func run() throws {
        let log = try store.openForReading()
        let report = try HealthReport.gather(log: log, store: store.path, maxLag: maxLag, stale: stale, now: Date())
        if json {
            Output.line(prettyJSON(report.value))
        } else {
            for line in report.text { Output.line(line) }
        }
        Output.flush()
        if !report.problems.isEmpty { throw CommandFailure(message: "unhealthy: \(report.problems.first!)\(report.problems.count > 1 ? " (and \(report.problems.count - 1) more)" : "")") }
    }
}

/// What `health` found: facts per part and the problems that make the service unhealthy.
struct HealthReport {
    struct Reactor { var name: String; var checkpoint: UInt64; var lagEvents: UInt64; var lagSeconds: Double }
    var head: UInt64
    var holder: Int32?
    var status: EngineStatus?
    var reactors: [Reactor] = []
    var problems: [String] = []
    var now: Date

    static func gather(log: EventLog, store: String, maxLag: Double, stale: Double, now: Date) throws -> HealthReport {
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

    var healthy: Bool { problems.isEmpty }

    var text: [String] {
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
        for p in problems { out.append("problem: \(p)") }
        return out
    }

    var value: Value {
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
            ("problems", .array(problems.map(Value.string))),
        ])
    }
}
