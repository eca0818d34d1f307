import Domain
import Foundation
import LMDB
import Synchronization
import Zstd

/// A pool of non-thread-safe contexts (zstd compressors and decompressors): each caller takes one,
/// uses it on its own thread, and gives it back.
final class ContextPool<Context: AnyObject>: @unchecked Sendable {
    // @unchecked Sendable: `idle` is only touched under `lock`; a context is used by one thread at a time.
    private let lock = NSLock()
    private var idle: [Context] = []
    private let make: @Sendable () throws -> Context

    init(_ make: @escaping @Sendable () throws -> Context) { self.make = make }

    func with<T>(_ body: (Context) throws -> T) throws -> T {
        lock.lock()
        let ctx = idle.popLast()
        lock.unlock()
        let context = try ctx ?? make()
        defer {
            lock.lock()
            if idle.count < 16 { idle.append(context) }
            lock.unlock()
        }
        return try body(context)
    }
}

/// Interned names (streams, types, actors): id ↔ name. Ids never change once committed, so the
/// cache never needs invalidating; it only ever learns committed pairs.
final class NameCache: Sendable {
    private struct Tables {
        var byName: [[String: UInt32]] = Array(repeating: [:], count: 256)
        var byID: [[String?]] = Array(repeating: [], count: 256)
    }
    private let tables = Locked(Tables())

    func id(_ kind: NameKind, _ name: String) -> UInt32? {
        tables.withLock { $0.byName[Int(kind.rawValue)][name] }
    }

    func name(_ kind: NameKind, _ id: UInt32) -> String? {
        tables.withLock { t in
            let table = t.byID[Int(kind.rawValue)]
            return Int(id) < table.count ? table[Int(id)] : nil
        }
    }

    func insert(_ kind: NameKind, _ name: String, _ id: UInt32) {
        tables.withLock { t in
            t.byName[Int(kind.rawValue)][name] = id
            var table = t.byID[Int(kind.rawValue)]
            t.byID[Int(kind.rawValue)] = []
            if table.count <= Int(id) { table.append(contentsOf: repeatElement(nil, count: Int(id) - table.count + 1)) }
            table[Int(id)] = name
            t.byID[Int(kind.rawValue)] = table
        }
    }
}

/// The current compression dictionary and every dictionary loaded so far, by id.
final class DictionarySet: Sendable {
    private struct Dictionaries {
        var current: CompressionDictionary?
        var byID: [UInt32: CompressionDictionary] = [:]
    }
    private let dictionaries = Locked(Dictionaries())

    func currentDictionary() -> CompressionDictionary? { dictionaries.withLock { $0.current } }

    func cached(_ id: UInt32) -> CompressionDictionary? { dictionaries.withLock { $0.byID[id] } }

    func add(_ d: CompressionDictionary, makeCurrent: Bool) {
        dictionaries.withLock { s in
            s.byID[d.id] = d
            if makeCurrent, (s.current?.id ?? 0) < d.id { s.current = d }
        }
    }
}

/// Wakes subscribers when the log grows (in-process), with a timeout so that appends by other
/// processes are seen by polling.
final class AppendNotifier: @unchecked Sendable {
    // @unchecked Sendable: all state behind `lock`.
    private let lock = NSLock()
    private var latest: UInt64 = 0
    private var nextID: UInt64 = 0
    private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var cancelled: Set<UInt64> = []
    private var observers: [UInt64: @Sendable (UInt64) -> Void] = [:]

    func advance(to seq: UInt64) {
        lock.lock()
        guard seq > latest else { lock.unlock(); return }
        latest = seq
        let ready = waiters
        waiters.removeAll()
        let observing = Array(observers.values)
        lock.unlock()
        for (_, c) in ready { c.resume() }
        for o in observing { o(seq) }
    }

    func addObserver(_ body: @escaping @Sendable (UInt64) -> Void) -> UInt64 {
        lock.withLock {
            nextID += 1
            observers[nextID] = body
            return nextID
        }
    }

    func removeObserver(_ id: UInt64) { lock.withLock { _ = observers.removeValue(forKey: id) } }

    /// How many subscribers are parked in `wait` right now (tests wait on this instead of sleeping).
    var waiterCount: Int { lock.withLock { waiters.count } }

    /// Returns when the log passes `seq` (in this process), after `timeout`, or on cancellation.
    func wait(after seq: UInt64, timeout: Duration) async {
        let id: UInt64 = lock.withLock { nextID += 1; return nextID }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                lock.lock()
                if latest > seq || cancelled.remove(id) != nil {
                    lock.unlock()
                    c.resume()
                    return
                }
                waiters[id] = c
                lock.unlock()
                let nanos = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanos))) { [weak self] in
                    self?.fire(id)
                }
            }
        } onCancel: {
            self.fire(id, markCancelled: true)
        }
    }

    private func fire(_ id: UInt64, markCancelled: Bool = false) {
        lock.lock()
        let c = waiters.removeValue(forKey: id)
        if c == nil && markCancelled { cancelled.insert(id) }
        lock.unlock()
        c?.resume()
    }
}

/// One process may open a store directory once (an LMDB rule: one environment per file per process).
final class OpenStores: Sendable {
    static let shared = OpenStores()
    private let paths = Locked<Set<String>>([])

    func claim(_ path: String) -> Bool { paths.withLock { $0.insert(path).inserted } }
    func release(_ path: String) { paths.withLock { _ = $0.remove(path) } }
    func isOpen(_ path: String) -> Bool { paths.withLock { $0.contains(path) } }
}

/// Read transactions against the one thing that replaces the memory map under them: growing it.
/// `mdb_env_set_mapsize` unmaps the map and maps it again, which LMDB allows only while no
/// transaction of the process is open; a reader still walking the old map would fault (SIGSEGV, or
/// SIGBUS past the end of the file). Read transactions hold the gate shared; the writer takes it
/// exclusively to grow the map. glibc's rwlock prefers readers, so a nested read never waits for a
/// waiting writer; the writer gives up after `timeout` rather than wait forever behind readers.
final class MapGate: @unchecked Sendable {
    // @unchecked Sendable: a pthread rwlock, touched only through pthread's own functions.
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    /// Runs `body` (a read transaction) while the map cannot be replaced.
    @inline(__always)
    func shared<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    /// Runs `body` while no read transaction of this process is open; false (and `body` not run)
    /// when readers still held the map after `timeout` seconds.
    func exclusive(timeout: Double, _ body: () throws -> Void) rethrows -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let nanos = Int(deadline.tv_nsec) + Int((timeout - timeout.rounded(.down)) * 1e9)
        deadline.tv_sec += Int(timeout.rounded(.down)) + nanos / 1_000_000_000
        deadline.tv_nsec = nanos % 1_000_000_000
        guard pthread_rwlock_timedwrlock(lock, &deadline) == 0 else { return false }
        defer { pthread_rwlock_unlock(lock) }
        try body()
        return true
    }
}

/// Keeps the pages of the store's map that this process holds resident within a budget, so that a
/// process's resident set does not grow with the history it reads (a fold of a long history, or
/// thousands of point reads spread over it, each mapping the kernel's fault-around of 16 pages).
///
/// Readers count what they touch (`touched`); every `checkEvery` touches the process's resident
/// file pages (`/proc/self/statm`, its "shared" field) are compared with what they were after the
/// last release, and past the budget the map's pages are let go of
/// (`Environment.releaseResidentPages`: they stay in the page cache; the next read maps them
/// again). Between two checks at most `checkEvery` × 64 KiB more can be mapped. Call it while a
/// read transaction holds the map gate (so that the map is not replaced meanwhile). Linux only;
/// elsewhere (no `/proc`) it never releases.
final class ResidentMap: Sendable {
    /// Bytes of file pages above the baseline that trigger a release; 0 never releases.
    let budget: Int
    let checkEvery: Int
    private let touches = Atomic<Int>(0)
    /// Resident file bytes right after the last release (or at open): the libraries' and other
    /// files' pages, which a release does not touch.
    private let baseline = Atomic<Int>(0)
    private let releases = Atomic<Int>(0)
    private let measure: @Sendable () -> Int?

    /// `measure` (tests) replaces reading the process's resident file bytes.
    init(budget: Int, checkEvery: Int = 256, measure: (@Sendable () -> Int?)? = nil) {
        self.budget = budget
        self.checkEvery = max(1, checkEvery)
        let statm = StatmReader(enabled: budget > 0 && measure == nil)
        self.measure = measure ?? { statm.residentFileBytes() }
        baseline.store(self.measure() ?? 0, ordering: .relaxed)
    }

    /// How many times the map's pages were let go of.
    var releaseCount: Int { releases.load(ordering: .relaxed) }

    /// Notes `n` records or rows read through the map; every `checkEvery` checks the budget.
    @inline(__always)
    func touched(_ n: Int = 1, _ env: Environment) {
        guard budget > 0 else { return }
        let before = touches.wrappingAdd(n, ordering: .relaxed).oldValue
        if before / checkEvery != (before + n) / checkEvery { check(env) }
    }

    private func check(_ env: Environment) {
        guard let now = measure(), now - baseline.load(ordering: .relaxed) > budget else { return }
        env.releaseResidentPages()
        releases.wrappingAdd(1, ordering: .relaxed)
        baseline.store(measure() ?? now, ordering: .relaxed)
    }
}

/// Reads the process's resident file-backed and shared bytes: the third field of
/// `/proc/self/statm` (pages), through a descriptor kept open.
final class StatmReader: Sendable {
    private let fd: Int32
    private let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    init(enabled: Bool = true) {
        fd = enabled ? open("/proc/self/statm", O_RDONLY | O_CLOEXEC) : -1
    }

    deinit { if fd >= 0 { close(fd) } }

    func residentFileBytes() -> Int? {
        guard fd >= 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 160)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let fields = buffer[..<n].split(separator: UInt8(ascii: " "))
        guard fields.count >= 3, let pages = Int(String(decoding: fields[2], as: UTF8.self)) else { return nil }
        return pages * pageSize
    }
}
