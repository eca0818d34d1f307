import Catalog
import Domain
import EventLog
import Executors
import Foundation
import Runs

/// The notification reactor's state (loop thread only, except `finished`, which delivery
/// workers write behind its lock).
final class NotificationReactor: @unchecked Sendable {
    // @unchecked Sendable: every property but `finished` is read and written by the engine's
    // loop thread only; `finished` is a `Locked` box that workers write.
    var loaded = false
    /// The newest seq observed (a `load()` of the engine that jumps past it makes the reactor
    /// load again, so that nothing between is missed).
    var observedThrough: UInt64 = 0
    /// The outbox as folded from the log.
    var outbox = NotificationsState()
    /// Run ends and alerts after the reactor's checkpoint not decided yet (or decided in a step
    /// not committed yet).
    var inbox: [RecordedEvent] = []
    /// Deliveries handed to a worker: stream → the stream version their record brings it to.
    var inFlight: [String: UInt64] = [:]
    /// Streams whose worker has ended → whether it appended its record.
    let finished = Locked<[String: Bool]>([:])
    var storeID = "?"
    var directory = NotificationRouting.Directory()
    var directoryAt: UInt64 = .max
    /// Deliveries at once, all notifiers together; each notifier has at most one at a time, so
    /// that an engine killed mid-delivery leaves at most one message per notifier sent but not
    /// recorded (the next engine sends it again, with the same Message-ID): duplicates per
    /// notifier are at most the kills.
    static let maxDeliveries = 4
}

/// The notification reactor (checkpoint `reactor:notifications`, decided in the engine's one
/// append with the other reactors) and the dispatch of due deliveries to workers.
///
/// Run ends (`RunSucceeded`, `RunFailed`, `RunCancelled`) and `AlertRaised` events after the
/// checkpoint are turned into `NotificationRequested` events, one per team, channel and key, each
/// the first event of its own stream (appended with `.noStream`: a message is requested at most
/// once, whatever crashes and retries happen). Delivery happens after the commit, on worker
/// threads (`NotificationDelivery`), which append `NotificationSent` / `NotificationFailed` at
/// the stream's exact next version; the loop never waits for a server.
extension Engine {
    /// The notification reactor's checkpoint (a stored identifier).
    public static let notificationsCheckpoint = "reactor:notifications"

    /// The events the reactor decides on.
    static let notificationInputs: Set<String> = [RunSucceeded.type, RunFailed.type, RunCancelled.type, AlertRaised.type]

    /// Folds a new event into the outbox and queues run ends and alerts (called by `catchUp`).
    func observeNotification(_ e: RecordedEvent) {
        let n = notifications
        guard n.loaded else { return }
        n.observedThrough = max(n.observedThrough, e.seq)
        if NotificationEvents.types.contains(e.type) { n.outbox.evolve(e) }
        if Engine.notificationInputs.contains(e.type) { n.inbox.append(e) }
    }

    /// Folds the outbox and queues the run ends and alerts after the checkpoint (a store that has
    /// no notifications checkpoint yet — one from before notifications — starts at the stage
    /// scheduler's, so that old runs are not announced).
    func loadNotifications() throws {
        let n = notifications
        let head = runs.lastSeq
        n.storeID = (try? log.storeID()) ?? "?"
        // Pending messages from the engine's snapshot and the notification events after it (the
        // settled ones before it are not needed: see `requestNotifications`).
        // The snapshot `load()` read (at or before this head), else read now.
        let snapshot: AutomationFolds.StreamsSnapshot?
        if let read = history.streamsSnapshot {
            snapshot = read
        } else {
            let (s, rejected) = AutomationFolds.streamsSnapshot(log, atOrBefore: head)
            if let rejected { options.report(rejected, .warning, component: "snapshots") }
            snapshot = s
        }
        let (outbox, folded) = try AutomationFolds.pendingOutbox(log, through: head, from: snapshot)
        n.outbox = outbox
        history.debt.streams += folded
        let stored = try log.checkpoints()
        let floor = stored[Engine.notificationsCheckpoint] ?? stored[Engine.schedulerCheckpoint] ?? 0
        var pending: [RecordedEvent] = []
        if floor < head {
            for t in Engine.notificationInputs.sorted() { pending += try log.read(type: t, from: floor + 1).filter { $0.seq <= head } }
        }
        n.inbox = pending.sorted { $0.seq < $1.seq }
        n.observedThrough = head
        n.loaded = true
    }

    /// The phase: requests for the queued run ends and alerts, then due deliveries handed to workers.
    func notify(_ batch: inout Batch, now: Int64) throws {
        let n = notifications
        // The engine folded events without us (its `load()` when `run` starts again): load again.
        if n.loaded && n.observedThrough < runs.lastSeq { n.loaded = false }
        if !n.loaded {
            do { try loadNotifications() } catch { throw StepFailure("loading the notification outbox", error) }
        }
        try requestNotifications(&batch)
        dispatchDeliveries(now: now)
    }

    func notificationDirectory() -> NotificationRouting.Directory {
        let n = notifications
        if n.directoryAt != catalog.lastChangeSeq {
            n.directory = NotificationRouting.Directory(catalog)
            n.directoryAt = catalog.lastChangeSeq
        }
        return n.directory
    }

    func requestNotifications(_ batch: inout Batch) throws {
        let n = notifications
        let committed = checkpointValues[Engine.notificationsCheckpoint] ?? 0
        n.inbox.removeAll { $0.seq <= committed }
        guard !n.inbox.isEmpty else { return }
        let directory = notificationDirectory()
        guard !directory.isEmpty else {
            n.inbox.removeAll()
            return
        }
        var keep: [RecordedEvent] = []
        for e in n.inbox {
            // Requested already: in the outbox, in this step, or (settled before the snapshot the
            // outbox was loaded from, or dropped since) a stream the log has. A read that fails
            // says no: the append (`.noStream`) then refuses the step rather than request twice.
            let outbox = n.outbox, log = self.log
            let requested: (String) -> Bool = {
                outbox.entries[$0] != nil || batch.added($0) > 0 || ((try? log.streamVersion($0)) ?? 0) > 0
            }
            let decided: (requests: [NotificationDecider.Request], problems: [String])
            if e.type == AlertRaised.type {
                let alert: AlertRaised
                do { alert = try e.decode(AlertRaised.self) } catch { throw StepFailure("the notification reactor", error) }
                decided = NotificationDecider.alertRaised(alert, seq: e.seq, directory: directory, store: n.storeID, requested: requested)
            } else {
                guard let id = RunEvents.run(ofStream: e.stream), let run = runs.runs[id], run.status.isFinished else { continue }
                let job: JobSpec?
                do {
                    job = try catalog(at: run.catalogSeq).spec(JobSpec.self, run.job)
                } catch {
                    throw StepFailure("reading job \(run.job) as of seq \(run.catalogSeq) for run \(id)'s notifications", error)
                }
                guard !NotificationRouting.audience(run: run, job: job, teams: directory.teams).isEmpty else { continue }
                let report: RunReport
                do { report = try runReport(run, job: job) } catch { throw StepFailure("reading run \(id) for its notifications", error) }
                decided = NotificationDecider.runEnded(report, job: job, directory: directory, cause: e.seq, store: n.storeID, requested: requested)
            }
            for p in decided.problems { options.report(p, .warning, component: "notifications", run: RunEvents.run(ofStream: e.stream)) }
            guard !decided.requests.isEmpty else { continue }
            for r in decided.requests {
                batch.add(r.stream, [r.event.event(causation: e.seq, correlation: e.correlation)], expected: .noStream)
                options.report("notification requested: \(r.event.subject) → team \(r.event.team) (\(r.event.channel.rawValue) via \(r.event.notifier))", component: "notifications", run: r.event.run)
            }
            keep.append(e)
        }
        // Decided events stay until their requests are committed (the checkpoint passes them);
        // events that asked for nothing are done.
        n.inbox = keep
    }

    /// What the message about `run` reports beyond the folded state: the datasets each stage read
    /// and the partitions each dataset version got.
    func runReport(_ run: RunState, job: JobSpec?) throws -> RunReport {
        var inputs: [String: [StageInput]] = [:]
        for e in try log.read(stream: RunEvents.stream(run: run.id)) where e.type == StageSucceeded.type {
            let s = try e.decode(StageSucceeded.self)
            if let i = s.inputs { inputs[s.stage] = i }
        }
        var partitions: [UInt64: [WrittenPartition]] = [:]
        for s in run.stages {
            for d in s.datasets {
                guard let e = try log.read(from: d.seq, limit: 1).first, e.type == DatasetVersionWritten.type else { continue }
                let w = try e.decode(DatasetVersionWritten.self)
                if !w.partitions.isEmpty { partitions[d.seq] = w.partitions }
            }
        }
        var owners: [String: String] = [:]
        for s in job?.stages ?? [] { if let o = s.owner { owners[s.name] = o } }
        var loopItems: [String: [Loops.ItemState]] = [:]
        for s in run.stages {
            guard s.plan.type == Loops.stageType, let a = s.attempts.last, let items = a.items else { continue }
            loopItems[s.name] = try Loops.states(Loops.Looping(stage: s.name, attempt: a.number, items: items, starts: a.itemStarts)) {
                try childRun($0)
            }
        }
        return RunReport(run: run, jobOwner: job?.owner, stageOwners: owners, inputs: inputs, partitions: partitions, loopItems: loopItems)
    }

    /// Hands due deliveries to workers (one per notifier at a time, at most `maxDeliveries` at
    /// once; none while stopping).
    func dispatchDeliveries(now: Int64) {
        let n = notifications
        let ended = n.finished.withLock { f -> [String: Bool] in
            let done = f
            f.removeAll()
            return done
        }
        for (stream, appended) in ended where !appended { n.inFlight[stream] = nil }
        // A delivery is over once its record is folded (or it recorded nothing).
        for (stream, version) in n.inFlight where (n.outbox.entries[stream]?.version ?? 0) >= version { n.inFlight[stream] = nil }
        guard !stopping, n.inFlight.count < NotificationReactor.maxDeliveries else { return }
        var busy = Set(n.inFlight.keys.compactMap { n.outbox.entries[$0]?.request.notifier })
        for entry in n.outbox.due(now: now) where n.inFlight[entry.stream] == nil && !busy.contains(entry.request.notifier) {
            guard n.inFlight.count < NotificationReactor.maxDeliveries else { break }
            busy.insert(entry.request.notifier)
            n.inFlight[entry.stream] = entry.version + 1
            let opts = options
            NotificationDelivery(log: log, actor: actor, clock: clock, report: { opts.report($0, $1, component: "notifications") }, finished: n.finished, wake: { [weak self] in self?.wake() })
                .start(entry, attempt: deliveryAttempt(for: entry))
        }
    }

    /// The attempt for `entry` with the notifier and secret definitions of the current catalog, or
    /// why it cannot be made.
    func deliveryAttempt(for entry: OutboxEntry) -> Result<(DeliveryAttempt, NotificationOutbox.Policy), DeliveryFailure> {
        let name = entry.request.notifier
        guard let spec = notificationDirectory().notifiers[name] else {
            return .failure(DeliveryFailure("notifier '\(name)' is not in the catalog (or does not read); define it again to deliver"))
        }
        var secrets: [String: SecretSpec] = [:]
        for s in spec.secretNames { if let def = try? catalog.spec(SecretSpec.self, s) { secrets[s] = def } }
        return .success((DeliveryAttempt(request: entry.request, requestedAtMicros: entry.requestedAtMicros, notifier: spec, secrets: secrets, root: root),
                         NotificationOutbox.Policy(spec)))
    }

    /// Whether no delivery is running and none is due (what `run(until:)` waits for before it
    /// returns idle; when stopping, only running deliveries count).
    func notificationsIdle() -> Bool {
        let n = notifications
        guard n.loaded else { return true }
        if !n.inFlight.isEmpty || !n.finished.withLock({ $0.isEmpty }) { return false }
        if stopping { return true }
        return n.outbox.due(now: clock.nowMicros()).isEmpty
    }

    /// Seconds until the next delivery is due (nil: none is pending).
    func notificationWait() -> Double? {
        let n = notifications
        guard n.loaded, let next = n.outbox.nextDue(after: clock.nowMicros()) else { return nil }
        return max(0.001, Double(next - clock.nowMicros()) / 1e6)
    }
}
