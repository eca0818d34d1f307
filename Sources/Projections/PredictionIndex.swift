import Domain
import EventLog

/// The newest predictions per model and entity, kept on disk so that an `evaluate` stage reads
/// the predictions its labels need — a few thousand point reads — instead of every prediction the
/// log holds (an `evaluate` on a 10M-event history used to decode all 9M of them).
///
/// Table `predictions`, row key: model ‖ 0x00 ‖ entity; values: the seqs (u64 big-endian) of that
/// entity's `PredictionRecorded` events, so the greatest value at or below a seq is its newest
/// prediction as of that seq. An entity whose key would pass LMDB's 511-byte limit is filed under
/// its first 400 bytes: lookups read such a row's events newest first and keep the first whose
/// entity is the one asked for (so an oversized entity is slower to look up, never wrong).
///
/// The checkpoint `table:predictions` is the seq the table covers; readers fold the predictions
/// after it themselves (through the type index), so a lookup is always current. The engine
/// catches the table up when idle, one chunk at a time; `projection rebuild predictions` rebuilds it.
public enum PredictionIndex {
    public static let table = "predictions"
    public static let checkpoint = "table:predictions"
    static let maxEntityBytes = 400

    static func key(model: String, entity: String) -> (key: [UInt8], exact: Bool) {
        let e = Array(entity.utf8)
        let exact = e.count <= maxEntityBytes && !e.contains(0)
        return (Array(model.utf8) + [0] + (exact ? e : Array(e.prefix(maxEntityBytes))), exact)
    }

    static func bigEndian(_ seq: UInt64) -> [UInt8] { (0 ..< 8).map { UInt8(truncatingIfNeeded: seq >> (56 - 8 * $0)) } }
    static func seq(_ bytes: [UInt8]) -> UInt64 { bytes.reduce(0) { $0 << 8 | UInt64($1) } }

    /// Folds the predictions after the checkpoint (through `through`) into the table, in
    /// transactions of at most `chunk` events, at most `maxChunks` of them; returns how many it
    /// indexed. A prediction that does not decode stops it with its `DecodingFailure` (the table
    /// is brought up to the seq before it), so the table never silently lacks one.
    @discardableResult
    public static func catchUp(_ log: EventLog, through: UInt64 = .max, chunk: Int = 100_000, maxChunks: Int = .max) throws -> Int {
        try log.foldIntoTable(table, checkpoint: checkpoint, types: [PredictionRecorded.type], through: through, chunk: chunk, maxChunks: maxChunks) { e in
            let p = try e.decode(PredictionRecorded.self)
            return [(key(model: p.model, entity: p.entity).key, bigEndian(e.seq))]
        }
    }

    /// Drops the table and indexes every prediction again; returns how many.
    @discardableResult
    public static func rebuild(_ log: EventLog) throws -> Int {
        try log.dropTable(table, checkpoint: checkpoint)
        return try catchUp(log)
    }

    /// The newest prediction of `model` for each of `entities` as of seq `through` (entities it
    /// never scored are absent): the table for what it covers, the type index after it.
    public static func latest(_ log: EventLog, model: String, entities: Set<String>, through: UInt64) throws -> [String: (seq: UInt64, event: PredictionRecorded)] {
        var out: [String: (seq: UInt64, event: PredictionRecorded)] = [:]
        guard !entities.isEmpty else { return out }
        let covered = min(try log.checkpoint(checkpoint), through)
        if covered > 0 {
            let wanted = entities.sorted()
            let keys = wanted.map { key(model: model, entity: $0) }
            // Exact keys: the newest seq is the answer. Shared (truncated) keys: newest first until one is the entity's.
            let exact = try log.tableValuesDescending(table, keys: keys.filter(\.exact).map(\.key), atMost: bigEndian(covered), limit: 1)
            var i = 0
            for (n, entity) in wanted.enumerated() where keys[n].exact {
                defer { i += 1 }
                guard let v = exact[i].first, let e = try log.event(at: seq(v)) else { continue }
                let p = try e.decode(PredictionRecorded.self)
                if p.model == model && p.entity == entity { out[entity] = (e.seq, p) }
            }
            for (n, entity) in wanted.enumerated() where !keys[n].exact {
                let values = try log.tableValuesDescending(table, keys: [keys[n].key], atMost: bigEndian(covered), limit: .max)[0]
                for v in values {
                    guard let e = try log.event(at: seq(v)) else { continue }
                    let p = try e.decode(PredictionRecorded.self)
                    if p.model == model && p.entity == entity { out[entity] = (e.seq, p); break }
                }
            }
        }
        // The tail the table does not cover yet.
        if covered < through {
            try log.scan(from: covered + 1, through: through, filter: EventFilter(type: PredictionRecorded.type)) { e in
                let p = try e.decode(PredictionRecorded.self)
                if p.model == model && entities.contains(p.entity) { out[p.entity] = (e.seq, p) }
                return true
            }
        }
        return out
    }
}
