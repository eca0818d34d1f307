import Catalog
import Domain
import EventLog
import Foundation
import TestSupport
import Testing
@testable import Executors

/// A temporary project folder with a store folder inside (removed with the last copy of the
/// sandbox), and a context for a stage in it.
struct Sandbox {
    let dir = TemporaryDirectory("exec")
    var root: String { dir.path }
    init() throws {
        try FileManager.default.createDirectory(atPath: root + "/.ledgerflow", withIntermediateDirectories: true)
    }
    func write(_ rel: String, _ text: String) throws {
        let p = root + "/" + rel
        try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: p, atomically: true, encoding: .utf8)
    }
    func read(_ rel: String) -> String? { try? String(contentsOfFile: root + "/" + rel, encoding: .utf8) }
    func context(_ spec: Value, defs: [(DefinitionKind, String, Value)] = [], attempt: Int = 1, params: Value = .object([]),
                 cancellation: Cancellation = Cancellation()) -> StageContext {
        var catalog = CatalogState()
        for (k, n, s) in defs {
            let key = DefinitionKey(k, n)
            catalog.entries[key] = CatalogEntry(key: key, version: 1, spec: s, specHash: "", seq: 1, recordedAtMicros: 0, actor: "t", message: nil)
        }
        return StageContext(run: "1", job: "j", stage: (try? StageSpec(spec))?.name ?? "s", attempt: attempt, spec: spec, parameters: params,
                            catalog: catalog, store: root + "/.ledgerflow", root: root, cancellation: cancellation)
    }
    func sqlite(_ db: String, _ sql: String) throws -> String {
        try FileManager.default.createDirectory(atPath: ((root + "/" + db) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let r = try run("/usr/bin/sqlite3", [root + "/" + db, sql])
        guard r.status == 0 else { throw StageError("sqlite3 exited with \(r.status): \(r.stderr)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Suite struct CSVTests {
    @Test func quotedFieldsTypesAndNulls() throws {
        let s = try Sandbox()
        try s.write("a.csv", "id,name,amount,ok\n1,\"Smith, J\",2.5,true\n2,\"say \"\"hi\"\"\n there\",,false\r\n3,x,4,true\n")
        let t = try CSV.read(file: s.root + "/a.csv")
        #expect(t.columns == ["id", "name", "amount", "ok"])
        #expect(t.rows[0] == [.int(1), .string("Smith, J"), .double(2.5), .bool(true)])
        #expect(t.rows[1] == [.int(2), .string("say \"hi\"\n there"), .null, .bool(false)])
        #expect(t.rows[2][2] == .double(4), "a column of ints and doubles is double")
        #expect(t.origin(of: 2).hasSuffix("a.csv, row 3"))
        // Round trip through the writer.
        try CSV.write(t, rows: t.rows.indices).write(to: URL(fileURLWithPath: s.root + "/b.csv"))
        #expect(try CSV.read(file: s.root + "/b.csv").rows == t.rows)
    }

    @Test func raggedRowIsNamed() throws {
        let s = try Sandbox()
        try s.write("a.csv", "a,b\n1,2\n3,4,5\n")
        #expect(throws: StageError("\(s.root)/a.csv, row 2 (line 3): 3 fields where the header has 2; quote fields that contain ','")) {
            try CSV.read(file: s.root + "/a.csv")
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct ETLTests {
    let source: Value = ["type": "csv", "path": "in/tx.csv"]

    @Test func csvToSQLiteWithTransformsAndUpsert() throws {
        let s = try Sandbox()
        try s.write("in/tx.csv", "customer_id,amount,country\n1,10.5,NL\n2,-3,NL\n3,7,BE\n1,12,NL\n")
        let out: Value = ["type": "sqlite", "database": "out/w.sqlite", "table": "spend", "mode": "upsert", "keys": ["customer_id"]]
        let spec: Value = ["name": "load", "type": "etl", "source": "tx", "destination": "spend",
                           "filter": "amount > 0", "derive": ["cents": "amount * 100"], "select": ["customer_id", "amount", "cents"],
                           "cast": ["amount": "double"]]
        let r = try ETLExecutor().run(s.context(spec, defs: [(.source, "tx", source), (.output, "spend", out)]))
        #expect(r.datasets.count == 1)
        let d = r.datasets[0]
        #expect(d.rows == 3 && d.format == "sqlite" && d.location.hasSuffix("out/w.sqlite#spend"))
        #expect(d.schema.map(\.name) == ["customer_id", "amount", "cents"])
        #expect(d.contentHash.count == 64)
        // Upsert: customer 1 appears twice; the later row wins; one row per key.
        #expect(try s.sqlite("out/w.sqlite", "SELECT customer_id, amount, cents FROM spend ORDER BY customer_id") == "1|12.0|1200.0\n3|7.0|700.0")
        // Running again with the same rows changes nothing (upsert on keys).
        _ = try ETLExecutor().run(s.context(spec, defs: [(.source, "tx", source), (.output, "spend", out)], attempt: 2))
        #expect(try s.sqlite("out/w.sqlite", "SELECT count(*) FROM spend") == "2")
    }

    @Test func badValueNamesFileRowAndColumnAndWritesNothing() throws {
        let s = try Sandbox()
        try s.write("in/tx.csv", "customer_id,amount\n1,10\n2,ten\n")
        let out: Value = ["type": "sqlite", "database": "out/w.sqlite", "table": "spend"]
        let spec: Value = ["name": "load", "type": "etl", "source": "tx", "destination": "spend", "cast": ["amount": "int"]]
        #expect(throws: StageError("\(s.root)/in/tx.csv, row 2, column amount: cannot cast \"ten\" to int; fix the value or the stage's cast")) {
            try ETLExecutor().run(s.context(spec, defs: [(.source, "tx", source), (.output, "spend", out)]))
        }
        #expect(!FileManager.default.fileExists(atPath: s.root + "/out/w.sqlite"))
    }

    @Test func sqliteWriteIsOneTransaction() throws {
        let s = try Sandbox()
        let out: Value = ["type": "sqlite", "database": "out/w.sqlite", "table": "t", "mode": "replace"]
        try s.write("in/a.jsonl", "{\"k\": 1, \"v\": \"a\"}\n{\"k\": 2, \"v\": \"b\"}\n")
        let ok: Value = ["name": "x", "type": "etl", "source": "a", "destination": "t"]
        let a: Value = ["type": "jsonl", "path": "in/a.jsonl"]
        _ = try ETLExecutor().run(s.context(ok, defs: [(.source, "a", a), (.output, "t", out)]))
        #expect(try s.sqlite("out/w.sqlite", "SELECT count(*) FROM t") == "2")
        // A NOT NULL constraint fails on the second row: the replace (delete + inserts) is rolled back.
        _ = try s.sqlite("out/w.sqlite", "CREATE TABLE strict (k INTEGER, v TEXT NOT NULL)")
        try s.write("in/b.jsonl", "{\"k\": 3, \"v\": \"c\"}\n{\"k\": 4, \"v\": null}\n")
        let strict: Value = ["type": "sqlite", "database": "out/w.sqlite", "table": "strict", "mode": "replace"]
        _ = try s.sqlite("out/w.sqlite", "INSERT INTO strict VALUES (9, 'keep')")
        #expect(throws: StageError.self) {
            try ETLExecutor().run(s.context(["name": "y", "type": "etl", "source": "b", "destination": "strict"],
                                            defs: [(.source, "b", ["type": "jsonl", "path": "in/b.jsonl"]), (.output, "strict", strict)]))
        }
        #expect(try s.sqlite("out/w.sqlite", "SELECT k, v FROM strict") == "9|keep")
    }

    @Test func partitionedFolderWritesInParallelAndReplaceReplacesItsOwnParts() throws {
        let s = try Sandbox()
        try s.write("in/tx.csv", "module,client,amount\nm1,c1,1\nm1,c2,2\nm2,c1,3\nm1,c1,4\n")
        let out: Value = ["type": "jsonl", "path": "lake/tx", "partition_by": ["module", "client"]]
        let spec: Value = ["name": "p", "type": "etl", "source": "tx", "destination": "lake"]
        try s.write("lake/tx/notes.txt", "mine\n")
        try s.write("lake/tx/module=m9/client=c9/part-run0-old-a1.jsonl", "{\"module\":\"m9\"}\n")
        try s.write("lake/tx/module=m1/keep.jsonl", "{}\n")
        let r = try ETLExecutor().run(s.context(spec, defs: [(.source, "tx", source), (.output, "lake", out)]))
        #expect(r.datasets[0].partitions.count == 3)
        #expect(s.read("lake/tx/module=m1/client=c1/part-run1-p-a1.jsonl") == "{\"module\":\"m1\",\"client\":\"c1\",\"amount\":1}\n{\"module\":\"m1\",\"client\":\"c1\",\"amount\":4}\n")
        // replace replaces the part files ledgerflow wrote (and the partition folders they
        // leave empty), never files someone else put in the folder.
        #expect(!FileManager.default.fileExists(atPath: s.root + "/lake/tx/module=m9"))
        #expect(s.read("lake/tx/notes.txt") == "mine\n")
        #expect(s.read("lake/tx/module=m1/keep.jsonl") == "{}\n")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: s.root + "/lake").filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)
        // A second attempt replaces the first one's parts.
        try s.write("in/tx.csv", "module,client,amount\nm2,c1,5\n")
        _ = try ETLExecutor().run(s.context(spec, defs: [(.source, "tx", source), (.output, "lake", out)], attempt: 2))
        #expect(!FileManager.default.fileExists(atPath: s.root + "/lake/tx/module=m1/client=c1"))
        #expect(s.read("lake/tx/module=m2/client=c1/part-run1-p-a2.jsonl") == "{\"module\":\"m2\",\"client\":\"c1\",\"amount\":5}\n")
        #expect(s.read("lake/tx/module=m2/client=c1/part-run1-p-a1.jsonl") == nil)
        #expect(s.read("lake/tx/module=m1/keep.jsonl") == "{}\n")
        // Reading the dataset's part files back gives the rows written.
        let back = try Endpoint(name: "x", format: .jsonl, path: s.root + "/lake/tx", pattern: "part-*.jsonl", mode: "replace").read(cancellation: Cancellation())
        #expect(back.rows.count == 1)
    }

    @Test func seedSystemsMapToLocalStandIns() throws {
        let s = try Sandbox()
        _ = try s.sqlite("data/sql_server.sqlite", "CREATE TABLE customer_transactions (id INTEGER, amount REAL); INSERT INTO customer_transactions VALUES (1, 2.5), (2, 3.0)")
        let spec: Value = ["name": "etl_1", "type": "etl", "seed": ["id": 1, "type": "ETL", "source": "SQL Server", "destination": "ADLS Gen2", "object": "customer_transactions"]]
        let r = try ETLExecutor().run(s.context(spec))
        #expect(r.datasets.first?.dataset == "customer_transactions")
        #expect(r.datasets.first?.location == s.root + "/data/lake/customer_transactions")
        #expect(s.read("data/lake/customer_transactions/part-run1-etl_1-a1.jsonl")?.split(separator: "\n").count == 2)
        let bad: Value = ["name": "x", "type": "etl", "seed": ["source": "Oracle", "destination": "ADLS Gen2", "object": "o"]]
        #expect(throws: StageError.self) { try ETLExecutor().run(s.context(bad)) }
    }

    /// `Delta Table`: a row's `table` names the dataset; a write makes the version after the
    /// log's newest, in a folder of its own; a read takes the newest version at its location.
    @Test func aDeltaTableIsAFolderPerVersionOfTheDataset() throws {
        let s = try Sandbox()
        try s.write("data/lake/scores/part-a.jsonl", "{\"id\":1,\"p\":0.5}\n{\"id\":2,\"p\":0.25}\n")
        let store: Value = ["name": "storage_3", "type": "storage",
                            "seed": ["id": 3, "type": "Storage", "source": "ADLS Gen2", "destination": "Delta Table", "object": "scores", "table": "scored"]]
        var ctx = s.context(store)
        ctx.datasetVersions["scored"] = 4
        let r = try ETLExecutor().run(ctx)
        let folder = s.root + "/data/delta/scored"
        #expect(r.datasets.map(\.dataset) == ["scored"] && r.datasets.first?.location == folder + "/v5")
        #expect(s.read("data/delta/scored/v5/part-run1-storage_3-a1.jsonl")?.split(separator: "\n").count == 2)
        #expect(s.read("data/delta/scored/_ledgerflow_version") == "5\n")

        let read: Value = ["name": "etl_4", "type": "etl",
                           "seed": ["id": 4, "type": "ETL", "source": "Delta Table", "destination": "ADLS Gen2", "object": "scored"]]
        #expect(throws: StageError("Delta table 'scored' has no version in the log yet (its folder: \(folder)); run the stage that writes it first")) {
            try ETLExecutor().run(s.context(read))
        }
        var back = s.context(read)
        back.datasetVersions["scored"] = 5
        back.datasetLocations["scored"] = folder + "/v5"
        let again = try ETLExecutor().run(back)
        #expect(again.inputs.map(\.version) == [5] && again.inputs.first?.location == folder + "/v5" && again.inputs.first?.rows == 2)
    }
}

/// An inference stage's `script`: a scorer program through the script-model scoring protocol.
@Suite(.timeLimit(.minutes(1))) struct ScriptScorerTests {
    let rows: Value = ["type": "jsonl", "path": "in/rows.jsonl"]
    let scorer = """
    import json, os
    rows = [json.loads(l) for l in open(os.environ["LEDGERFLOW_INPUT"])]
    with open(os.environ["LEDGERFLOW_OUTPUT"], "w") as out:
        for r in rows[:KEEP]:
            out.write(json.dumps({"score": r["x"] * 2, "label": r["x"] > 1, "mode": os.environ["LEDGERFLOW_MODE"]}) + "\\n")
    """

    @Test func theInterpreterRunsTheScriptAndEveryFieldIsAnOutput() throws {
        let s = try Sandbox()
        try s.write("in/rows.jsonl", "{\"id\":1,\"x\":1}\n{\"id\":2,\"x\":3}\n")
        try s.write("scorers/double", scorer.replacingOccurrences(of: "KEEP", with: "len(rows)"))
        let spec: Value = ["name": "score", "type": "inference", "script": "scorers/double", "interpreter": "python3", "inputs": ["rows"]]
        let r = try InferenceExecutor().run(s.context(spec, defs: [(.source, "rows", rows)]))
        #expect(r.outputs?["model"] == "double")
        #expect(r.outputs?["model_version"] == 0 && r.outputs?["rows_scored"] == 2 && r.outputs?["script"] == .string(s.root + "/scorers/double"))
        #expect(r.outputs?["script_sha256"]?.stringValue?.count == 64)
        #expect(r.columns?.columns == ["id", "x", "label", "mode", "score", "model_version"], "the fields it wrote, in name order")

        // Without an interpreter a file that is not `.py` runs itself: this one cannot.
        let bare: Value = ["name": "score", "type": "inference", "script": "scorers/double", "inputs": ["rows"]]
        #expect(throws: StageError.self) { try InferenceExecutor().run(s.context(bare, defs: [(.source, "rows", rows)])) }
    }

    @Test func aScriptThatWritesTooFewLinesFailsNamingTheCounts() throws {
        let s = try Sandbox()
        try s.write("in/rows.jsonl", "{\"id\":1,\"x\":1}\n{\"id\":2,\"x\":3}\n")
        try s.write("short.py", scorer.replacingOccurrences(of: "KEEP", with: "1"))
        let spec: Value = ["name": "score", "type": "inference", "script": "short.py", "inputs": ["rows"]]
        #expect(throws: StageError("the command of script model 'short' wrote 1 predictions for 2 rows; write one line per input row, in order")) {
            try InferenceExecutor().run(s.context(spec, defs: [(.source, "rows", rows)]))
        }
        let missing: Value = ["name": "score", "type": "inference", "script": "nowhere.py", "inputs": ["rows"]]
        #expect(throws: StageError("the script 'nowhere.py' of inference stage 'score' is not a readable file (looked for \(s.root)/nowhere.py); put it there or fix `script`")) {
            try InferenceExecutor().run(s.context(missing, defs: [(.source, "rows", rows)]))
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct ScriptTests {
    @Test func exitCodeLogsReportAndParameters() throws {
        let s = try Sandbox()
        let script = """
        echo "hello $LEDGERFLOW_PARAM_DAY"; echo oops >&2
        printf 'a,b\\n1,2\\n' > out.csv
        printf '{"datasets":[{"name":"out","location":"out.csv","rows":1}],"metrics":{"auc":0.9}}' > "$LEDGERFLOW_REPORT"
        """
        let spec: Value = ["name": "sh", "type": "script", "command": ["sh", "-c", .string(script)]]
        let r = try ScriptExecutor().run(s.context(spec, params: ["day": "monday"]))
        #expect(s.read(".ledgerflow/runs/1/sh/1/stdout.log") == "hello monday\n")
        #expect(s.read(".ledgerflow/runs/1/sh/1/stderr.log") == "oops\n")
        #expect(r.datasets.first?.dataset == "out" && r.datasets.first?.rows == 1)
        #expect(r.datasets.first?.contentHash == ScriptExecutor.fileHash(s.root + "/out.csv"))
        #expect(r.outputs?["metrics"]?["auc"] == .double(0.9))
        let fail: Value = ["name": "f", "type": "script", "command": ["sh", "-c", "echo bad input >&2; exit 3"]]
        #expect(throws: StageError("`sh -c echo bad input >&2; exit 3` exited with code 3; last stderr line: bad input")) {
            try ScriptExecutor().run(s.context(fail))
        }
        #expect(throws: StageError.self) { try ScriptExecutor().run(s.context(["name": "n", "type": "script", "command": ["no-such-program-xyz"]])) }
    }

    @Test(arguments: [
        (#"{"datasets":[{"name":"out"}]}"#, "datasets[0].location should be text, found nothing"),
        (#"{"datasets":[{"name":"out","location":"o.csv","schema":[{"name":"a","type":3}]}]}"#, "datasets[0].schema[0].type should be text, found the integer 3"),
        (#"{"metrics":[1]}"#, "metrics should be an object, found a list of 1"),
        (#"{"output":{}}"#, "output should be absent (the report's fields are datasets, metrics, outputs, predictions), found an object"),
        (#"[1]"#, "it should be an object, found a list of 1"),
    ])
    func aBadReportIsOneLineNamingTheField(_ report: String, _ message: String) throws {
        let s = try Sandbox()
        let spec: Value = ["name": "sh", "type": "script", "command": ["sh", "-c", .string("printf '%s' '\(report)' > \"$LEDGERFLOW_REPORT\"")]]
        let failure = #expect(throws: StageError.self) { try ScriptExecutor().run(s.context(spec)) }
        #expect(failure?.message.hasSuffix("report.json: \(message)") == true, "\(String(describing: failure?.message))")
    }

    @Test func timeoutKillsTheWholeProcessGroup() throws {
        let s = try Sandbox()
        let c = Cancellation()
        // The timeout fires once the script is running and has started its child (sleep).
        let pidFile = s.root + "/sleep.pid"
        let notStarted = Locked<WaitTimedOut?>(nil)
        Thread {
            do { try waitFor("the script to start its child") { pidWritten(to: pidFile) != nil } } catch let e as WaitTimedOut {
                notStarted.withLock { $0 = e }
            } catch {}
            c.cancel("timeout")
        }.start()
        #expect(throws: StageError("the script ran past its timeout and was stopped", reason: "timeout")) {
            try ScriptExecutor().run(s.context(["name": "t", "type": "script", "command": ["sh", "-c", "sleep 30 & echo $! > sleep.pid; wait; echo done > done.txt"]],
                                               cancellation: c))
        }
        if let e = notStarted.withLock({ $0 }) { throw e }
        // sh was stopped before it finished, and its child (sleep) died with it: the whole
        // process group was signalled, not only sh.
        #expect(!FileManager.default.fileExists(atPath: s.root + "/done.txt"))
        let child = try #require(pidWritten(to: pidFile))
        try waitFor("the script's child \(child) to end") { processHasEnded(child) }
    }

    @Test func secretsAreResolvedAtRunTimeAndMaskedInLogs() throws {
        let s = try Sandbox()
        try s.write("secret.txt", "hunter2-secret\n")
        let spec: Value = ["name": "x", "type": "script", "command": ["sh", "-c", "echo pw=$PW"], "env": ["PW": ["secret": "pw"]]]
        _ = try ScriptExecutor().run(s.context(spec, defs: [(.secret, "pw", ["from_file": "secret.txt"])]))
        #expect(s.read(".ledgerflow/runs/1/x/1/stdout.log") == "pw=***\n")
        let missing: Value = ["name": "x", "type": "script", "command": ["true"], "env": ["PW": ["secret": "nope"]]]
        #expect(throws: StageError.self) { try ScriptExecutor().run(s.context(missing)) }
    }
}

@Suite struct TypedSpecExecutorTests {
    @Test func aStageThatDoesNotReadFailsNamingTheField() throws {
        let s = try Sandbox()
        // (The sandbox names the stage 's' when its spec does not read.)
        #expect(throws: StageError("stage 's' of job 'j' does not read as a stage: stage spec: field 'command' should be a list, found nothing")) {
            try ScriptExecutor().run(s.context(["name": "x", "type": "script"]))
        }
        #expect(throws: StageError("stage 'x' is a etl stage, not a script")) {
            try ScriptExecutor().run(s.context(["name": "x", "type": "etl"]))
        }
    }

    @Test func aDefinitionThatDoesNotReadFailsNamingItAndTheField() throws {
        let s = try Sandbox()
        let ctx = s.context(["name": "load", "type": "etl", "source": "tx", "destination": "out"], defs: [(.source, "tx", ["type": "csv"])])
        #expect(throws: StageError("source 'tx' in the run's catalog (seq 0) does not read: source spec: field 'path' should be text, found nothing")) {
            try ETLExecutor().run(ctx)
        }
    }

    @Test func endpointsComeFromTypedDefinitions() throws {
        let s = try Sandbox()
        let ctx = s.context(["name": "x", "type": "etl"], params: ["day": "mon"])
        let csv = try Endpoint.from(source: "raw", SourceSpec(input: .csv(SourceSpec.CSVFiles(path: "in/${params.day}", delimiter: ";", header: false))), context: ctx)
        #expect(csv == Endpoint(name: "raw", format: .csv, path: s.root + "/in/mon", delimiter: UInt8(ascii: ";"), header: false, mode: "replace"))
        let query = try Endpoint.from(source: "q", SourceSpec(input: .sqlite(SourceSpec.SQLiteRead(database: "/db.sqlite", query: "SELECT '${params.day}'"))), context: ctx)
        #expect(query == Endpoint(name: "q", format: .sqlite, path: "/db.sqlite", query: "SELECT 'mon'", mode: "append"))
        let table = Endpoint.from(output: "t", OutputSpec(sink: .sqlite(OutputSpec.SQLiteTable(database: "w.sqlite", table: "t"))), context: ctx)
        #expect(table == Endpoint(name: "t", format: .sqlite, path: s.root + "/w.sqlite", table: "t", mode: "append"))
        let folder = Endpoint.from(output: "f", OutputSpec(sink: .jsonl(OutputSpec.Folder(path: "lake/f", partitionBy: ["day"], mode: .append))), context: ctx)
        #expect(folder == Endpoint(name: "f", format: .jsonl, path: s.root + "/lake/f", mode: "append", partitionBy: ["day"]))
    }

    @Test func aScriptRunsFromItsTypedSpec() throws {
        let s = try Sandbox()
        let script = StageSpec.Script(command: ["sh", "-c", "echo $GREETING ${run}"], env: [StageSpec.EnvVariable(name: "GREETING", value: .value("hi"))])
        _ = try ScriptExecutor().run(s.context(["name": "typed", "type": "script", "command": ["true"]]), script, inputs: [])
        #expect(s.read(".ledgerflow/runs/1/typed/1/stdout.log") == "hi 1\n")
    }
}
