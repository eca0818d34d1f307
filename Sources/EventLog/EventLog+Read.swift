import Domain
import Foundation
import LMDB
import Zstd

/// Options for reading events.
public struct ReadOptions: Sendable {
    /// Compute each event's chain hash (costs a SHA-256 per event, and a short replay from the
    /// nearest stored checkpoint when reads are not sequential).
    public var hashes = false
    /// Apply the registered upcasters (off: payloads as stored).
    public var upcast = true
    /// Creates default options.
    public init(hashes: Bool = false, upcast: Bool = true) {
        self.hashes = hashes
        self.upcast = upcast
    }
}

/// Which events to read. Fields combine (all must match); the most selective index is used.
public struct EventFilter: Sendable, Hashable {
    public var stream: String?
    public var type: String?
    public var correlation: UInt64?
    /// Creates a filter; nil fields match everything.
    public init(stream: String? = nil, type: String? = nil, correlation: UInt64? = nil) {
        self.stream = stream
        self.type = type
        self.correlation = correlation
    }
    /// Matches every event.
    public static let all = EventFilter()
    var isAll: Bool { stream == nil && type == nil && correlation == nil }
}

extension EventLog {
    /// The last event's seq, time and chain hash.
    public func head() throws -> ChainHead {
        try core.read { txn in try core.head(txn) }
    }

    /// The seq of the last event (cheap: no hashing).
    public func lastSeq() throws -> UInt64 {
        try core.read { txn in try txn.lastSeq(core.dbs) }
    }

    /// The event at `seq`, or nil.
    public func event(at seq: UInt64, options: ReadOptions = ReadOptions()) throws -> RecordedEvent? {
        try read(from: seq, through: seq, limit: 1, options: options).first
    }

    /// Events from `from` through `through` (inclusive), at most `limit`, in seq order.
    public func read(from: UInt64 = 1, through: UInt64 = .max, limit: Int = .max, filter: EventFilter = .all,
                     options: ReadOptions = ReadOptions()) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        guard limit > 0 else { return out }
        try scan(from: from, through: through, filter: filter, options: options, limit: limit) { e in
            out.append(e)
            return out.count < limit
        }
        return out
    }

    /// The events of `stream` from `fromVersion`, at most `limit`. Starts at the seq of that
    /// version (found by counting the stream's postings, a page at a time, without decoding), so
    /// reading version 18,000 of a stream costs about what reading version 1 does.
    public func read(stream: String, fromVersion: UInt64 = 1, limit: Int = .max, options: ReadOptions = ReadOptions()) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        let found = fromVersion > 1 ? try seq(ofVersion: fromVersion, in: stream) : (1, true)
        guard let (start, exact) = found else { return [] }
        // From the exact seq every event read is wanted, so no more than `limit` are decoded.
        try scan(from: start, through: .max, filter: EventFilter(stream: stream), options: options, limit: exact ? limit : .max) { e in
            if e.streamVersion >= fromVersion { out.append(e) }
            return out.count < limit
        }
        return out
    }

    /// The events whose correlation is `correlation` (one causal tree), in seq order.
    public func read(correlation: UInt64, limit: Int = .max, options: ReadOptions = ReadOptions()) throws -> [RecordedEvent] {
        try read(limit: limit, filter: EventFilter(correlation: correlation), options: options)
    }

    /// The events of `type` from seq `from`, in seq order.
    public func read(type: String, from: UInt64 = 1, limit: Int = .max, options: ReadOptions = ReadOptions()) throws -> [RecordedEvent] {
        try read(from: from, limit: limit, filter: EventFilter(type: type), options: options)
    }

    /// The current version of `stream` (0: it does not exist).
    public func streamVersion(_ stream: String) throws -> UInt64 {
        try core.read { txn in
            guard let id = try core.id(.stream, stream, txn) else { return 0 }
            var version: UInt64 = try id.withBigEndianBytes { k in
                try txn.withValue(core.dbs.streams, key: k) { v in v.map { UInt64(bigEndianBytes: $0) } ?? 0 }
            }
            // Events after the index watermark are not in the stream heads yet.
            try forEachHeader(core, txn, after: try txn.indexedWatermark(core.dbs), through: try txn.lastSeq(core.dbs)) { _, h in
                if h.streamID == id { version = max(version, h.streamVersion) }
            }
            return version
        }
    }

    /// The version `stream` had once the event at `seq` was appended (0: it did not exist yet):
    /// its versions are counted from the stream's postings a page at a time, without decoding,
    /// so asking about an early moment of a long stream costs what asking about its head does.
    public func streamVersion(_ stream: String, asOf seq: UInt64) throws -> UInt64 {
        try core.read { txn in
            guard let id = try core.id(.stream, stream, txn) else { return 0 }
            var version: UInt64 = 0
            // Postings are in seq order: the first one past the moment ends the count.
            let stopped = try forEachPosting(ofStream: id, txn) { posting in
                guard posting.first <= seq else { return false }
                version += min(UInt64(posting.count), seq - posting.first + 1)
                return true
            }
            // Events after the index watermark are in no posting yet.
            if !stopped {
                try forEachHeader(core, txn, after: try txn.indexedWatermark(core.dbs), through: min(seq, try txn.lastSeq(core.dbs))) { _, h in
                    if h.streamID == id { version = max(version, h.streamVersion) }
                }
            }
            return version
        }
    }

    /// The value of the named checkpoint (0 if never set).
    public func checkpoint(_ name: String) throws -> UInt64 {
        try core.read { txn in try txn.checkpointValue(core.dbs, name) }
    }

    /// Every named checkpoint and its value.
    public func checkpoints() throws -> [String: UInt64] {
        try core.read { txn in
            var out: [String: UInt64] = [:]
            try txn.withCursor(core.dbs.checkpoints) { c in
                var e = try c.first()
                while let entry = e {
                    out[String(decoding: entry.key, as: UTF8.self)] = UInt64(bigEndianBytes: entry.value)
                    e = try c.next()
                }
            }
            return out
        }
    }

    /// Calls `body` for each matching event from `from` through `through` in seq order until it
    /// returns false. Reads in short transactions of a bounded number of events, so a long scan
    /// never pins old pages for long; `body` runs outside LMDB's memory (events are copies).
    public func scan(from: UInt64 = 1, through: UInt64 = .max, filter: EventFilter = .all, options: ReadOptions = ReadOptions(),
                     _ body: (RecordedEvent) throws -> Bool) throws {
        try scan(from: from, through: through, filter: filter, options: options, limit: .max, body)
    }

    /// `scan` that goes on past events that cannot be read (a damaged record, a payload that does
    /// not decompress or decode, a missing name): `unreadable` gets each one's seq and why, in seq
    /// order among the events, and returns false to stop. Damage to the store's structure (LMDB
    /// errors) still throws.
    public func scan(from: UInt64 = 1, through: UInt64 = .max, filter: EventFilter = .all, options: ReadOptions = ReadOptions(),
                     unreadable: (UInt64, String) throws -> Bool, _ body: (RecordedEvent) throws -> Bool) throws {
        try scan(from: from, through: through, filter: filter, options: options, limit: .max, tolerant: true, unreadable: unreadable, body)
    }

    /// `scan` knowing that the caller wants at most `limit` events (so that no more are decoded).
    func scan(from: UInt64, through: UInt64, filter: EventFilter, options: ReadOptions, limit: Int,
              tolerant: Bool = false, unreadable: (UInt64, String) throws -> Bool = { _, _ in true }, _ body: (RecordedEvent) throws -> Bool) throws {
        guard from <= through else { return }
        // A full scan without hashes decodes chunks on every core (each worker in a read
        // transaction of its own over its own range; committed events never change, so the
        // workers agree) and delivers them in order.
        if filter.isAll && !options.hashes && EventLog.scanWorkers > 1 && !tolerant {
            return try parallelScan(from: from, through: through, options: options, limit: limit, body)
        }
        try core.decompressors.with { decompressor in
            var reader = EventReader(core: core, decompressor: decompressor, options: options)
            reader.tolerant = tolerant
            var next = max(from, 1)
            var remaining = limit
            while next <= through && remaining > 0 {
                let chunk = min(16_384, remaining)
                var batch: [RecordedEvent] = []
                batch.reserveCapacity(64)
                reader.unreadable.removeAll()
                let more: Bool = try core.read { txn in
                    if filter.isAll {
                        return try reader.sequential(from: next, through: through, max: chunk, txn) { batch.append($0) }
                    }
                    return try reader.filtered(filter, from: next, through: through, max: chunk, txn) { batch.append($0) }
                }
                var bad = reader.unreadable[...]
                for e in batch {
                    while let b = bad.first, b.seq < e.seq {
                        bad.removeFirst()
                        if try !unreadable(b.seq, b.reason) { return }
                    }
                    if try !body(e) { return }
                }
                for b in bad {
                    if try !unreadable(b.seq, b.reason) { return }
                }
                remaining -= batch.count
                guard let last = Swift.max(batch.last?.seq ?? 0, reader.unreadable.last?.seq ?? 0) as UInt64?, last > 0, more else { return }
                next = last + 1
            }
        }
    }

    /// Decoding threads used by full scans.
    static let scanWorkers = min(4, ProcessInfo.processInfo.activeProcessorCount)

    private func parallelScan(from: UInt64, through: UInt64, options: ReadOptions, limit: Int, _ body: (RecordedEvent) throws -> Bool) throws {
        let last = min(through, try lastSeq())
        var next = max(from, 1)
        let chunk: UInt64 = 32_768
        let workers = EventLog.scanWorkers
        let core = self.core
        var remaining = UInt64(max(0, limit))
        while next <= last && remaining > 0 {
            let end = min(last, next + min(chunk, remaining) - 1)
            remaining -= end - next + 1
            let span = end - next + 1
            let parts = span < 4096 ? 1 : workers
            let results = Locked<[Int: Result<[RecordedEvent], any Error>]>([:])
            let start = next
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                let a = start + span * UInt64(p) / UInt64(parts)
                let b = start + span * UInt64(p + 1) / UInt64(parts) - 1
                let r = Result { () throws -> [RecordedEvent] in
                    var out: [RecordedEvent] = []
                    out.reserveCapacity(Int(b - a + 1))
                    try core.decompressors.with { d in
                        var reader = EventReader(core: core, decompressor: d, options: options)
                        _ = try core.read { txn in try reader.sequential(from: a, through: b, max: .max, txn) { out.append($0) } }
                    }
                    return out
                }
                results.withLock { $0[p] = r }
            }
            for p in 0 ..< parts {
                for e in try results.withLock({ $0[p]! }).get() {
                    if try !body(e) { return }
                }
            }
            next = end + 1
        }
    }
}

/// Decodes stored records into events inside a read transaction, computing chain hashes on request.
struct EventReader {
    let core: StoreCore
    let decompressor: Decompressor
    let options: ReadOptions
    /// Hash of the event at `rolledSeq` (for sequential hashing).
    var rolledSeq: UInt64 = .max
    var rolledHash = ChainHash.genesis
    var canonical = ByteWriter(capacity: 256)
    var names: [[String?]] = Array(repeating: [], count: 3)
    var sparseNames: [[UInt32: String]] = Array(repeating: [:], count: 3)
    let upcasters: Upcasters?

    init(core: StoreCore, decompressor: Decompressor, options: ReadOptions) {
        self.core = core
        self.decompressor = decompressor
        self.options = options
        let u = core.configuration.upcasters
        self.upcasters = options.upcast && !u.isEmpty ? u : nil
    }

    /// Reads up to `max` events in seq order; returns whether there may be more.
    mutating func sequential(from: UInt64, through: UInt64, max: Int, _ txn: Transaction, _ emit: (RecordedEvent) -> Void) throws -> Bool {
        try txn.withCursor(core.dbs.events) { c in
            var n = 0
            var entry = try from.withBigEndianBytes { try c.seek(atLeast: $0) }
            while let e = entry {
                let seq = UInt64(bigEndianBytes: e.key)
                if seq > through { return false }
                if let event = try decodeOrNote(seq: seq, record: e.value, txn) { emit(event) }
                n += 1
                if n >= max { return true }
                entry = try c.next()
            }
            return false
        }
    }

    /// Reads up to `max` events matching `filter`: through the most selective index for the events
    /// the indexes cover (up to the watermark), then by scanning the headers of the tail after it.
    /// Returns whether there may be more.
    mutating func filtered(_ filter: EventFilter, from: UInt64, through: UInt64, max: Int, _ txn: Transaction, _ emit: (RecordedEvent) -> Void) throws -> Bool {
        let dbs = core.dbs
        var streamID: UInt32?
        var typeID: UInt32?
        if let s = filter.stream {
            guard let id = try core.id(.stream, s, txn) else { return false }
            streamID = id
        }
        if let t = filter.type {
            guard let id = try core.id(.type, t, txn) else { return false }
            typeID = id
        }
        let watermark = try txn.indexedWatermark(dbs)
        var n = 0
        func matches(_ h: RecordHeader) -> Bool {
            (streamID == nil || h.streamID == streamID) && (typeID == nil || h.typeID == typeID)
                && (filter.correlation == nil || h.correlation == filter.correlation)
        }

        // 1. The indexed part.
        if from <= watermark {
            // The most selective index: stream, else correlation, else type.
            let k: PostingBuilder.Key
            if let id = streamID {
                k = .init(index: .stream, key: UInt64(id))
            } else if let c = filter.correlation {
                k = .init(index: .correlation, key: c)
            } else {
                k = .init(index: .type, key: UInt64(typeID!))
            }
            let index = dbs.index(k.index)
            let key = withIndexKey(k) { Array($0) }
            let last = Swift.min(through, watermark)
            let full: Bool = try txn.withCursor(index) { ic in
                // The first run starting at or after `from` (runs sort by first seq), or the run
                // before it when that one still covers `from`.
                let atLeast = Posting(first: from, count: 0)
                var posting = try key.withUnsafeBytes { k in try atLeast.withBytes { v in try ic.seek(key: k, valueAtLeast: v) } }
                if let found = posting, Posting(found.value).first > from {
                    if let prev = try ic.previous(), prev.key.elementsEqual(key), Posting(prev.value).end > from {
                        posting = prev
                    } else {
                        posting = try key.withUnsafeBytes { k in try atLeast.withBytes { v in try ic.seek(key: k, valueAtLeast: v) } }
                    }
                } else if posting == nil {
                    if try key.withUnsafeBytes({ try ic.seek(exactly: $0) }) != nil, let lastRun = try ic.lastDuplicate(),
                       Posting(lastRun.value).end > from {
                        posting = lastRun
                    }
                }
                return try txn.withCursor(dbs.events) { ec in
                    while let p = posting.map({ Posting($0.value) }) {
                        var seq = Swift.max(p.first, from)
                        if seq > last { return false }
                        var entry = try seq.withBigEndianBytes { try ec.seek(exactly: $0) }
                        while seq < p.end, seq <= last, let e = entry {
                            if let h = try headerOrNote(seq: seq, record: e.value), matches(h) {
                                if let event = try decodeOrNote(seq: seq, record: e.value, txn) { emit(event) }
                                n += 1
                                if n >= max { return true }
                            }
                            seq += 1
                            entry = seq < p.end ? try ec.next() : nil
                        }
                        posting = try ic.nextDuplicate()
                    }
                    return false
                }
            }
            if full { return true }
        }

        // 2. The tail after the watermark.
        let tailFrom = Swift.max(from, watermark + 1)
        guard tailFrom <= through else { return false }
        return try txn.withCursor(dbs.events) { c in
            var entry = try tailFrom.withBigEndianBytes { try c.seek(atLeast: $0) }
            while let e = entry {
                let seq = UInt64(bigEndianBytes: e.key)
                if seq > through { return false }
                if let h = try headerOrNote(seq: seq, record: e.value), matches(h) {
                    if let event = try decodeOrNote(seq: seq, record: e.value, txn) { emit(event) }
                    n += 1
                    if n >= max { return true }
                }
                entry = try c.next()
            }
            return false
        }
    }

    /// With `tolerant`, events that cannot be read are noted here (seq, why) instead of thrown.
    var tolerant = false
    var unreadable: [(seq: UInt64, reason: String)] = []

    /// The header of `seq`'s record; nil (noted) when tolerant and it does not decode.
    mutating func headerOrNote(seq: UInt64, record: UnsafeRawBufferPointer) throws -> RecordHeader? {
        core.resident.touched(1, core.env)
        var r = ByteReader(record)
        do {
            return try RecordHeader.read(seq: seq, from: &r)
        } catch let e as EventLogError where tolerant {
            unreadable.append((seq, e.message))
            return nil
        }
    }

    /// `decode`, but when tolerant an event that cannot be read is noted and nil returned (with
    /// hashes asked for, an event whose hash cannot be computed, because an earlier one cannot be
    /// read, comes without its hash). Storage failures are thrown either way.
    mutating func decodeOrNote(seq: UInt64, record: UnsafeRawBufferPointer, _ txn: Transaction) throws -> RecordedEvent? {
        guard tolerant else { return try decode(seq: seq, record: record, txn) }
        do {
            return try decode(seq: seq, record: record, txn)
        } catch let e as EventLogError where e.kind == .corrupt {
            if options.hashes {
                rolledSeq = .max
                var plain = EventReader(core: core, decompressor: decompressor, options: ReadOptions(hashes: false, upcast: options.upcast))
                if let event = try? plain.decode(seq: seq, record: record, txn) { return event }
            }
            unreadable.append((seq, e.message))
            return nil
        }
    }

    /// Decodes the record of `seq`.
    mutating func decode(seq: UInt64, record: UnsafeRawBufferPointer, _ txn: Transaction) throws -> RecordedEvent {
        core.resident.touched(1, core.env)
        var r = ByteReader(record)
        let h = try RecordHeader.read(seq: seq, from: &r)
        let stream = try name(.stream, h.streamID, txn)
        let type = try name(.type, h.typeID, txn)
        let actor = try name(.actor, h.actorID, txn)
        let stored = r.rest()
        var hash: ChainHash?
        var payload: Value = .null
        // Roll the chain up to the previous event first: rolling decompresses other events, which
        // reuses the decompressor's buffer.
        if options.hashes && rolledSeq != seq - 1 { try rollTo(seq - 1, txn) }
        try withPayload(seq: seq, header: h, stored: stored, txn) { bytes in
            if options.hashes {
                hash = try chainHash(seq: seq, header: h, stream: stream, type: type, actor: actor, payload: bytes, txn)
            }
            payload = try wrap(seq) { () throws(DecodeError) -> Value in try ValueCodec.decode(bytes) }
        }
        var schema = h.schemaVersion
        if let upcasters {
            do {
                (payload, schema) = try upcasters.upcast(type: type, version: h.schemaVersion, payload: payload)
            } catch {
                throw EventLogError(.corrupt, "upcasting event \(seq) (\(type) v\(h.schemaVersion)) failed: \(error)")
            }
        }
        return RecordedEvent(seq: seq, recordedAtMicros: h.recordedAtMicros, stream: stream, streamVersion: h.streamVersion,
                             type: type, schemaVersion: schema, storedSchemaVersion: h.schemaVersion, causation: h.causation,
                             correlation: h.correlation, actor: actor, payload: payload, dictionaryID: h.dictionaryID, hash: hash)
    }

    /// Calls `body` with the canonical payload bytes of a record (decompressed if needed).
    func withPayload(seq: UInt64, header h: RecordHeader, stored: UnsafeRawBufferPointer, _ txn: Transaction,
                     _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        switch h.encoding {
        case .raw:
            try body(stored)
        case .frame, .block:
            let dict = h.dictionaryID != 0 ? try core.loadDictionary(h.dictionaryID, txn) : nil
            do {
                if h.encoding == .block {
                    try decompressor.decompressBlock(stored, dictionary: dict) { try body($0) }
                } else {
                    try decompressor.decompress(stored, dictionary: dict) { try body($0) }
                }
            } catch let e as ZstdError {
                throw EventLogError(.corrupt, "event \(seq): its payload does not decompress (\(e.name))")
            }
        }
    }

    mutating func name(_ kind: NameKind, _ id: UInt32, _ txn: Transaction) throws -> String {
        let k = kind == .stream ? 0 : kind == .type ? 1 : 2
        if Int(id) < names[k].count, let n = names[k][Int(id)] { return n }
        if let n = sparseNames[k][id] { return n }
        let n = try core.name(kind, id, txn)
        // Dense up to a bound, by id beyond it (a store of a million streams), so that reading
        // one event never allocates a table the size of the store's names.
        if Int(id) < Self.denseNames {
            if names[k].count <= Int(id) { names[k].append(contentsOf: repeatElement(nil, count: Int(id) - names[k].count + 1)) }
            names[k][Int(id)] = n
        } else {
            sparseNames[k][id] = n
        }
        return n
    }

    /// Names with ids below this are cached in the reader's arrays, the others in its dictionaries.
    static let denseNames = 4_096

    /// The chain hash of `seq`, rolling forward from the previous event's hash or from the nearest
    /// stored checkpoint.
    mutating func chainHash(seq: UInt64, header h: RecordHeader, stream: String, type: String, actor: String,
                            payload: UnsafeRawBufferPointer, _ txn: Transaction) throws -> ChainHash {
        if rolledSeq != seq - 1 {
            try rollTo(seq - 1, txn)
        }
        canonical.reset()
        Chain.canonicalHeader(seq: seq, recordedAtMicros: h.recordedAtMicros, streamVersion: h.streamVersion, schemaVersion: h.schemaVersion,
                              causation: h.causation, correlation: h.correlation, stream: stream, type: type, actor: actor,
                              payloadCount: payload.count, into: &canonical)
        let hash = Chain.next(previous: rolledHash, header: canonical.bytes, payload: payload)
        rolledSeq = seq
        rolledHash = hash
        return hash
    }

    /// Sets the rolling hash to the hash of `target` (0: genesis).
    mutating func rollTo(_ target: UInt64, _ txn: Transaction) throws {
        let checkpoint = target / Chain.checkpointInterval * Chain.checkpointInterval
        if checkpoint == 0 {
            rolledSeq = 0
            rolledHash = .genesis
        } else {
            let stored = try checkpoint.withBigEndianBytes { k in try txn.withValue(core.dbs.chain, key: k) { $0.map { Array($0) } } }
            guard let stored, stored.count == 32 else {
                throw EventLogError(.corrupt, "the chain checkpoint at seq \(checkpoint) is missing")
            }
            rolledSeq = checkpoint
            rolledHash = ChainHash(bytes: stored)
        }
        var seq = rolledSeq + 1
        while seq <= target {
            let s = seq
            let found: Bool = try s.withBigEndianBytes { k in
                try txn.withValue(core.dbs.events, key: k) { v in
                    guard let v else { return false }
                    var r = ByteReader(v)
                    let h = try RecordHeader.read(seq: s, from: &r)
                    let stream = try name(.stream, h.streamID, txn), type = try name(.type, h.typeID, txn), actor = try name(.actor, h.actorID, txn)
                    var me = self
                    try withPayload(seq: s, header: h, stored: r.rest(), txn) { p in
                        _ = try me.chainHash(seq: s, header: h, stream: stream, type: type, actor: actor, payload: p, txn)
                    }
                    self = me
                    return true
                }
            }
            guard found else { throw EventLogError(.corrupt, "event \(s) is missing") }
            seq += 1
        }
    }
}

/// Turns a decoding failure into an error that names the event.
@inline(__always)
func wrap<T>(_ seq: UInt64, _ body: () throws(DecodeError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw EventLogError(.corrupt, "event \(seq) cannot be decoded: \(error)")
    }
}

extension EventLog {
    /// A seq at or before the event at `version` of `stream` and after every earlier version
    /// (its exact seq when the version is indexed); nil when the stream does not exist.
    func seq(ofVersion version: UInt64, in stream: String) throws -> (seq: UInt64, exact: Bool)? {
        try core.read { txn -> (seq: UInt64, exact: Bool)? in
            guard let id = try core.id(.stream, stream, txn) else { return nil }
            // Versions before the posting at hand; postings are runs of consecutive seqs of the
            // stream in seq order, so version v is at first + (v - 1 - before).
            var before: UInt64 = 0
            var end: UInt64 = 1
            var found: UInt64?
            try forEachPosting(ofStream: id, txn) { posting in
                if before + UInt64(posting.count) >= version {
                    found = posting.first + (version - 1 - before)
                    return false
                }
                before += UInt64(posting.count)
                end = posting.end
                return true
            }
            // Not indexed yet (the tail past the watermark): every earlier version is before `end`.
            return found.map { ($0, true) } ?? (end, false)
        }
    }

    /// Calls `body` with the postings of stream `id` in seq order, a page at a time
    /// (`MDB_GET_MULTIPLE`, no decoding), until it returns false; returns whether it did.
    @discardableResult
    func forEachPosting(ofStream id: UInt32, _ txn: Transaction, _ body: (Posting) throws -> Bool) throws -> Bool {
        let key = withIndexKey(PostingBuilder.Key(index: .stream, key: UInt64(id))) { Array($0) }
        return try txn.withCursor(core.dbs.streamIndex) { c -> Bool in
            guard try key.withUnsafeBytes({ try c.seek(exactly: $0) }) != nil else { return false }
            var page = try c.multiple()
            while let p = page {
                var offset = 0
                while offset + 12 <= p.value.count {
                    if try !body(Posting(UnsafeRawBufferPointer(rebasing: p.value[offset ..< offset + 12]))) { return true }
                    offset += 12
                }
                page = try c.nextMultiple()
            }
            return false
        }
    }
}
