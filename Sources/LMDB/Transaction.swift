import CLMDB
import Foundation

/// A named database inside an environment (an `MDB_dbi`). Valid for the environment's lifetime.
public struct Database: Sendable, Hashable {
    /// Flags a named database is created with.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Keys are sorted duplicates allowed (MDB_DUPSORT).
        public static let dupSort = Flags(rawValue: UInt32(MDB_DUPSORT))
        /// With `dupSort`: all values have the same size, stored packed (MDB_DUPFIXED).
        public static let dupFixed = Flags(rawValue: UInt32(MDB_DUPFIXED))
        /// Keys are native-endian unsigned integers (MDB_INTEGERKEY).
        public static let integerKey = Flags(rawValue: UInt32(MDB_INTEGERKEY))
    }
    @usableFromInline let dbi: MDB_dbi
    @usableFromInline init(dbi: MDB_dbi) { self.dbi = dbi }
}

/// A transaction. Valid only inside the closure that received it; never store it, never send it to
/// another thread, and never `await` while holding it. Values read through it point into the memory
/// map and are valid only until the transaction ends: copy what you keep.
public struct Transaction {
    @usableFromInline let handle: OpaquePointer
    /// Whether this is a read-only transaction.
    public let readOnly: Bool
    @usableFromInline init(handle: OpaquePointer, readOnly: Bool) {
        self.handle = handle
        self.readOnly = readOnly
    }

    /// Opens a named database within this transaction.
    public func openDatabase(_ name: String?, flags: Database.Flags = [], create: Bool) throws -> Database {
        var dbi: MDB_dbi = 0
        var f = flags.rawValue
        if create && !readOnly { f |= UInt32(MDB_CREATE) }
        let code: Int32
        if let name {
            code = mdb_dbi_open(handle, name, f, &dbi)
        } else {
            code = mdb_dbi_open(handle, nil, f, &dbi)
        }
        try check(code, "opening database \(name ?? "(main)")")
        return Database(dbi: dbi)
    }

    /// Calls `body` with the value stored under `key`, or nil; the buffer is valid only inside `body`.
    @inlinable
    public func withValue<T>(_ db: Database, key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> T) throws -> T {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let code = mdb_get(handle, db.dbi, &k, &v)
        if code == MDB_NOTFOUND { return try body(nil) }
        try check(code, "reading a value")
        return try body(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    /// Returns a copy of the value stored under `key`, or nil.
    public func get(_ db: Database, key: some ContiguousBytes) throws -> [UInt8]? {
        try key.withUnsafeBytes { k in try withValue(db, key: k) { $0.map { Array($0) } } }
    }

    /// Stores `value` under `key`.
    @inlinable
    public func put(_ db: Database, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: PutFlags = []) throws {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(mdb_put(handle, db.dbi, &k, &v, flags.rawValue), "writing a value")
    }

    /// Stores `value` under `key` (byte-collection convenience).
    public func put(_ db: Database, key: some ContiguousBytes, value: some ContiguousBytes, flags: PutFlags = []) throws {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try put(db, key: k, value: v, flags: flags) } }
    }

    /// Reserves `size` bytes under `key` and lets `fill` write them in place (MDB_RESERVE).
    @inlinable
    public func putReserving(_ db: Database, key: UnsafeRawBufferPointer, size: Int, flags: PutFlags = [],
                             _ fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: size, mv_data: nil)
        try check(mdb_put(handle, db.dbi, &k, &v, flags.rawValue | UInt32(MDB_RESERVE)), "reserving a value")
        try fill(UnsafeMutableRawBufferPointer(start: v.mv_data, count: size))
    }

    /// Deletes `key` (and, for a dup-sorted database, only `value` when given). Returns false if absent.
    @discardableResult
    public func delete(_ db: Database, key: some ContiguousBytes, value: [UInt8]? = nil) throws -> Bool {
        try key.withUnsafeBytes { kb in
            var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
            let code: Int32
            if let value {
                code = value.withUnsafeBytes { vb in
                    var v = MDB_val(mv_size: vb.count, mv_data: UnsafeMutableRawPointer(mutating: vb.baseAddress))
                    return mdb_del(handle, db.dbi, &k, &v)
                }
            } else {
                code = mdb_del(handle, db.dbi, &k, nil)
            }
            if code == MDB_NOTFOUND { return false }
            try check(code, "deleting a value")
            return true
        }
    }

    /// Runs `body` with a cursor over `db`; the cursor is closed when `body` returns.
    @inlinable
    public func withCursor<T>(_ db: Database, _ body: (inout Cursor) throws -> T) throws -> T {
        var c: OpaquePointer?
        try check(mdb_cursor_open(handle, db.dbi, &c), "opening a cursor")
        guard let c else { throw LMDBError(code: ENOMEM, operation: "opening a cursor") }
        defer { mdb_cursor_close(c) }
        var cursor = Cursor(handle: c)
        return try body(&cursor)
    }

    /// Entry counts and page usage of `db`.
    public func stat(_ db: Database) throws -> DatabaseStat {
        var s = MDB_stat()
        try check(mdb_stat(handle, db.dbi, &s), "reading database stat")
        return DatabaseStat(entries: s.ms_entries, depth: Int(s.ms_depth), branchPages: s.ms_branch_pages,
                            leafPages: s.ms_leaf_pages, overflowPages: s.ms_overflow_pages, pageSize: Int(s.ms_psize))
    }
}

/// Flags for `put`.
public struct PutFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The key is greater than every key in the database (MDB_APPEND): a fast append at the end.
    public static let append = PutFlags(rawValue: UInt32(MDB_APPEND))
    /// For dup-sorted databases: the value is greater than every value of the key (MDB_APPENDDUP).
    public static let appendDup = PutFlags(rawValue: UInt32(MDB_APPENDDUP))
    /// Fail with `keyExists` if the key is present (MDB_NOOVERWRITE).
    public static let noOverwrite = PutFlags(rawValue: UInt32(MDB_NOOVERWRITE))
    /// For dup-sorted databases: fail if the key/value pair is present (MDB_NODUPDATA).
    public static let noDupData = PutFlags(rawValue: UInt32(MDB_NODUPDATA))
    /// Replace the item at the cursor position (cursor put only, MDB_CURRENT).
    public static let current = PutFlags(rawValue: UInt32(MDB_CURRENT))
}

/// Entry counts and page usage of a database (`mdb_stat`).
public struct DatabaseStat: Sendable {
    public let entries: Int
    public let depth: Int
    public let branchPages: Int
    public let leafPages: Int
    public let overflowPages: Int
    public let pageSize: Int
    /// Bytes of pages this database occupies.
    public var bytes: Int { (branchPages + leafPages + overflowPages) * pageSize }
}

/// A cursor over one database. Valid only inside the `withCursor` closure.
public struct Cursor {
    @usableFromInline let handle: OpaquePointer
    @usableFromInline init(handle: OpaquePointer) { self.handle = handle }

    /// A key/value pair under the cursor; buffers point into the map (valid until the txn ends).
    public struct Entry {
        public let key: UnsafeRawBufferPointer
        public let value: UnsafeRawBufferPointer
        @inlinable init(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
            self.key = key
            self.value = value
        }
    }

    @inlinable
    func op(_ o: MDB_cursor_op, key: UnsafeRawBufferPointer? = nil, value: UnsafeRawBufferPointer? = nil) throws -> Entry? {
        var k = MDB_val(mv_size: key?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: key?.baseAddress))
        var v = MDB_val(mv_size: value?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: value?.baseAddress))
        let code = mdb_cursor_get(handle, &k, &v, o)
        if code == MDB_NOTFOUND { return nil }
        try check(code, "moving a cursor")
        return Entry(key: UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
                     value: UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    /// Moves to the first entry.
    @inlinable public func first() throws -> Entry? { try op(MDB_FIRST) }
    /// Moves to the last entry.
    @inlinable public func last() throws -> Entry? { try op(MDB_LAST) }
    /// Moves to the next entry (next duplicate or next key).
    @inlinable public func next() throws -> Entry? { try op(MDB_NEXT) }
    /// Moves to the previous entry.
    @inlinable public func previous() throws -> Entry? { try op(MDB_PREV) }
    /// Moves to the first entry of the next key (skipping duplicates).
    @inlinable public func nextKey() throws -> Entry? { try op(MDB_NEXT_NODUP) }
    /// Returns the entry under the cursor.
    @inlinable public func current() throws -> Entry? { try op(MDB_GET_CURRENT) }
    /// Moves to `key` exactly.
    @inlinable public func seek(exactly key: UnsafeRawBufferPointer) throws -> Entry? { try op(MDB_SET_KEY, key: key) }
    /// Moves to the first key greater than or equal to `key`.
    @inlinable public func seek(atLeast key: UnsafeRawBufferPointer) throws -> Entry? { try op(MDB_SET_RANGE, key: key) }
    /// Dup-sorted: moves to the last duplicate of the current key.
    @inlinable public func lastDuplicate() throws -> Entry? { try op(MDB_LAST_DUP) }
    /// Dup-sorted: moves to the next duplicate of the current key.
    @inlinable public func nextDuplicate() throws -> Entry? { try op(MDB_NEXT_DUP) }
    /// Dup-sorted: moves to the previous duplicate of the current key.
    @inlinable public func previousDuplicate() throws -> Entry? { try op(MDB_PREV_DUP) }
    /// Dup-fixed: up to a page of duplicates of the current key from the cursor on (their bytes
    /// back to back in `value`), positioned on the last of them. A key with a single value has no
    /// page of duplicates (LMDB then succeeds without setting the value): that value is returned.
    @inlinable public func multiple() throws -> Entry? {
        guard let e = try op(MDB_GET_MULTIPLE) else { return nil }
        return e.value.baseAddress == nil ? try current() : e
    }
    /// Dup-fixed: the next page of duplicates of the current key (nil after the last).
    @inlinable public func nextMultiple() throws -> Entry? { try op(MDB_NEXT_MULTIPLE) }
    /// Dup-sorted: moves to the first duplicate of `key` not less than `value`.
    @inlinable public func seek(key: UnsafeRawBufferPointer, valueAtLeast value: UnsafeRawBufferPointer) throws -> Entry? {
        try op(MDB_GET_BOTH_RANGE, key: key, value: value)
    }

    /// Stores `value` under `key` through the cursor.
    @inlinable
    public func put(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: PutFlags = []) throws {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(mdb_cursor_put(handle, &k, &v, flags.rawValue), "writing through a cursor")
    }

    /// Reserves `size` bytes under `key` through the cursor and lets `fill` write them in place.
    @inlinable
    public func putReserving(key: UnsafeRawBufferPointer, size: Int, flags: PutFlags = [],
                             _ fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: size, mv_data: nil)
        try check(mdb_cursor_put(handle, &k, &v, flags.rawValue | UInt32(MDB_RESERVE)), "reserving through a cursor")
        try fill(UnsafeMutableRawBufferPointer(start: v.mv_data, count: size))
    }

    /// Deletes the entry under the cursor.
    public func deleteCurrent() throws {
        try check(mdb_cursor_del(handle, 0), "deleting through a cursor")
    }
}

/// Big-endian fixed-width keys, so that byte order equals numeric order.
extension FixedWidthInteger {
    /// Calls `body` with the big-endian bytes of the value.
    @inlinable
    public func withBigEndianBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        var be = self.bigEndian
        return try withUnsafeBytes(of: &be) { try body($0) }
    }
    /// Reads a big-endian value from the first `bitWidth / 8` bytes of `bytes`.
    @inlinable
    public init(bigEndianBytes bytes: UnsafeRawBufferPointer) {
        self.init(bigEndian: bytes.loadUnaligned(as: Self.self))
    }
}
