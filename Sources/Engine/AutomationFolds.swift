import Domain
import EventLog
import Models
import Runs

/// Folds of the automation streams that the engine and the CLI (`schedules`, `notifications`,
/// `health`) share.
public enum AutomationFolds {
    /// Folds schedule `name`'s own stream (read in chunks) from version `fromVersion` into
    /// `state`, up to seq `through`.
    public static func fold(schedule name: String, from log: EventLog, fromVersion: UInt64 = 1, through: UInt64 = .max, into state: inout ScheduleState) throws {
        let stream = ScheduleEvents.stream(schedule: name)
        var from = fromVersion
        while true {
            let chunk = try log.read(stream: stream, fromVersion: from, limit: 4096)
            for e in chunk where e.seq <= through { state.evolve(e) }
            guard chunk.count == 4096, let last = chunk.last, last.seq <= through else { break }
            from = last.streamVersion + 1
        }
    }

    /// The outbox: every notification event up to seq `through`, in log order.
    public static func notifications(_ log: EventLog, through: UInt64 = .max) throws -> NotificationsState {
        try notificationsCounting(log, through: through).state
    }

    static func notificationsCounting(_ log: EventLog, through: UInt64) throws -> (state: NotificationsState, folded: Int) {
        var events: [RecordedEvent] = []
        for t in NotificationEvents.types.sorted() { events += try log.read(type: t).filter { $0.seq <= through } }
        var state = NotificationsState()
        for e in events.sorted(by: { $0.seq < $1.seq }) { state.evolve(e) }
        return (state, events.count)
    }

    // MARK: - The engine's snapshot of the automation streams

    /// The engine's snapshot of the schedule streams and the outbox (a stored identifier), written
    /// when idle like its others (Engine+History).
    public static let streamsSnapshotName = "engine-streams"
    public static let streamsSnapshotVersion: UInt32 = 1

    /// What the snapshot holds as of its seq: every schedule stream's state, every sensor stream's
    /// state (each with its stream's version: a load folds each stream on from there), and the
    /// streams of the messages still pending (their entries are folded from their own streams at
    /// load).
    public struct StreamsSnapshot: Sendable {
        public var seq: UInt64
        public var schedules: ScheduleState
        public var sensors: [String: SensorState]
        public var pendingNotifications: [String]

        public init(seq: UInt64, schedules: ScheduleState, sensors: [String: SensorState], pendingNotifications: [String]) {
            self.seq = seq
            self.schedules = schedules
            self.sensors = sensors
            self.pendingNotifications = pendingNotifications
        }

        public var value: Value {
            PayloadBuilder([("schedules", schedules.value),
                            ("sensors", .members(sensors.sorted { $0.key < $1.key }.map { Value.Member($0.key, $0.value.value) })),
                            ("pending_notifications", .array(pendingNotifications.sorted().map { .string($0) }))]).value
        }
    }

    /// The newest snapshot at or before `head`, or nil with why it was passed over (nil, nil: none).
    public static func streamsSnapshot(_ log: EventLog, atOrBefore head: UInt64) -> (snapshot: StreamsSnapshot?, rejected: String?) {
        do {
            guard let (info, value) = try log.snapshot(streamsSnapshotName, atOrBefore: head, version: streamsSnapshotVersion) else { return (nil, nil) }
            do throws(DecodingFailure) {
                let f = try Fields("engine-streams snapshot", value)
                let schedules = try ScheduleState(try f.objectValue("schedules"))
                let sensorFields = try f.object("sensors")
                var sensors: [String: SensorState] = [:]
                for (name, value) in sensorFields.pairs { sensors[name] = try SensorState(value, path: "sensors.\(name)") }
                return (StreamsSnapshot(seq: info.seq, schedules: schedules, sensors: sensors, pendingNotifications: try f.strings("pending_notifications")), nil)
            } catch {
                return (nil, "the \(streamsSnapshotName) snapshot at seq \(info.seq) does not decode (\(error)); folded the schedule and notification streams from the log instead")
            }
        } catch {
            return (nil, "the newest \(streamsSnapshotName) snapshot does not read (\(error)); folded the schedule and notification streams from the log instead")
        }
    }

    /// The states of schedules `names` as of `head`: each from the snapshot's state (when there is
    /// one) and its stream's events after it; how many events were folded.
    public static func schedules(_ names: Set<String>, _ log: EventLog, through head: UInt64, from snapshot: StreamsSnapshot?) throws -> (state: ScheduleState, folded: Int) {
        var state = ScheduleState()
        var folded = 0
        for name in names.sorted() {
            let known = snapshot?.schedules.schedules[name]
            if let known { state.schedules[name] = known }
            let from = (known?.version ?? 0) + 1
            guard try log.streamVersion(ScheduleEvents.stream(schedule: name)) >= from else { continue }
            let before = state[name].version
            try fold(schedule: name, from: log, fromVersion: from, through: head, into: &state)
            folded += Int(state[name].version - before)
        }
        return (state, folded)
    }

    /// The outbox as of `head` without its settled messages of before the snapshot: the pending
    /// ones of the snapshot (folded from their streams), then every notification event after it.
    /// Without a snapshot, every notification event. How many events were folded.
    public static func pendingOutbox(_ log: EventLog, through head: UInt64, from snapshot: StreamsSnapshot?) throws -> (state: NotificationsState, folded: Int) {
        guard let snapshot else { return try notificationsCounting(log, through: head) }
        var events: [RecordedEvent] = []
        for stream in snapshot.pendingNotifications {
            events += try log.read(stream: stream).filter { $0.seq <= snapshot.seq && NotificationEvents.types.contains($0.type) }
        }
        if snapshot.seq < head {
            for t in NotificationEvents.types.sorted() { events += try log.read(type: t, from: snapshot.seq + 1).filter { $0.seq <= head } }
        }
        var state = NotificationsState()
        for e in events.sorted(by: { $0.seq < $1.seq }) { state.evolve(e) }
        state.lastSeq = max(state.lastSeq, head)
        return (state, events.count)
    }
}
