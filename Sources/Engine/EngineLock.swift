import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One engine per store: an exclusive `flock` on `<store>/engine.lock`, released by the kernel
/// when the process ends however it ends (so a killed engine's attempts are known to be dead).
public final class EngineLock: @unchecked Sendable {
    // @unchecked Sendable: `fd` is immutable; the lock is released once, in deinit.
    private let fd: Int32
    public let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// Takes the store's engine lock, or returns nil when another process holds it.
    public static func acquire(store: String) throws -> EngineLock? {
        let path = (store as NSString).appendingPathComponent("engine.lock")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EngineError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        let me = "\(ProcessInfo.processInfo.processIdentifier)\n"
        _ = ftruncate(fd, 0)
        _ = me.withCString { pwrite(fd, $0, strlen($0), 0) }
        return EngineLock(fd: fd, path: path)
    }

    /// The pid written by the engine holding the lock, if one does.
    public static func holder(store: String) -> Int32? {
        let path = (store as NSString).appendingPathComponent("engine.lock")
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        var buf = [UInt8](repeating: 0, count: 32)
        let n = read(fd, &buf, 31)
        return n > 0 ? Int32(String(decoding: buf[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) : nil
    }
}

/// An engine failure (one line for the CLI).
public struct EngineError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
