import Catalog
import Crypto
import Domain
import EventLog
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// files stages: copy, move and delete files and make folders, operation by operation, in order
/// (the role of Azure Data Factory's Copy and Delete activities between a staging and a
/// processing area).
///
/// - Folders are relative to the project folder (the store's parent) and may use
///   `${params.NAME}`, `${run}`, `${stage}`, `${attempt}`. After substitution a folder may not
///   leave the folder written before its first `${` (no `..`, no symlink out of it), and may not
///   be or be inside the store.
/// - An operation takes the regular files directly in `from` whose name matches `pattern`
///   (default `*`; symlinks and folders are never taken), in name order.
/// - copy: each file is written to `.NAME.ledgerflow-tmp` in `to`, fsynced, renamed to `NAME`,
///   the folder fsynced, then verified: the destination's size and SHA-256 and the source's, read
///   again, must equal what was copied. A destination that already holds the same bytes counts as
///   done (a retry after a crash); one with other bytes fails the stage unless `overwrite`; one
///   that is not a regular file always fails it. Leftover temporary files of the operation's
///   files are removed first.
/// - move: a copy of every file; once all of them are verified, the sources are deleted (and
///   their folder fsynced). A crash at any point loses nothing and doubles nothing: the retry
///   finds the verified destinations done and deletes the sources still there.
/// - delete: the files are hashed (for the record), removed, and the folder fsynced.
/// - mkdir: the folder and its parents are made.
///
/// Each copy, move and delete is recorded as a dataset version (`format: files`, `mode` the
/// operation, `rows` the number of files, `files` their names, sizes, SHA-256 and sources);
/// the outputs count files and bytes per operation.
public struct FilesExecutor: StageExecutor {
    /// Where a test stops or disturbs an attempt (a throw there is a crash: nothing is cleaned).
    public enum FaultPoint: Sendable, Hashable {
        /// A file's temporary copy is written and fsynced (path: the temporary file).
        case temporaryWritten
        /// A file was renamed into place (path: the destination).
        case renamed
        /// Just before a copied file is verified (path: the source).
        case beforeVerify
        /// Just before a moved file's source is deleted (path: the source).
        case beforeSourceDelete
    }

    /// Called at each fault point; throwing stops the attempt there.
    public typealias Hook = @Sendable (FaultPoint, String) throws(StageError) -> Void

    let hook: Hook?

    /// An executor; `hook` is for tests.
    public init(hook: Hook? = nil) { self.hook = hook }

    /// The suffix of the temporary file a copy writes first (`.NAME.ledgerflow-tmp`).
    public static let temporarySuffix = ".ledgerflow-tmp"

    public func run(_ ctx: StageContext) throws(StageError) -> StageResult {
        let stage = try ctx.stageSpec()
        guard case .files(let files) = stage.variant else { throw StageError("stage '\(ctx.stage)' is a \(stage.type) stage, not a files stage") }
        var datasets: [WrittenDataset] = []
        var reports: [Value] = []
        var totalFiles: Int64 = 0, totalBytes: Int64 = 0
        for (i, op) in files.operations.enumerated() {
            let what = "\(op.op.rawValue) operation \(i + 1) of stage '\(ctx.stage)'"
            try ctx.cancellation.check(what)
            let dataset = op.dataset.map(ctx.substitute) ?? "\(ctx.job).\(ctx.stage).\(i + 1)"
            var done: [WrittenFile] = []
            var location = ""
            var skipped = 0
            switch op.op {
            case .mkdir:
                let to = try folder(op.to, "to", what, ctx)
                do { try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true) } catch {
                    throw StageError("\(what): cannot make folder \(to): \(error.localizedDescription); check that its parent is a folder you may write")
                }
                reports.append(.object([("op", "mkdir"), ("folder", .string(to))]))
                continue
            case .copy, .move:
                let from = try folder(op.from, "from", what, ctx)
                location = try folder(op.to, "to", what, ctx)
                (done, skipped) = try transfer(op, from: from, to: location, what, ctx)
            case .delete:
                location = try folder(op.from, "from", what, ctx)
                done = try delete(op, in: location, what, ctx)
            }
            let bytes = done.reduce(Int64(0)) { $0 + $1.size }
            totalFiles += Int64(done.count)
            totalBytes += bytes
            reports.append(.object([("op", .string(op.op.rawValue)), ("dataset", .string(dataset)), ("files", .int(Int64(done.count))),
                                    ("bytes", .int(bytes)), ("already_there", .int(Int64(skipped)))]))
            var written = WrittenDataset(dataset: dataset, location: location, format: "files", mode: op.op.rawValue, rows: Int64(done.count),
                                         schema: [], contentHash: Self.listHash(done))
            written.files = done
            datasets.append(written)
        }
        let outputs: Value = .object([("files", .int(totalFiles)), ("bytes", .int(totalBytes)), ("operations", .array(reports))])
        return StageResult(datasets: datasets, outputs: outputs, inputs: ScriptExecutor.declaredInputs(ctx, stage.inputs))
    }

    // MARK: folders

    /// The folder `written` names, substituted and made absolute; fails when it is missing from
    /// the spec, leaves the folder written before its first `${` (`..`, an absolute value, a
    /// symlink), or is or is inside the store.
    func folder(_ written: String?, _ field: String, _ what: String, _ ctx: StageContext) throws(StageError) -> String {
        guard let written, !written.isEmpty else { throw StageError("\(what) has no \(field) folder; add `\(field): FOLDER`") }
        let substituted = ctx.substitute(written)
        let path = FileOperationPaths.lexical(ctx.resolve(substituted))
        let fixed = FileOperationPaths.lexical(ctx.resolve(FileOperationPaths.fixedFolder(written)))
        func inside(_ p: String, _ base: String) -> Bool { p == base || p.hasPrefix(base == "/" ? "/" : base + "/") }
        if substituted.split(separator: "/").contains("..") || !inside(path, fixed) {
            throw StageError("\(what): \(field) '\(substituted)' leaves the folder '\(fixed)' it is written under; a parameter may not hold '..' or an absolute path")
        }
        let canonical = StoreGuard.canonical(path, relativeTo: ctx.root)
        if !inside(canonical, StoreGuard.canonical(fixed, relativeTo: ctx.root)) {
            throw StageError("\(what): \(field) '\(substituted)' leads through a symlink to \(canonical), outside the folder '\(fixed)' it is written under; write the real folder instead")
        }
        if let c = StoreGuard.conflict(canonical, store: ctx.canonicalStore), c != .holdsStore {
            throw StageError("\(what): \(field) '\(substituted)' \(c.phrase); \(StoreGuard.filesFix)")
        }
        return path
    }

    /// The regular files directly in `folder` whose names match the operation's pattern, sorted.
    func matchingFiles(_ op: StageSpec.FileOperation, in folder: String, _ what: String) throws(StageError) -> [String] {
        let glob: FileGlob
        do throws(FileGlob.Problem) { glob = try FileGlob(op.glob) } catch {
            throw StageError("\(what): pattern '\(op.glob)' \(error.description); \(error.fix)")
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw StageError("\(what): cannot list \(folder): \(error.localizedDescription); check that the folder exists")
        }
        return names.filter { name in
            guard glob.matches(name), !name.hasSuffix(Self.temporarySuffix) else { return false }
            var st = stat()
            return lstat((folder as NSString).appendingPathComponent(name), &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    // MARK: copy, move

    /// Copies (and for a move, then deletes) the operation's files; returns them as recorded and
    /// how many were in place already.
    func transfer(_ op: StageSpec.FileOperation, from: String, to: String, _ what: String, _ ctx: StageContext) throws(StageError) -> ([WrittenFile], Int) {
        let fm = FileManager.default
        if StoreGuard.canonical(from, relativeTo: ctx.root) == StoreGuard.canonical(to, relativeTo: ctx.root) {
            // Every file would be "already there", and a move would then delete the only copy.
            throw StageError("\(what): from and to are the same folder \(to) after substitution, so it would overwrite its own sources; give them different folders")
        }
        let names = try matchingFiles(op, in: from, what)
        do { try fm.createDirectory(atPath: to, withIntermediateDirectories: true) } catch {
            throw StageError("\(what): cannot make folder \(to): \(error.localizedDescription); check that its parent is a folder you may write")
        }
        // What a killed attempt left: the temporary copies of this operation's files.
        if let leftovers = try? fm.contentsOfDirectory(atPath: to), let glob = try? FileGlob(op.glob) {
            for name in leftovers where name.hasPrefix(".") && name.hasSuffix(Self.temporarySuffix)
                && glob.matches(String(name.dropFirst().dropLast(Self.temporarySuffix.count))) {
                unlink((to as NSString).appendingPathComponent(name))
            }
        }
        var done: [WrittenFile] = []
        var skipped = 0
        for name in names {
            try ctx.cancellation.check(what)
            let source = (from as NSString).appendingPathComponent(name)
            let target = (to as NSString).appendingPathComponent(name)
            let copied = try copy(source, to: target, name: name, overwrite: op.overwrite, what, ctx)
            if copied.alreadyThere { skipped += 1 }
            done.append(WrittenFile(name: name, size: copied.digest.size, sha256: copied.digest.sha256, source: source))
        }
        if op.op == .move {
            for file in done {
                guard let source = file.source else { continue }
                try hook?(.beforeSourceDelete, source)
                if unlink(source) != 0 && errno != ENOENT {
                    throw StageError("\(what): cannot delete the source \(source) after its verified copy: \(String(cString: strerror(errno))); check the folder's permissions")
                }
            }
            try Self.syncFolder(from, what)
        }
        return (done, skipped)
    }

    /// Copies `source` to `target` through a temporary file, then verifies both; `alreadyThere`
    /// when `target` held the same bytes.
    func copy(_ source: String, to target: String, name: String, overwrite: Bool, _ what: String,
              _ ctx: StageContext) throws(StageError) -> (digest: Digest, alreadyThere: Bool) {
        let folder = (target as NSString).deletingLastPathComponent
        var st = stat()
        if lstat(target, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                throw StageError("\(what): \(target) exists and is not a regular file; remove it or choose another destination folder")
            }
            let existing = try Self.digest(target, what, ctx)
            if existing == (try Self.digest(source, what, ctx)) { return (existing, true) }
            guard overwrite else {
                throw StageError("\(what): \(target) exists with other content than \(source) (\(existing.size) bytes, SHA-256 \(existing.sha256.prefix(12))…); remove it, or set `overwrite: true`")
            }
        }
        let temporary = (folder as NSString).appendingPathComponent("." + name + Self.temporarySuffix)
        let copied = try Self.copyBytes(source, to: temporary, what, ctx)
        try hook?(.temporaryWritten, temporary)
        guard rename(temporary, target) == 0 else {
            throw StageError("\(what): cannot rename \(temporary) to \(target): \(String(cString: strerror(errno))); check the folder's permissions")
        }
        try Self.syncFolder(folder, what)
        try hook?(.renamed, target)
        try hook?(.beforeVerify, source)
        let placed = try Self.digest(target, what, ctx)
        let again = try Self.digest(source, what, ctx)
        guard placed == copied, again == copied else {
            // What this attempt placed is not what it meant to: take it away, so that a retry copies again.
            unlink(target)
            let why = placed != copied
                ? "the copy \(target) reads back as \(placed.size) bytes, SHA-256 \(placed.sha256.prefix(12))…, not the \(copied.size) bytes, \(copied.sha256.prefix(12))… written"
                : "the source \(source) changed while it was copied (now \(again.size) bytes, SHA-256 \(again.sha256.prefix(12))…)"
            throw StageError("\(what): verification failed: \(why); the copy was removed and no source deleted — retry once the source is stable")
        }
        return (copied, false)
    }

    // MARK: delete

    /// Deletes the operation's files from `folder`; returns them as they were.
    func delete(_ op: StageSpec.FileOperation, in folder: String, _ what: String, _ ctx: StageContext) throws(StageError) -> [WrittenFile] {
        var done: [WrittenFile] = []
        for name in try matchingFiles(op, in: folder, what) {
            try ctx.cancellation.check(what)
            let path = (folder as NSString).appendingPathComponent(name)
            let d = try Self.digest(path, what, ctx)
            if unlink(path) != 0 && errno != ENOENT {
                throw StageError("\(what): cannot delete \(path): \(String(cString: strerror(errno))); check the folder's permissions")
            }
            done.append(WrittenFile(name: name, size: d.size, sha256: d.sha256))
        }
        try Self.syncFolder(folder, what)
        return done
    }

    // MARK: bytes

    /// A file's size and SHA-256 (hex).
    struct Digest: Sendable, Hashable {
        var size: Int64
        var sha256: String
    }

    static let chunk = 1 << 20

    /// Reads `path` a MiB at a time (cancellation checked after each), passing each block to `body`.
    static func read(_ path: String, _ what: String, _ ctx: StageContext, _ body: (UnsafeRawBufferPointer) throws(StageError) -> Void) throws(StageError) -> Digest {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StageError("\(what): cannot open \(path): \(String(cString: strerror(errno))); check that it exists and is readable") }
        defer { close(fd) }
        var hash = SHA256()
        var size: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw StageError("\(what): cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            let block = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            hash.update(bufferPointer: block)
            try body(block)
            size += Int64(n)
            try ctx.cancellation.check(what)
        }
        return Digest(size: size, sha256: Hex.lowercase(hash.finalize()))
    }

    /// The size and SHA-256 of the file at `path`.
    static func digest(_ path: String, _ what: String, _ ctx: StageContext) throws(StageError) -> Digest {
        try read(path, what, ctx) { _ throws(StageError) in }
    }

    /// Copies `source` into a new `temporary` (an old one is replaced), fsyncs it, and returns
    /// the digest of the bytes copied.
    static func copyBytes(_ source: String, to temporary: String, _ what: String, _ ctx: StageContext) throws(StageError) -> Digest {
        var st = stat()
        let mode = stat(source, &st) == 0 ? mode_t(st.st_mode & 0o777) : 0o644
        unlink(temporary)
        let out = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard out >= 0 else { throw StageError("\(what): cannot create \(temporary): \(String(cString: strerror(errno))); check the folder's permissions") }
        var closed = false
        defer { if !closed { close(out) } }
        let d = try read(source, what, ctx) { block throws(StageError) in
            var offset = 0
            while offset < block.count {
                let n = write(out, block.baseAddress.map { $0 + offset }, block.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StageError("\(what): cannot write \(temporary): \(String(cString: strerror(errno))); check the free space")
                }
                offset += n
            }
        }
        guard fsync(out) == 0 else { throw StageError("\(what): cannot fsync \(temporary): \(String(cString: strerror(errno)))") }
        closed = true
        guard close(out) == 0 else { throw StageError("\(what): cannot close \(temporary): \(String(cString: strerror(errno)))") }
        return d
    }

    /// fsyncs a folder, so that the renames and deletes in it are durable.
    static func syncFolder(_ folder: String, _ what: String) throws(StageError) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StageError("\(what): cannot open folder \(folder): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StageError("\(what): cannot fsync folder \(folder): \(String(cString: strerror(errno)))") }
    }

    /// SHA-256 over the files' names, sizes and hashes, in name order (a dataset's content hash).
    static func listHash(_ files: [WrittenFile]) -> String {
        var h = SHA256()
        for f in files.sorted(by: { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }) {
            h.update(data: Data("\(f.name)\t\(f.size)\t\(f.sha256)\n".utf8))
        }
        return Hex.lowercase(h.finalize())
    }
}
