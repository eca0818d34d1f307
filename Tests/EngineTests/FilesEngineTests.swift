import Catalog
import Domain
import EventLog
import Executors
import Foundation
import Runs
import TestSupport
import Testing
@testable import Engine

/// A files stage run by the engine: its first attempt stops after every file is copied and
/// verified but before any source is deleted (as if killed there); the engine retries it, and the
/// second attempt completes — each file once in the destination, no source or temporary file
/// left — and records one dataset version with the files.
@Suite(.timeLimit(.minutes(1))) struct FilesEngineTests {
    @Test func aMoveStoppedBeforeItsDeletesIsRetriedToExactlyOnce() throws {
        let p = try Project()
        for (name, text) in [("a.csv", "id\n1\n"), ("b.csv", "id\n2\n")] {
            try FileManager.default.createDirectory(atPath: p.dir.sub("staging"), withIntermediateDirectories: true)
            try text.write(toFile: p.dir.sub("staging/" + name), atomically: true, encoding: .utf8)
        }
        try p.apply("""
        kind: job
        name: land
        parameters: {batch: B0}
        stages:
          - name: stage_in
            type: files
            retry: {attempts: 2, backoff: 0s}
            operations:
              - {op: move, from: staging, to: "processing/${params.batch}", pattern: "*.csv", dataset: landed}
        """)
        let crashes = Locked(0)
        let crashing = FilesExecutor { point, _ throws(StageError) in
            guard point == .beforeSourceDelete else { return }
            if crashes.withLock({ c in c += 1; return c == 1 }) { throw StageError("stopped before the first delete") }
        }
        var registry = ExecutorRegistry.builtIn
        registry.executors["files"] = crashing
        var o = Engine.Options()
        o.pollInterval = 0.01
        o.registry = registry
        let id = try RunCommands.request(p.log, job: "land", parameters: [("batch", "B1")], trigger: RunTrigger(.manual), actor: "test")
        let run = try #require(try Engine(log: p.log, store: p.store, options: o).run { $0.active.isEmpty }.runs[id])
        #expect(run.status == .succeeded)
        let attempts = run.stages[0].attempts
        #expect(attempts.map(\.outcome) == [.failed, .succeeded])
        #expect(attempts.first?.error == "stopped before the first delete")

        let fm = FileManager.default
        #expect(try fm.contentsOfDirectory(atPath: p.dir.sub("processing/B1")).sorted() == ["a.csv", "b.csv"])
        #expect(try fm.contentsOfDirectory(atPath: p.dir.sub("staging")).isEmpty)

        let versions = try p.log.read(stream: "dataset/landed").map { try $0.decode(DatasetVersionWritten.self) }
        #expect(versions.count == 1)
        #expect(versions.first?.attempt == 2 && versions.first?.mode == "move")
        #expect(versions.first?.files.map(\.name) == ["a.csv", "b.csv"])
        #expect(versions.first?.files.allSatisfy { $0.size == 5 && $0.sha256.count == 64 } == true)
    }
}
