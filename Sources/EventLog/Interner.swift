import Domain
import LMDB

/// Interns names inside a write transaction; new ids become visible to the cache only after commit.
struct Interner {
    let core: StoreCore
    var pending: [NameKind: [String: UInt32]] = [:]
    var nextIDs: [NameKind: UInt32] = [:]
    var created: [(NameKind, String, UInt32)] = []

    init(core: StoreCore) { self.core = core }

    mutating func intern(_ kind: NameKind, _ name: String, _ txn: Transaction) throws -> UInt32 {
        if let id = pending[kind]?[name] { return id }
        if let id = try core.id(kind, name, txn) { return id }
        let next: UInt32
        if let n = nextIDs[kind] {
            next = n
        } else {
            next = try txn.meta(core.dbs, MetaKey.nextID(kind)).map { $0.withUnsafeBytes { UInt32(bigEndianBytes: $0) } } ?? 1
        }
        guard next < UInt32.max else { throw EventLogError(.invalidArgument, "too many distinct names of one kind") }
        nextIDs[kind] = next + 1
        pending[kind, default: [:]][name] = next
        created.append((kind, name, next))
        try next.withBigEndianBytes { v in
            try ([kind.rawValue] + Array(name.utf8)).withUnsafeBytes { k in try txn.put(core.dbs.names, key: k, value: v) }
        }
        try txn.put(core.dbs.ids, key: idKey(kind, next), value: Array(name.utf8))
        return next
    }

    func writeCounters(_ txn: Transaction) throws {
        for (kind, next) in nextIDs {
            var w = ByteWriter(capacity: 4)
            w.u32be(next)
            try txn.setMeta(core.dbs, MetaKey.nextID(kind), w.bytes)
        }
    }
}
