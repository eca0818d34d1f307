import Domain
import Foundation
import LMDB
import Zstd

/// The append-only event log of one store directory: a plain LMDB environment.
///
/// Threading: an `EventLog` is safe to share between threads and tasks. Appends from any number of
/// producers are handed to one writer thread, which commits them in groups (one LMDB write
/// transaction and one fsync per group). Reads run on the caller's thread in short read-only
/// transactions. Open one `EventLog` per store per process.
public final class EventLog: Sendable {
    /// How a log is opened.
    public struct Configuration: Sendable {
        /// Open read-only (no writer; appends throw).
        public var readOnly = false
        /// fsync every commit (durable). Turn off only for scratch stores and benchmarks.
        public var durable = true
        /// The initial map size; the writer doubles it when full.
        public var mapSize = 1 << 34
        /// zstd level for payloads.
        public var compressionLevel: Int32 = 3
        /// When to train a compression dictionary from the store's own events.
        public var dictionaryTraining = DictionaryTraining.automatic(firstAt: 1_000, growth: 10)
        /// The dictionary size.
        public var dictionaryCapacity = 16 * 1024
        /// Upgrades of old payload schema versions applied on read.
        public var upcasters = Upcasters()
        /// How often a subscriber looks for appends made by other processes.
        public var pollInterval: Duration = .milliseconds(100)
        /// Bytes of the store's map this process may hold resident (beyond what it held when it
        /// last let go of them) before it lets go of them again: see `ResidentMap`. The pages stay
        /// in the kernel's page cache, so reads stay fast; the process's resident set no longer
        /// grows with the history it reads. 0 never lets go.
        public var residentMapBudget = 64 << 20
        /// Where the log gets the time it records (events' recordedAt, creation times); tests pass a
        /// clock they drive. RecordedAt still never decreases along seq, whatever the clock says.
        public var clock: any LogClock = SystemClock()
        /// Creates the default configuration.
        public init() {}
    }

    /// When dictionaries are trained.
    public enum DictionaryTraining: Sendable, Hashable {
        /// Never automatically (`trainDictionary()` still works).
        case manual
        /// First when the log reaches `firstAt` events, then each time it grows by `growth` times.
        case automatic(firstAt: UInt64, growth: UInt64)
    }

    /// The store directory.
    public let path: String
    /// Whether the log was opened read-only.
    public var isReadOnly: Bool { core.env.isReadOnly }
    /// The clock that stamps recordedAt (`Configuration.clock`).
    public var clock: any LogClock { core.configuration.clock }

    let core: StoreCore
    let writer: Writer?

    private init(path: String, core: StoreCore, writer: Writer?) {
        self.path = path
        self.core = core
        self.writer = writer
    }

    deinit {
        writer?.stop()
        OpenStores.shared.release(core.canonicalPath)
    }

    /// Whether `path` holds a store.
    public static func exists(at path: String) -> Bool {
        FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("data.mdb"))
    }

    /// Creates a new, empty store at `path` (the directory is created if needed) and opens it.
    public static func create(at path: String, configuration: Configuration = Configuration()) throws -> EventLog {
        let canonical = URL(fileURLWithPath: path).standardizedFileURL.path
        if OpenStores.shared.isOpen(canonical) {
            throw EventLogError(.storeExists, "a store already exists at \(path) (and is open in this process)")
        }
        if exists(at: path) && isInitialized(at: path) {
            throw EventLogError(.storeExists, "a store already exists at \(path)")
        }
        var c = configuration
        c.readOnly = false
        return try open(path: path, configuration: c, create: true)
    }

    /// Whether the environment at `path` holds an initialized store (an interrupted `init` can leave
    /// an empty LMDB environment behind; `create` initializes it).
    static func isInitialized(at path: String) -> Bool {
        var o = Environment.Options()
        o.readOnly = true
        o.mapSize = 1 << 20
        guard let env = try? Environment(path: path, options: o) else { return true }
        return (try? env.openDatabase("meta", create: false)) != nil
    }

    /// Opens the existing store at `path`.
    public static func open(at path: String, configuration: Configuration = Configuration()) throws -> EventLog {
        guard exists(at: path) else {
            throw EventLogError(.noStore, "no store at \(path): create one with `ledgerflow init --store \(path)`")
        }
        return try open(path: path, configuration: configuration, create: false)
    }

    private static func open(path: String, configuration: Configuration, create: Bool) throws -> EventLog {
        let canonical = URL(fileURLWithPath: path).standardizedFileURL.path
        guard OpenStores.shared.claim(canonical) else {
            throw EventLogError(.invalidArgument, "the store at \(path) is already open in this process; share that EventLog")
        }
        do {
            let core = try StoreCore(path: path, canonicalPath: canonical, configuration: configuration, create: create)
            let writer = configuration.readOnly ? nil : Writer(core: core)
            return EventLog(path: path, core: core, writer: writer)
        } catch {
            OpenStores.shared.release(canonical)
            if let e = error as? LMDBError, e == .accessDenied, !configuration.readOnly {
                throw EventLogError(.io, "cannot open the store at \(path) for writing: \(e)")
            }
            throw EventLogError.wrapping(error)
        }
    }

    /// Stops the writer after it has committed everything already submitted. Appends after
    /// `close()` throw. Reads keep working until the log is released.
    public func close() { writer?.stop() }
}

/// State shared by the log, its writer and its readers.
final class StoreCore: Sendable {
    let env: Environment
    let dbs: StoreDatabases
    let configuration: EventLog.Configuration
    let canonicalPath: String
    let names = NameCache()
    /// Held shared by every read transaction, exclusively to grow the map (see `MapGate`).
    let mapGate = MapGate()
    /// The budget of the map's pages resident in this process (see `ResidentMap`).
    let resident: ResidentMap
    let dictionaries = DictionarySet()
    let notifier = AppendNotifier()
    let compressors: ContextPool<Compressor>
    let decompressors = ContextPool<Decompressor> { try Decompressor() }
    /// Whether an automatic training is running, and the seq at which the next one is due.
    let training = Locked<(running: Bool, nextAt: UInt64)>((false, 0))

    init(path: String, canonicalPath: String, configuration: EventLog.Configuration, create: Bool) throws {
        var options = Environment.Options()
        options.mapSize = configuration.mapSize
        options.readOnly = configuration.readOnly
        options.noSync = !configuration.durable
        options.maxDatabases = 32
        let env: Environment
        do {
            env = try Environment(path: path, options: options)
        } catch let e as LMDBError where e == .noSuchFile {
            throw EventLogError(.noStore, "no store at \(path): create one with `ledgerflow init --store \(path)`")
        }
        self.env = env
        self.resident = ResidentMap(budget: configuration.residentMapBudget)
        self.canonicalPath = canonicalPath
        self.configuration = configuration
        let level = configuration.compressionLevel
        self.compressors = ContextPool { try Compressor(level: level) }
        if create {
            self.dbs = try StoreDatabases.open(env, create: true)
            let dbs = self.dbs
            try env.write { txn in
                if try txn.meta(dbs, MetaKey.format) == nil {
                    try txn.setMeta(dbs, MetaKey.format, Array("1".utf8))
                    try txn.setMeta(dbs, MetaKey.storeID, Array(UUID().uuidString.lowercased().utf8))
                    var w = ByteWriter()
                    w.u64be(UInt64(configuration.clock.nowMicros()))
                    try txn.setMeta(dbs, MetaKey.createdAt, w.bytes)
                }
            }
        } else {
            do {
                // Never create a missing database of an existing store (only the caches, snapshots
                // and tables, which older stores lack): an index created empty would silently
                // answer "nothing" for every event before it.
                self.dbs = try StoreDatabases.open(env, create: false)
            } catch let e as LMDBError where e == .notFound {
                throw StoreCore.missingDatabase(env, path: path)
            }
        }
        let dbs = self.dbs
        let (format, currentDict, nextTraining): ([UInt8]?, UInt32, UInt64) = try env.read { txn in
            let f = try txn.meta(dbs, MetaKey.format)
            let d = try txn.meta(dbs, MetaKey.currentDictionary).map { $0.withUnsafeBytes { UInt32(bigEndianBytes: $0) } } ?? 0
            let n = try txn.meta(dbs, MetaKey.nextTraining).map { $0.withUnsafeBytes { UInt64(bigEndianBytes: $0) } } ?? 0
            return (f, d, n)
        }
        guard format == Array("1".utf8) else {
            throw EventLogError(.incompatible, "\(path) holds store format \(format.map { String(decoding: $0, as: UTF8.self) } ?? "none"), this ledgerflow reads format 1")
        }
        if !configuration.readOnly {
            // Refuse to write to a store whose structure is damaged (nothing would be appended
            // anyway if it were found later; this finds it before the first append).
            if let problem = try env.read({ txn in try self.structuralProblem(txn) }) {
                throw EventLogError(.corrupt, "the store at \(path) is damaged: \(problem); nothing was written: run `ledgerflow audit verify --indexes --store \(path)` and restore the store from a backup")
            }
        }
        if currentDict != 0 {
            let d = try env.read { txn in try self.loadDictionary(currentDict, txn) }
            dictionaries.add(d, makeCurrent: true)
        }
        let firstAt: UInt64
        if case .automatic(let first, _) = configuration.dictionaryTraining { firstAt = first } else { firstAt = .max }
        training.withLock { $0.nextAt = nextTraining == 0 ? firstAt : nextTraining }
    }

    /// The error for a store whose named databases are not all there: not initialized when none
    /// is, damaged (naming the missing one, and any unknown name found instead) otherwise.
    static func missingDatabase(_ env: Environment, path: String) -> EventLogError {
        let present = (try? env.databaseNames()) ?? []
        if present.isEmpty {
            return EventLogError(.incompatible, "\(path) is an LMDB environment but not an initialized Ledgerflow store (an interrupted init?): run `ledgerflow init --store \(path)`")
        }
        let optional: Set = ["snapshots", "tables"]
        let missing = StoreDatabases.allNames.filter { !present.contains($0) && !optional.contains($0) }
        let unknown = present.filter { !StoreDatabases.allNames.contains($0) }
        let names = missing.map { "'\($0)'" }.joined(separator: ", ")
        let instead = unknown.isEmpty ? "" : " (LMDB's main database holds \(unknown.map { "'\($0.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined())'" }.joined(separator: ", ")) instead: a name was overwritten)"
        return EventLogError(.corrupt, "the store at \(path) is damaged: its database\(missing.count == 1 ? "" : "s") \(names) \(missing.count == 1 ? "is" : "are") missing\(instead); nothing was read or written: restore the store from a backup (and check the copy with `ledgerflow audit verify --indexes`)")
    }

    /// The dictionary `id`, loaded from the store on first use.
    func loadDictionary(_ id: UInt32, _ txn: Transaction) throws -> CompressionDictionary {
        if let d = dictionaries.cached(id) { return d }
        let raw = try id.withBigEndianBytes { k in try txn.withValue(dbs.dictionaries, key: k) { $0.map { Array($0) } } }
        guard let raw, raw.count > 20 else {
            throw EventLogError(.corrupt, "compression dictionary \(id) is missing from the store")
        }
        let d = try CompressionDictionary(id: id, bytes: Array(raw[20...]), level: configuration.compressionLevel)
        dictionaries.add(d, makeCurrent: false)
        return d
    }

    /// The name with `id`, from the cache or the store.
    func name(_ kind: NameKind, _ id: UInt32, _ txn: Transaction) throws -> String {
        if let n = names.name(kind, id) { return n }
        let found = try txn.get(dbs.ids, key: idKey(kind, id)).map { String(decoding: $0, as: UTF8.self) }
        guard let found else { throw EventLogError(.corrupt, "name \(id) of kind \(Character(Unicode.Scalar(kind.rawValue))) is missing from the names table") }
        names.insert(kind, found, id)
        return found
    }

    /// The id of `name`, from the cache or the store; nil if it was never interned.
    func id(_ kind: NameKind, _ name: String, _ txn: Transaction) throws -> UInt32? {
        if let id = names.id(kind, name) { return id }
        let found = try txn.get(dbs.names, key: [kind.rawValue] + Array(name.utf8)).map { $0.withUnsafeBytes { UInt32(bigEndianBytes: $0) } }
        if let found { names.insert(kind, name, found) }
        return found
    }
}

/// The `ids` key of a name: kind byte ‖ id (u32 BE).
func idKey(_ kind: NameKind, _ id: UInt32) -> [UInt8] {
    [kind.rawValue, UInt8(truncatingIfNeeded: id >> 24), UInt8(truncatingIfNeeded: id >> 16),
     UInt8(truncatingIfNeeded: id >> 8), UInt8(truncatingIfNeeded: id)]
}
