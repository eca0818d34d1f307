import Catalog
import Domain

/// Who is told about what (pure): the teams a finished run's message goes to and why, and the
/// channels (notifiers and recipients) each team is reached through.
///
/// - The job's `owner` team hears about the outcomes in its `notify_on` (default [failure]).
/// - A stage's own `owner` team hears about a run in which that stage failed, whatever its
///   `notify_on` (each error reaches the team associated with it).
/// - A run's own `owner` (a for_each item's `item_owner`) hears about it when it failed.
/// - A monitor's (or trigger's) `alert` team hears about each alert.
/// One message per team per run: a team that owns the job and a failed stage gets one message
/// that gives both reasons.
public enum NotificationRouting {
    /// A team to tell, and why.
    public struct Audience: Sendable, Hashable {
        public var team: String
        /// `owner of job J`, `owner of stage S`, …
        public var reasons: [String]

        public init(team: String, reasons: [String]) {
            self.team = team
            self.reasons = reasons
        }
    }

    /// One way of reaching a team.
    public struct Delivery: Sendable, Hashable {
        public var channel: NotificationChannel
        public var notifier: String
        /// E-mail addresses (webhooks: none).
        public var recipients: [String]

        public init(channel: NotificationChannel, notifier: String, recipients: [String]) {
            self.channel = channel
            self.notifier = notifier
            self.recipients = recipients
        }
    }

    /// The teams told about `run` (finished), in team-name order. `job` is the job's spec as of the
    /// run's catalog version (its owner and its stages' owners); `teams` the teams defined now.
    public static func audience(run: RunState, job: JobSpec?, teams: [String: TeamSpec]) -> [Audience] {
        guard run.status.isFinished else { return [] }
        var reasons: [String: [String]] = [:]
        // (A for_each item's inline run has no job definition: only its own owner is told.)
        if let owner = job?.owner, let team = teams[owner], let outcome = outcome(run.status), team.outcomes.contains(outcome) {
            reasons[owner, default: []].append("owner of job \(run.job)")
        }
        for stage in run.stages where stage.status == .failed {
            guard let owner = job?.stage(named: stage.name)?.owner, teams[owner] != nil else { continue }
            reasons[owner, default: []].append("owner of stage \(stage.name)")
        }
        if run.status == .failed, let owner = run.owner, teams[owner] != nil {
            let t = run.trigger
            reasons[owner, default: []].append("owner of this run" + (t.parentItem.map { " (item \($0) of stage \(t.parentStage ?? "?") in run \(t.parentRun ?? "?"))" } ?? ""))
        }
        return reasons.keys.sorted().map { Audience(team: $0, reasons: reasons[$0] ?? []) }
    }

    /// The `notify_on` word of a run status.
    public static func outcome(_ status: RunStatus) -> TeamSpec.Outcome? {
        switch status {
        case .succeeded: return .success
        case .failed: return .failure
        case .cancelled: return .cancelled
        case .running: return nil
        }
    }

    /// How `team` is reached: e-mail through its `notifier` (else the only smtp notifier), and its
    /// `webhook`; `problems` says why a channel is missing (one line each).
    public static func deliveries(team name: String, _ team: TeamSpec, notifiers: [String: NotifierSpec])
        -> (deliveries: [Delivery], problems: [String]) {
        var out: [Delivery] = []
        var problems: [String] = []
        let smtp = notifiers.filter { $0.value.type == .smtp }.keys.sorted()
        if let n = team.notifier {
            if notifiers[n]?.type == .smtp {
                out.append(Delivery(channel: .email, notifier: n, recipients: team.emails))
            } else {
                problems.append("team \(name)'s notifier '\(n)' is not an smtp notifier in the catalog; no e-mail requested")
            }
        } else if smtp.count == 1 {
            out.append(Delivery(channel: .email, notifier: smtp[0], recipients: team.emails))
        } else {
            problems.append(smtp.isEmpty ? "team \(name) has no smtp notifier (none is defined); no e-mail requested"
                                         : "team \(name) names no notifier and \(smtp.count) smtp notifiers are defined; no e-mail requested")
        }
        if let w = team.webhook {
            if notifiers[w]?.type == .webhook {
                out.append(Delivery(channel: .webhook, notifier: w, recipients: []))
            } else {
                problems.append("team \(name)'s webhook '\(w)' is not a webhook notifier in the catalog; no webhook requested")
            }
        }
        return (out, problems)
    }
}

extension NotificationRouting {
    /// The teams and notifiers of a catalog, read once (specs that do not read are left out).
    public struct Directory: Sendable {
        public var teams: [String: TeamSpec] = [:]
        public var notifiers: [String: NotifierSpec] = [:]

        public init(teams: [String: TeamSpec] = [:], notifiers: [String: NotifierSpec] = [:]) {
            self.teams = teams
            self.notifiers = notifiers
        }

        /// The teams and notifiers of `catalog`.
        public init(_ catalog: CatalogState) {
            for (key, entry) in catalog.entries {
                switch key.kind {
                case .team: if let t = try? entry.spec(as: TeamSpec.self) { teams[key.name] = t }
                case .notifier: if let n = try? entry.spec(as: NotifierSpec.self) { notifiers[key.name] = n }
                default: break
                }
            }
        }

        /// Whether anyone could be told anything.
        public var isEmpty: Bool { teams.isEmpty }
    }
}

/// The notification reactor's decisions (pure): the messages a run's end or an alert asks for,
/// minus those already requested.
public enum NotificationDecider {
    /// A message to request: its stream (appended with `.noStream`) and its first event.
    public struct Request: Sendable, Hashable {
        public var stream: String
        public var event: NotificationRequested
    }

    /// The messages about the finished run of `report` (caused by the run's end at seq `cause`):
    /// one per team told and channel that reaches it, in team order, skipping the streams
    /// `requested` already holds. `problems` says which teams cannot be reached (one line each).
    public static func runEnded(_ report: RunReport, job: JobSpec?, directory: NotificationRouting.Directory, cause: UInt64, store: String,
                                requested: (String) -> Bool) -> (requests: [Request], problems: [String]) {
        let run = report.run
        guard let outcome = run.status.isFinished ? run.status.rawValue : nil else { return ([], []) }
        let key = NotificationEvents.key(run: run.id, outcome: outcome)
        var out: [Request] = []
        var problems: [String] = []
        for a in NotificationRouting.audience(run: run, job: job, teams: directory.teams) {
            guard let team = directory.teams[a.team] else { continue }
            let (deliveries, why) = NotificationRouting.deliveries(team: a.team, team, notifiers: directory.notifiers)
            problems += why.map { "run \(run.id): \($0)" }
            var message: RenderedMessage?
            for d in deliveries {
                let stream = NotificationEvents.stream(team: a.team, channel: d.channel, key: key)
                guard !requested(stream) else { continue }
                let m = message ?? NotificationMessage.run(report, reasons: a.reasons)
                message = m
                out.append(Request(stream: stream, event: NotificationRequested(
                    key: key, team: a.team, channel: d.channel, notifier: d.notifier, recipients: d.recipients, subject: m.subject, text: m.text,
                    html: m.html, messageID: NotificationMessage.messageID(key: key, team: a.team, channel: d.channel, store: store),
                    cause: cause, reasons: a.reasons, run: run.id, outcome: outcome)))
            }
        }
        return (out, problems)
    }

    /// The messages an `AlertRaised` (at `seq`) asks for: to its team, through each channel.
    public static func alertRaised(_ alert: AlertRaised, seq: UInt64, directory: NotificationRouting.Directory, store: String,
                                   requested: (String) -> Bool) -> (requests: [Request], problems: [String]) {
        guard let team = directory.teams[alert.team] else {
            return ([], ["alert at seq \(seq): team \(alert.team) is not in the catalog; nothing requested"])
        }
        let key = NotificationEvents.key(alert: seq)
        let (deliveries, why) = NotificationRouting.deliveries(team: alert.team, team, notifiers: directory.notifiers)
        let m = NotificationMessage.alert(alert, seq: seq)
        let reasons = ["alerted by \(alert.rule.kind) \(alert.rule.name)"]
        let out = deliveries.compactMap { d -> Request? in
            let stream = NotificationEvents.stream(team: alert.team, channel: d.channel, key: key)
            guard !requested(stream) else { return nil }
            return Request(stream: stream, event: NotificationRequested(
                key: key, team: alert.team, channel: d.channel, notifier: d.notifier, recipients: d.recipients, subject: m.subject, text: m.text,
                html: m.html, messageID: NotificationMessage.messageID(key: key, team: alert.team, channel: d.channel, store: store),
                cause: seq, reasons: reasons))
        }
        return (out, why.map { "alert at seq \(seq): \($0)" })
    }
}
