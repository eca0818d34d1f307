import ArgumentParser
import Catalog
import Console
import Engine
import Domain
import EventLog
import Executors
import Foundation
import Projections
import Runs

// MARK: - run, rerun: request, then drive or follow the run

struct RunJob: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a job: waits and shows progress (exit 1 if the run fails), or --detach.",
        discussion: "Without an engine running (`ledgerflow work`), this command runs one until the run ends.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The job.") var job: String
    @Option(name: .long, help: ArgumentHelp("A parameter (repeatable): NAME=VALUE.", valueName: "k=v")) var param: [String] = []
    @Flag(name: .long, help: "Request the run and return; an engine (`ledgerflow work`) runs it.") var detach = false
    @Option(name: .long, parsing: .unconditional, help: "Stage attempts at once when this command runs the engine (default 4).") var workers = 4
    @Flag(name: .long, help: "Print the run's final status as JSON.") var json = false

    func validate() throws {
        for p in param where !p.contains("=") || p.hasPrefix("=") { throw ValidationError("--param '\(p)' must be NAME=VALUE") }
        if workers < 1 { throw ValidationError("--workers must be at least 1") }
    }

    func run() throws {
        let signals = SignalStop()
        let log = try store.openForWriting()
        let params = param.map { p -> (String, Value) in
            let i = p.firstIndex(of: "=")!
            return (String(p[..<i]), parseParameter(String(p[p.index(after: i)...])))
        }
        let id: String
        do {
            id = try RunCommands.request(log, job: job, parameters: params, trigger: .manual(by: cliActor),
                                         actor: cliActor)
        } catch let e as RunCommandError { throw CommandFailure(message: e.message) }
        try drive(log, run: id, detach: detach, workers: workers, json: json, store: store.path, signals: signals)
    }
}

struct Rerun: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a failed or cancelled run again from its failure: succeeded stages are reused, the rest run.")
    @OptionGroup var store: StoreOptions
    @Argument(help: ArgumentHelp("The run.", valueName: "run")) var runID: String
    @Flag(name: .long, help: "Run the failed, cancelled, skipped and not-yet-run stages; reuse the outputs of the stages that succeeded.") var fromFailure = false
    @Flag(name: .long, help: "Request the rerun and return.") var detach = false
    @Option(name: .long, parsing: .unconditional, help: "Stage attempts at once when this command runs the engine (default 4).") var workers = 4
    @Flag(name: .long, help: "Print the new run's final status as JSON.") var json = false

    func validate() throws {
        if workers < 1 { throw ValidationError("--workers must be at least 1") }
        if !fromFailure { throw ValidationError("rerun needs --from-failure (the only way to rerun today); to run the job afresh use `ledgerflow run JOB`") }
    }

    func run() throws {
        let signals = SignalStop()
        let log = try store.openForWriting()
        let id: String
        do { id = try RunCommands.rerunFromFailure(log, run: runID, actor: cliActor) } catch let e as RunCommandError {
            throw CommandFailure(message: e.message)
        }
        if !json { Output.line("run \(id): rerun of run \(runID) from its failure") }
        try drive(log, run: id, detach: detach, workers: workers, json: json, store: store.path, signals: signals)
    }
}

/// A parameter value: a number, true/false, null, or else text.
func parseParameter(_ s: String) -> Value {
    if let i = Int64(s) { return .int(i) }
    if let d = Double(s), d.isFinite { return .double(d) }
    if s == "true" || s == "false" { return .bool(s == "true") }
    if s == "null" { return .null }
    return .string(s)
}

/// Waits for run `id` to end, showing progress, running an engine in this process whenever no
/// other process runs one; exits 1 unless the run succeeded.
func drive(_ log: EventLog, run id: String, detach: Bool, workers: Int, json: Bool, store: String, signals: SignalStop) throws {
    // The job from the run's request (its stream's first event), not from a fold of every run.
    let job = (try? log.read(stream: RunEvents.stream(run: id), limit: 1).first?.decode(RunRequested.self).job) ?? "?"
    if detach {
        if json { Output.line(prettyJSON(.object([("run", .string(id)), ("job", .string(job))]))) } else {
            Output.line("run \(id) of job \(job) requested")
            if EngineLock.holder(store: store) == nil {
                Output.line("no engine is running for this store: start one with `ledgerflow work` (or run without --detach)")
            }
        }
        return
    }
    let progress = Progress(run: id, tty: isatty(1) == 1 && !json, quiet: json)
    if !json { Output.line("run \(id) of job \(job)") ; Output.flush() }
    var options = RunHost.Options()
    options.engine.workers = workers
    options.engine.log = EngineLogPrinter.stderr(.text)
    let host = RunHost(log: log, store: store, run: id, options: options)
    signals.onSignal { host.interrupt() }
    let outcome: RunHost.Outcome
    do {
        outcome = try host.follow(onEvent: { progress.show($0) }, onIdle: { progress.tick() })
    } catch {
        throw CommandFailure(message: "\(error)")
    }
    guard case .finished(let finished) = outcome else {
        Output.flush()
        throw CommandFailure(message: "interrupted; run \(id) goes on when an engine runs (`ledgerflow work`), or cancel it with `ledgerflow cancel \(id)`")
    }
    let final = try RunCommands.runs(log)
    if let run = final.runs[id] {
        if json { Output.line(prettyJSON(statusValue(run))) } else { progress.finish(run) }
    }
    Output.flush()
    if finished != .succeeded { throw CommandFailure(message: "") }
}

/// Live progress of one run: a redrawn table of stages on a terminal, plain lines otherwise.
final class Progress {
    let run: String
    let tty: Bool
    let quiet: Bool
    var stages: [(name: String, state: String, since: Date, attempt: Int)] = []
    var drawn = 0

    init(run: String, tty: Bool, quiet: Bool) {
        self.run = run
        self.tty = tty
        self.quiet = quiet
    }

    func show(_ e: RecordedEvent) {
        guard !quiet else { return }
        let event: RunEvent?
        do { event = try RunEvent(e) } catch {
            // The engine fails the step that reads it; say so here too.
            show(line: "unreadable event: \(error)", at: e)
            return
        }
        guard let event else {
            if tty { draw() }
            return
        }
        let stage = event.stage
        var line: String?
        switch event {
        case .requested(let r):
            for s in r.stages { stages.append((s.name, "pending", e.recordedAt, 0)) }
        case .queued(let q):
            set(stage, q.attempt > 1 ? "retry queued" : "queued", e, q.attempt)
            if q.attempt > 1 { line = "\(q.stage) queued for attempt \(q.attempt)" }
        case .started(let st):
            set(stage, "running", e, st.attempt)
            line = "\(st.stage) started (attempt \(st.attempt))" + (st.items.map { ", \(plural($0.count, "item"))" } ?? "")
        case .itemStarted(let it):
            line = "\(it.stage) item \(it.item): " + (it.childRun.map { "run \($0)" } ?? "no run: \(it.error ?? "")")
        case .succeeded(let su):
            let reused = su.reusedFrom?.run
            set(stage, reused != nil ? "reused" : "succeeded", e, su.attempt)
            line = reused.map { "\(su.stage) reused from run \($0)" } ?? "\(su.stage) succeeded in \(ms(su.durationMs))"
        case .failed(let f):
            set(stage, "failed", e, f.attempt)
            line = "\(f.stage) failed (attempt \(f.attempt), \(f.reason)): \(f.error)\(f.retry ? "; will retry" : "")"
        case .skipped(let sk):
            set(stage, "skipped", e, 0); line = "\(sk.stage) skipped: \(sk.reason)"
        case .cancelled(let c):
            set(stage, "cancelled", e, c.attempt ?? 0); line = "\(c.stage) cancelled"
        case .cancelRequested(let c):
            line = "cancel requested by \(c.by)"
        case .datasetWritten, .runSucceeded, .runFailed, .runCancelled:
            break
        }
        if let line { show(line: line, at: e) } else if tty { draw() }
    }

    /// A progress line (plain output), or the redrawn table (terminal).
    func show(line: String, at e: RecordedEvent) {
        if tty { draw() } else {
            Output.line("\(Progress.clock.string(from: e.recordedAt))  \(line)")
            Output.flush()
        }
    }

    func set(_ stage: String?, _ state: String, _ e: RecordedEvent, _ attempt: Int) {
        guard let i = stages.firstIndex(where: { $0.name == stage }) else { return }
        stages[i].state = state
        stages[i].since = e.recordedAt
        if attempt > 0 { stages[i].attempt = attempt }
    }

    func tick() { if tty { draw() } }

    func draw() {
        var out = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
        let width = max(5, stages.map(\.name.count).max() ?? 5)
        for s in stages {
            let elapsed = s.state == "running" ? String(format: "%.1fs", Date().timeIntervalSince(s.since)) : ""
            let attempt = s.attempt > 1 ? " (attempt \(s.attempt))" : ""
            out += "\u{1B}[2K  \(s.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(s.state)\(attempt) \(elapsed)\n"
        }
        drawn = stages.count
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    func finish(_ r: RunState) {
        Output.line("run \(r.id) \(r.status.rawValue) in \(durationText(r))")
    }

    static let clock: DateFormatter = {
        let f = DateFormatter()
        f.dateFormat = "HH:mm:ss.SSS"
        return f
    }()
}

func ms(_ milliseconds: Int64?) -> String {
    guard let m = milliseconds else { return "?" }
    return m < 1000 ? "\(m) ms" : String(format: "%.1f s", Double(m) / 1000)
}

func durationText(_ r: RunState) -> String {
    let end = r.finishedAtMicros ?? Int64(Date().timeIntervalSince1970 * 1e6)
    return ms((end - r.requestedAtMicros) / 1000)
}

// MARK: - runs, status, logs, cancel, work

struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List runs, newest first.")
    @OptionGroup var store: StoreOptions
    @Option(name: .long, help: "Only runs of this job.") var job: String?
    @Option(name: .long, help: "Only runs with this status: running, succeeded, failed, cancelled.") var status: String?
    @Option(name: .long, parsing: .unconditional, help: "At most this many (default 50).") var limit = 50
    @Flag(name: .long, help: "JSON output.") var json = false

    func validate() throws {
        if limit < 1 { throw ValidationError("--limit must be at least 1 (got \(limit))") }
        if let status, RunStatus(rawValue: status) == nil {
            throw ValidationError("--status must be one of \(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let log = try store.openForReading()
        let state = try RunCommands.runs(log)
        let runs = state.ordered.reversed().filter { r in
            (job == nil || r.job == job) && (status == nil || r.status.rawValue == status)
        }.prefix(limit)
        if json {
            Output.line(prettyJSON(.array(runs.map(summaryValue))))
            return
        }
        if runs.isEmpty { Output.line("no runs\(job.map { " of job \($0)" } ?? "")\(status.map { " with status \($0)" } ?? "")"); return }
        printTable(["RUN", "JOB", "STATUS", "REQUESTED", "DURATION", "STAGES", "TRIGGER"], runs.map { r in
            let ok = r.stages.filter { $0.status == .succeeded }.count
            return [r.id, r.job, r.status.rawValue, timestamp(r.requestedAtMicros), durationText(r), "\(ok)/\(r.stages.count)", triggerText(r.trigger)]
        })
    }
}

func timestamp(_ micros: Int64) -> String { RunViews.timestamp(micros) }
func triggerText(_ t: RunTrigger) -> String { RunViews.triggerText(t) }
func summaryValue(_ r: RunState) -> Value { RunViews.summary(r) }
func statusValue(_ r: RunState, _ runs: RunsState = RunsState()) -> Value { RunViews.status(r, runs) }
func loopItems(_ s: StageState, _ runs: RunsState) -> [RunViews.ItemLine]? { RunViews.items(s, runs) }

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A run: its stages, attempts, durations, datasets written and errors.")
    @OptionGroup var store: StoreOptions
    @Argument(help: ArgumentHelp("The run.", valueName: "run")) var runID: String
    @Flag(name: .long, help: "JSON output.") var json = false

    func run() throws {
        let log = try store.openForReading()
        let state = try RunCommands.runs(log)
        guard let r = state.runs[runID] else { throw CommandFailure(message: "no run '\(runID)'; `ledgerflow runs` lists them") }
        if json { Output.line(prettyJSON(statusValue(r, state))); return }
        Output.line("run \(r.id) of job \(r.job) (version \(r.jobVersion), catalog seq \(r.catalogSeq)): \(r.status.rawValue)\(r.cancelRequested && r.status == .running ? " (cancelling)" : "")")
        Output.line("requested \(timestamp(r.requestedAtMicros)) by \(triggerText(r.trigger)); \(r.status == .running ? "running for" : "took") \(durationText(r))")
        if let params = r.parameters.objectMembers, !params.isEmpty {
            Output.line("parameters: " + params.map { "\($0.key)=\($0.value.stringValue ?? $0.value.jsonString)" }.joined(separator: " "))
        }
        Output.line("")
        defer {
            for s in r.stages {
                guard let items = loopItems(s, state), !items.isEmpty else { continue }
                Output.line("")
                Output.line("items of \(s.name):")
                printTable(["ITEM", "VALUE", "RUN", "STATUS"], items.map { i in
                    [String(i.index), i.text, i.run ?? "-", i.status + (i.reused ? " (reused)" : "") + (i.error.map { ": \($0)" } ?? "")]
                })
            }
        }
        printTable(["STAGE", "TYPE", "STATUS", "ATTEMPTS", "DURATION", "DETAIL"], r.stages.map { s in
            let duration = s.attempts.last?.durationMs.map { ms($0) }
                ?? (s.status == .running ? s.attempts.last.map { ms((Int64(Date().timeIntervalSince1970 * 1e6) - $0.startedAtMicros) / 1000) + "…" } ?? "" : "")
            var detail = ""
            let reported = ReportedOutputs(s.outputs)
            if let m = reported.metrics?.objectMembers, !m.isEmpty {
                detail = "metrics: " + m.map { "\($0.key)=\($0.value.stringValue ?? $0.value.jsonString)" }.joined(separator: " ")
            }
            if let u = s.reusedFrom { detail = "reused from run \(u.run) attempt \(u.attempt)" }
            if let c = s.attempts.last?.childRun {
                detail = "child run \(c)" + (state.runs[c].map { " of job \($0.job): \($0.status.rawValue)" } ?? "")
            }
            if let items = loopItems(s, state) {
                let by = Dictionary(grouping: items, by: \.status).mapValues(\.count)
                detail = plural(items.count, "item") + ": " + by.keys.sorted().map { "\(by[$0] ?? 0) \($0)" }.joined(separator: ", ")
            }
            if !s.datasets.isEmpty { detail = s.datasets.map { "wrote \($0.dataset) v\($0.version) (\(plural(Int($0.rows), "row")))" }.joined(separator: "; ") }
            if let (model, v) = reported.version {
                let what: String
                switch s.plan.type {
                case "train": what = "registered \(model) v\(v)" + (reported.metrics.map { " (\(metricsText($0)))" } ?? "")
                case "inference":
                    what = "scored with \(model) v\(v)" + (reported.modelRef.map { " (\($0))" } ?? "")
                        + (reported.predictionsRecorded.map { ", \(plural(Int($0), "prediction")) recorded" } ?? "")
                default: what = "\(model) v\(v)"
                }
                detail = detail.isEmpty || s.plan.type == "train" ? what : what + "; " + detail
            }
            if s.status == .failed { detail = "\(s.reason.map { "[\($0)] " } ?? "")\(s.error ?? "")" }
            if s.status == .skipped { detail = s.reason ?? "" }
            if s.status == .queued, let nb = s.notBeforeMicros { detail = "attempt \(s.queuedAttempt) not before \(timestamp(nb))" }
            return [s.name, s.plan.type, s.status.rawValue, String(s.attempts.count), duration, detail]
        })
        let failures = r.stages.flatMap { s in s.attempts.filter { $0.outcome == .failed }.map { (s.name, $0) } }
        if !failures.isEmpty {
            Output.line("")
            Output.line("failed attempts:")
            for (name, a) in failures { Output.line("  \(name) attempt \(a.number) [\(a.reason ?? "error")]: \(a.error ?? "")") }
        }
    }
}

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The stdout and stderr a stage attempt wrote (script stages).")
    @OptionGroup var store: StoreOptions
    @Argument(help: ArgumentHelp("The run.", valueName: "run")) var runID: String
    @Argument(help: "The stage (default: every stage that ran).") var stage: String?
    @Option(name: .long, parsing: .unconditional, help: "The attempt (default: the last).") var attempt: Int?

    func validate() throws {
        if let attempt, attempt < 1 { throw ValidationError("--attempt must be at least 1 (got \(attempt))") }
    }

    func run() throws {
        let log = try store.openForReading()
        let state = try RunCommands.runs(log)
        guard let r = state.runs[runID] else { throw CommandFailure(message: "no run '\(runID)'; `ledgerflow runs` lists them") }
        var stages = r.stages
        if let stage {
            guard let s = r.stage(stage) else {
                throw CommandFailure(message: "run \(runID) has no stage '\(stage)'; its stages are \(r.stages.map(\.name).joined(separator: ", "))")
            }
            stages = [s]
        }
        // Logs are masked as they are written; files from older versions (or from before a
        // secret was defined) are masked here with every secret of the run's catalog and of the
        // current one that this process can read.
        let root = (URL(fileURLWithPath: store.path).standardizedFileURL.path as NSString).deletingLastPathComponent
        let runCatalog = try ProjectionRunner(log: log, projection: CatalogProjection()).state(at: r.catalogSeq).state
        let secrets = SecretMask(Secrets.mask(catalog: runCatalog, root: root).secrets + Secrets.mask(catalog: try RunCommands.catalog(log), root: root).secrets)
        var printed = false
        for s in stages {
            guard let number = attempt ?? s.attempts.last?.number else { continue }
            guard s.attempts.contains(where: { $0.number == number }) else {
                throw CommandFailure(message: "stage '\(s.name)' of run \(runID) has no attempt \(number) (attempts: \(s.attempts.map { String($0.number) }.joined(separator: ", ")))")
            }
            let folder = StageContext.attemptFolder(store: store.path, run: runID, stage: s.name, attempt: number)
            for stream in ["stdout", "stderr"] {
                let path = (folder as NSString).appendingPathComponent("\(stream).log")
                guard let data = FileManager.default.contents(atPath: path) else { continue }
                Output.line("==> \(s.name) attempt \(number) \(stream) <==")
                let text = String(decoding: secrets.mask([UInt8](data)), as: UTF8.self)
                if !text.isEmpty { Output.line(text.hasSuffix("\n") ? String(text.dropLast()) : text) }
                printed = true
            }
        }
        if !printed { Output.line("no logs kept for \(stage.map { "stage \($0) of " } ?? "")run \(runID) (only script stages keep stdout and stderr)") }
    }
}

struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel a running run: what has not started is cancelled, running attempts are killed.")
    @OptionGroup var store: StoreOptions
    @Argument(help: ArgumentHelp("The run.", valueName: "run")) var runID: String

    func run() throws {
        let log = try store.openForWriting()
        do { try RunCommands.cancel(log, run: runID, actor: cliActor) } catch let e as RunCommandError { throw CommandFailure(message: e.message) }
        Output.line("run \(runID): cancel requested")
        if EngineLock.holder(store: store.path) == nil {
            Output.line("no engine is running; the run is cancelled when one runs (`ledgerflow work`)")
        }
    }
}

struct Work: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the engine in the foreground (reactors and workers) until SIGINT or SIGTERM, or with --once until nothing is due.")
    @OptionGroup var store: StoreOptions
    @Flag(help: "Do what is due now and exit when idle: every attempt that can start runs to its end and the reactors react to it; a run waiting for a retry's backoff stays for the next engine (for a system cron).")
    var once = false
    @Option(name: .long, parsing: .unconditional, help: "Stage attempts at once (default 4).") var workers = 4
    @Option(name: .long, parsing: .unconditional, help: "Seconds running attempts get to finish on shutdown before they are killed (default 10).") var grace = 10.0
    @Option(name: .customLong("log-format"), help: "Log lines on stderr as text (time level component [run=N]: message) or one JSON object per line (default text).")
    var logFormat: LogLine.Format = .text
    @Option(name: .long, parsing: .unconditional, help: "Also serve the operations console on this port (0: a free one; its URL is logged).") var http: Int?
    @OptionGroup var address: ConsoleBind

    func validate() throws {
        if http != nil { try address.check() }
        if let http, !(0...65535).contains(http) { throw ValidationError("--http must be a port from 0 to 65535 (got \(http))") }
        if workers < 1 { throw ValidationError("--workers must be at least 1") }
        if !(grace >= 0) { throw ValidationError("--grace must be a number of seconds, 0 or more (got \(grace))") }
    }

    func run() throws {
        let signals = SignalStop()
        let log = try store.openForWriting()
        guard let lock = try EngineLock.acquire(store: store.path) else {
            throw CommandFailure(message: "an engine already runs for this store (pid \(EngineLock.holder(store: store.path).map(String.init) ?? "?")); one engine per store")
        }
        let say = EngineLogPrinter.stderr(logFormat)
        var o = Engine.Options()
        o.workers = workers
        o.shutdownGrace = grace
        o.log = say
        if once { o.scheduleTicks = .dueBy(log.clock.nowMicros()) } // what is due now; later ticks are the next engine's
        let engine = Engine(log: log, store: store.path, options: o)
        signals.onSignal {
            say(LogLine(level: .info, component: "service", message: "stop requested (signal): no new attempts; running ones get up to \(Int(grace)) s"))
            engine.stop()
        }
        say(LogLine(level: .info, component: "service",
                    message: "engine \(engine.engineID) working on \(store.path) with \(workers) workers; \(once ? "exits when nothing is due" : "stop with Ctrl-C or SIGTERM")"))
        let tokens = try http.map { _ in try address.load(store: store.path, log: log) }
        let console = http.map { ConsoleBeside(log: log, store: store.path, host: address.bind, port: $0, tokens: tokens ?? ConsoleTokens(), authRead: address.auth == "read") }
        // --once: the engine returns at its first idle moment (nothing running, a step that
        // decided nothing); without it, only when stopped.
        let final: RunsState
        do { final = try engine.run(until: { _ in once }) } catch {
            console?.stop()
            throw error
        }
        console?.stop()
        _ = lock
        let active = final.active.count
        if once {
            say(LogLine(level: .info, component: "service", message: "engine idle: nothing more is due now (\(active == 1 ? "1 run still active: its next attempt is" : "\(active) runs still active: their next attempts are") not due yet)"))
        } else {
            say(LogLine(level: .info, component: "service", message: "engine stopped cleanly (\(active) runs still active)"))
        }
    }
}

/// Prints the engine's log lines on stderr, one per line, in the chosen format.
enum EngineLogPrinter {
    static func stderr(_ format: LogLine.Format) -> @Sendable (LogLine) -> Void {
        { line in FileHandle.standardError.write(Data((line.formatted(format) + "\n").utf8)) }
    }
}

extension LogLine.Format: ExpressibleByArgument {}
