import Foundation
import LMDB
import TestSupport
import Testing

/// Cursor reads against a real LMDB environment, each test in its own temporary directory.
@Suite struct CursorTests {
    func withEnvironment(_ body: (Environment) throws -> Void) throws {
        let dir = TemporaryDirectory("lmdb")
        try withExtendedLifetime(dir) { try body(try Environment(path: dir.path)) }
    }

    /// Every value of `key`, page by page through MDB_GET_MULTIPLE / MDB_NEXT_MULTIPLE.
    func pages(_ txn: Transaction, _ db: Database, _ key: [UInt8]) throws -> [UInt32] {
        try txn.withCursor(db) { c in
            var out: [UInt32] = []
            guard try key.withUnsafeBytes({ try c.seek(exactly: $0) }) != nil else { return out }
            var page = try c.multiple()
            while let p = page {
                #expect(p.value.count % 4 == 0 && !p.value.isEmpty)
                for i in stride(from: 0, to: p.value.count, by: 4) {
                    out.append(p.value[i ..< i + 4].reduce(0) { $0 << 8 | UInt32($1) })
                }
                page = try c.nextMultiple()
            }
            return out
        }
    }

    /// A key with one value is read like a key with many: LMDB keeps a single value inline (no
    /// page of duplicates), which `multiple()` must still return.
    @Test func multipleReadsKeysWithOneValueAndWithManyPages() throws {
        try withEnvironment { env in
            let db = try env.openDatabase("postings", flags: [.dupSort, .dupFixed])
            let many = (0 ..< 5_000).map { UInt32($0 * 3) }
            try env.write { (txn: Transaction) throws -> Void in
                try txn.put(db, key: [1], value: [0, 0, 0, 7] as [UInt8])
                for v in many { try txn.put(db, key: [2], value: withUnsafeBytes(of: v.bigEndian) { Array($0) }) }
                try txn.put(db, key: [3], value: [0, 0, 0, 9] as [UInt8])
            }
            try env.read { (txn: Transaction) throws -> Void in
                #expect(try pages(txn, db, [1]) == [7])
                #expect(try pages(txn, db, [2]) == many)
                #expect(try pages(txn, db, [3]) == [9])
                #expect(try pages(txn, db, [4]).isEmpty)
            }
        }
    }
}
