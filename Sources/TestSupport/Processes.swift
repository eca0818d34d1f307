import Domain
import Foundation

/// The directory holding the built executables (`swift build` puts them next to the test bundle).
public let productsDirectory: URL = {
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    while url.path != "/" {
        if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("ledgerflow").path) { return url }
        url = url.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: ".build/debug")
}()

/// The path of a built executable; the tests need `swift build` (or `make test`) to have run.
public func binary(_ name: String) throws -> String {
    let path = productsDirectory.appendingPathComponent(name).path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw BinaryMissing(path: path)
    }
    return path
}

/// A built executable that the tests need is missing.
public struct BinaryMissing: Error, CustomStringConvertible {
    /// Where it was looked for.
    public let path: String
    /// What to do about it.
    public var description: String { "\(path) is not built: run `swift build` (make test does) before the end-to-end tests" }
}

/// The outcome of running a command to completion.
public struct RunResult: Sendable {
    /// The exit code, or the signal number when `signalled`.
    public let status: Int32
    /// Whether the process was ended by a signal.
    public let signalled: Bool
    /// Everything it wrote to stdout.
    public let stdout: String
    /// Everything it wrote to stderr.
    public let stderr: String
    /// stdout split into non-empty lines.
    public var lines: [String] { stdout.split(separator: "\n").map(String.init) }

    /// A result made by hand (e.g. for a process that could not be started).
    public init(status: Int32, signalled: Bool = false, stdout: String, stderr: String) {
        self.status = status
        self.signalled = signalled
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// Runs `executable` with `arguments` to completion: both pipes are read to their end on their own
/// threads while it runs, then its exit is awaited. After `timeout` seconds it is killed and
/// `WaitTimedOut` is thrown, so a hung command cannot hang the test.
@discardableResult
public func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, cwd: String? = nil,
                timeout: Double = 60) throws -> RunResult {
    try BackgroundProcess(executable, arguments, environment: environment, cwd: cwd).finish(timeout: timeout)
}

/// `ledgerflow ARGS…`
@discardableResult
public func ledgerflow(_ arguments: [String], environment: [String: String]? = nil, cwd: String? = nil, timeout: Double = 60) throws -> RunResult {
    try run(try binary("ledgerflow"), arguments, environment: environment, cwd: cwd, timeout: timeout)
}

/// A started process whose stdout and stderr are collected as they come (on a reader thread each),
/// so the test can wait for what it prints, signal it, and collect its result.
public final class BackgroundProcess {
    /// The underlying process.
    public let process: Process
    private let name: String
    private let out = Locked(Data())
    private let err = Locked(Data())
    private let readers = DispatchGroup()

    /// Starts `executable` with `arguments`.
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, cwd: String? = nil) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = environment }
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let outPipe = Pipe(), errPipe = Pipe()
        p.standardOutput = outPipe
        p.standardError = errPipe
        process = p
        name = ([(executable as NSString).lastPathComponent] + arguments.prefix(2)).joined(separator: " ")
        try p.run()
        Self.drain(outPipe.fileHandleForReading, into: out, readers)
        Self.drain(errPipe.fileHandleForReading, into: err, readers)
    }

    /// A process the test did not finish (it failed early) is killed rather than left running.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Reads `handle` to its end on a thread of its own, appending to `buffer`.
    private static func drain(_ handle: FileHandle, into buffer: Locked<Data>, _ group: DispatchGroup) {
        group.enter()
        let fd = handle.fileDescriptor
        let thread = Thread {
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    buffer.withLock { $0.append(contentsOf: chunk[0 ..< n]) }
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    break // end of file (or an error: nothing more will come)
                }
            }
            withExtendedLifetime(handle) {}
            group.leave()
        }
        thread.start()
    }

    /// The process id.
    public var processIdentifier: pid_t { process.processIdentifier }

    /// What it has written to stdout so far.
    public var stdout: String { String(decoding: out.withLock { $0 }, as: UTF8.self) }

    /// What it has written to stderr so far.
    public var stderr: String { String(decoding: err.withLock { $0 }, as: UTF8.self) }

    /// Waits until `condition` holds of its stdout so far; throws `WaitTimedOut` after `timeout` s
    /// (or at once if the process has ended without it).
    public func waitForOutput(_ what: @autoclosure () -> String, timeout: Double = 20, _ condition: (String) -> Bool) throws {
        try waitFor("\(name) to print \(what())", timeout: timeout) {
            if condition(stdout) { return true }
            if readers.wait(timeout: .now()) == .success && !condition(stdout) {
                throw WaitTimedOut(what: "\(name) to print \(what()) (it ended first; stderr: \(stderr))", seconds: timeout)
            }
            return false
        }
    }

    /// Sends `signal` to the process.
    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for both pipes to end and the process to exit, and returns what it did. After
    /// `timeout` seconds the process is killed and `WaitTimedOut` is thrown.
    @discardableResult
    public func finish(timeout: Double = 60) throws -> RunResult {
        if readers.wait(timeout: .now() + timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            _ = readers.wait(timeout: .now() + 10)
            process.waitUntilExit()
            throw WaitTimedOut(what: "\(name) to exit (killed; stdout: \(stdout.suffix(2000)); stderr: \(stderr.suffix(2000)))", seconds: timeout)
        }
        process.waitUntilExit()
        return RunResult(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                         stdout: stdout, stderr: stderr)
    }

    /// Kills the process (SIGKILL) and waits for it, unless it has already been finished.
    public func stop(_ signal: Int32 = SIGKILL) {
        guard process.isRunning else { _ = try? finish(timeout: 10); return }
        self.signal(signal)
        _ = try? finish(timeout: 10)
    }
}
