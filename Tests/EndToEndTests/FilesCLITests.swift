import Domain
import Foundation
import TestSupport
import Testing

/// A files stage through the built binary: apply refuses a bad operation with one line and
/// appends nothing; a run moves files from staging into a per-batch processing folder, records
/// the files as a dataset version in the log, and lineage reaches it.
@Suite(.timeLimit(.minutes(1))) struct FilesCLITests {
    static let job = """
    kind: job
    name: land
    parameters: {batch: B0}
    stages:
      - name: stage_in
        type: files
        outputs: [landed]
        operations:
          - {op: mkdir, to: "processing/${params.batch}/Errors"}
          - {op: move, from: staging, to: "processing/${params.batch}/Original", pattern: "*.csv", dataset: landed}
      - {name: count, type: script, after: [stage_in], inputs: [landed], command: [sh, -c, "ls processing/${params.batch}/Original | wc -l"]}
    """

    @Test func aFilesStageRunsThroughTheEngineAndItsFilesAreInTheLog() throws {
        let p = try RunCLITests.Project(Self.job, files: ["staging/a.csv": "id\n1\n", "staging/b.csv": "id\n2\n", "staging/readme.txt": "x"])
        let r = try p.lf(["run", "land", "--param", "batch=B7"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let fm = FileManager.default
        #expect(try fm.contentsOfDirectory(atPath: p.dir.sub("processing/B7/Original")).sorted() == ["a.csv", "b.csv"])
        #expect(fm.fileExists(atPath: p.dir.sub("processing/B7/Errors")))
        #expect(try fm.contentsOfDirectory(atPath: p.dir.sub("staging")) == ["readme.txt"])
        #expect(try p.lf(["logs", "1", "count"]).stdout.contains("2\n"))

        let events = try p.lf(["events", "--type", "DatasetVersionWritten", "--json"])
        let written = try #require(events.lines.first.map { try Value(json: String($0)) })
        #expect(events.lines.count == 1)
        let payload = try #require(written["payload"])
        #expect(payload["dataset"] == "landed" && payload["mode"] == "move" && payload["format"] == "files" && payload["rows"] == .int(2))
        let files = payload["files"]?.arrayValue ?? []
        #expect(files.compactMap { $0["name"]?.stringValue } == ["a.csv", "b.csv"])
        #expect(files.allSatisfy { $0["sha256"]?.stringValue?.count == 64 && $0["size"] == .int(5) })

        let status = try p.status("1")
        #expect(status["stages"]?[0]?["outputs"]?["files"] == .int(2))

        // Lineage: the dataset version was written by the files stage's attempt, and the script read it.
        let lineage = try Value(json: try p.lf(["lineage", "dataset:landed", "--json"]).stdout)
        let edges = (lineage["edges"]?.arrayValue ?? []).map { "\($0["from"]?.stringValue ?? "") \($0["kind"]?.stringValue ?? "") \($0["to"]?.stringValue ?? "")" }
        #expect(edges.contains("attempt:1/stage_in/1 wrote dataset:landed@1"), "\(edges)")
        #expect(edges.contains("dataset:landed@1 read attempt:1/count/1"), "\(edges)")
        let node = try #require(lineage["nodes"]?.arrayValue?.first { $0["id"] == "dataset:landed@1" })
        #expect(node["label"]?.stringValue?.hasPrefix("landed v1: 2 files (move) at ") == true, "\(node)")
        #expect(node["data"]?["files"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["a.csv", "b.csv"])
    }

    @Test func applyRefusesABadOperationWithOneLineAndAppendsNothing() throws {
        let p = try RunCLITests.Project(Self.job)
        let head = try p.lf(["audit", "head", "--json"]).stdout
        try (Self.job + "\n---\nkind: job\nname: bad\nstages:\n  - name: s\n    type: files\n    operations:\n      - {op: copy, from: staging, to: .ledgerflow/in}\n")
            .write(toFile: p.dir.sub("defs.yaml"), atomically: true, encoding: .utf8)
        let r = try p.lf(["apply", "defs.yaml"])
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("defs.yaml:19:") && lines[0].contains("is inside the store"), "\(r.stderr)")
        #expect(lines.last == "ledgerflow: apply failed: 1 error in 1 file; nothing was appended")
        #expect(try p.lf(["audit", "head", "--json"]).stdout == head)
    }
}
