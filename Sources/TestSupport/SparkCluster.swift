import Domain
import Executors
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// pyspark's launch scripts (`spark-submit`, `spark-class`) and the Java runtime they need, found
/// once; a test that needs them fails with what to install when they are missing.
public enum SparkInstall {
    /// The folder holding pyspark's `spark-submit` and `spark-class`.
    public static func binDirectory() throws -> String { try located.get() }

    /// pyspark's `spark-submit`.
    public static func sparkSubmit() throws -> String { (try binDirectory() as NSString).appendingPathComponent("spark-submit") }

    /// pyspark's `spark-class` (runs a Spark main class, e.g. the standalone master).
    public static func sparkClass() throws -> String { (try binDirectory() as NSString).appendingPathComponent("spark-class") }

    private static let located: Result<String, SparkToolsMissing> = {
        let env = ProcessInfo.processInfo.environment
        guard let py = try? run("/usr/bin/env", ["python3", "-c", "import os, pyspark; print(os.path.dirname(pyspark.__file__))"], environment: env, timeout: 60),
              py.status == 0, let home = py.lines.last, !home.isEmpty else {
            return .failure(SparkToolsMissing("pyspark is not installed for python3 (the Spark tests need spark-submit and spark-class); run make test-deps"))
        }
        let bin = (home as NSString).appendingPathComponent("bin")
        guard FileManager.default.isExecutableFile(atPath: (bin as NSString).appendingPathComponent("spark-class")) else {
            return .failure(SparkToolsMissing("\(bin)/spark-class is missing or not executable (a broken pyspark install?); run pip install --force-reinstall pyspark==3.5.3"))
        }
        guard let java = try? run("/usr/bin/env", ["java", "-version"], environment: env, timeout: 60), java.status == 0 else {
            return .failure(SparkToolsMissing("no Java runtime (`java -version` fails; Spark needs Java 17); run make test-deps"))
        }
        return .success(bin)
    }()
}

/// pyspark or Java is missing: what to install.
public struct SparkToolsMissing: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A Spark standalone cluster on 127.0.0.1 for a test: a master and one worker (1 core, 1 GiB),
/// each a JVM started with `spark-class` in a process group of its own, on ports that were free,
/// with its logs in `folder` (`master.log`, `worker.log`) and its work and log folders there too.
///
/// `start` returns once the master's JSON status lists the worker ALIVE. `stop()` (also run when
/// the last reference goes away) ends both process groups — the worker's executors with them —
/// and a watchdog kills them if the test process dies first, so no JVM outlives the tests.
/// Starting a cluster costs seconds of CPU: start one per suite, not per test.
public final class SparkCluster: @unchecked Sendable {
    // @unchecked Sendable: the processes are only signalled and awaited, which Process allows from
    // any thread; `stopped` is behind a lock.

    /// `spark://127.0.0.1:PORT`, for `spark-submit --master`.
    public let masterURL: String
    /// The master's web UI, `http://127.0.0.1:PORT` (its JSON status at `/json/`).
    public let webURL: URL
    /// A client for the master's web UI.
    public var master: SparkMaster { SparkMaster(webURL: webURL) }
    /// The folder with the logs, the worker's work folder and the Spark log folder.
    public let folder: String

    private let masterProcess: Process
    private var workerProcess: Process?
    private var watchdog: Process?
    private let stopped = Locked(false)

    /// The environment for the cluster's JVMs and for a `spark-submit` to it: loopback only, daemons
    /// small, logs and work in `folder`.
    public let environment: [String: String]

    /// Starts the master and the worker and waits (up to `timeout` seconds: JVMs start slowly on a
    /// loaded machine) until the worker is ALIVE. `folder` must exist and outlive the cluster.
    public init(folder: String, timeout: Double = 120) throws {
        self.folder = folder
        let sparkClass = try SparkInstall.sparkClass()
        let port = try freeLocalPort(), webPort = try freeLocalPort(), workerWebPort = try freeLocalPort()
        masterURL = "spark://127.0.0.1:\(port)"
        webURL = URL(string: "http://127.0.0.1:\(webPort)")!
        let work = (folder as NSString).appendingPathComponent("work"), logs = (folder as NSString).appendingPathComponent("logs")
        for f in [work, logs] { try FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true) }
        var env = ProcessInfo.processInfo.environment
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
        env["SPARK_LOG_DIR"] = logs
        env["SPARK_WORKER_DIR"] = work
        env["SPARK_DAEMON_MEMORY"] = "256m"
        env["PYSPARK_PYTHON"] = env["PYSPARK_PYTHON"] ?? "python3"
        environment = env

        masterProcess = try Self.launch(sparkClass, ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", String(port),
                                                     "--webui-port", String(webPort)],
                                        log: (folder as NSString).appendingPathComponent("master.log"), environment: env)
        do {
            workerProcess = try Self.launch(sparkClass, ["org.apache.spark.deploy.worker.Worker", masterURL, "--host", "127.0.0.1", "--cores", "1",
                                                         "--memory", "1g", "--webui-port", String(workerWebPort), "--work-dir", work],
                                            log: (folder as NSString).appendingPathComponent("worker.log"), environment: env)
            watchdog = try Self.watch([masterProcess.processIdentifier, workerProcess!.processIdentifier])
            try waitUntilReady(timeout: timeout)
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    private func waitUntilReady(timeout: Double) throws {
        let master = self.master
        var last = "no answer yet"
        do {
            try waitFor("the Spark worker to be ALIVE on the master at \(webURL.absoluteString)", timeout: timeout, interval: 0.5) {
                for (name, p) in [("master", masterProcess), ("worker", workerProcess)] where p?.isRunning == false {
                    throw SparkClusterFailure("the Spark \(name) exited (status \(p!.terminationStatus)) before the cluster was ready\n\(logTails())")
                }
                do {
                    let status = try master.status()
                    last = "\(status.workers.count) worker(s), \(status.aliveWorkers.count) ALIVE"
                    return !status.aliveWorkers.isEmpty
                } catch {
                    last = "\(error)" // the web UI is not up yet
                    return false
                }
            }
        } catch let timedOut as WaitTimedOut {
            throw SparkClusterFailure("\(timedOut) (last: \(last))\n\(logTails())")
        }
    }

    /// The last lines of the master's and the worker's logs (for a failure message).
    public func logTails(lines: Int = 30) -> String {
        ["master", "worker"].map { name in
            let path = (folder as NSString).appendingPathComponent("\(name).log")
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no log)"
            return "--- \(path) (last \(lines) lines)\n" + text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Ends the worker and the master: SIGTERM to each process group (the worker stops its
    /// executors), then SIGKILL to what is left after 15 s. Safe to call more than once.
    public func stop() {
        guard stopped.withLock({ let was = $0; $0 = true; return !was }) else { return }
        for p in [workerProcess, masterProcess].compactMap({ $0 }) where p.isRunning {
            kill(-p.processIdentifier, SIGTERM)
        }
        for p in [workerProcess, masterProcess].compactMap({ $0 }) {
            try? waitFor("the Spark \(p.arguments?.first ?? "daemon") to exit", timeout: 15, interval: 0.1) { !p.isRunning }
            kill(-p.processIdentifier, SIGKILL) // its group: executors the worker left behind
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
        }
        if let watchdog, watchdog.isRunning {
            kill(-watchdog.processIdentifier, SIGKILL)
            watchdog.waitUntilExit()
        }
    }

    /// Starts `executable` in a process group of its own (Foundation's Process makes one per
    /// child), its stdout and stderr appended to `log`.
    private static func launch(_ executable: String, _ arguments: [String], log: String, environment: [String: String]) throws -> Process {
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: log) else { throw SparkClusterFailure("cannot write \(log)") }
        defer { try? handle.close() } // the child has its own copy
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.environment = environment
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        return p
    }

    /// A shell that kills the groups `pids` lead once the test process (its parent) is gone.
    private static func watch(_ pids: [pid_t]) throws -> Process {
        let groups = pids.map { "-\($0)" }.joined(separator: " ")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        // procps' kill (through env): dash's builtin takes no `--` and reads `-PGID` as an option.
        p.arguments = ["-c", "parent=$PPID; while kill -0 $parent 2>/dev/null; do sleep 2; done; env kill -s KILL -- \(groups) 2>/dev/null"]
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }
}

/// The test cluster did not come up: why, with the ends of its logs.
public struct SparkClusterFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
