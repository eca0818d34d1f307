import Domain
import Foundation
import LMDB

/// The named databases of a store and the keys of its `meta` database.
struct StoreDatabases: Sendable {
    /// seq (u64 BE) → record.
    let events: Database
    /// kind byte + UTF-8 name → id (u32 BE).
    let names: Database
    /// kind byte + id (u32 BE) → UTF-8 name.
    let ids: Database
    /// stream id (u32 BE) → version (u64 BE) ‖ last seq (u64 BE).
    let streams: Database
    /// Postings: key → runs of consecutive seqs, each (first seq u64 BE ‖ count u32 BE), dup-sorted.
    let streamIndex: Database
    let correlationIndex: Database
    let typeIndex: Database
    /// seq (u64 BE, multiples of 64) → full chain hash (32 bytes).
    let chain: Database
    /// dictionary id (u32 BE) → installed-at seq (u64 BE) ‖ samples (u32 BE) ‖ created µs (u64 BE) ‖ bytes.
    let dictionaries: Database
    /// checkpoint name (UTF-8) → seq (u64 BE).
    let checkpoints: Database
    /// Store-wide facts (format, id, head, counters).
    let meta: Database
    /// Projection snapshots: UTF-8 name ‖ 0x00 ‖ seq (u64 BE) → snapshot (see `EventLog+Snapshots`).
    /// Nil only for a store created before snapshots existed and opened read-only (a writable open
    /// creates the database).
    let snapshots: Database?
    /// Derived tables of projections kept on disk (see `EventLog+Tables`): UTF-8 table name ‖
    /// 0x00 ‖ row key → values, dup-sorted. Nil like `snapshots` for older stores opened read-only.
    let tables: Database?

    /// The postings database of an index.
    func index(_ kind: IndexKind) -> Database {
        switch kind {
        case .stream: return streamIndex
        case .correlation: return correlationIndex
        case .type: return typeIndex
        }
    }

    /// Every database with its name, in `allNames` order.
    var all: [(name: String, db: Database)] {
        [("events", events), ("names", names), ("ids", ids), ("streams", streams), ("index.stream", streamIndex),
         ("index.correlation", correlationIndex), ("index.type", typeIndex), ("chain", chain),
         ("dictionaries", dictionaries), ("checkpoints", checkpoints), ("meta", meta)]
            + (snapshots.map { [("snapshots", $0)] } ?? []) + (tables.map { [("tables", $0)] } ?? [])
    }

    static let allNames = ["events", "names", "ids", "streams", "index.stream", "index.correlation", "index.type",
                           "chain", "dictionaries", "checkpoints", "meta", "snapshots", "tables"]

    /// Opens every database; with `create`, creates them all in one write transaction (so an
    /// interrupted `init` leaves either a complete store or an empty environment).
    static func open(_ env: Environment, create: Bool) throws -> StoreDatabases {
        if create {
            return try env.write { txn in
                try open(snapshots: txn.openDatabase("snapshots", create: true), tables: txn.openDatabase("tables", flags: [.dupSort], create: true)) { name, flags in
                    try txn.openDatabase(name, flags: flags, create: true)
                }
            }
        }
        // Stores created before snapshots (or tables) existed get the database on their first
        // writable open.
        var snapshots = try? env.openDatabase("snapshots", create: false)
        if snapshots == nil && !env.isReadOnly {
            snapshots = try env.write { txn in try txn.openDatabase("snapshots", create: true) }
        }
        var tables = try? env.openDatabase("tables", flags: [.dupSort], create: false)
        if tables == nil && !env.isReadOnly {
            tables = try env.write { txn in try txn.openDatabase("tables", flags: [.dupSort], create: true) }
        }
        return try open(snapshots: snapshots, tables: tables) { name, flags in try env.openDatabase(name, flags: flags, create: false) }
    }

    private static func open(snapshots: Database?, tables: Database?, _ opener: (String, Database.Flags) throws -> Database) throws -> StoreDatabases {
        let postings: Database.Flags = [.dupSort, .dupFixed]
        return StoreDatabases(
            events: try opener("events", []), names: try opener("names", []), ids: try opener("ids", []),
            streams: try opener("streams", []), streamIndex: try opener("index.stream", postings),
            correlationIndex: try opener("index.correlation", postings), typeIndex: try opener("index.type", postings),
            chain: try opener("chain", []), dictionaries: try opener("dictionaries", []),
            checkpoints: try opener("checkpoints", []), meta: try opener("meta", []), snapshots: snapshots, tables: tables)
    }
}

/// Keys of the `meta` database.
enum MetaKey {
    static let format = "format"                 // "1"
    static let storeID = "store.id"              // UUID text
    static let createdAt = "store.created"       // u64 BE µs
    static let indexed = "index.watermark"       // u64 BE: indexes and stream heads cover 1 … this
    static let currentDictionary = "dictionary.current"   // u32 BE
    static let nextTraining = "dictionary.next-training"  // u64 BE seq
    static func nextID(_ kind: NameKind) -> String { "names.next.\(Character(Unicode.Scalar(kind.rawValue)))" }
}

/// The tables of interned names.
enum NameKind: UInt8, Sendable, CaseIterable {
    case stream = 0x73 // "s"
    case type = 0x74   // "t"
    case actor = 0x61  // "a"
}

/// The log's head: the last event's seq, time and chain hash.
public struct ChainHead: Sendable, Hashable {
    /// Seq of the last event (0 for an empty log).
    public let seq: UInt64
    /// recordedAt of the last event, µs since 1970 (0 for an empty log).
    public let recordedAtMicros: Int64
    /// Chain hash after the last event (`ChainHash.genesis` for an empty log).
    public let hash: ChainHash

    static let empty = ChainHead(seq: 0, recordedAtMicros: 0, hash: .genesis)
    /// The head of an empty log.
    public static var genesisHead: ChainHead { .empty }
}

extension Transaction {
    func meta(_ dbs: StoreDatabases, _ key: String) throws -> [UInt8]? {
        try get(dbs.meta, key: Array(key.utf8))
    }

    func setMeta(_ dbs: StoreDatabases, _ key: String, _ value: [UInt8]) throws {
        try put(dbs.meta, key: Array(key.utf8), value: value)
    }

    func checkpointValue(_ dbs: StoreDatabases, _ name: String) throws -> UInt64 {
        try Array(name.utf8).withUnsafeBytes { k in
            try withValue(dbs.checkpoints, key: k) { v in v.map { UInt64(bigEndianBytes: $0) } ?? 0 }
        }
    }
}

/// A 12-byte posting: a run of `count` consecutive seqs starting at `first`, all with the same key.
struct Posting: Hashable {
    var first: UInt64
    var count: UInt32
    var end: UInt64 { first + UInt64(count) } // one past the last

    init(first: UInt64, count: UInt32) {
        self.first = first
        self.count = count
    }

    init(_ b: UnsafeRawBufferPointer) {
        first = UInt64(bigEndianBytes: b)
        count = UInt32(bigEndianBytes: UnsafeRawBufferPointer(rebasing: b[8 ..< 12]))
    }

    @inline(__always)
    func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        var raw: (UInt64, UInt32) = (first.bigEndian, count.bigEndian)
        return try withUnsafeBytes(of: &raw) { try body(UnsafeRawBufferPointer(rebasing: $0[0 ..< 12])) }
    }
}
