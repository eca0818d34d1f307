import CLMDB
import Foundation

/// An LMDB environment: one memory-mapped file holding named databases.
///
/// Threading: the environment is opened with `MDB_NOTLS`, so read transactions may run on any thread
/// (each is used by one thread at a time). A write transaction must begin and commit on the same
/// thread; `write(_:)` runs both within one synchronous call, so callers must not hop threads inside
/// the closure (no `await`). Open one `Environment` per file per process.
public final class Environment: @unchecked Sendable {
    // @unchecked Sendable: the only stored state is the MDB_env pointer, which LMDB documents as
    // usable from any thread once opened (with MDB_NOTLS), and immutable configuration.

    /// Options used when opening an environment.
    public struct Options: Sendable {
        /// The maximum size of the memory map (and the file), in bytes.
        public var mapSize: Int = 1 << 30
        /// The maximum number of named databases.
        public var maxDatabases: UInt32 = 32
        /// The maximum number of concurrent reader slots.
        public var maxReaders: UInt32 = 510
        /// Open read-only: no write transaction may begin.
        public var readOnly = false
        /// Skip fsync at commit (not durable; for benchmarks and scratch stores only).
        public var noSync = false
        /// Create the directory if it does not exist (ignored when read-only).
        public var createDirectory = true
        /// Creates default options.
        public init() {}
    }

    let handle: OpaquePointer
    /// Held while the map is replaced (`mdb_env_set_mapsize`) and while its pages are released,
    /// so that `releaseResidentPages` never advises an address the map has just left.
    private let remapping = NSLock()
    /// The directory that holds `data.mdb` and `lock.mdb`.
    public let path: String
    /// Whether the environment was opened read-only.
    public let isReadOnly: Bool

    /// Opens (creating if allowed) the environment in directory `path`.
    public init(path: String, options: Options = Options()) throws {
        if !options.readOnly && options.createDirectory {
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "creating the environment for \(path)")
        guard let env else { throw LMDBError(code: ENOMEM, operation: "creating the environment for \(path)") }
        do {
            try check(mdb_env_set_maxdbs(env, options.maxDatabases), "setting maxdbs")
            try check(mdb_env_set_maxreaders(env, options.maxReaders), "setting maxreaders")
            try check(mdb_env_set_mapsize(env, options.mapSize), "setting the map size")
            var flags = UInt32(MDB_NOTLS)
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            if options.noSync { flags |= UInt32(MDB_NOSYNC) }
            try check(mdb_env_open(env, path, flags, 0o644), "opening the store at \(path)")
            try Environment.checkFileLength(env, path: path)
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.handle = env
        self.path = path
        self.isReadOnly = options.readOnly
    }

    /// Throws `LMDBTruncatedFile` when the data file is shorter than the pages its newest meta page
    /// says are in use: reading those pages through the map would end the process with SIGBUS.
    /// LMDB writes every page up to the last used one before a commit completes, so a healthy file
    /// is never shorter.
    private static func checkFileLength(_ env: OpaquePointer, path: String) throws {
        var raw = MDB_envinfo()
        try check(mdb_env_info(env, &raw), "reading environment info of \(path)")
        var st = MDB_stat()
        try check(mdb_env_stat(env, &st), "reading environment stat of \(path)")
        var fd: Int32 = -1
        try check(mdb_env_get_fd(env, &fd), "finding the data file of \(path)")
        var file = stat()
        guard fstat(fd, &file) == 0 else { throw LMDBError(code: errno, operation: "reading the size of \(path)/data.mdb") }
        let needed = (raw.me_last_pgno + 1) * Int(st.ms_psize)
        if Int(file.st_size) < needed {
            throw LMDBTruncatedFile(path: (path as NSString).appendingPathComponent("data.mdb"), fileBytes: Int(file.st_size), neededBytes: needed)
        }
    }

    /// The names of the named databases: the keys of the main (unnamed) database, in key order.
    public func databaseNames() throws -> [String] {
        try read { txn in
            let main = try txn.openDatabase(nil, create: false)
            return try txn.withCursor(main) { c in
                var names: [String] = []
                var e = try c.first()
                while let entry = e {
                    names.append(String(decoding: entry.key, as: UTF8.self))
                    e = try c.next()
                }
                return names
            }
        }
    }

    deinit { mdb_env_close(handle) }

    /// Runs `body` in a read-only transaction; the transaction ends when `body` returns.
    public func read<T>(_ body: (Transaction) throws -> T) throws -> T {
        let txn = try begin(readOnly: true)
        defer { mdb_txn_abort(txn.handle) }
        return try body(txn)
    }

    /// Runs `body` in a write transaction and commits it; on a thrown error the transaction is
    /// aborted and the error rethrown. Begin and commit happen on the calling thread.
    public func write<T>(_ body: (Transaction) throws -> T) throws -> T {
        let txn = try begin(readOnly: false)
        let result: T
        do {
            result = try body(txn)
        } catch {
            mdb_txn_abort(txn.handle)
            throw error
        }
        let code = mdb_txn_commit(txn.handle)
        if code != 0 { throw diskFullOr(LMDBError(code: code, operation: "committing a write transaction in \(path)")) }
        return result
    }

    private func begin(readOnly: Bool) throws -> Transaction {
        var txn: OpaquePointer?
        var code = mdb_txn_begin(handle, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn)
        if code == MDB_MAP_RESIZED {
            // Another process grew the map: adopt its size (legal: this process has no txn open
            // on this thread) and try once more.
            try remapping.withLock { try check(mdb_env_set_mapsize(handle, 0), "adopting a map size grown by another process") }
            code = mdb_txn_begin(handle, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn)
        }
        try check(code, readOnly ? "beginning a read transaction in \(path)" : "beginning a write transaction in \(path)")
        guard let txn else { throw LMDBError(code: ENOMEM, operation: "beginning a transaction") }
        return Transaction(handle: txn, readOnly: readOnly)
    }

    /// Opens (or, with `create`, creates) the named database `name` and returns its handle.
    ///
    /// Handles stay valid for the life of the environment. In a read-only environment the database
    /// must exist already.
    public func openDatabase(_ name: String?, flags: Database.Flags = [], create: Bool = true) throws -> Database {
        if isReadOnly {
            // Handles opened in a read transaction stay valid only if that transaction commits.
            let txn = try begin(readOnly: true)
            do {
                let db = try txn.openDatabase(name, flags: flags, create: false)
                try check(mdb_txn_commit(txn.handle), "committing the transaction that opened \(name ?? "(main)")")
                return db
            } catch {
                mdb_txn_abort(txn.handle)
                throw error
            }
        }
        return try write { txn in try txn.openDatabase(name, flags: flags, create: create) }
    }

    /// `error`, or ENOSPC when it is an I/O error on a file system with no room left: LMDB reports
    /// a short write (the disk filled in the middle of a page run) as EIO.
    private func diskFullOr(_ error: LMDBError) -> LMDBError {
        guard error.code == EIO else { return error }
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { return error }
        let free = Int(fs.f_bavail) * Int(fs.f_frsize)
        // Less room than a commit's worth of pages (the failed write needed more than there was).
        guard free < 1 << 20 else { return error }
        return LMDBError(code: ENOSPC, operation: "\(error.operation) (a short write: \(free) bytes are free on the file system)")
    }

    /// Grows the map to `bytes`. Only legal while this process has no transaction open.
    public func setMapSize(_ bytes: Int) throws {
        try remapping.withLock { try check(mdb_env_set_mapsize(handle, bytes), "growing the map to \(bytes) bytes") }
    }

    /// Lets go of the pages of the map that this process holds resident (`madvise(MADV_DONTNEED)`
    /// over the map), so that they stop counting in its resident set. Nothing is lost: the map is
    /// a read-only shared map of the file (LMDB writes with `pwrite`), its pages stay in the
    /// kernel's page cache, and a later read maps them again (a minor fault). Safe while read
    /// transactions run on other threads: their pointers stay valid. The map is found in
    /// `/proc/self/maps` by the data file's device and inode (LMDB does not tell its address).
    /// Returns the bytes of address space advised (0 where there is no `/proc`).
    @discardableResult
    public func releaseResidentPages() -> Int {
        remapping.withLock {
            var fd: Int32 = -1
            var file = stat()
            guard mdb_env_get_fd(handle, &fd) == 0, fstat(fd, &file) == 0,
                  let maps = Environment.readWholeFile("/proc/self/maps") else { return 0 }
            var advised = 0
            for line in maps.split(separator: "\n") {
                // start-end perms offset major:minor inode path
                let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
                guard f.count == 6, UInt64(f[4]) == UInt64(file.st_ino) else { continue }
                let dev = f[3].split(separator: ":").compactMap { UInt32($0, radix: 16) }
                // glibc's encoding of a dev_t (what major(3) and minor(3) decode).
                let d = UInt64(file.st_dev)
                let major = UInt32(truncatingIfNeeded: ((d >> 8) & 0xfff) | ((d >> 32) & ~0xfff))
                let minor = UInt32(truncatingIfNeeded: (d & 0xff) | ((d >> 12) & ~0xff))
                guard dev.count == 2, dev[0] == major, dev[1] == minor else { continue }
                let range = f[0].split(separator: "-").compactMap { UInt(String($0), radix: 16) }
                guard range.count == 2, range[1] > range[0], let start = UnsafeMutableRawPointer(bitPattern: range[0]) else { continue }
                if madvise(start, Int(range[1] - range[0]), Int32(MADV_DONTNEED)) == 0 { advised += Int(range[1] - range[0]) }
            }
            return advised
        }
    }

    /// A file's contents read to its end with read(2): procfs files report size 0, and
    /// Foundation's `String(contentsOfFile:)` stops after their first page.
    static func readWholeFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { break }
            bytes += chunk[..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Flushes the data buffers to disk (useful after writing with `noSync`).
    public func sync(force: Bool = true) throws {
        let code = mdb_env_sync(handle, force ? 1 : 0)
        if code != 0 { throw diskFullOr(LMDBError(code: code, operation: "syncing \(path)")) }
    }

    /// Information about the environment: map size, last used page, last transaction id.
    public func info() throws -> Info {
        var raw = MDB_envinfo()
        try check(mdb_env_info(handle, &raw), "reading environment info")
        var st = MDB_stat()
        try check(mdb_env_stat(handle, &st), "reading environment stat")
        return Info(mapSize: raw.me_mapsize, lastPage: raw.me_last_pgno, lastTransaction: raw.me_last_txnid,
                    maxReaders: Int(raw.me_maxreaders), readers: Int(raw.me_numreaders), pageSize: Int(st.ms_psize))
    }

    /// A snapshot of `mdb_env_info` and the page size.
    public struct Info: Sendable {
        /// Current map size in bytes.
        public let mapSize: Int
        /// Number of the last used page.
        public let lastPage: Int
        /// Id of the last committed transaction.
        public let lastTransaction: Int
        /// Maximum reader slots.
        public let maxReaders: Int
        /// Reader slots in use.
        public let readers: Int
        /// Page size in bytes.
        public let pageSize: Int
        /// Bytes of the file in use: (last page + 1) × page size.
        public var usedBytes: Int { (lastPage + 1) * pageSize }
    }
}
