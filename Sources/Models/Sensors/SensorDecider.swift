import Catalog
import Domain

/// The sensor's decisions, pure (no clock, no disk): which listed files are arrivals, when the
/// sensor enters or leaves its error state, and which markers are due for their `after_run`.
///
/// An arrival is keyed by (sensor, relative path, size, mtime): a file whose key is already in
/// the state is not one; a file rewritten later (another size or mtime) is a new key, hence a new
/// arrival and a new run. With `settle`, a key counts only once the same key has been seen for at
/// least that long (from the first listing that saw it, by the listings' own times).
/// Decisions are level-triggered: deciding again on a state that holds the events decided gives
/// nothing, so a decision lost with its transaction is made again.
public enum SensorDecider {
    /// What one listing decides.
    public struct Decision: Sendable {
        /// Files that arrived, in listing order.
        public var arrivals: [ListedFile] = []
        /// The sensor enters its error state with this error.
        public var failed: String?
        /// The sensor leaves its error state (the seq of the SensorFailed it ends).
        public var recovered: UInt64?
        /// Files still settling after this listing (replaces the state's).
        public var settling: [String: Settling] = [:]

        /// Whether the decision has events to record.
        public var hasEvents: Bool { !arrivals.isEmpty || failed != nil || recovered != nil }
    }

    /// Decides on `listing` given `state`; `settleMicros` is the sensor's settle time.
    public static func decide(_ state: SensorState, _ listing: SensorListing, settleMicros: Int64) -> Decision {
        var d = Decision()
        if let error = listing.error {
            if !state.isFailing { d.failed = error }
            d.settling = state.settling
            return d
        }
        if state.isFailing { d.recovered = state.failedSeq ?? 0 }
        d.settling.reserveCapacity(state.settling.count)
        for f in listing.files {
            let key = f.key
            if state.arrived[f.relative] == key { continue }
            if settleMicros <= 0 {
                d.arrivals.append(f)
                continue
            }
            if let s = state.settling[f.relative], s.key == key {
                d.settling[f.relative] = s
                if listing.atMicros - s.sinceMicros >= settleMicros { d.arrivals.append(f) }
            } else {
                d.settling[f.relative] = Settling(key: key, sinceMicros: listing.atMicros)
            }
        }
        return d
    }

    /// The run parameters of an arrival: the sensor's, with `${file.X}` resolved.
    public static func parameters(_ parameters: [Value.Member], file: SensedFile) -> [(String, Value)] {
        parameters.map { ($0.key, file.resolve($0.value)) }
    }

    /// The pending markers whose run has finished (`status` gives a run's status when it has
    /// ended, nil while it runs or when unknown), in arrival order.
    public static func dueMarkers(_ state: SensorState, status: (String) -> String?) -> [(PendingMarker, String)] {
        state.pending.values.sorted { $0.arrival < $1.arrival }.compactMap { p in status(p.run).map { (p, $0) } }
    }

    /// What became of a marker, as the engine found it when it acted (see `MarkerEffect`).
    public struct MarkerResult: Sendable, Hashable {
        public var outcome: MarkerHandled.Outcome
        public var to: String?
        public var error: String?
        public var note: String?

        public init(outcome: MarkerHandled.Outcome, to: String? = nil, error: String? = nil, note: String? = nil) {
            self.outcome = outcome
            self.to = to
            self.error = error
            self.note = note
        }
    }

    /// What to do with a marker, given what is now at its path (nil: nothing) and whether its
    /// destination (for `move`) already holds a file: act, or record without acting.
    public enum MarkerPlan: Sendable, Hashable {
        /// Delete the file at the marker's path.
        case delete
        /// Move it to the destination.
        case move(to: String)
        /// Nothing to do on disk: record this.
        case record(MarkerResult)
    }

    /// The plan for `p`: a marker rewritten since its arrival (another key) is left for its own
    /// arrival; a marker already gone was dealt with (by an engine that stopped before recording
    /// it, or by someone else), which the record notes.
    public static func plan(_ p: PendingMarker, current: FileKey?, destinationExists: Bool) -> MarkerPlan {
        guard let current else {
            switch p.action {
            case .keep: return .record(MarkerResult(outcome: .kept, note: "the marker was gone when its run finished"))
            case .delete: return .record(MarkerResult(outcome: .deleted, note: "the marker was already gone"))
            case .move:
                if destinationExists, let to = p.destination { return .record(MarkerResult(outcome: .moved, to: to, note: "the marker was already moved")) }
                return .record(MarkerResult(outcome: .failed, error: "the marker was gone before it could be moved"))
            }
        }
        if current != p.key, p.action != .keep {
            return .record(MarkerResult(outcome: .kept, note: "the marker was rewritten after this arrival (\(current)); it is left for its own arrival"))
        }
        switch p.action {
        case .keep: return .record(MarkerResult(outcome: .kept))
        case .delete: return .delete
        case .move: return p.destination.map { .move(to: $0) } ?? .record(MarkerResult(outcome: .failed, error: "the arrival names no folder to move to"))
        }
    }

    /// The event recording what became of `p`'s marker.
    public static func handled(_ p: PendingMarker, sensor: String, runStatus: String, _ r: MarkerResult) -> MarkerHandled {
        MarkerHandled(sensor: sensor, file: p.file, arrival: p.arrival, run: p.run, runStatus: runStatus, outcome: r.outcome, to: r.to,
                      error: r.error, note: r.note)
    }
}
