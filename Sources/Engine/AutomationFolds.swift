import Domain
import EventLog
import Models
import Runs

/// Folds of the automation streams that the engine and the CLI (`schedules`, `notifications`,
/// `health`) share.
public enum AutomationFolds {
    /// Folds schedule `name`'s own stream (read in chunks) into `state`, up to seq `through`.
    public static func fold(schedule name: String, from log: EventLog, through: UInt64 = .max, into state: inout ScheduleState) throws {
        let stream = ScheduleEvents.stream(schedule: name)
        var from: UInt64 = 1
        while true {
            let chunk = try log.read(stream: stream, fromVersion: from, limit: 4096)
            for e in chunk where e.seq <= through { state.evolve(e) }
            guard chunk.count == 4096, let last = chunk.last else { break }
            from = last.streamVersion + 1
        }
    }

    /// The outbox: every notification event up to seq `through`, in log order.
    public static func notifications(_ log: EventLog, through: UInt64 = .max) throws -> NotificationsState {
        var events: [RecordedEvent] = []
        for t in NotificationEvents.types.sorted() { events += try log.read(type: t).filter { $0.seq <= through } }
        var state = NotificationsState()
        for e in events.sorted(by: { $0.seq < $1.seq }) { state.evolve(e) }
        return state
    }
}
