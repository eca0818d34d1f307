import Catalog
import Domain
import Foundation
import ML
import TestSupport
import Testing
@testable import Executors

/// ledgerflow_spark.py (docs/spark.md) under a real `spark-submit --master local[2]`: three
/// submissions in all (a train and a score through the application's own CLI, then one driver
/// script that scores and trains the rest and writes the lake formats), compared with the
/// in-process train, transform, scoring, drift and readers.
/// The suites that submit Spark applications, one at a time (each starts JVMs: on a 2-core machine
/// several at once starve the other tests).
@Suite(.serialized) enum SparkApplications {}

extension SparkApplications {
@Suite(.serialized, .timeLimit(.minutes(10))) struct SparkModuleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// `spark-submit` from PATH; a missing one fails the test (never a silent skip).
    static func sparkSubmit() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(dir)/spark-submit"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw StageError("spark-submit is not on PATH; run `make test-deps` (pyspark 3.5 and Java 17) to run the Spark tests")
    }

    /// The breast-cancer fixture cut to five features, with an id, a text column for one-hot and
    /// some missing cells for impute.
    static func data(_ s: Sandbox) throws -> String {
        let text = try String(contentsOfFile: root + "/fixtures/ml/breast_cancer.csv", encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = lines[0]
        let keep = ["mean_radius", "mean_texture", "mean_smoothness", "worst_area", "target"].map { header.firstIndex(of: $0)! }
        var out = "patient_id,mean_radius,mean_texture,mean_smoothness,worst_area,grade,target\n"
        for (i, row) in lines.dropFirst().enumerated() {
            let v = keep.map { row[$0] }
            let texture = i % 17 == 5 ? "" : v[1]
            out += "\(1000 + i),\(v[0]),\(texture),\(v[2]),\(v[3]),\(["a", "b", "c"][i % 3]),\(v[4])\n"
        }
        try s.write("data/bc.csv", out)
        return s.root + "/data/bc.csv"
    }

    static let features: Value = ["steps": [
        ["op": "impute", "columns": ["mean_texture"], "strategy": "median"],
        ["op": "log", "columns": ["worst_area"]],
        ["op": "standard_scale", "columns": ["mean_radius", "mean_texture", "worst_area"]],
        ["op": "minmax_scale", "columns": ["mean_smoothness"], "range": [-1, 1]],
        ["op": "one_hot", "columns": ["grade"], "unknown": "other"],
    ]]

    static let models: [String: Value] = [
        "logit": ["type": "logistic_regression", "target": "target", "training_dataset": "bc", "features": "f", "holdout": 0.2,
                  "hyperparameters": ["C": 0.5]],
        "lin": ["type": "linear_regression", "target": "worst_area", "training_dataset": "bc", "holdout": 0.25, "split": "tail",
                "feature_columns": ["mean_radius", "mean_smoothness"], "hyperparameters": ["l2": 0.1]],
        "km": ["type": "kmeans", "training_dataset": "bc", "features": "f", "feature_columns": ["mean_radius", "mean_texture", "worst_area"],
               "hyperparameters": ["k": 3, "n_init": 2]],
        "z": ["type": "zscore_anomaly", "training_dataset": "bc", "features": "f", "hyperparameters": ["threshold": 2.5]],
    ]

    /// Trains `model` in process; returns its artifact.
    static func trainInProcess(_ s: Sandbox, _ model: String) throws -> ModelArtifact {
        let defs: [(DefinitionKind, String, Value)] = [(.source, "bc", ["type": "csv", "path": "data/bc.csv"]), (.features, "f", features),
                                                       (.model, model, models[model]!)]
        let r = try TrainExecutor().run(s.context(["name": "train", "type": "train", "model": .string(model)], defs: defs))
        let sha = try #require(r.outputs?["artifact"]?.stringValue)
        return try ModelArtifact.decode(try ArtifactStore(store: s.root + "/.ledgerflow").get(sha), sha256: sha)
    }

    /// The in-process scoring of a CSV file: its rows and each output field's values.
    static func scoreInProcess(_ a: ModelArtifact, _ file: String) throws -> (table: Table, outputs: [[Value]]) {
        let t = try CSV.read(file: file)
        var f = t.frame()
        if let fitted = a.features { f = try fitted.transform(f) }
        return (t, try InferenceExecutor.outputs(of: a, try f.matrix(columns: a.featureColumns), version: 1))
    }

    /// A context.json for one task, in its own attempt folder; returns the file.
    static func context(_ s: Sandbox, _ name: String, task: Value, inputs: Value? = nil, outputs: Value = [:]) throws -> String {
        let folder = s.root + "/runs/\(name)"
        let ctx: Value = [
            "format": 1, "run": "1", "job": "j", "stage": .string(name), "attempt": 1, "idempotency_key": .string("run1-\(name)-a1"),
            "project": .string(s.root), "store": .string(s.root + "/.ledgerflow"), "attempt_folder": .string(folder), "parameters": [:],
            "inputs": inputs ?? ["bc": ["location": .string(s.root + "/data/bc.csv"), "format": "csv", "delimiter": ","]],
            "outputs": outputs, "predictions": .string(folder + "/predictions"), "messages": .string(folder + "/messages.jsonl"),
            "report": .string(folder + "/report.json"), "task": task,
        ]
        try s.write("runs/\(name)/context.json", ctx.jsonString)
        return folder + "/context.json"
    }

    /// Runs spark-submit on local[2]; fails the test with the driver's output tail on an unexpected exit status.
    @discardableResult
    static func submit(_ s: Sandbox, _ app: String, _ args: [String], context: String? = nil, status: Int32 = 0) throws -> RunResult {
        let module = try #require(SparkModule.path, "ledgerflow_spark.py is not among the Executors resources")
        var env = ProcessInfo.processInfo.environment
        if let context { env["LEDGERFLOW_CONTEXT"] = context }
        env["PYTHONPATH"] = (module as NSString).deletingLastPathComponent
        let r = try run(try sparkSubmit(), ["--master", "local[2]", "--conf", "spark.ui.enabled=false", "--py-files", module, app == "module" ? module : app] + args,
                        environment: env, cwd: s.root, timeout: 400)
        if r.status != status { Issue.record("spark-submit \(args) exited \(r.status): \(r.stdout.suffix(2000)) \(r.stderr.suffix(3000))") }
        try #require(r.status == status)
        return r
    }

    /// The predictions spool: entity → line object.
    static func predictions(_ folder: String) throws -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: folder) {
            #expect(!f.hasPrefix("_"), "the spool holds \(f)")
            guard f.hasPrefix("part-") else { continue }
            for line in try String(contentsOfFile: folder + "/" + f, encoding: .utf8).split(separator: "\n") {
                let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                out[try #require(o["entity"] as? String)] = o
            }
        }
        return out
    }

    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    static func number(_ v: Value) -> Double? { v.doubleValue ?? v.boolValue.map { $0 ? 1 : 0 } }
    static func number(_ a: Any?) -> Double? { (a as? NSNumber)?.doubleValue ?? (a as? Bool).map { $0 ? 1 : 0 } }

    /// Every prediction of the spool equals the in-process one (1e-9), entity by entity.
    static func expectSame(_ spool: [String: [String: Any]], _ a: ModelArtifact, _ scored: (table: Table, outputs: [[Value]]), entity: String?,
                           inputs: [String] = []) throws {
        #expect(spool.count == scored.table.rows.count)
        let e = entity.flatMap { scored.table.columns.firstIndex(of: $0) }
        for r in scored.table.rows.indices {
            let key = e.map { Table.text(scored.table.rows[r][$0]) } ?? String(r + 1)
            let line = try #require(spool[key], "no prediction for entity \(key)")
            let outs = try #require(line["outputs"] as? [String: Any])
            for (i, name) in a.outputs.enumerated() {
                let want = try #require(number(scored.outputs[i][r]))
                let got = try #require(number(outs[name]), "\(name) of \(key) is \(String(describing: outs[name]))")
                #expect(abs(got - want) <= 1e-9 * max(1, abs(want)), "\(a.model) \(name) of entity \(key): Spark \(got), in-process \(want)")
            }
            if !inputs.isEmpty {
                let ins = try #require(line["inputs"] as? [String: Any])
                #expect(Set(ins.keys) == Set(inputs))
            } else {
                #expect(line["inputs"] == nil)
            }
        }
    }

    @Test func sparkMatchesInProcess() throws {
        let s = try Sandbox()
        let file = try Self.data(s)
        let logit = try Self.trainInProcess(s, "logit")
        let lin = try Self.trainInProcess(s, "lin")
        let km = try Self.trainInProcess(s, "km")
        let z = try Self.trainInProcess(s, "z")
        func put(_ name: String, _ a: ModelArtifact) throws -> String {
            try s.write("artifacts/\(name).json", String(decoding: try a.encoded(), as: UTF8.self))
            return s.root + "/artifacts/\(name).json"
        }

        // 1. Spark trains the logistic model through the CLI (`ledgerflow_spark.py train`).
        let trainTask: Value = ["kind": "train", "model": "logit", "type": "logistic_regression", "target": "target",
                                "hyperparameters": ["C": 0.5], "holdout": 0.2, "split": "random", "features": Self.features,
                                "prediction_fields": .array(logit.outputs.map(Value.string)), "input": "bc",
                                "artifact_out": .string(s.root + "/runs/t1/artifact.json")]
        try Self.submit(s, "module", ["train"], context: try Self.context(s, "t1", task: trainTask))
        let sparkLogit = try ModelArtifact.decode(try Data(contentsOf: URL(fileURLWithPath: s.root + "/runs/t1/artifact.json")), sha256: "spark")
        let trained = try Self.json(s.root + "/runs/t1/task-result.json")
        #expect(Self.number(trained["training_rows"]) == 455 && Self.number(trained["holdout_rows"]) == 114)
        #expect((trained["metrics"] as? [String: Any])?["roc_auc"] != nil)
        // The same random split, feature parameters and optimum as the in-process fit.
        let (w0, w1) = (try #require(logit.logistic), try #require(sparkLogit.logistic))
        #expect(sparkLogit.featureColumns == logit.featureColumns && sparkLogit.outputs == logit.outputs && sparkLogit.classes == logit.classes)
        for (a, b) in zip(w1.coefficients + [w1.intercept], w0.coefficients + [w0.intercept]) {
            #expect(abs(a - b) <= 1e-6 * max(1, abs(b)), "coefficient: Spark \(a), in-process \(b)")
        }
        let (f0, f1) = (try #require(logit.features), try #require(sparkLogit.features))
        #expect(f1.inputColumns == f0.inputColumns && f1.outputColumns == f0.outputColumns)
        for (a, b) in zip(f1.steps, f0.steps) {
            switch (a, b) {
            case let (.standardScale(c1, m1, s1), .standardScale(c0, m0, s0)):
                #expect(c1 == c0)
                for (x, y) in zip(m1 + s1, m0 + s0) { #expect(abs(x - y) <= 1e-12 * max(1, abs(y))) }
            case let (.impute(c1, v1), .impute(c0, v0)): #expect(c1 == c0 && v1 == v0, "medians are exact")
            default: #expect(a == b)
            }
        }
        #expect(sparkLogit.drift == logit.drift, "drift references: the same deciles and expected fractions")

        // 2. Spark scores the in-process logistic model through the CLI (row numbers as entities).
        try s.write("lake/scores/part-old.csv", "x\n1\n")
        try s.write("lake/scores/README.txt", "kept")
        let scoreTask: Value = ["kind": "score", "artifact": .string(try put("logit", logit)), "model": "logit", "model_version": 3,
                                "entity_key": .null, "input": "bc", "output": "scores", "prediction_inputs": ["mean_radius", "grade"]]
        let scoresOut: Value = ["scores": ["location": .string(s.root + "/lake/scores"), "format": "csv", "mode": "replace", "partition_by": ["grade"]]]
        try Self.submit(s, "module", ["score"], context: try Self.context(s, "s1", task: scoreTask, outputs: scoresOut))
        let inLogit = try Self.scoreInProcess(logit, file)
        try Self.expectSame(try Self.predictions(s.root + "/runs/s1/predictions"), logit, inLogit, entity: nil, inputs: ["mean_radius", "grade"])
        let result = try Self.json(s.root + "/runs/s1/task-result.json")
        #expect(Self.number(result["rows"]) == 569 && Self.number(result["predictions"]) == 569)
        // Drift: the bin counts give the in-process PSI.
        let drift = try #require(result["drift"] as? [String: [String: Any]])
        let frame = inLogit.table.frame()
        #expect(Set(drift.keys) == Set(logit.drift.keys))
        for (column, ref) in logit.drift {
            let d = try #require(drift[column])
            let n = Int(try #require(Self.number(d["n"]))), counts = try #require(d["counts"] as? [Any]).compactMap { Self.number($0).map(Int.init) }
            let xs = try #require(frame.column(column)).compactMap(\.numeric)
            #expect(n == xs.count && counts.reduce(0, +) == n && counts.count == ref.edges.count + 1)
            let psi = DriftReference.psi(expected: ref.expected, actual: counts.map { Double($0) / Double(n) })
            #expect(abs(psi - ref.psi(xs)) <= 1e-12, "PSI of \(column)")
        }
        let mean = inLogit.outputs[0].compactMap(\.doubleValue).reduce(0, +) / 569
        #expect(abs(try #require(Self.number((result["means"] as? [String: Any])?[logit.outputs[0]])) - mean) <= 1e-12)
        // The scored rows: readable by the in-process reader, partitioned, old part file replaced.
        let folder = s.root + "/lake/scores"
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }) == ["README.txt", "grade=a", "grade=b", "grade=c"])
        var scoredRows = 0
        for f in Endpoint.files(in: folder, pattern: "*.csv") {
            #expect((f as NSString).lastPathComponent.hasPrefix("part-"))
            let t = try CSV.read(file: f)
            #expect(t.columns == inLogit.table.columns + logit.outputs + ["model_version"])
            let grade = String((f as NSString).deletingLastPathComponent.split(separator: "=").last!)
            #expect(t.rows.allSatisfy { $0[5] == .string(grade) && $0.last == .int(3) })
            scoredRows += t.rows.count
        }
        #expect(scoredRows == 569)
        let messages = try String(contentsOfFile: s.root + "/runs/s1/messages.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(messages.first?.contains("\"method\":\"opened\"") == true && messages.last == "{\"__dagster_pipes_version\":\"0.1\",\"method\":\"closed\",\"params\":{}}")
        #expect(messages.contains { $0.contains("report_asset_materialization") && $0.contains("\"raw_value\":569") })

        // 3. One driver script: the other model types scored (entity_key), the Spark-trained
        //    model scored, a linear model trained on Spark, and the lake formats written and read.
        var contexts: [String] = []
        for (name, a) in [("lin", lin), ("km", km), ("z", z), ("slogit", sparkLogit)] {
            let task: Value = ["kind": "score", "artifact": .string(try put(name, a)), "model": .string(name), "model_version": 1,
                               "entity_key": "patient_id", "input": "bc", "output": .null, "prediction_inputs": []]
            contexts.append(try Self.context(s, "s-\(name)", task: task))
        }
        let linTask: Value = ["kind": "train", "model": "lin", "type": "linear_regression", "target": "worst_area", "hyperparameters": ["l2": 0.1],
                              "holdout": 0.25, "split": "tail", "features": .null, "feature_columns": ["mean_radius", "mean_smoothness"],
                              "prediction_fields": ["prediction"], "input": "bc", "artifact_out": .string(s.root + "/runs/t-lin/artifact.json")]
        contexts.append(try Self.context(s, "t-lin", task: linTask))
        for (name, type, hp) in [("z", "zscore_anomaly", ["threshold": 2.5] as Value), ("km", "kmeans", ["k": 3, "n_init": 2, "seed": 4] as Value)] {
            let task: Value = ["kind": "train", "model": .string(name), "type": .string(type), "target": .null, "hyperparameters": hp, "holdout": 0.2,
                               "split": "random", "features": Self.features, "feature_columns": name == "km" ? ["mean_radius", "mean_texture", "worst_area"] : .null,
                               "prediction_fields": .array((name == "km" ? km : z).outputs.map(Value.string)), "input": "bc",
                               "artifact_out": .string(s.root + "/runs/t-\(name)/artifact.json")]
            contexts.append(try Self.context(s, "t-\(name)", task: task))
        }
        // The k-means model Spark has just trained, scored on Spark.
        contexts.append(try Self.context(s, "s-skm", task: ["kind": "score", "artifact": .string(s.root + "/runs/t-km/artifact.json"), "model": "km",
                                                             "model_version": 2, "entity_key": "patient_id", "input": "bc", "output": .null]))
        let lake = s.root + "/lake"
        _ = try s.sqlite("data/lookup.sqlite", "CREATE TABLE grades (grade TEXT, weight REAL, n INTEGER); INSERT INTO grades VALUES ('a', 0.5, 1), ('b', NULL, 2), ('c', 2, NULL);")
        let dataInputs: Value = ["bc": ["location": .string(file), "format": "csv", "delimiter": ","],
                                 "lookup": ["location": .string(s.root + "/data/lookup.sqlite"), "format": "sqlite", "table": "grades"],
                                 "pq": ["location": .string(lake + "/pq"), "format": "parquet"]]
        let dataOutputs: Value = ["csvout": ["location": .string(lake + "/csvout"), "format": "csv", "mode": "replace", "partition_by": ["grade"]],
                                  "jsonout": ["location": .string(lake + "/jsonout"), "format": "jsonl", "mode": "append"],
                                  "pq": ["location": .string(lake + "/pq"), "format": "parquet", "mode": "replace"],
                                  "pqback": ["location": .string(lake + "/pqback"), "format": "jsonl", "mode": "replace"],
                                  "lookupout": ["location": .string(lake + "/lookup"), "format": "jsonl", "mode": "replace"]]
        contexts.append(try Self.context(s, "data", task: ["kind": "data"], inputs: dataInputs, outputs: dataOutputs))
        try s.write("driver.py", Self.driver)
        try Self.submit(s, s.root + "/driver.py", contexts)

        for (name, a) in [("lin", lin), ("km", km), ("z", z), ("slogit", sparkLogit)] {
            try Self.expectSame(try Self.predictions(s.root + "/runs/s-\(name)/predictions"), a, try Self.scoreInProcess(a, file), entity: "patient_id")
            let r = try Self.json(s.root + "/runs/s-\(name)/task-result.json")
            #expect((r["means"] == nil) == (a.type == "kmeans"))
        }
        let sparkLin = try ModelArtifact.decode(try Data(contentsOf: URL(fileURLWithPath: s.root + "/runs/t-lin/artifact.json")), sha256: "spark")
        let (l0, l1) = (try #require(lin.linear), try #require(sparkLin.linear))
        for (a, b) in zip(l1.coefficients + [l1.intercept], l0.coefficients + [l0.intercept]) {
            #expect(abs(a - b) <= 1e-6 * max(1, abs(b)), "linear coefficient: Spark \(a), in-process \(b)")
        }
        let linResult = try Self.json(s.root + "/runs/t-lin/task-result.json")
        let r2 = try #require(Self.number((linResult["metrics"] as? [String: Any])?["r2"]))
        let inR2 = try #require(lin.linear).predict(try CSV.read(file: file).frame().rows(Array(427 ..< 569)).matrix(columns: ["mean_radius", "mean_smoothness"]))
        let yHold = try CSV.read(file: file).rows[427 ..< 569].map { $0[4].doubleValue! }
        #expect(abs(r2 - Metrics.r2(yHold, inR2)) <= 1e-6)

        // The lake formats: the in-process readers read the rows Spark wrote (CSV partitioned, JSON Lines), Parquet round-trips.
        let source = try CSV.read(file: file)
        func rows(_ t: Table) -> [[String: Value]] {
            t.rows.map { r in Dictionary(uniqueKeysWithValues: zip(t.columns, r)) }.sorted { ($0["patient_id"]?.intValue ?? 0) < ($1["patient_id"]?.intValue ?? 0) }
        }
        func same(_ a: [[String: Value]], _ b: [[String: Value]], _ what: String) {
            #expect(a.count == b.count, "\(what): \(a.count) rows")
            for (x, y) in zip(a, b) {
                #expect(Set(x.keys) == Set(y.keys), "\(what) columns")
                for (k, v) in y where !(v == x[k] || (Self.number(v) != nil && Self.number(v) == x[k].flatMap(Self.number))) {
                    Issue.record("\(what): \(k) is \(String(describing: x[k])), the source has \(v)")
                    return
                }
            }
        }
        func read(_ folder: String, _ ext: String) throws -> Table {
            var t = Table(columns: [])
            for f in Endpoint.files(in: folder, pattern: "*.\(ext)") { t.append(ext == "csv" ? try CSV.read(file: f) : try JSONLines.read(file: f)) }
            return t
        }
        same(rows(try read(lake + "/csvout", "csv")), rows(source), "csv")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: lake + "/csvout").filter { !$0.hasPrefix(".") }) == ["grade=a", "grade=b", "grade=c"])
        same(rows(try read(lake + "/jsonout", "jsonl")), rows(source), "jsonl")
        same(rows(try read(lake + "/pqback", "jsonl")), rows(source), "parquet round trip")
        let data = try Self.json(s.root + "/runs/data/task-result.json")
        #expect((data["written"] as? [Any])?.compactMap { Self.number($0) } == [569, 569, 569, 569, 3])
        let lookup = try SQLite.read(database: s.root + "/data/lookup.sqlite", table: "grades", query: nil)
        func byGrade(_ t: Table) -> [String: [String: String]] {
            var out: [String: [String: String]] = [:]
            for r in t.rows {
                let cells = Dictionary(uniqueKeysWithValues: zip(t.columns, r.map { v in Self.number(v).map { "\($0)" } ?? Table.text(v) }))
                out[cells["grade"] ?? ""] = cells
            }
            return out
        }
        #expect(byGrade(try read(lake + "/lookup", "jsonl")) == byGrade(lookup), "a SQLite table read on the driver")

        // z-score and k-means trained on Spark: the z-score statistics are the in-process ones; the
        // k-means artifact (its own seeding) scores the same in process as on Spark.
        let sparkZ = try ModelArtifact.decode(try Data(contentsOf: URL(fileURLWithPath: s.root + "/runs/t-z/artifact.json")), sha256: "spark")
        #expect(sparkZ.featureColumns == z.featureColumns)
        let (z0, z1) = (try #require(z.zscore), try #require(sparkZ.zscore))
        #expect(z1.threshold == z0.threshold)
        for (a, b) in zip(z1.means + z1.stds, z0.means + z0.stds) { #expect(abs(a - b) <= 1e-9 * max(1, abs(b)), "z-score: Spark \(a), in-process \(b)") }
        let sparkKm = try ModelArtifact.decode(try Data(contentsOf: URL(fileURLWithPath: s.root + "/runs/t-km/artifact.json")), sha256: "spark")
        let centroids = try #require(sparkKm.kmeans).centroids
        #expect(centroids.rows == 3 && centroids.cols == 3 && sparkKm.featureColumns == km.featureColumns)
        #expect(Self.number((try Self.json(s.root + "/runs/t-km/task-result.json")["metrics"] as? [String: Any])?["inertia"]) == sparkKm.kmeans?.inertia)
        try Self.expectSame(try Self.predictions(s.root + "/runs/s-skm/predictions"), sparkKm, try Self.scoreInProcess(sparkKm, file), entity: "patient_id")
    }

    /// An application that imports the module (no Spark needed for this part) finds its context
    /// and messages file through the Dagster Pipes bootstrap variables, and its messages are the
    /// protocol's: `opened` first, then what it reports, and `closed` with the exception that ended it.
    @Test func pipesMessagesOfAnApplication() throws {
        let s = try Sandbox()
        let module = try #require(SparkModule.path)
        let ctx = try Self.context(s, "app", task: .null)
        try s.write("app.py", """
            import ledgerflow_spark as L
            L.log("rows: %d" % len(L.context()["inputs"]))
            L.report_dataset("scores", "/lake/scores", "csv", rows=2, schema=[{"name": "id", "type": "int"}])
            L.report_metrics({"auc": 0.5})
            L.report_outputs({"n": 3})
            raise ValueError("boom")
            """)
        func bootstrap(_ path: String) throws -> String {
            let r = try run("/usr/bin/env", ["python3", "-c", "import base64, json, sys, zlib; print(base64.b64encode(zlib.compress(json.dumps({'path': sys.argv[1]}).encode())).decode())", path])
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let messages = s.root + "/pipes-messages.jsonl"
        var env = ProcessInfo.processInfo.environment
        env["LEDGERFLOW_CONTEXT"] = nil
        env["DAGSTER_PIPES_CONTEXT"] = try bootstrap(ctx)
        env["DAGSTER_PIPES_MESSAGES"] = try bootstrap(messages)
        env["PYTHONPATH"] = (module as NSString).deletingLastPathComponent
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        let r = try run("/usr/bin/env", ["python3", s.root + "/app.py"], environment: env, cwd: s.root)
        #expect(r.status == 1 && r.stderr.contains("ValueError: boom"))
        let lines = try String(contentsOfFile: messages, encoding: .utf8).split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        #expect(lines.allSatisfy { $0["__dagster_pipes_version"] as? String == "0.1" })
        #expect(lines.map { $0["method"] as? String ?? "" } == ["opened", "log", "report_asset_materialization", "report_custom_message", "report_custom_message", "closed"])
        #expect((lines[1]["params"] as? [String: Any])?["message"] as? String == "rows: 1")
        let asset = try #require(lines[2]["params"] as? [String: Any])
        let metadata = try #require(asset["metadata"] as? [String: [String: Any]])
        #expect(asset["asset_key"] as? String == "scores" && metadata["location"]?["type"] as? String == "path" && Self.number(metadata["rows"]?["raw_value"]) == 2)
        #expect(((lines[3]["params"] as? [String: Any])?["payload"] as? [String: Any])?["ledgerflow"] as? String == "metrics")
        #expect(((lines[4]["params"] as? [String: Any])?["payload"] as? [String: Any])?["ledgerflow"] as? String == "outputs")
        let exception = ((lines[5]["params"] as? [String: Any])?["exception"] as? [String: Any])
        #expect(exception?["name"] as? String == "ValueError" && exception?["message"] as? String == "boom")
    }

    /// A cell the fitted transform cannot take fails the attempt: exit 1, the step, column and
    /// value on the driver's output and in the `closed` message's exception.
    @Test func aBadCellFailsTheAttempt() throws {
        let s = try Sandbox()
        try s.write("data/bad.csv", "id,x\n1,2.5\n2,abc\n")
        var a = ModelArtifact(model: "m", type: "linear_regression", target: "y", featureColumns: ["x"], outputs: ["prediction"],
                              features: FittedFeatures(steps: [.standardScale(columns: ["x"], means: [1], scales: [2])], inputColumns: ["id", "x"], outputColumns: ["id", "x"]))
        a.linear = LinearModel(coefficients: [3], intercept: 1)
        try s.write("m.json", String(decoding: try a.encoded(), as: UTF8.self))
        let task: Value = ["kind": "score", "artifact": .string(s.root + "/m.json"), "model": "m", "model_version": 1, "entity_key": "id",
                           "input": "bad", "output": .null, "prediction_inputs": []]
        let inputs: Value = ["bad": ["location": .string(s.root + "/data/bad.csv"), "format": "csv"]]
        let r = try Self.submit(s, "module", ["score"], context: try Self.context(s, "bad", task: task, inputs: inputs), status: 1)
        let why = "step 1 (standard_scale): column 'x' is text 'abc', not a number; cast or one-hot encode it, or remove it from this step"
        #expect((r.stdout + r.stderr).contains("ledgerflow_spark score: " + why))
        let closed = try #require(try String(contentsOfFile: s.root + "/runs/bad/messages.jsonl", encoding: .utf8).split(separator: "\n").last)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(closed.utf8)) as? [String: Any])
        #expect(o["method"] as? String == "closed")
        #expect(((o["params"] as? [String: Any])?["exception"] as? [String: Any])?["message"] as? String == why)
        #expect(!FileManager.default.fileExists(atPath: s.root + "/runs/bad/task-result.json"))
    }

    /// Runs each context's task in one Spark session (score and train as the CLI does, or the
    /// lake-format round trip) and writes its task-result.json.
    static let driver = """
        import json, os, sys
        import ledgerflow_spark as L
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        for path in sys.argv[1:]:
            with open(path) as f:
                L._context = json.load(f)
            L._messages.update(fd=None, closed=False, exception=None)
            task = L._context["task"]
            if task["kind"] == "score":
                result = L.score(spark, task)
            elif task["kind"] == "train":
                result = L.train(spark, task)
            else:
                df = L.read(spark, "bc")
                written = [L.write(df, "csvout"), L.write(df, "jsonout"), L.write(df, "pq")]
                written.append(L.write(L.read(spark, "pq"), "pqback"))
                written.append(L.write(L.read(spark, "lookup"), "lookupout"))
                result = {"written": written}
            L._close()
            L._write_json(os.path.join(L._context["attempt_folder"], "task-result.json"), result)
        spark.stop()
        """
}
}
