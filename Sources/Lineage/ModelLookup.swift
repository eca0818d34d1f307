import Domain
import EventLog
import Models

/// A model's events found without reading its whole stream (every version and alias move, each
/// `ModelVersionRegistered` carrying metrics and drift references): a version's registration is
/// read by the seq of the lineage edges into `model:M@V`, and the newest version or an alias's
/// last move by reading the stream backwards in growing chunks from the moment asked about.
struct ModelLookup {
    let log: EventLog
    /// The moment: nothing after this seq exists.
    let asOf: UInt64

    /// The `ModelVersionRegistered` of version `version` of `model`: the event at one of
    /// `edgeSeqs` (the seqs of the edges into the version's node) when it is that registration,
    /// else (a version not in the lineage table yet) the first match in the stream.
    func registered(_ model: String, _ version: Int64, edgeSeqs: [UInt64]) throws -> RecordedEvent? {
        for seq in edgeSeqs where seq <= asOf {
            if let e = try log.event(at: seq), Self.isRegistration(e, model, version) { return e }
        }
        return try log.read(stream: MLEvents.stream(model: model)).first { $0.seq <= asOf && Self.isRegistration($0, model, version) }
    }

    /// The newest event of `model`'s stream, as of the moment, for which `predicate` holds.
    func last(_ model: String, where predicate: (RecordedEvent) -> Bool) throws -> RecordedEvent? {
        let stream = MLEvents.stream(model: model)
        var end = try log.streamVersion(stream, asOf: asOf)
        var chunk: UInt64 = 16
        while end > 0 {
            let start = end > chunk ? end - chunk + 1 : 1
            let events = try log.read(stream: stream, fromVersion: start, limit: Int(end - start + 1))
            if let e = events.last(where: { $0.seq <= asOf && predicate($0) }) { return e }
            end = start - 1
            chunk = min(chunk * 2, 4_096)
        }
        return nil
    }

    /// The newest version of `model` registered by the moment.
    func newestVersion(_ model: String) throws -> Int64? {
        try last(model) { $0.type == MLEvents.modelVersionRegistered }?.payload["version"]?.intValue
    }

    static func isRegistration(_ e: RecordedEvent, _ model: String, _ version: Int64) -> Bool {
        e.type == MLEvents.modelVersionRegistered && e.payload["model"]?.stringValue == model && e.payload["version"]?.intValue == version
    }
}
