import Domain

/// A tick recorded as queued (overlap queue) whose run is not requested yet.
public struct QueuedTick: Sendable, Hashable {
    /// The nominal instant, µs since 1970.
    public var nominal: Int64
    /// The run it was queued behind.
    public var waitingFor: String?

    public init(nominal: Int64, waitingFor: String? = nil) {
        self.nominal = nominal
        self.waitingFor = waitingFor
    }
}

/// One schedule's stream, folded: what deciding its next ticks needs, and a little for people.
/// Small whatever the history: the newest nominal, the queue (at most max_catch_up ticks), the
/// newest run, counts.
public struct ScheduleStreamState: Sendable, Hashable {
    /// The stream's version: the schedule's next events are appended at exactly it.
    public var version: UInt64 = 0
    /// The newest nominal instant recorded (ticked or skipped), µs; nil before the first.
    public var lastNominal: Int64?
    /// Queued ticks, oldest first.
    public var queued: [QueuedTick] = []
    /// The newest run requested (by a tick or a release).
    public var lastRun: String?
    /// The newest tick recorded (with the run its release requested, when it was queued).
    public var lastTick: ScheduleTicked?
    /// The seq of the newest event folded.
    public var lastSeq: UInt64 = 0
    /// Ticks recorded as ticked, and ticks covered by skips.
    public var ticked: UInt64 = 0
    public var skipped: UInt64 = 0
    /// An event of the stream that does not decode: the reactor decides nothing more for this
    /// schedule (it could decide a recorded tick again), and says so.
    public var unreadable: DecodingFailure?

    public init() {}

    /// Folds one event of the schedule's stream. Never fails: an event that does not decode
    /// still counts for the version and is kept in `unreadable`.
    public mutating func evolve(_ e: RecordedEvent) {
        version = max(version, e.streamVersion)
        lastSeq = max(lastSeq, e.seq)
        do throws(DecodingFailure) {
            switch e.type {
            case ScheduleTicked.type:
                let t = try e.decode(ScheduleTicked.self)
                see(t.nominal)
                ticked += 1
                lastTick = t
                if let run = t.run { lastRun = run }
                if t.queued == true && t.run == nil { queued.append(QueuedTick(nominal: t.nominal, waitingFor: t.waitingFor)) }
            case ScheduleTickSkipped.type:
                let s = try e.decode(ScheduleTickSkipped.self)
                see(s.last)
                skipped += s.count
            case ScheduleTickReleased.type:
                let r = try e.decode(ScheduleTickReleased.self)
                queued.removeAll { $0.nominal == r.nominal }
                if let run = r.run {
                    lastRun = run
                    if lastTick?.nominal == r.nominal { lastTick?.run = run }
                }
            default:
                return
            }
        } catch {
            if unreadable == nil { unreadable = error }
        }
    }

    private mutating func see(_ nominal: Int64) {
        lastNominal = max(lastNominal ?? nominal, nominal)
    }
}

/// Every schedule's stream state, by schedule name (`model:M` for retraining schedules); folded
/// from the schedule streams (`schedule/…`) only.
public struct ScheduleState: Sendable, Hashable {
    public var schedules: [String: ScheduleStreamState] = [:]

    public init() {}

    /// Folds one event in; events of other streams change nothing.
    public mutating func evolve(_ e: RecordedEvent) {
        guard ScheduleEvents.types.contains(e.type), let name = ScheduleEvents.schedule(ofStream: e.stream) else { return }
        schedules[name, default: ScheduleStreamState()].evolve(e)
    }

    /// The state of schedule `name` (empty before its first event).
    public subscript(_ name: String) -> ScheduleStreamState { schedules[name] ?? ScheduleStreamState() }
}
