import Domain
import Foundation

extension EventLog {
    /// Events after `checkpoint` in seq order, then new ones as they are appended, for as long as
    /// the consuming task runs. Appends in this process wake the subscriber at once; appends by other
    /// processes are seen within `Configuration.pollInterval`.
    public func subscribe(after checkpoint: UInt64, filter: EventFilter = .all, options: ReadOptions = ReadOptions()) -> EventSubscription {
        EventSubscription(log: self, after: checkpoint, filter: filter, options: options)
    }

    /// Calls `body` with the new head after every commit made in this process (on the writer's
    /// thread: keep it short, e.g. signal a condition). Appends by other processes are not seen
    /// here; poll `lastSeq()` for those. Returns a token for `removeAppendObserver`.
    public func addAppendObserver(_ body: @escaping @Sendable (UInt64) -> Void) -> UInt64 {
        core.notifier.addObserver(body)
    }

    /// Stops calling an observer added with `addAppendObserver`.
    public func removeAppendObserver(_ token: UInt64) { core.notifier.removeObserver(token) }
}

/// An endless, ordered sequence of events after a checkpoint (see `EventLog.subscribe`).
public struct EventSubscription: AsyncSequence, Sendable {
    public typealias Element = RecordedEvent
    let log: EventLog
    let after: UInt64
    let filter: EventFilter
    let options: ReadOptions

    public func makeAsyncIterator() -> Iterator {
        Iterator(log: log, position: after, filter: filter, options: options)
    }

    /// Reads pages of events and waits for more when it has delivered everything.
    public struct Iterator: AsyncIteratorProtocol {
        let log: EventLog
        /// The last seq read (delivered or skipped by the filter).
        var position: UInt64
        let filter: EventFilter
        let options: ReadOptions
        var buffer: [RecordedEvent] = []
        var index = 0

        public mutating func next() async throws -> RecordedEvent? {
            while true {
                if index < buffer.count {
                    let e = buffer[index]
                    index += 1
                    return e
                }
                if Task.isCancelled { return nil }
                let head = try log.lastSeq()
                if head > position {
                    buffer = try log.read(from: position + 1, through: head, limit: 1024, filter: filter, options: options)
                    index = 0
                    position = buffer.last.map { buffer.count == 1024 ? $0.seq : head } ?? head
                    continue
                }
                await log.core.notifier.wait(after: position, timeout: log.core.configuration.pollInterval)
            }
        }
    }
}
