import Domain
import LMDB

/// Which secondary index a posting belongs to.
enum IndexKind: UInt8 { case stream, correlation, type }

/// Collects, for one transaction, the runs of consecutive seqs per index key, then writes them.
struct PostingBuilder {
    struct Key: Hashable {
        let index: IndexKind
        let key: UInt64
    }

    private var open: [Key: Posting] = [:]
    private var closed: [(Key, Posting)] = []
    /// The run each index is extending right now (most events continue the previous event's run).
    private var current: [(key: UInt64, posting: Posting)?] = [nil, nil, nil]

    @inline(__always)
    mutating func add(_ index: IndexKind, _ key: UInt64, _ seq: UInt64) {
        let i = Int(index.rawValue)
        if let c = current[i], c.key == key, c.posting.end == seq, c.posting.count < UInt32.max {
            current[i]!.posting.count += 1
            return
        }
        if let c = current[i] { park(Key(index: index, key: c.key), c.posting) }
        // Continue this key's open run if it ends right here, else start one.
        let k = Key(index: index, key: key)
        if let p = open.removeValue(forKey: k) {
            if p.end == seq && p.count < UInt32.max {
                current[i] = (key, p)
                current[i]!.posting.count += 1
                return
            }
            closed.append((k, p))
        }
        current[i] = (key, Posting(first: seq, count: 1))
    }

    private mutating func park(_ k: Key, _ p: Posting) {
        if let old = open.updateValue(p, forKey: k) { closed.append((k, old)) }
    }

    /// Writes every run. Each key's first run extends the key's last stored run when that one ended
    /// just before it.
    mutating func flush(_ txn: Transaction, _ dbs: StoreDatabases) throws {
        for (i, c) in current.enumerated() {
            if let c, let index = IndexKind(rawValue: UInt8(i)) { park(Key(index: index, key: c.key), c.posting) }
        }
        current = [nil, nil, nil]
        var all = closed
        all.append(contentsOf: open.map { ($0.key, $0.value) })
        all.sort { $0.1.first < $1.1.first }
        var seen = Set<Key>()
        for (k, p) in all {
            let db = dbs.index(k.index)
            let isFirst = seen.insert(k).inserted
            try withIndexKey(k) { key in
                try txn.withCursor(db) { c in
                    if isFirst, try c.seek(exactly: key) != nil, let last = try c.lastDuplicate() {
                        let prior = Posting(last.value)
                        if prior.end == p.first, UInt64(prior.count) + UInt64(p.count) <= UInt64(UInt32.max) {
                            try Posting(first: prior.first, count: prior.count + p.count).withBytes { v in
                                try c.put(key: key, value: v, flags: .current)
                            }
                            return
                        }
                    }
                    try p.withBytes { v in try c.put(key: key, value: v) }
                }
            }
        }
        open = [:]
        closed = []
    }
}

/// Index keys: stream and type ids as u32 BE, correlations as u64 BE.
@inline(__always)
func withIndexKey<T>(_ k: PostingBuilder.Key, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
    switch k.index {
    case .stream, .type: return try UInt32(truncatingIfNeeded: k.key).withBigEndianBytes(body)
    case .correlation: return try k.key.withBigEndianBytes(body)
    }
}
