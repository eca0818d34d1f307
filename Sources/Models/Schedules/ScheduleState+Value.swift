import Domain

/// The schedule streams' state as a value: what the engine's `engine-streams` snapshot stores, so
/// that a start folds each schedule's stream from the snapshot's version on instead of from its
/// first tick (a schedule that fires every second has 86,400 events a day).
extension ScheduleState {
    /// The owner named by decoding failures.
    static let owner = "schedule state"

    /// Every schedule's state, by name; a schedule whose stream has an event that does not decode
    /// is left out (the next start folds it from its first event, and says why again).
    public var value: Value {
        var b = PayloadBuilder()
        for (name, s) in schedules.sorted(by: { $0.key < $1.key }) where s.unreadable == nil { b.set(name, s.value) }
        return b.value
    }

    /// A state from `value`; fails (naming the field) on a malformed one.
    public init(_ v: Value) throws(DecodingFailure) {
        self.init()
        let f = try Fields(ScheduleState.owner, v)
        for (name, _) in f.pairs { schedules[name] = try ScheduleStreamState(try f.objectValue(name), path: name) }
    }
}

extension ScheduleStreamState {
    public var value: Value {
        var b = PayloadBuilder()
        b.set("version", version)
        b.set("last_nominal", lastNominal)
        b.set("queued", .array(queued.map { q in
            var t = PayloadBuilder()
            t.set("nominal", q.nominal)
            t.set("waiting_for", q.waitingFor)
            return t.value
        }))
        b.set("last_run", lastRun)
        b.set("last_tick", lastTick?.payload)
        b.set("last_seq", lastSeq)
        b.set("ticked", ticked)
        b.set("skipped", skipped)
        return b.value
    }

    init(_ v: Value, path: String) throws(DecodingFailure) {
        self.init()
        let f = try Fields(ScheduleState.owner, v, path: path)
        version = try f.uint("version")
        lastNominal = try f.int(opt: "last_nominal")
        for q in try f.objects("queued") { queued.append(QueuedTick(nominal: try q.int("nominal"), waitingFor: try q.string(opt: "waiting_for"))) }
        lastRun = try f.string(opt: "last_run")
        lastTick = try f.objectValue(opt: "last_tick").map { v throws(DecodingFailure) in try ScheduleTicked(v) }
        lastSeq = try f.uint("last_seq")
        ticked = try f.uint("ticked")
        skipped = try f.uint("skipped")
    }
}
