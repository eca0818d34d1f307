import Domain
import EventLog
import Projections
import Runs

/// The runs projection as of the log's head, kept between requests: the first request folds it
/// (from the projection's snapshot), later ones fold only the events appended since.
final class RunsCache: Sendable {
    let log: EventLog
    let cached = Locked<(seq: UInt64, state: RunsState)?>(nil)

    init(log: EventLog) { self.log = log }

    /// The runs as of the log's head now.
    func current() throws -> RunsState {
        let head = try log.lastSeq()
        if let (seq, state) = cached.withLock({ $0 }), seq == head { return state }
        var state: RunsState
        var seq: UInt64
        if let known = cached.withLock({ $0 }), known.seq < head {
            (seq, state) = known
        } else {
            state = try ProjectionRunner(log: log, projection: RunsProjection()).state(at: head).state
            seq = head
        }
        while seq < head {
            let page = try log.read(from: seq + 1, through: head, limit: 4096)
            guard let last = page.last else { break }
            for e in page { state.evolve(e) }
            seq = last.seq
        }
        let result = (seq, state)
        cached.withLock { current in
            if current == nil || current!.seq < result.0 { current = result }
        }
        return state
    }
}
