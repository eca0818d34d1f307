import Domain
import Executors
import Foundation
import TestSupport
import Testing

/// `SparkMaster` reading a standalone master's JSON status: a sample captured from a real Spark
/// 3.5.3 master (fixtures/spark/master-status.json: one worker, an application that finished and
/// one killed from the master's UI) and documents made to probe one case each.
@Suite struct SparkMasterDecodingTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/spark/master-status.json")

    static func decode(_ json: String) throws -> SparkMaster.Status {
        try SparkMaster.decodeStatus(Data(json.utf8), source: "test.json")
    }

    static func app(_ id: String, _ name: String, _ state: String, start: Int64) -> String {
        #"{"id": "\#(id)", "name": "\#(name)", "state": "\#(state)", "starttime": \#(start), "duration": 10, "cores": 1, "user": "u"}"#
    }

    static func status(active: [String] = [], completed: [String] = [], workers: String = "[]") -> String {
        #"{"url": "spark://h:7077", "status": "ALIVE", "workers": \#(workers), "activeapps": [\#(active.joined(separator: ","))], "#
            + #""completedapps": [\#(completed.joined(separator: ","))], "activedrivers": [], "completeddrivers": []}"#
    }

    @Test func theCapturedSampleDecodes() throws {
        let s = try SparkMaster.decodeStatus(try Data(contentsOf: Self.fixture), source: Self.fixture.path)
        #expect(s.url == "spark://127.0.0.1:17077")
        #expect(s.status == "ALIVE")
        #expect(s.workers.count == 1)
        let w = try #require(s.workers.first)
        #expect(w.id == "worker-20261205000250-127.0.0.1-38217")
        #expect(w.state == .alive)
        #expect(w.cores == 1 && w.coresUsed == 0)
        #expect(s.aliveWorkers.count == 1)
        #expect(s.activeApps.isEmpty && s.activeDrivers.isEmpty && s.completedDrivers.isEmpty)
        #expect(s.completedApps.map(\.state) == [.finished, .killed])
        let done = try #require(s.app(named: "ledgerflow-sample-done"))
        #expect(done.id == "app-20261205000305-0000")
        #expect(done.startTime == 1_796_428_985_933 && done.duration == 10427 && done.cores == 1)
        #expect(s.app(named: "ledgerflow-sample-killed")?.state == .killed)
        #expect(s.app(id: "app-20261205000331-0001")?.name == "ledgerflow-sample-killed")
        #expect(s.app(named: "nothing") == nil)
    }

    @Test func theMostRecentApplicationOfANameIsFoundActiveFirst() throws {
        let s = try Self.decode(Self.status(active: [Self.app("app-2", "etl", "RUNNING", start: 200), Self.app("app-5", "other", "WAITING", start: 500)],
                                            completed: [Self.app("app-1", "etl", "FINISHED", start: 100), Self.app("app-3", "etl", "FAILED", start: 300),
                                                        Self.app("app-4", "done", "FINISHED", start: 400), Self.app("app-6", "done", "KILLED", start: 600)]))
        #expect(s.app(named: "etl")?.id == "app-2", "an active application wins over a completed one that started later")
        #expect(s.app(named: "done")?.id == "app-6", "of the completed ones, the one that started last")
        #expect(s.app(named: "other")?.state == .waiting)
        #expect(s.app(named: "etl")?.state.hasEnded == false)
        #expect(s.app(id: "app-3")?.state.hasEnded == true)
    }

    @Test func aStateANewerSparkMayAddReadsAsUnknown() throws {
        let s = try Self.decode(Self.status(active: [Self.app("app-1", "x", "PAUSED", start: 1)],
                                            workers: #"[{"id": "w", "host": "h", "state": "SLEEPING", "cores": 2, "coresused": 1}]"#))
        #expect(s.activeApps.first?.state == .unknown)
        #expect(s.workers.first?.state == .unknown)
        #expect(s.aliveWorkers.isEmpty)
    }

    @Test func aDocumentThatIsNotAMastersStatusIsOneClearError() throws {
        let notJSON = #expect(throws: SparkMasterError.self) { try Self.decode("<html>Spark Master</html>") }
        #expect(notJSON?.description == "test.json is not JSON; is this a Spark standalone master's web UI (not its spark:// port)?")
        let missing = #expect(throws: SparkMasterError.self) { try Self.decode(#"{"url": "spark://h:1", "status": "ALIVE"}"#) }
        #expect(missing?.description == "test.json: field 'workers' is missing; is this a Spark standalone master's web UI?")
        let wrong = #expect(throws: SparkMasterError.self) {
            try Self.decode(Self.status(completed: [#"{"id": "a", "name": "n", "state": "FINISHED", "starttime": "soon", "duration": 1, "cores": 1}"#]))
        }
        #expect(wrong?.description == "test.json: field 'completedapps[0].starttime' has the wrong type; is this a Spark standalone master's web UI?")
    }

    @Test func aMasterURLMapsToItsWebUI() throws {
        #expect(try SparkMaster.webURL(forMaster: "spark://10.0.0.5:7077").absoluteString == "http://10.0.0.5:8080")
        #expect(try SparkMaster.webURL(forMaster: "spark://master.example.com:7077", webUIPort: 18080).absoluteString == "http://master.example.com:18080")
        #expect(try SparkMaster.webURL(forMaster: "spark://a:7077,b:7077").absoluteString == "http://a:8080", "of a list, the first master")
        #expect(try SparkMaster.webURL(forMaster: "spark://[::1]:7077").absoluteString == "http://[::1]:8080")
        let local = #expect(throws: SparkMasterError.self) { try SparkMaster.webURL(forMaster: "local[2]") }
        #expect(local?.description == "'local[2]' is not a Spark standalone master URL; give a master URL like spark://HOST:7077")
        let empty = #expect(throws: SparkMasterError.self) { try SparkMaster.webURL(forMaster: "spark://:7077") }
        #expect(empty?.description == "'spark://:7077' names no host; give a master URL like spark://HOST:7077")
    }

    @Test func aMasterThatIsNotThereIsOneClearError() throws {
        let port = try freeLocalPort() // nothing listens there
        let master = SparkMaster(webURL: URL(string: "http://127.0.0.1:\(port)")!, timeout: 5)
        let error = #expect(throws: SparkMasterError.self) { try master.status() }
        let text = try #require(error?.description)
        #expect(text == "GET http://127.0.0.1:\(port)/json/ failed (connection refused); check that the Spark master is running and its web UI is at http://127.0.0.1:\(port)")
    }
}

/// `SparkMaster` against a real standalone cluster (a master and one worker started by
/// `SparkCluster`), with PySpark applications submitted by `spark-submit`. The cluster is started
/// once, for one test that runs the scenarios one after another: each JVM takes seconds to start.
extension SparkApplications {
@Suite(.serialized, .timeLimit(.minutes(10))) struct SparkMasterClusterTests {
    /// An application whose one task marks `started` and then waits until `release` exists.
    static let app = """
        import os, sys, time
        from pyspark.sql import SparkSession
        started, release = sys.argv[1], sys.argv[2]
        spark = SparkSession.builder.getOrCreate()
        def hold(x):
            import os, time
            open(started, "w").close()
            while not os.path.exists(release):
                time.sleep(0.2)
            return x
        print("SUM", spark.sparkContext.parallelize([1, 2, 3], 1).map(hold).sum())
        spark.stop()
        """

    /// `spark-submit` of the application as `name`, holding until `dir/NAME.release` exists.
    static func submit(_ name: String, to cluster: SparkCluster, in dir: TemporaryDirectory) throws -> BackgroundProcess {
        try BackgroundProcess(try SparkInstall.sparkSubmit(), [
            "--master", cluster.masterURL, "--name", name,
            "--conf", "spark.ui.enabled=false", "--conf", "spark.executor.memory=512m", "--driver-memory", "512m",
            dir.sub("app.py"), dir.sub("\(name).started"), dir.sub("\(name).release"),
        ], environment: cluster.environment, cwd: dir.path)
    }

    /// Waits until the master shows application `name` in `state` and returns it.
    static func waitForApp(_ name: String, _ state: SparkMaster.ApplicationState, on cluster: SparkCluster,
                           submit: BackgroundProcess) throws -> SparkMaster.Application {
        var found: SparkMaster.Application?
        do {
            try waitFor("application \(name) to be \(state.rawValue) on \(cluster.webURL.absoluteString)", timeout: 120, interval: 0.5) {
                found = try cluster.master.app(named: name)
                return found?.state == state
            }
        } catch let e as WaitTimedOut {
            throw SparkClusterFailure("\(e) (last seen: \(found.map { "\($0.id) \($0.state.rawValue)" } ?? "none"))\nspark-submit stderr: "
                                      + "\(submit.stderr.suffix(3000))\n\(cluster.logTails())")
        }
        return try #require(found)
    }

    @Test func applicationsAreSeenRunningFinishedAndKilledThroughTheMaster() async throws {
        try await withDedicatedExecutor { _ in
            let dir = TemporaryDirectory("spark")
            try Self.app.write(toFile: dir.sub("app.py"), atomically: true, encoding: .utf8)
            let cluster = try SparkCluster(folder: dir.sub("cluster"))
            defer { cluster.stop() }
            let key = UUID().uuidString.prefix(8).lowercased()

            // An application that runs to its end: RUNNING while its task holds, then FINISHED.
            let done = "ledgerflow-test-\(key)-done"
            let first = try Self.submit(done, to: cluster, in: dir)
            let running = try Self.waitForApp(done, .running, on: cluster, submit: first)
            #expect(running.id.hasPrefix("app-"))
            try waitFor("the task of \(done) to start", timeout: 120, interval: 0.2) {
                FileManager.default.fileExists(atPath: dir.sub("\(done).started"))
            }
            let busy = try cluster.master.status()
            #expect(busy.activeApps.map(\.id) == [running.id])
            #expect(busy.app(named: done)?.cores == 1)
            #expect(busy.workers.first?.coresUsed == 1)
            _ = FileManager.default.createFile(atPath: dir.sub("\(done).release"), contents: nil)
            let result = try first.finish(timeout: 120)
            #expect(result.status == 0, "spark-submit: \(result.stderr.suffix(3000))")
            #expect(result.stdout.contains("SUM 6"))
            let finished = try Self.waitForApp(done, .finished, on: cluster, submit: first)
            #expect(finished.id == running.id)
            #expect(try cluster.master.status().completedApps.contains { $0.id == running.id && $0.state == .finished })

            // Killing an application that has ended does nothing; an unknown one is an error.
            #expect(try cluster.master.kill(appID: running.id).state == .finished)
            let unknown = #expect(throws: SparkMasterError.self) { try cluster.master.kill(appID: "app-19990101000000-9999") }
            #expect(unknown?.description == "the Spark master at \(cluster.webURL.absoluteString) has no application 'app-19990101000000-9999'; "
                    + "list them with GET \(cluster.webURL.absoluteString)/json/")

            // An application killed through the master's UI ends KILLED, and its spark-submit exits.
            let doomed = "ledgerflow-test-\(key)-killed"
            let second = try Self.submit(doomed, to: cluster, in: dir)
            let victim = try Self.waitForApp(doomed, .running, on: cluster, submit: second)
            try waitFor("the task of \(doomed) to start", timeout: 120, interval: 0.2) {
                FileManager.default.fileExists(atPath: dir.sub("\(doomed).started"))
            }
            let before = try cluster.master.kill(appID: victim.id)
            #expect(before.state == .running)
            let killed = try Self.waitForApp(doomed, .killed, on: cluster, submit: second)
            #expect(killed.id == victim.id)
            let ended = try second.finish(timeout: 120) // never released: only the kill ends it
            #expect(ended.status != 0, "a killed application's spark-submit fails")
            #expect(ended.stderr.contains("Master removed our application: KILLED"))
            #expect(!FileManager.default.fileExists(atPath: dir.sub("\(doomed).release")))
            #expect(try cluster.master.status().aliveWorkers.count == 1)
        }
    }
}
}
