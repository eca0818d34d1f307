import Catalog
import Domain
import Foundation
import Models
#if canImport(Glibc)
import Glibc
#endif

/// One look at a sensor's folder, on whatever thread calls it (the engine lists off its loop
/// thread): `readdir` over the folder (and its subfolders when recursive, except hidden ones and
/// those in `skip`), `stat` only for names the pattern matches — so a folder of 100,000 other
/// files costs one pass over its entries and no `stat` per entry. A folder that is missing, not
/// a folder or unreadable (or a subfolder that is unreadable) fails the whole listing with one
/// line: the sensor then decides nothing from it (no arrival, nothing forgotten).
enum FolderListing {
    static func list(folder: String, glob: FileGlob, recursive: Bool, skip: Set<String>, atMicros: Int64) -> SensorListing {
        var files: [ListedFile] = []
        var entries = 0
        // (absolute folder, relative prefix)
        var stack: [(String, String)] = [(folder, "")]
        var first = true
        while let (dir, prefix) = stack.popLast() {
            guard let handle = opendir(dir) else {
                let code = errno
                if first { return SensorListing(files: [], error: rootError(folder, code), atMicros: atMicros) }
                // A subfolder that went away while listing holds no file any more.
                if code == ENOENT || code == ENOTDIR { continue }
                return SensorListing(files: [], error: "cannot read subfolder \(dir) of \(folder): \(String(cString: strerror(code)))", atMicros: atMicros)
            }
            first = false
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafePointer(to: entry.pointee.d_name) { p in
                    p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name == "." || name == ".." { continue }
                entries += 1
                let type = entry.pointee.d_type
                let path = dir == "/" ? "/" + name : dir + "/" + name
                var isDir = type == UInt8(DT_DIR)
                if type == UInt8(DT_UNKNOWN) {
                    var st = stat()
                    guard lstat(path, &st) == 0 else { continue }
                    isDir = (st.st_mode & S_IFMT) == S_IFDIR
                }
                if isDir {
                    if recursive, !name.hasPrefix("."), !skip.contains(path) { stack.append((path, prefix + name + "/")) }
                    continue
                }
                guard glob.matches(name) else { continue }
                // stat follows a symlink: a link to a file counts with the file's size and mtime.
                var st = stat()
                guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
                files.append(ListedFile(relative: prefix + name, size: Int64(st.st_size), mtimeMicros: mtimeMicros(st)))
            }
        }
        files.sort { $0.relative.utf8.lexicographicallyPrecedes($1.relative.utf8) }
        return SensorListing(files: files, atMicros: atMicros, entries: entries)
    }

    static func rootError(_ folder: String, _ code: Int32) -> String {
        switch code {
        case ENOENT: return "folder \(folder) does not exist"
        case ENOTDIR: return "\(folder) is not a folder"
        case EACCES: return "cannot read folder \(folder): permission denied"
        default: return "cannot list folder \(folder): \(String(cString: strerror(code)))"
        }
    }

    static func mtimeMicros(_ st: stat) -> Int64 {
        #if os(Linux)
        return Int64(st.st_mtim.tv_sec) * 1_000_000 + Int64(st.st_mtim.tv_nsec) / 1_000
        #else
        return Int64(st.st_mtimespec.tv_sec) * 1_000_000 + Int64(st.st_mtimespec.tv_nsec) / 1_000
        #endif
    }

    /// The size and mtime of the file at `path` (following a symlink), nil when there is no
    /// regular file there.
    static func key(at path: String) -> FileKey? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileKey(size: Int64(st.st_size), mtimeMicros: mtimeMicros(st))
    }

    /// Whether anything is at `path`.
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Deletes the file at `path`; nil, or why not.
    static func delete(_ path: String) -> String? {
        if unlink(path) == 0 || errno == ENOENT { return nil }
        return "could not delete \(path): \(String(cString: strerror(errno)))"
    }

    /// Moves the file at `from` to `to` (creating its folders; replacing a file there), across
    /// file systems by a copy beside the destination, a rename and an unlink; nil, or why not.
    static func move(_ from: String, to: String) -> String? {
        let parent = (to as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            return "could not create folder \(parent): \(error.localizedDescription)"
        }
        if rename(from, to) == 0 { return nil }
        let code = errno
        guard code == EXDEV else { return "could not move \(from) to \(to): \(String(cString: strerror(code)))" }
        let temporary = parent + "/.ledgerflow-move-\(getpid())-" + (to as NSString).lastPathComponent
        do {
            try? FileManager.default.removeItem(atPath: temporary)
            try FileManager.default.copyItem(atPath: from, toPath: temporary)
        } catch {
            return "could not copy \(from) to \(parent): \(error.localizedDescription)"
        }
        guard rename(temporary, to) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            return "could not move \(from) to \(to): \(why)"
        }
        unlink(from)
        return nil
    }
}
