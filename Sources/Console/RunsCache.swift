import Domain
import EventLog
import Projections
import Runs

/// The runs projection as of the log's head, kept between requests: the first request folds it
/// (from the projection's snapshot), later ones fold only the events appended since. Beside it,
/// each run's child runs, kept up to date the same way (a run page asks for them).
final class RunsCache: Sendable {
    struct Cached: Sendable {
        var seq: UInt64
        var state: RunsState
        /// Parent run → its child runs, in request order.
        var children: [String: [String]]
        /// Runs numbered up to this are in `children`.
        var indexedThrough: Int
    }

    let log: EventLog
    let cached = Locked<Cached?>(nil)

    init(log: EventLog) { self.log = log }

    /// The runs as of the log's head now.
    func current() throws -> RunsState { try snapshot().state }

    /// The child runs of `id` (for_each items and job stages), oldest first.
    func children(of id: String) throws -> [String] { try snapshot().children[id] ?? [] }

    func snapshot() throws -> Cached {
        let head = try log.lastSeq()
        if let c = cached.withLock({ $0 }), c.seq == head { return c }
        var c: Cached
        if let known = cached.withLock({ $0 }), known.seq < head {
            c = known
        } else {
            c = Cached(seq: head, state: try ProjectionRunner(log: log, projection: RunsProjection()).state(at: head).state, children: [:], indexedThrough: 0)
        }
        while c.seq < head {
            let page = try log.read(from: c.seq + 1, through: head, limit: 4096)
            guard let last = page.last else { break }
            for e in page { c.state.evolve(e) }
            c.seq = last.seq
        }
        // Runs are numbered 1, 2, …: index the ones requested since the last look.
        if c.indexedThrough < c.state.lastRunNumber {
            for n in (c.indexedThrough + 1)...c.state.lastRunNumber {
                if let r = c.state.runs[String(n)], let parent = r.trigger.parentRun { c.children[parent, default: []].append(r.id) }
            }
            c.indexedThrough = c.state.lastRunNumber
        }
        let result = c
        cached.withLock { current in
            if current == nil || current!.seq < result.seq { current = result }
        }
        return result
    }
}

extension RunsState {
    /// Runs newest first (by number, without sorting), from below `before` when given, that
    /// `keep` holds for, at most `limit`; and whether more such runs are older.
    func newest(before: Int? = nil, limit: Int, _ keep: (RunState) -> Bool) -> (runs: [RunState], more: Bool) {
        var out: [RunState] = []
        var n = min(lastRunNumber, (before ?? Int.max) - 1)
        while n >= 1 {
            if let r = runs[String(n)], keep(r) {
                if out.count == limit { return (out, true) }
                out.append(r)
            }
            n -= 1
        }
        return (out, false)
    }
}
