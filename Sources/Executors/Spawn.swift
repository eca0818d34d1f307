import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process in its own process group (so that a timeout or cancel kills everything it
/// started), stdout and stderr sent to files.
struct ChildProcess {
    let pid: pid_t

    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32
    static let addchdir: AddChdir? = {
        guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(sym, to: AddChdir.self)
    }()

    /// Starts `argv` (PATH is searched for argv[0]) in `workdir` with exactly `environment`.
    static func spawn(argv: [String], workdir: String, environment: [String: String], stdout: String, stderr: String) throws(StageError) -> ChildProcess {
        guard let program = argv.first, !program.isEmpty else { throw StageError("the command is empty") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
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
        // The working folder: glibc's posix_spawn_file_actions_addchdir_np (since 2.29) is not in
        // the headers Swift imports without _GNU_SOURCE, so it is looked up by name.
        guard let addchdir = ChildProcess.addchdir else { throw StageError("this C library cannot set a child's working folder (posix_spawn_file_actions_addchdir_np)") }
        guard FileManager.default.fileExists(atPath: workdir) else { throw StageError("working folder \(workdir) does not exist; check the stage's workdir") }
        _ = addchdir(&actions, workdir)
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, program, &actions, &attr, cArgs, cEnv)
        guard rc == 0 else {
            let why = String(cString: strerror(rc))
            throw StageError(rc == ENOENT ? "cannot start '\(program)': no such program (or working folder \(workdir)); check the command and PATH"
                                          : "cannot start '\(program)': \(why)")
        }
        return ChildProcess(pid: pid)
    }

    /// Waits for the process to end: its exit code, or the signal that killed it (negative).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1000 }
        }
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return -(status & 0x7f)
    }

    /// Signals the whole process group.
    func signal(_ sig: Int32) { kill(-pid, sig) }
}
