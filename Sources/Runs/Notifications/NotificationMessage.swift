import Catalog
import Domain

/// What a finished run's message reports, gathered from the log: the run as folded, who owns
/// what, and what the stage and dataset events carry beyond the folded state (rows read,
/// partitions written).
public struct RunReport: Sendable, Hashable {
    public var run: RunState
    /// The job's owner team (as of the run's catalog version).
    public var jobOwner: String?
    /// Stage → its own owner team.
    public var stageOwners: [String: String]
    /// Stage → the datasets its successful attempt read (`StageSucceeded.inputs`).
    public var inputs: [String: [StageInput]]
    /// Seq of a `DatasetVersionWritten` → the partitions it wrote.
    public var partitions: [UInt64: [WrittenPartition]]
    /// A for_each stage → each item's state (its run and how it ended).
    public var loopItems: [String: [Loops.ItemState]]

    public init(run: RunState, jobOwner: String? = nil, stageOwners: [String: String] = [:], inputs: [String: [StageInput]] = [:],
                partitions: [UInt64: [WrittenPartition]] = [:], loopItems: [String: [Loops.ItemState]] = [:]) {
        self.run = run
        self.jobOwner = jobOwner
        self.stageOwners = stageOwners
        self.inputs = inputs
        self.partitions = partitions
        self.loopItems = loopItems
    }

    /// The team that owns `stage`: its own owner, else the job's.
    public func owner(of stage: String) -> String? { stageOwners[stage] ?? jobOwner }
}

/// A message's subject and bodies.
public struct RenderedMessage: Sendable, Hashable {
    public var subject: String
    /// Plain text, lines separated by "\n" (the mail builder writes CRLF).
    public var text: String
    public var html: String

    public init(subject: String, text: String, html: String) {
        self.subject = subject
        self.text = text
        self.html = html
    }
}

/// Renders messages (pure and deterministic: the same report gives the same bytes).
public enum NotificationMessage {
    /// At most this many characters of one error message are quoted (the rest is in `ledgerflow status`).
    public static let maxErrorCharacters = 2_000

    /// `[ledgerflow] churn_scoring run 42 failed: 3 succeeded, 1 failed, 1 skipped`.
    public static func subject(_ run: RunState) -> String {
        "[ledgerflow] \(run.job) run \(run.id) \(run.status.rawValue): \(counts(run))"
    }

    /// `3 succeeded, 1 failed, 1 skipped` (succeeded always; the others when there are any).
    public static func counts(_ run: RunState) -> String {
        var parts = ["\(run.stages.filter { $0.status == .succeeded }.count) succeeded"]
        for status in [StageStatus.failed, .skipped, .cancelled, .pending, .queued, .running] {
            let n = run.stages.filter { $0.status == status }.count
            if n > 0 { parts.append("\(n) \(status.rawValue)") }
        }
        return parts.joined(separator: ", ")
    }

    /// The Message-ID of a message: stable for its key, team and channel in this store.
    public static func messageID(key: String, team: String, channel: NotificationChannel, store: String) -> String {
        let local = (key.split(separator: "/").map(String.init) + [team, channel.rawValue, String(store.prefix(12))])
            .map { $0.filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") } }
            .filter { !$0.isEmpty }
            .joined(separator: ".")
        return "<\(local)@ledgerflow>"
    }

    /// One stage's line facts, shared by the text and HTML forms.
    struct StageLine {
        var name: String
        var type: String
        var status: String
        var attempts: Int
        var duration: String?
        var details: [String]
        var owner: String?
    }

    static func stageLines(_ report: RunReport) -> [StageLine] {
        report.run.stages.map { s in
            var details: [String] = []
            let read = report.inputs[s.name] ?? []
            let rowsRead = read.compactMap(\.rows).reduce(0, +)
            if !read.isEmpty {
                let names = read.map { i in i.version.map { "\(i.dataset) v\($0)" } ?? i.dataset }.joined(separator: ", ")
                details.append(read.contains { $0.rows != nil } ? "read \(plural(rowsRead, "row")) from \(names)" : "read \(names)")
            }
            for d in s.datasets {
                var w = "wrote \(d.dataset) v\(d.version) (\(plural(d.rows, "row")))"
                let parts = report.partitions[d.seq] ?? []
                if !parts.isEmpty {
                    w += ", partitions " + parts.map { p in
                        (p.values.objectMembers ?? []).map { "\($0.key)=\($0.value.stringValue ?? $0.value.jsonString)" }.joined(separator: "/")
                    }.joined(separator: ", ")
                }
                details.append(w)
            }
            let outputs = ReportedOutputs(s.outputs)
            if let (model, v) = outputs.version { details.append("model \(model) v\(v)") }
            if let m = outputs.metrics?.objectMembers, !m.isEmpty {
                details.append("metrics " + m.map { "\($0.key)=\($0.value.stringValue ?? $0.value.jsonString)" }.joined(separator: ", "))
            }
            if let items = loopLines(s, report) { details += items }
            if let child = childLine(s) { details.append(child) }
            if s.status == .skipped, let r = s.reason { details.append(r) }
            if let u = s.reusedFrom { details.append("reused from run \(u.run) attempt \(u.attempt)") }
            return StageLine(name: s.name, type: s.plan.type, status: s.status.rawValue, attempts: s.attempts.count,
                             duration: s.attempts.last?.durationMs.map(seconds), details: details, owner: report.owner(of: s.name))
        }
    }

    /// A job stage's child run (nil for other stages): its job and status, and the rows its
    /// stages read and wrote.
    static func childLine(_ s: StageState) -> String? {
        guard s.plan.type == ChildRuns.stageType, let o = s.outputs, let run = o["run"]?.stringValue, let job = o["job"]?.stringValue else { return nil }
        var line = "child run \(run) of job \(job): \(o["status"]?.stringValue ?? "?")"
        for stage in o["stages"]?.objectMembers ?? [] {
            let counts = [("rows_read", "read"), ("rows_written", "written")].compactMap { key, word in
                stage.value[key].flatMap { v -> String? in if case .int(let n) = v { return "\(plural(n, "row")) \(word)" } else { return nil } }
            }
            if !counts.isEmpty { line += "; \(stage.key): " + counts.joined(separator: ", ") }
        }
        return line
    }

    /// A for_each stage's items (nil for other stages): how many there were and how they ended,
    /// then a line per item that failed or got no run (its fields, its run).
    static func loopLines(_ s: StageState, _ report: RunReport) -> [String]? {
        guard s.plan.type == Loops.stageType, let a = s.attempts.last, let items = a.items else { return nil }
        guard let states = report.loopItems[s.name], states.count == items.count else {
            return ["\(plural(Int64(items.count), "item")), \(a.itemStarts.count) started"]
        }
        var counts: [String: Int] = [:]
        var failed: [String] = []
        for (i, state) in states.enumerated() {
            switch state {
            case .pending: counts["not started", default: 0] += 1
            case .running: counts["running", default: 0] += 1
            case .ended(let run, _, let status, _):
                counts[status, default: 0] += 1
                if status != RunStatus.succeeded.rawValue { failed.append("item \(i) (\(Loops.describe(items[i]))): run \(run) \(status)") }
            case .refused(let error):
                counts["failed", default: 0] += 1
                failed.append("item \(i) (\(Loops.describe(items[i]))): no run, \(clip(error))")
            }
        }
        let order = ["succeeded", "failed", "cancelled", "running", "not started"]
        let summary = order.compactMap { k in counts[k].map { "\($0) \(k)" } }.joined(separator: ", ")
        let reused = a.itemStarts.values.filter(\.reused).count
        return ["\(plural(Int64(items.count), "item")): \(summary)" + (reused > 0 ? " (\(reused) reused)" : "")] + failed
    }

    /// Every failed attempt: stage, attempt, reason, message, owning team.
    static func errors(_ report: RunReport) -> [(stage: String, attempt: Int, reason: String, message: String, owner: String?)] {
        report.run.stages.flatMap { s in
            s.attempts.filter { $0.outcome == .failed }.map { a in
                (s.name, a.number, a.reason ?? "error", clip(a.error ?? ""), report.owner(of: s.name))
            }
        }
    }

    /// The commands that show more.
    static func commands(_ run: RunState) -> [String] {
        let failed = run.stages.filter { $0.status == .failed }.map(\.name)
        return ["ledgerflow status \(run.id)"] + (failed.isEmpty ? ["ledgerflow logs \(run.id)"] : failed.map { "ledgerflow logs \(run.id) \($0)" })
    }

    /// The message about a finished run for a team told for `reasons`.
    public static func run(_ report: RunReport, reasons: [String]) -> RenderedMessage {
        let r = report.run
        let took = r.finishedAtMicros.map { seconds(($0 - r.requestedAtMicros) / 1000) }
        let headline = "Run \(r.id) of job \(r.job) \(r.status.rawValue)\(took.map { " after \($0)" } ?? "")."
        let about = "Job version \(r.jobVersion), catalog seq \(r.catalogSeq), started by \(r.trigger.kind.rawValue)\(r.trigger.by.map { " (\($0))" } ?? "")."
        let params = (r.parameters.objectMembers ?? []).map { "\($0.key)=\($0.value.stringValue ?? $0.value.jsonString)" }
        let why = "You are told as: \(reasons.joined(separator: "; "))."
        let stages = stageLines(report)
        let errs = errors(report)
        let cmds = commands(r)

        var t: [String] = [headline, about]
        if !params.isEmpty { t.append("Parameters: " + params.joined(separator: " ")) }
        t.append(why)
        t.append("")
        t.append("Stages:")
        for s in stages {
            var line = "- \(s.name) (\(s.type)): \(s.status), \(plural(Int64(s.attempts), "attempt"))"
            if let d = s.duration { line += ", \(d)" }
            if let o = s.owner { line += ", owner \(o)" }
            t.append(line)
            for d in s.details { t.append("    \(d)") }
        }
        if !errs.isEmpty {
            t.append("")
            t.append("Errors:")
            for e in errs {
                t.append("- stage \(e.stage), attempt \(e.attempt) [\(e.reason)], owner \(e.owner ?? "none"): \(e.message)")
            }
        }
        t.append("")
        t.append("Look further:")
        for c in cmds { t.append("  \(c)") }

        var h = "<html><body>\n"
        h += "<p><b>\(escape(headline))</b><br>\n\(escape(about))"
        if !params.isEmpty { h += "<br>\nParameters: <code>\(escape(params.joined(separator: " ")))</code>" }
        h += "<br>\n\(escape(why))</p>\n"
        h += "<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\">\n"
        h += "<tr><th>stage</th><th>type</th><th>status</th><th>attempts</th><th>duration</th><th>owner</th><th>details</th></tr>\n"
        for s in stages {
            h += "<tr><td>\(escape(s.name))</td><td>\(escape(s.type))</td><td>\(escape(s.status))</td><td>\(s.attempts)</td>"
            h += "<td>\(escape(s.duration ?? ""))</td><td>\(escape(s.owner ?? ""))</td><td>\(s.details.map(escape).joined(separator: "<br>"))</td></tr>\n"
        }
        h += "</table>\n"
        if !errs.isEmpty {
            h += "<p><b>Errors</b></p>\n<ul>\n"
            for e in errs {
                h += "<li>stage <b>\(escape(e.stage))</b>, attempt \(e.attempt) [\(escape(e.reason))], owner \(escape(e.owner ?? "none")): <pre>\(escape(e.message))</pre></li>\n"
            }
            h += "</ul>\n"
        }
        h += "<p>Look further:</p>\n<pre>\(cmds.map(escape).joined(separator: "\n"))</pre>\n</body></html>\n"
        return RenderedMessage(subject: subject(r), text: t.joined(separator: "\n") + "\n", html: h)
    }

    /// The message about an alert raised for a team.
    public static func alert(_ alert: AlertRaised, seq: UInt64) -> RenderedMessage {
        let rule = "\(alert.rule.kind) \(alert.rule.name)\(alert.rule.version.map { " (version \($0))" } ?? "")"
        let subject = "[ledgerflow] alert for \(alert.team): \(oneLine(alert.message))"
        let cmds = ["ledgerflow events --stream \(alert.rule.kind)/\(alert.rule.name)", "ledgerflow catalog history \(alert.rule.kind) \(alert.rule.name)"]
        var t = ["Alert for team \(alert.team) from \(rule):", "", alert.message, "",
                 "Raised at seq \(seq) for the crossing recorded at seq \(alert.crossing).", "", "Look further:"]
        for c in cmds { t.append("  \(c)") }
        var h = "<html><body>\n<p><b>Alert for team \(escape(alert.team)) from \(escape(rule))</b></p>\n"
        h += "<p>\(escape(alert.message))</p>\n<p>Raised at seq \(seq) for the crossing recorded at seq \(alert.crossing).</p>\n"
        h += "<p>Look further:</p>\n<pre>\(cmds.map(escape).joined(separator: "\n"))</pre>\n</body></html>\n"
        return RenderedMessage(subject: subject, text: t.joined(separator: "\n") + "\n", html: h)
    }

    /// Text made safe for HTML (element content and attribute values).
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func oneLine(_ s: String) -> String {
        let line = s.split(whereSeparator: { $0.isNewline }).first.map(String.init) ?? ""
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }

    static func clip(_ s: String) -> String {
        s.count > maxErrorCharacters ? String(s.prefix(maxErrorCharacters)) + "… (cut; see ledgerflow status)" : s
    }

    static func plural(_ n: Int64, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }

    /// `0.42 s`, `12.3 s`, `3 min 5 s`.
    static func seconds(_ ms: Int64) -> String {
        if ms < 60_000 {
            let s = Double(ms) / 1000
            return s < 10 ? "\(Double(Int((s * 100).rounded())) / 100) s" : "\(Double(Int((s * 10).rounded())) / 10) s"
        }
        return "\(ms / 60_000) min \((ms % 60_000) / 1000) s"
    }
}
