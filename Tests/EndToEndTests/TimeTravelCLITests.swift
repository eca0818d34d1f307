import Domain
import Foundation
import TestSupport
import Testing

/// Reading a dataset at a version (`inputs: [NAME@N]`) through the built binary: a job writes a
/// dataset three times, each version to a folder of its own (`${run}` in the path) and to one
/// shared folder (replaced each time); readers get exactly the version they name, the newest
/// without one, one line naming the newest for a version not written, one line naming the
/// overwriting version for the shared folder; lineage records the version read.
@Suite(.timeLimit(.minutes(2))) struct TimeTravelCLITests {
    static let definitions = """
    kind: source
    name: incoming
    type: jsonl
    path: in/rows.jsonl
    ---
    kind: output
    name: snap
    type: jsonl
    path: out/snap/${run}
    ---
    kind: output
    name: flat
    type: jsonl
    path: out/flat
    ---
    kind: job
    name: write
    stages:
      - {name: copy, type: etl, source: incoming, outputs: [snap, flat]}
    ---
    kind: output
    name: got_v2
    type: jsonl
    path: out/got_v2
    ---
    kind: output
    name: got_newest
    type: jsonl
    path: out/got_newest
    ---
    kind: job
    name: read_v2
    stages:
      - {name: read, type: etl, inputs: [snap@2], outputs: [got_v2]}
    ---
    kind: job
    name: read_v1
    stages:
      - {name: read, type: etl, inputs: [snap@1], outputs: [got_v2]}
    ---
    kind: job
    name: read_newest
    stages:
      - {name: read, type: etl, inputs: [snap], outputs: [got_newest]}
    ---
    kind: job
    name: read_v9
    stages:
      - {name: read, type: etl, inputs: [snap@9], outputs: [got_v2]}
    ---
    kind: job
    name: script_v2
    stages:
      - {name: read, type: script, inputs: [snap@2], command: [sh, -c, 'cat "$LEDGERFLOW_INPUT_SNAP"/*.jsonl > script_v2.jsonl']}
    ---
    kind: job
    name: script_v9
    stages:
      - {name: read, type: script, inputs: [snap@9], command: [sh, -c, 'touch script_v9.ran']}
    ---
    kind: model
    name: clusters
    type: kmeans
    training_dataset: snap
    hyperparameters: {k: 1, n_init: 1, seed: 7}
    ---
    kind: job
    name: train_v2
    stages:
      - {name: train, type: train, model: clusters, inputs: [snap@2]}
    ---
    kind: job
    name: read_flat_v1
    stages:
      - {name: read, type: etl, inputs: [flat@1], outputs: [got_v2]}

    """

    /// The values of `id` in the JSON Lines files under `folder`, sorted.
    static func ids(_ folder: String) throws -> [Int64] {
        var out: [Int64] = []
        for f in try FileManager.default.subpathsOfDirectory(atPath: folder) where f.hasSuffix(".jsonl") {
            let text = try String(contentsOfFile: folder + "/" + f, encoding: .utf8)
            for line in text.split(separator: "\n") { if let id = try Value(json: String(line))["id"]?.intValue { out.append(id) } }
        }
        return out.sorted()
    }

    @Test func readersGetTheVersionTheyNameAndLineageRecordsIt() throws {
        let dir = TemporaryDirectory()
        func lf(_ args: [String]) throws -> RunResult { try ledgerflow(args + ["--store", dir.sub(".ledgerflow")], cwd: dir.path) }
        try FileManager.default.createDirectory(atPath: dir.sub("in"), withIntermediateDirectories: true)
        try Self.definitions.write(toFile: dir.sub("jobs.yaml"), atomically: true, encoding: .utf8)
        #expect(try lf(["init"]).status == 0)
        let applied = try lf(["apply", "jobs.yaml"])
        #expect(applied.status == 0, "\(applied.stderr)")

        // Version k of snap and flat holds rows 1…k (ids 10·k + 1 …), so each version is told apart.
        for k in 1...3 {
            let rows = (1...k).map { "{\"id\": \(10 * k + $0), \"v\": \(k), \"x\": \($0 * 7)}" }.joined(separator: "\n") + "\n"
            try rows.write(toFile: dir.sub("in/rows.jsonl"), atomically: true, encoding: .utf8)
            let r = try lf(["run", "write"])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        }

        let v2 = try lf(["run", "read_v2"])
        #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")
        #expect(try Self.ids(dir.sub("out/got_v2")) == [21, 22])
        let newest = try lf(["run", "read_newest"])
        #expect(newest.status == 0, "\(newest.stdout)\(newest.stderr)")
        #expect(try Self.ids(dir.sub("out/got_newest")) == [31, 32, 33])

        let v9 = try lf(["run", "read_v9"])
        #expect(v9.status != 0)
        #expect(v9.stdout.contains("dataset 'snap' has no version 9: its newest version is 3"), "\(v9.stdout)\(v9.stderr)")
        // A script is told where the version is; a version not written fails before it starts.
        let script = try lf(["run", "script_v2"])
        #expect(script.status == 0, "\(script.stdout)\(script.stderr)")
        let scriptRows = try String(contentsOfFile: dir.sub("script_v2.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(scriptRows.compactMap { try? Value(json: String($0))["id"]?.intValue }.sorted() == [21, 22])
        let script9 = try lf(["run", "script_v9"])
        #expect(script9.status != 0 && script9.stdout.contains("dataset 'snap' has no version 9: its newest version is 3"), "\(script9.stdout)\(script9.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.sub("script_v9.ran")))

        let flat = try lf(["run", "read_flat_v1"])
        #expect(flat.status != 0)
        let said = flat.stdout + flat.stderr
        #expect(said.contains("dataset 'flat' version 1 can no longer be read from \(dir.sub("out/flat")): its files were overwritten by version 2"), "\(said)")
        #expect(said.contains("write the output to a path of its own per run"))
        #expect(try Self.ids(dir.sub("out/got_v2")) == [21, 22], "a failed read writes nothing")

        // Version 1's own folder, changed by hand: what is read is no longer what the log recorded.
        let v1Folder = dir.sub("out/snap/1")
        for f in try FileManager.default.contentsOfDirectory(atPath: v1Folder) where f.hasSuffix(".jsonl") {
            try "{\"id\": 99, \"v\": 1, \"x\": 7}\n".write(toFile: v1Folder + "/" + f, atomically: true, encoding: .utf8)
        }
        let v1 = try lf(["run", "read_v1"])
        #expect(v1.status != 0)
        #expect(v1.stdout.contains("dataset 'snap' version 1 can no longer be read from \(v1Folder): its files no longer hold what the log recorded"), "\(v1.stdout)")
        #expect(v1.stdout.contains("they were changed outside ledgerflow"))

        // A model trained on version 2 records it as its training dataset's version.
        let trained = try lf(["run", "train_v2"])
        #expect(trained.status == 0, "\(trained.stdout)\(trained.stderr)")
        let registered = try lf(["events", "--json", "--type", "ModelVersionRegistered"])
        let training = try registered.lines.map { try Value(json: $0)["payload"]?["training_dataset"] }
        #expect(training.count == 1 && training.first??["name"] == "snap" && training.first??["version"] == 2, "\(registered.stdout)")

        // The read of version 2 is in the log and in the lineage graph.
        let events = try lf(["events", "--json", "--type", "StageSucceeded"])
        #expect(events.status == 0, "\(events.stderr)")
        let reads = try events.lines.compactMap { line -> Value? in
            let e = try Value(json: line)
            return e["payload"]?["inputs"]?[0]
        }
        #expect(reads.contains { $0["dataset"] == "snap" && $0["version"] == 2 && $0["rows"] == 2 }, "\(events.stdout)")
        #expect(reads.contains { $0["dataset"] == "snap" && $0["version"] == 3 && $0["rows"] == 3 })
        let lineage = try lf(["lineage", "dataset:snap@2", "--downstream", "--json"])
        #expect(lineage.status == 0, "\(lineage.stderr)")
        let graph = try Value(json: lineage.stdout)
        let edges = (graph["edges"]?.arrayValue ?? []).map { "\($0["from"]?.stringValue ?? "") \($0["kind"]?.stringValue ?? "")" }
        #expect(edges.contains("dataset:snap@2 read"), "\(lineage.stdout)")
    }

    @Test(arguments: [("snap@0", "whose version is not a positive integer"), ("snap@two", "whose version is not a positive integer"),
                      ("snap@", "whose version is not a positive integer"), ("nothing@2", "reads version 2 of 'nothing', which is no dataset")])
    func aBadVersionedInputIsOneLineAtItsLineAndAppendsNothing(_ input: String, _ needle: String) throws {
        let dir = TemporaryDirectory()
        func lf(_ args: [String]) throws -> RunResult { try ledgerflow(args + ["--store", dir.sub(".ledgerflow")], cwd: dir.path) }
        let bad = Self.definitions + """
        ---
        kind: job
        name: bad_reader
        stages:
          - name: read
            type: etl
            inputs: [\(input)]
            outputs: [got_v2]

        """
        try bad.write(toFile: dir.sub("jobs.yaml"), atomically: true, encoding: .utf8)
        #expect(try lf(["init"]).status == 0)
        let r = try lf(["apply", "jobs.yaml"])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("jobs.yaml:82:") && lines[0].contains(needle), "\(r.stderr)")
        #expect(lines.last == "ledgerflow: apply failed: 1 error in 1 file; nothing was appended")
        #expect(try lf(["events", "--json"]).stdout.isEmpty)
    }
}
