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

    /// The `ModelVersionRegistered` of version `version` of `model`, with its envelope: the event
    /// at one of `edgeSeqs` (the seqs of the edges into the version's node) when it is that
    /// registration, else (a version not in the lineage table yet) the first match in the stream.
    /// Each event is decoded once; a registration that does not decode is not a match (an edge
    /// seq never names one: its edges come from a decoded event).
    func registered(_ model: String, _ version: Int64, edgeSeqs: [UInt64]) throws -> Registration? {
        for seq in edgeSeqs where seq <= asOf {
            if let e = try log.event(at: seq), let r = Self.registration(e, model, version) { return Registration(event: e, registered: r) }
        }
        for e in try log.read(stream: MLEvents.stream(model: model)) where e.seq <= asOf {
            if let r = Self.registration(e, model, version) { return Registration(event: e, registered: r) }
        }
        return nil
    }

    /// The newest event of `model`'s stream, as of the moment, for which `predicate` holds.
    func last(_ model: String, where predicate: (RecordedEvent) throws -> Bool) throws -> RecordedEvent? {
        let stream = MLEvents.stream(model: model)
        var end = try log.streamVersion(stream, asOf: asOf)
        var chunk: UInt64 = 16
        while end > 0 {
            let start = end > chunk ? end - chunk + 1 : 1
            let events = try log.read(stream: stream, fromVersion: start, limit: Int(end - start + 1))
            if let e = try events.last(where: { try $0.seq <= asOf && predicate($0) }) { return e }
            end = start - 1
            chunk = min(chunk * 2, 4_096)
        }
        return nil
    }

    /// The newest version of `model` registered by the moment; throws the `DecodingFailure` of
    /// that newest registration when it does not decode.
    func newestVersion(_ model: String) throws -> Int64? {
        guard let e = try last(model, where: { $0.type == MLEvents.modelVersionRegistered }) else { return nil }
        return Int64(try e.decode(ModelVersionRegistered.self).version)
    }

    /// The version alias `alias` of `model` points at by the moment (its newest move), nil when it
    /// was never moved; throws the `DecodingFailure` of an alias move newer than that one that
    /// does not decode (it may have moved this alias).
    func aliasVersion(_ model: String, _ alias: String) throws -> Int64? {
        var found: ModelAliasMoved?
        _ = try last(model) { e in
            guard let moved = try e.decodeIf(ModelAliasMoved.self), moved.alias == alias else { return false }
            found = moved
            return true
        }
        return found.map { Int64($0.version) }
    }

    /// `e` decoded, when it is the registration of version `version` of `model`.
    static func registration(_ e: RecordedEvent, _ model: String, _ version: Int64) -> ModelVersionRegistered? {
        guard e.type == MLEvents.modelVersionRegistered, let r = try? e.decode(ModelVersionRegistered.self),
              r.model == model, Int64(r.version) == version else { return nil }
        return r
    }
}

/// A model version's `ModelVersionRegistered`: the recorded event and its decoded payload.
struct Registration {
    let event: RecordedEvent
    let registered: ModelVersionRegistered
}
