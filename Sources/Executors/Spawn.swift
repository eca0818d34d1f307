import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process in its own process group (so that a timeout or cancel kills everything it
/// started), its stdout and stderr on pipes that `relay` copies, masked, into files.
struct ChildProcess {
    let pid: pid_t
    /// Read ends of the child's stdout and stderr pipes (closed by `relay`).
    let stdout: Int32
    let stderr: Int32

    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32
    static let addchdir: AddChdir? = {
        guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(sym, to: AddChdir.self)
    }()

    typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    /// glibc's posix_spawn_file_actions_addclosefrom_np (since 2.34), looked up by name likewise.
    static let addclosefrom: AddClosefrom? = {
        guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(sym, to: AddClosefrom.self)
    }()

    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    /// glibc's pipe2 (not in the headers Swift imports without _GNU_SOURCE, like addchdir_np).
    static let pipe2: Pipe2? = {
        guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "pipe2") else { return nil }
        return unsafeBitCast(sym, to: Pipe2.self)
    }()

    /// A pipe whose ends are closed on exec (so that a child spawned by another worker at the
    /// same moment does not inherit them and hold the pipe open).
    static func makePipe() throws(StageError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        let rc: Int32
        if let pipe2 { rc = pipe2(&fds, O_CLOEXEC) } else {
            rc = pipe(&fds)
            if rc == 0 { for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) } }
        }
        guard rc == 0 else { throw StageError("cannot create a pipe for the script's output: \(String(cString: strerror(errno)))") }
        return (fds[0], fds[1])
    }

    /// Starts `argv` (PATH is searched for argv[0]) in `workdir` with exactly `environment`; its
    /// standard input is `stdin` (a descriptor this process keeps and closes) or /dev/null.
    ///
    /// With `output`, the child writes its stdout and stderr to those descriptors (files this
    /// process keeps and closes) instead of pipes: its output then does not depend on this
    /// process (a Spark driver outlives an engine restart); `stdout` and `stderr` are -1.
    static func spawn(argv: [String], workdir: String, environment: [String: String], stdin: Int32? = nil,
                      output: (stdout: Int32, stderr: Int32)? = nil) throws(StageError) -> ChildProcess {
        guard let program = argv.first, !program.isEmpty else { throw StageError("the command is empty") }
        // The working folder: glibc's posix_spawn_file_actions_addchdir_np (since 2.29) is not in
        // the headers Swift imports without _GNU_SOURCE, so it is looked up by name.
        guard let addchdir = ChildProcess.addchdir else { throw StageError("this C library cannot set a child's working folder (posix_spawn_file_actions_addchdir_np)") }
        guard FileManager.default.fileExists(atPath: workdir) else { throw StageError("working folder \(workdir) does not exist; check the stage's workdir") }
        let out: (read: Int32, write: Int32)
        let err: (read: Int32, write: Int32)
        if let output {
            out = (-1, output.stdout)
            err = (-1, output.stderr)
        } else {
            out = try makePipe()
            do { err = try makePipe() } catch {
                close(out.read); close(out.write)
                throw error
            }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin { posix_spawn_file_actions_adddup2(&actions, stdin, 0) } else { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        posix_spawn_file_actions_adddup2(&actions, out.write, 1)
        posix_spawn_file_actions_adddup2(&actions, err.write, 2)
        // Nothing else this process has open reaches the script: not the store's files, nor what
        // this process inherited (e.g. the socket a parent uses to see this process end, which
        // a script left running would otherwise keep open).
        if let addclosefrom = ChildProcess.addclosefrom { _ = addclosefrom(&actions, 3) } else { closeInheritedDescriptors(&actions) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        _ = addchdir(&actions, workdir)
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, program, &actions, &attr, cArgs, cEnv)
        if output == nil {
            close(out.write)
            close(err.write)
        }
        guard rc == 0 else {
            if output == nil {
                close(out.read)
                close(err.read)
            }
            let why = String(cString: strerror(rc))
            throw StageError(rc == ENOENT ? "cannot start '\(program)': no such program (or working folder \(workdir)); check the command and PATH"
                                          : "cannot start '\(program)': \(why)")
        }
        return ChildProcess(pid: pid, stdout: out.read, stderr: err.read)
    }

    /// Without closefrom: a close action for each descriptor ≥ 3 open now that is not closed on
    /// exec anyway (what opens after this look is the engine's own, opened close-on-exec).
    static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for name in names {
            guard let fd = Int32(name), fd >= 3 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 && flags & FD_CLOEXEC == 0 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
    }

    /// Copies the child's stdout and stderr into `files` (created or truncated) as they come,
    /// through `mask` (so the files never hold a secret, even should this process die), until
    /// the child has ended and its pipes are drained; returns its exit code, or the signal that
    /// killed it (negative). Processes the child left running that still hold its pipes are not
    /// waited for: once the child has ended, output stops being copied when none has come for
    /// 50 ms, or 2 s after the end at the latest.
    func relay(to files: (stdout: String, stderr: String), mask: SecretMask) -> Int32 {
        let targets: [Int32] = [files.stdout, files.stderr].map { (path: String) -> Int32 in Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        var streams = [SecretMask.Stream(mask), SecretMask.Stream(mask)]
        let sources = [stdout, stderr]
        var reading = [true, true]
        var status: Int32?
        var endedAt: DispatchTime?
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        func emit(_ i: Int, _ bytes: [UInt8]) {
            guard targets[i] >= 0, !bytes.isEmpty else { return }
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(targets[i], raw.baseAddress! + offset, raw.count - offset)
                    if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
                }
            }
        }
        while reading.contains(true) {
            var fds = (0 ..< 2).map { pollfd(fd: reading[$0] ? sources[$0] : -1, events: Int16(POLLIN), revents: 0) }
            let n = poll(&fds, 2, status == nil ? 100 : 50)
            if n < 0 {
                if errno == EINTR { continue }
                break
            }
            if n == 0 {
                if status == nil {
                    status = tryWait()
                    if status != nil { endedAt = .now() }
                    continue
                }
                break // the child has ended and nothing more came
            }
            for i in 0 ..< 2 where reading[i] && fds[i].revents != 0 {
                let r = buffer.withUnsafeMutableBytes { read(sources[i], $0.baseAddress, $0.count) }
                if r > 0 {
                    emit(i, streams[i].feed(buffer[0 ..< r]))
                } else if r == 0 || (errno != EINTR && errno != EAGAIN) {
                    reading[i] = false
                }
            }
            if let endedAt, DispatchTime.now() > endedAt + 2 { break }
        }
        for i in 0 ..< 2 {
            emit(i, streams[i].finish())
            close(sources[i])
            if targets[i] >= 0 { close(targets[i]) }
        }
        return status ?? wait()
    }

    /// The exit status when the process has ended (reaping it), else nil.
    func tryWait() -> Int32? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { return Self.decode(status) }
        if r < 0 && errno != EINTR { return -1000 }
        return nil
    }

    /// Waits for the process to end: its exit code, or the signal that killed it (negative).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1000 }
        }
        return Self.decode(status)
    }

    static func decode(_ status: Int32) -> Int32 {
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return -(status & 0x7f)
    }

    /// Signals the whole process group.
    func signal(_ sig: Int32) { kill(-pid, sig) }
}

/// What a recovering engine needs to find the processes of an attempt whose engine died: the
/// child's pid (= its process group), its start time (`/proc/<pid>/stat` field 22, so that a
/// reused pid is never taken for it) and the boot it started in. Kept in the attempt's folder
/// (`process`) while the child runs.
public enum AttemptProcesses {
    static let fileName = "process"

    struct Record: Equatable {
        var pid: pid_t
        var start: UInt64
        var boot: String
        var text: String { "pid \(pid)\nstart \(start)\nboot \(boot)\n" }
        init(pid: pid_t, start: UInt64, boot: String) {
            self.pid = pid
            self.start = start
            self.boot = boot
        }
        init?(_ text: String) {
            var fields: [String: String] = [:]
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
            }
            guard let p = fields["pid"].flatMap({ pid_t($0) }), p > 1, let s = fields["start"].flatMap({ UInt64($0) }), let b = fields["boot"] else { return nil }
            self.init(pid: p, start: s, boot: b)
        }
    }

    /// Records `pid` (just spawned, leader of its own group) in `folder`. One create and one
    /// write, no temporary file, rename or unlink (each costs an inode operation per attempt, ~1 ms
    /// of a script stage measured by `ledgerflow-bench engine`): a record cut short by a kill does
    /// not parse, and the attempt's processes are still found by their environment
    /// (`folderVariable`); a record left after the child ended names a process that is gone or has
    /// another start time, so it is never acted on.
    static func record(_ pid: pid_t, in folder: String) {
        guard let start = ProcessStat(pid)?.start else { return }
        let fd = open((folder as NSString).appendingPathComponent(fileName), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let bytes = Array(Record(pid: pid, start: start, boot: bootID).text.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// The processes of an attempt were stopped by recovery.
    static func forget(in folder: String) {
        unlink((folder as NSString).appendingPathComponent(fileName))
    }

    /// This boot's id (`/proc/sys/kernel/random/boot_id`).
    static let bootID: String = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"

    /// What an attempt left running: its process group and how many of its processes live.
    public struct Leftover: Sendable, Hashable {
        public var folder: String
        public var group: pid_t
        public var processes: Int
    }

    /// The variable every process of an attempt inherits: the attempt's folder. It finds the
    /// attempt's processes when the engine died before its record was written (between the spawn
    /// and the rename of `process`), and those that left the process group (`setsid`).
    public static let folderVariable = "LEDGERFLOW_ATTEMPT_FOLDER"

    /// The processes still running of the attempts whose folders are `folders` (attempts whose
    /// engine is gone), by process group: the group of the recorded pid when that process has the
    /// start time recorded or is gone while processes of its group live (a pid in use as a process
    /// group id is never given to a new process, so those are the attempt's), and the groups of
    /// the processes whose environment names the folder (`folderVariable`). A record from another
    /// boot, or a pid now used by another process, means nothing; this process's own group is
    /// never one of them.
    public static func leftovers(in folders: [String]) -> [Leftover] {
        guard !folders.isEmpty else { return [] }
        let own = getpgrp()
        var groups = ProcessStat.groupsByAttemptFolder(Set(folders))
        for folder in folders {
            guard let text = try? String(contentsOfFile: (folder as NSString).appendingPathComponent(fileName), encoding: .utf8),
                  let r = Record(text), r.boot == bootID else { continue }
            if let leader = ProcessStat(r.pid), leader.start != r.start { continue }
            groups[folder, default: []].insert(r.pid)
        }
        return folders.flatMap { folder in
            (groups[folder] ?? []).filter { $0 != own }.sorted().compactMap { g -> Leftover? in
                let n = ProcessStat.group(g).count
                return n == 0 ? nil : Leftover(folder: folder, group: g, processes: n)
            }
        }
    }

    /// Stops `leftovers`: SIGTERM to each group, then SIGKILL to the groups still running after
    /// `grace` seconds; returns, per folder, what was done (one phrase). Waits (at most 5 s more)
    /// until no process of the groups is left.
    public static func stop(_ leftovers: [Leftover], grace: Double) -> [String: String] {
        var done: [String: String] = [:]
        guard !leftovers.isEmpty else { return done }
        for l in leftovers { kill(-l.group, SIGTERM) }
        func alive(_ l: Leftover) -> Bool { !ProcessStat.group(l.group).isEmpty }
        let termDeadline = DispatchTime.now() + grace
        while leftovers.contains(where: alive), DispatchTime.now() < termDeadline { usleep(20_000) }
        for l in leftovers {
            let what = "\(l.processes) process\(l.processes == 1 ? "" : "es") of process group \(l.group)"
            let phrase: String
            if alive(l) {
                kill(-l.group, SIGKILL)
                phrase = "\(what) still ran: killed (SIGKILL after SIGTERM and \(String(format: "%g", grace)) s)"
            } else {
                phrase = "\(what) still ran: stopped (SIGTERM)"
            }
            done[l.folder] = done[l.folder].map { $0 + "; " + phrase } ?? phrase
        }
        let killDeadline = DispatchTime.now() + 5
        while leftovers.contains(where: alive), DispatchTime.now() < killDeadline { usleep(20_000) }
        for l in leftovers where !alive(l) { forget(in: l.folder) }
        return done
    }
}

/// What `/proc/<pid>/stat` says of a process (Linux).
struct ProcessStat {
    var pid: pid_t
    var state: Character
    var group: pid_t
    var start: UInt64

    init?(_ pid: pid_t) {
        // "pid (comm) STATE ppid pgrp … starttime(22) …"; comm may hold spaces and parentheses,
        // so the fields are split after the last ')'.
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let group = pid_t(fields[2]), let start = UInt64(fields[19]) else { return nil }
        self.pid = pid
        self.state = state
        self.group = group
        self.start = start
    }

    /// The process groups of the live processes whose environment sets
    /// `AttemptProcesses.folderVariable` to one of `folders`, by folder.
    static func groupsByAttemptFolder(_ folders: Set<String>) -> [String: Set<pid_t>] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [:] }
        let prefix = Array((AttemptProcesses.folderVariable + "=").utf8)
        var found: [String: Set<pid_t>] = [:]
        for name in names {
            guard let pid = pid_t(name), let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            for entry in environ.split(separator: 0, omittingEmptySubsequences: true) where entry.starts(with: prefix) {
                let folder = String(decoding: entry.dropFirst(prefix.count), as: UTF8.self)
                if folders.contains(folder), let s = ProcessStat(pid), s.state != "Z", s.state != "X" {
                    found[folder, default: []].insert(s.group)
                }
            }
        }
        return found
    }

    /// The live (not zombie) processes of process group `group`.
    static func group(_ group: pid_t) -> [ProcessStat] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { name in
            guard let pid = pid_t(name), let s = ProcessStat(pid), s.group == group, s.state != "Z", s.state != "X" else { return nil }
            return s
        }
    }
}
