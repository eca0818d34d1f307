import CLMDB
import Foundation

/// An LMDB result code with the operation that produced it; matchable by its named constants.
public struct LMDBError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The raw LMDB (or errno) return code.
    public let code: Int32
    /// What the wrapper was doing when LMDB returned the code.
    public let operation: String

    /// Creates an error for `code` raised while performing `operation`.
    @inlinable
    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// Compares codes only: `error == .mapFull` matches whatever the operation was.
    public static func == (lhs: LMDBError, rhs: LMDBError) -> Bool { lhs.code == rhs.code }

    /// MDB_NOTFOUND: key/data pair not found.
    public static let notFound = LMDBError(code: MDB_NOTFOUND, operation: "")
    /// MDB_KEYEXIST: key/data pair already exists.
    public static let keyExists = LMDBError(code: MDB_KEYEXIST, operation: "")
    /// MDB_MAP_FULL: the environment's map size is reached.
    public static let mapFull = LMDBError(code: MDB_MAP_FULL, operation: "")
    /// MDB_MAP_RESIZED: another process grew the map; adopt the new size and retry.
    public static let mapResized = LMDBError(code: MDB_MAP_RESIZED, operation: "")
    /// MDB_READERS_FULL: too many reader slots in use.
    public static let readersFull = LMDBError(code: MDB_READERS_FULL, operation: "")
    /// MDB_DBS_FULL: too many named databases.
    public static let dbsFull = LMDBError(code: MDB_DBS_FULL, operation: "")
    /// MDB_INCOMPATIBLE: a database was opened with flags that do not match how it was created.
    public static let incompatible = LMDBError(code: MDB_INCOMPATIBLE, operation: "")
    /// ENOENT: the environment's directory or file does not exist.
    public static let noSuchFile = LMDBError(code: ENOENT, operation: "")
    /// The file is damaged (a page, a database or the environment cannot be read as LMDB).
    public static let corrupted = LMDBError(code: MDB_CORRUPTED, operation: "")
    public static let pageNotFound = LMDBError(code: MDB_PAGE_NOTFOUND, operation: "")
    public static let invalid = LMDBError(code: MDB_INVALID, operation: "")
    public static let panic = LMDBError(code: MDB_PANIC, operation: "")
    /// EACCES: permission denied (or a read-only file opened for writing).
    public static let accessDenied = LMDBError(code: EACCES, operation: "")

    /// The symbolic name of the code, e.g. `MDB_MAP_FULL`, or `errno N`.
    public var name: String {
        switch code {
        case MDB_KEYEXIST: return "MDB_KEYEXIST"
        case MDB_NOTFOUND: return "MDB_NOTFOUND"
        case MDB_PAGE_NOTFOUND: return "MDB_PAGE_NOTFOUND"
        case MDB_CORRUPTED: return "MDB_CORRUPTED"
        case MDB_PANIC: return "MDB_PANIC"
        case MDB_VERSION_MISMATCH: return "MDB_VERSION_MISMATCH"
        case MDB_INVALID: return "MDB_INVALID"
        case MDB_MAP_FULL: return "MDB_MAP_FULL"
        case MDB_DBS_FULL: return "MDB_DBS_FULL"
        case MDB_READERS_FULL: return "MDB_READERS_FULL"
        case MDB_TXN_FULL: return "MDB_TXN_FULL"
        case MDB_CURSOR_FULL: return "MDB_CURSOR_FULL"
        case MDB_PAGE_FULL: return "MDB_PAGE_FULL"
        case MDB_MAP_RESIZED: return "MDB_MAP_RESIZED"
        case MDB_INCOMPATIBLE: return "MDB_INCOMPATIBLE"
        case MDB_BAD_RSLOT: return "MDB_BAD_RSLOT"
        case MDB_BAD_TXN: return "MDB_BAD_TXN"
        case MDB_BAD_VALSIZE: return "MDB_BAD_VALSIZE"
        case MDB_BAD_DBI: return "MDB_BAD_DBI"
        case ENOENT: return "ENOENT"
        case EACCES: return "EACCES"
        case EAGAIN: return "EAGAIN"
        case ENOMEM: return "ENOMEM"
        case ENOSPC: return "ENOSPC"
        case EIO: return "EIO"
        case EINVAL: return "EINVAL"
        default: return "errno \(code)"
        }
    }

    /// What a user can do about the error, where there is something to do.
    public var advice: String? {
        switch code {
        case MDB_MAP_FULL: return "the store's map size is exhausted and could not be grown; nothing of this write was committed: raise the map size (or free memory/address space) and retry"
        case MDB_READERS_FULL: return "too many processes read the store at once; close some readers"
        case MDB_VERSION_MISMATCH, MDB_INVALID: return "the directory does not hold a store written by this LMDB version"
        case MDB_CORRUPTED, MDB_PAGE_NOTFOUND: return "the store file is damaged; restore it from a copy"
        case ENOENT: return "the path does not exist"
        case EACCES: return "check the permissions of the store directory"
        case ENOSPC: return "the disk holding the store is full; nothing of this write was committed: free space on it (or move the store to a larger disk) and retry"
        default: return nil
        }
    }

    public var description: String {
        let message = String(cString: mdb_strerror(code))
        var text = "LMDB error \(code) (\(name): \(message))"
        if !operation.isEmpty { text += " while \(operation)" }
        if let advice { text += "; \(advice)" }
        return text
    }
}

/// The data file is shorter than the pages in use: it was truncated (a copy cut short, a full
/// disk while copying). Opening it would crash the process (SIGBUS) at the first missing page.
public struct LMDBTruncatedFile: Error, Sendable, CustomStringConvertible {
    /// The data file.
    public let path: String
    /// Its size.
    public let fileBytes: Int
    /// The size its pages need: (last used page + 1) × page size.
    public let neededBytes: Int
    public var description: String {
        "the store's data file \(path) is truncated: it holds \(fileBytes) bytes but its pages need \(neededBytes); nothing was read or written: restore the store from a backup (a copy made with `mdb_copy` or of the directory while no ledgerflow ran)"
    }
}

@inlinable
func check(_ code: Int32, _ operation: @autoclosure () -> String) throws {
    if code != 0 { throw LMDBError(code: code, operation: operation()) }
}
