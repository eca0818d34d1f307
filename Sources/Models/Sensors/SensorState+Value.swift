import Domain

/// A sensor's state as the engine's `engine-streams` snapshot stores it, so that a start folds the
/// sensor's stream from the snapshot's version on instead of from its first arrival. Files waiting
/// to settle are memory only (after a restart a file settles again), so they are not stored.
extension SensorState {
    static let owner = "sensor state"

    public var value: Value {
        var b = PayloadBuilder()
        b.set("stream_version", streamVersion)
        b.set("last_seq", lastSeq)
        b.set("arrived", .members(arrived.sorted { $0.key < $1.key }.map { Value.Member($0.key, Self.keyValue($0.value)) }))
        b.set("error", error)
        b.set("failed_seq", failedSeq)
        b.set("pending", .array(pending.values.sorted { $0.arrival < $1.arrival }.map { p in
            var m = PayloadBuilder()
            m.set("arrival", p.arrival)
            m.set("file", p.file)
            m.set("folder", p.folder)
            m.set("key", Self.keyValue(p.key))
            m.set("run", p.run)
            m.set("action", p.action.rawValue)
            m.set("move_to", p.moveTo)
            return m.value
        }))
        b.set("arrivals", arrivals)
        if let last = lastArrival {
            var m = PayloadBuilder()
            m.set("seq", last.seq)
            m.set("file", last.file)
            m.set("run", last.run)
            b.set("last_arrival", m.value)
        }
        return b.value
    }

    /// A state from `value`; fails (naming the field) on a malformed one.
    public init(_ v: Value, path: String = "") throws(DecodingFailure) {
        self.init()
        let f = try Fields(SensorState.owner, v, path: path)
        streamVersion = try f.uint("stream_version")
        lastSeq = try f.uint("last_seq")
        let arrivedFields = try f.object("arrived")
        for (file, _) in arrivedFields.pairs { arrived[file] = try Self.key(try arrivedFields.object(file)) }
        error = try f.string(opt: "error")
        failedSeq = try f.uint(opt: "failed_seq")
        for p in try f.objects("pending") {
            let action = try p.string("action")
            guard let a = MarkerAction(rawValue: action) else { throw p.failure("action", expected: "keep, delete or move", found: .string(action)) }
            let marker = PendingMarker(arrival: try p.uint("arrival"), file: try p.string("file"), folder: try p.string("folder"), key: try Self.key(try p.object("key")),
                                       run: try p.string("run"), action: a, moveTo: try p.string(opt: "move_to"))
            pending[marker.arrival] = marker
        }
        arrivals = Int(try f.int("arrivals"))
        if let last = try f.object(opt: "last_arrival") {
            lastArrival = (try last.uint("seq"), try last.string("file"), try last.string(opt: "run"))
        }
    }

    static func keyValue(_ k: FileKey) -> Value { .object([("size", .int(k.size)), ("mtime_us", .int(k.mtimeMicros))]) }
    static func key(_ f: Fields) throws(DecodingFailure) -> FileKey { FileKey(size: try f.int("size"), mtimeMicros: try f.int("mtime_us")) }
}
