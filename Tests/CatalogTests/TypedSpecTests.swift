import Domain
import Foundation
import Testing
@testable import Catalog

/// Every definition file under fixtures/ (recursively), sorted.
private let fixtureFiles: [String] = {
    let root = fixturePath("fixtures")
    let (files, _) = DefinitionLoader.files([root])
    return files
}()

/// The definitions of `files` and every diagnostic of loading and validating them together.
private func loadAndValidate(_ files: [String]) -> (definitions: [Definition], diagnostics: [Diagnostic]) {
    let (defs, errors) = DefinitionLoader.load(files: files)
    return (defs, errors + Validator.validate(defs))
}

@Suite struct FixtureSpecTests {
    @Test func everyFixtureDefinitionThatConvertsAlsoReads() throws {
        // Files the loader takes without an error (the valid examples, and the invalid corpus's
        // files whose only errors are the validator's): each of their definitions reads.
        var read = 0
        var kinds: Set<DefinitionKind> = []
        for file in fixtureFiles {
            let (defs, errors) = DefinitionLoader.load(files: [file])
            guard errors.isEmpty else { continue }
            for d in defs {
                do throws(DecodingFailure) {
                    let spec = try d.typedSpec
                    let again = try DefinitionSpec(d.kind, d.spec)
                    #expect(spec.kind == d.kind)
                    #expect(again == spec, "read once when built, the same when read again")
                    read += 1
                    kinds.insert(d.kind)
                } catch {
                    Issue.record("\(d.key) in \(file) does not read: \(error)")
                }
            }
        }
        #expect(read >= 40, "the fixtures hold at least 40 definitions that convert (read \(read))")
        #expect(kinds == Set(DefinitionKind.allCases))
    }

    @Test(arguments: [["fixtures/examples/churn", "fixtures/seed/job_101.json"], ["fixtures/demo/churn"],
                      ["fixtures/demo/lake_to_warehouse.yaml", "fixtures/examples/churn/teams.yaml"], ["fixtures/demo/automation"]])
    func everyDefinitionOfAValidFixtureSetReads(_ paths: [String]) throws {
        let (files, fileErrors) = DefinitionLoader.files(paths.map(fixturePath))
        #expect(fileErrors.isEmpty)
        let (defs, diagnostics) = loadAndValidate(files)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(!defs.isEmpty)
        for d in defs {
            #expect(throws: Never.self, "\(d.key)") { try d.typedSpec }
        }
    }

    @Test func theExamplesReadAsTheirKinds() throws {
        let (files, _) = DefinitionLoader.files([fixturePath("fixtures/examples/churn"), fixturePath("fixtures/seed/job_101.json")])
        let (defs, diagnostics) = loadAndValidate(files)
        #expect(diagnostics.isEmpty)
        func spec<S: KindSpec>(_ type: S.Type, _ name: String) throws -> S {
            try #require(defs.first { $0.key == DefinitionKey(S.kind, name) }).spec(as: type)
        }

        let job = try spec(JobSpec.self, "daily_churn")
        #expect(job.owner == "data-eng" && job.maxParallel == 4 && job.jobID == nil)
        #expect(job.parameters == [Value.Member("run_date", "2026-01-01"), Value.Member("threshold", 0.8)])
        #expect(job.stages.map(\.name) == ["extract", "score", "anomalies", "publish"])
        #expect(job.stages.map(\.type) == ["etl", "inference", "inference", "script"])
        let extract = try #require(job.stage(named: "extract"))
        #expect(extract.retry == StageSpec.Retry(attempts: 3, backoff: 30) && extract.timeout == 600)
        #expect(extract.source == "transactions_csv" && extract.destination == "customer_features")
        #expect(extract.transform.select == ["customer_id", "tenure_months", "plan", "monthly_charges", "product_code"])
        #expect(extract.transform.cast == [ColumnCast(column: "monthly_charges", type: .double), ColumnCast(column: "tenure_months", type: .int)])
        #expect(extract.transform.filter == "monthly_charges >= 0")
        #expect(job.stage(named: "score")?.variant == .inference(StageSpec.Inference(model: "churn@production", entityKey: "customer_id", destination: "churn_scores")))
        guard case .script(let publish)? = job.stage(named: "publish")?.variant else { Issue.record("publish is a script stage"); return }
        #expect(publish.command == ["python3", "tools/publish.py", "--date", "2026-01-01"])
        #expect(publish.env == [StageSpec.EnvVariable(name: "LOG_LEVEL", value: .value("info")),
                                StageSpec.EnvVariable(name: "WAREHOUSE_PASSWORD", value: .secret("warehouse_password"))])
        #expect(try spec(JobSpec.self, "retention_campaign").parameters == [Value.Member("customer_id", .null)], "a null default is kept")

        let seed = try spec(JobSpec.self, "101")
        #expect(seed.jobID == 101)
        #expect(seed.stages.map(\.type) == ["etl", "inference", "storage"])
        #expect(seed.stages[0].seed?.source == "SQL Server" && seed.stages[0].seed?.object == "customer_transactions")
        #expect(seed.stages[1].variant == .inference(StageSpec.Inference(model: nil)), "a seed Inference row without a model")

        let churn = try spec(ModelSpec.self, "churn")
        #expect(churn.type == .logisticRegression && churn.features == "churn_features" && churn.target == "churned")
        #expect(churn.trainingDataset == "customer_features" && churn.aliases == ["production"])
        #expect(churn.hyperparameters?.c == 1.0 && churn.hyperparameters?.maxIter == 200 && churn.hyperparameters?.k == nil)
        #expect(churn.retrain == ModelSpec.Retrain(onNewData: true))
        #expect(churn.predictionFields == ["churn_probability", "churn_label"])
        #expect(try spec(ModelSpec.self, "spend_anomaly").predictionFields == ["anomaly_score", "is_anomaly"])

        let features = try spec(FeaturesSpec.self, "churn_features")
        #expect(features.steps == [.impute(columns: ["monthly_charges"], strategy: .median, value: nil), .log(columns: ["monthly_charges"], offset: nil),
                                   .standardScale(columns: ["tenure_months", "monthly_charges"]), .oneHot(columns: ["plan"], unknown: .ignore)])
        #expect(features.columns == ["monthly_charges", "tenure_months", "plan"])

        #expect(try spec(DependencySpec.self, "publish_after_101") == DependencySpec(after: ["101"], on: .success, run: "daily_churn"))
        let trigger = try spec(TriggerSpec.self, "high_churn_risk")
        #expect(trigger.source == TriggerSpec.Source(type: .predictions, model: "churn"))
        #expect(trigger.parameters == [TriggerSpec.Parameter(name: "customer_id", field: "entity_key")] && trigger.dedupe == .oncePerRow)
        #expect(try spec(ScheduleSpec.self, "nightly") == ScheduleSpec(cron: "0 2 * * *", job: "daily_churn", catchUp: .latest))
        #expect(try spec(SensorSpec.self, "transactions_landed") == SensorSpec(path: "data/transactions", pattern: "*.done", job: "daily_churn", pollInterval: 10))
        #expect(try spec(MonitorSpec.self, "tenure_drift") == MonitorSpec(model: "churn", metric: .psi, feature: "tenure_months", above: 0.2, alert: "ml"))

        #expect(try spec(SourceSpec.self, "transactions_csv").input == .csv(SourceSpec.CSVFiles(path: "data/transactions", pattern: "*.csv")))
        #expect(try spec(SourceSpec.self, "customers_db").input
                == .sqlite(SourceSpec.SQLiteRead(database: "data/crm.sqlite", query: "SELECT customer_id, tenure_months, plan, monthly_charges, churned FROM customers")))
        #expect(try spec(OutputSpec.self, "customer_features").sink
                == .sqlite(OutputSpec.SQLiteTable(database: "out/warehouse.sqlite", table: "customer_features", mode: .upsert, keys: ["customer_id"])))
        #expect(try spec(OutputSpec.self, "churn_scores").sink == .jsonl(OutputSpec.Folder(path: "out/churn_scores", partitionBy: ["product_code"])))
        #expect(try spec(OutputSpec.self, "retention_offers").mode == .append)

        let table = try spec(ConfigTableSpec.self, "modules")
        #expect(table.rows.count == 3 && table.rows[2] == ConfigTableSpec.Row(modulePath: "/risk/churn", moduleName: "risk", submodule: "churn",
                                                                             clientCode: "C002", active: false, productCode: "P10"))
        #expect(try spec(ColumnMappingSpec.self, "p10_columns").columns
                == [ColumnRename(from: "cust_id", to: "customer_id"), ColumnRename(from: "mrr", to: "monthly_charges"), ColumnRename(from: "tenure", to: "tenure_months")])
        #expect(try spec(TeamSpec.self, "data-eng") == TeamSpec(emails: ["data-eng@example.com", "oncall@example.com"], notifyOn: [.failure, .cancelled]))
        #expect(try spec(SecretSpec.self, "warehouse_password") == SecretSpec(description: "Password of the reporting warehouse.", fromEnv: "WAREHOUSE_PASSWORD"))
    }

    @Test func everyStageTypeReads() throws {
        let defs = try definitions("""
        - {kind: source, name: raw, type: csv, path: data/raw.csv, delimiter: ";", header: false}
        - {kind: output, name: out, type: csv, path: out/x}
        - {kind: features, name: f, steps: [{op: minmax_scale, columns: [a], range: [0, 10]}, {op: rename, columns: {a: b}}, {op: cast, columns: {b: int}},
                                            {op: impute, columns: [c], strategy: constant, value: 0}, {op: select, columns: [b, c]}]}
        - {kind: model, name: m, type: kmeans, training_dataset: raw, hyperparameters: {k: 3, n_init: 2, seed: 7}}
        - {kind: column_mapping, name: p1, product: P1, columns: {id: customer_id}}
        - kind: job
          name: all
          stages:
            - {name: load, type: storage, source: raw, destination: out, rename: {a: b}, derive: {d: b * 2}, partition_by: [b]}
            - {name: fit, type: features, spec: f, fit: true, inputs: [raw], destination: out, after: [load]}
            - {name: train, type: train, model: m, inputs: [raw]}
            - {name: score, type: inference, model: m@3, inputs: [raw]}
            - {name: check, type: evaluate, model: m, entity_key: id, label: y, inputs: [raw]}
            - {name: merge, type: merge, mapping: p1, key: [customer_id], inputs: [raw, out], destination: out}
            - {name: run, type: script, command: [echo, hi], workdir: tools, env: {N: 3}, inputs: [out]}
        """)
        let job = try #require(defs.first { $0.kind == .job }).spec(as: JobSpec.self)
        #expect(job.stages.map(\.variant) == [
            .storage(StageSpec.Transfer(source: "raw", destination: "out",
                                        transform: TransformSpec(rename: [ColumnRename(from: "a", to: "b")],
                                                                 derive: [TransformSpec.DerivedColumn(column: "d", expression: "b * 2")], partitionBy: ["b"]))),
            .features(StageSpec.Features(spec: "f", fit: true, destination: "out")),
            .train(StageSpec.Train(model: "m")),
            .inference(StageSpec.Inference(model: "m@3")),
            .evaluate(StageSpec.Evaluate(model: "m", entityKey: "id", label: "y")),
            .merge(StageSpec.Merge(mapping: "p1", key: ["customer_id"], destination: "out")),
            .script(StageSpec.Script(command: ["echo", "hi"], workdir: "tools", env: [StageSpec.EnvVariable(name: "N", value: .value(3))])),
        ])
        #expect(job.stages.map(\.model) == [nil, nil, "m", "m@3", "m", nil, nil])
        #expect(job.stages.map(\.destination) == ["out", "out", nil, nil, nil, "out", nil])
        #expect(job.outline.stages == job.stages.map(\.common))
        #expect(try JobSpec.Outline(try #require(defs.first { $0.kind == .job }).spec) == job.outline)

        let f = try #require(defs.first { $0.kind == .features }).spec(as: FeaturesSpec.self)
        #expect(f.steps == [.minmaxScale(columns: ["a"], range: [0, 10]), .rename([ColumnRename(from: "a", to: "b")]),
                            .cast([ColumnCast(column: "b", type: .int)]), .impute(columns: ["c"], strategy: .constant, value: 0), .select(columns: ["b", "c"])])
        let source = try #require(defs.first { $0.kind == .source }).spec(as: SourceSpec.self)
        #expect(source.input == .csv(SourceSpec.CSVFiles(path: "data/raw.csv", delimiter: ";", header: false)))
        let model = try #require(defs.first { $0.kind == .model }).spec(as: ModelSpec.self)
        #expect(model.hyperparameters?.k == 3 && model.hyperparameters?.nInit == 2 && model.hyperparameters?.seed == 7)
    }
}

@Suite struct SpecFailureTests {
    /// A malformed spec of each kind, and the field its failure names.
    static let cases: [(kind: DefinitionKind, spec: Value, field: String)] = [
        (.job, ["owner": "x"], "stages"),
        (.job, ["stages": [["name": "a", "type": "etll"]]], "stages[0].type"),
        (.job, ["stages": [["name": "a", "type": "etl", "retry": ["attempts": "three"]]]], "stages[0].retry.attempts"),
        (.job, ["stages": [["name": "a", "type": "etl"], ["name": "b", "type": "script"]]], "stages[1].command"),
        (.job, ["stages": [["name": "a", "type": "etl", "timeout": "10 minutes"]]], "stages[0].timeout"),
        (.job, ["stages": [["name": "a", "type": "etl", "cast": ["x": "float"]]]], "stages[0].cast.x"),
        (.job, ["stages": [], "max_parallel": "4"], "max_parallel"),
        (.model, ["type": "svm", "training_dataset": "d"], "type"),
        (.model, ["type": "kmeans"], "training_dataset"),
        (.model, ["type": "script", "training_dataset": "d", "prediction_fields": ["p", 1]], "prediction_fields[1]"),
        (.features, ["steps": [["op": "impute", "columns": ["a"]]]], "steps[0].strategy"),
        (.features, ["steps": [["op": "scale", "columns": ["a"]]]], "steps[0].op"),
        (.dependency, ["after": "a"], "run"),
        (.dependency, ["after": "a", "run": "b", "on": "always"], "on"),
        (.trigger, ["source": ["model": "m"], "condition": "x > 1", "run": "j"], "source.type"),
        (.trigger, ["source": ["type": "metrics"], "condition": "x > 1", "run": "j", "parameters": ["p": 1]], "parameters.p"),
        (.output, ["type": "sqlite", "database": "w.sqlite"], "table"),
        (.output, ["type": "orc", "path": "x"], "type"),
        (.source, ["type": "csv"], "path"),
        (.configTable, ["rows": [["module_path": "/a", "module_name": "a", "product_code": "P"]]], "rows[0].client_code"),
        (.columnMapping, ["product": "P", "columns": ["a": 1]], "columns.a"),
        (.monitor, ["model": "m", "metric": "f1"], "metric"),
        (.schedule, ["cron": "0 2 * * *"], "job"),
        (.sensor, ["path": 5, "job": "j"], "path"),
        (.team, ["emails": ["a@example.com"], "notify_on": ["failure", "always"]], "notify_on[1]"),
        (.secret, ["from_env": 5], "from_env"),
    ]

    @Test(arguments: 0 ..< cases.count)
    func aMalformedSpecNamesItsKindAndField(_ i: Int) {
        let c = Self.cases[i]
        do throws(DecodingFailure) {
            let spec = try DefinitionSpec(c.kind, c.spec)
            Issue.record("\(c.kind.name) spec \(c.spec.jsonString) read as \(spec)")
        } catch {
            #expect(error.eventType == "\(c.kind.name) spec")
            #expect(error.field == c.field)
            #expect(error.description.hasPrefix("\(c.kind.name) spec: field '\(c.field)' should be "))
        }
    }

    @Test func aSpecThatIsNoObjectFails() {
        #expect(throws: DecodingFailure(eventType: "team spec", field: "", expected: "an object", found: "a list of 0")) { try TeamSpec([]) }
    }

    @Test func aStageReadOnItsOwnNamesTheStage() {
        #expect(throws: DecodingFailure(eventType: "stage spec", field: "name", expected: "text", found: "nothing")) {
            try StageSpec(["type": "etl"])
        }
        #expect(throws: DecodingFailure(eventType: "stage spec", field: "model", expected: "text", found: "nothing")) {
            try StageSpec(["name": "t", "type": "train"])
        }
    }

    @Test func aSpecOfAnotherKindIsRefused() throws {
        let team = try #require(try definitions("{kind: team, name: ml, emails: [ml@example.com]}").first)
        #expect(throws: DecodingFailure(eventType: "job spec", field: "", expected: "a job definition", found: "a team definition")) {
            try team.spec(as: JobSpec.self)
        }
        let entry = CatalogEntry(key: team.key, version: 1, spec: team.spec, specHash: team.specHash, seq: 1, recordedAtMicros: 0, actor: "t", message: nil)
        #expect(try entry.spec(as: TeamSpec.self).emails == ["ml@example.com"])
        #expect(try entry.typedSpec == .team(TeamSpec(emails: ["ml@example.com"])))
        #expect(throws: DecodingFailure.self) { try entry.spec(as: SecretSpec.self) }
        var catalog = CatalogState()
        catalog.entries[team.key] = entry
        #expect(try catalog.spec(TeamSpec.self, "ml")?.emails == ["ml@example.com"])
        #expect(try catalog.spec(TeamSpec.self, "ops") == nil)
    }

    @Test func aDefinitionThatConvertsButDoesNotReadIsAnError() {
        // The loader's check (a bug guard: the schema and the typed specs must agree).
        let d = Definition(key: DefinitionKey(.job, "x"), spec: ["stages": 5], location: SourceLocation(file: "x.yaml", line: 1, column: 1))
        var errors: [Diagnostic] = []
        DefinitionLoader.checkReads(d, into: &errors)
        #expect(errors.map(\.message) == ["job 'x' converted but does not read as a job spec: job spec: field 'stages' should be a list, found the integer 5"])
    }
}

@Suite struct PredictionFieldsTests {
    @Test(arguments: [
        (ModelSpec.ModelType.linearRegression, nil, ["prediction"]),
        (.linearRegression, ["price"], ["price"]),
        (.logisticRegression, nil, ["probability", "label"]),
        (.logisticRegression, ["churn_probability", "churn_label"], ["churn_probability", "churn_label"]),
        (.kmeans, nil, ["cluster", "distance"]),
        (.kmeans, ["segment", "gap"], ["segment", "gap"]),
        (.zscoreAnomaly, nil, ["anomaly_score", "is_anomaly"]),
        (.zscoreAnomaly, ["score", "flag"], ["score", "flag"]),
        (.script, ["risk", "band"], ["risk", "band"]),
        (.script, nil, []),
    ] as [(ModelSpec.ModelType, [String]?, [String])])
    func predictionsCarryTheTypesOutputsRenamed(_ type: ModelSpec.ModelType, _ named: [String]?, _ expected: [String]) {
        let model = ModelSpec(type: type, trainingDataset: "d", predictionFieldNames: named)
        #expect(model.predictionFields == expected)
        #expect(ModelSpec.predictionFields(type: type, named: named) == expected)
    }

    @Test func aShortListRenamesTheFirstOutputsOnly() {
        // Validation refuses a count that differs; what is carried is still well defined.
        #expect(ModelSpec.predictionFields(type: .logisticRegression, named: ["p"]) == ["p", "label"])
        #expect(ModelSpec.predictionFields(type: .kmeans, named: ["a", "b", "c"]) == ["a", "b"])
    }

    @Test func theSchemaTableIsTheTypesOwn() {
        #expect(KindSchemas.modelTypes == ["linear_regression", "logistic_regression", "kmeans", "zscore_anomaly", "script"])
        for type in ModelSpec.ModelType.allCases {
            #expect(KindSchemas.modelOutputs[type.rawValue] == type.builtInOutputs)
        }
    }

    @Test func triggerConditionsMayUseThePredictionFields() {
        let model = """
        - {kind: source, name: d, type: csv, path: d.csv}
        - {kind: job, name: j, stages: [{name: s, type: etl}]}
        - {kind: model, name: m, type: kmeans, training_dataset: d, hyperparameters: {k: 2}, prediction_fields: [segment, gap]}
        - {kind: trigger, name: t, source: {type: predictions, model: m}, condition: gap > 2 and segment == 1, run: j}
        """
        #expect(diagnose(model).isEmpty)
        #expect(diagnose(model.replacingOccurrences(of: "gap > 2", with: "distance > 2")).map(\.message)
                == ["condition of trigger 't' uses 'distance', which predictions events do not have"])
    }
}

@Suite struct PartialSpecTests {
    @Test func anOptionalPartThatDoesNotReadIsLeftOut() throws {
        // The loader left `attempts` out of the retry policy (and reported it).
        let spec: Value = ["stages": [["name": "a", "type": "etl", "retry": [:] as Value], ["name": "b", "type": "etl", "after": ["a"]]]]
        #expect(throws: DecodingFailure.self) { try JobSpec(spec) }
        guard case .job(let job)? = PartialSpec.read(.job, spec) else { Issue.record("the job reads without its retry policy"); return }
        #expect(job.stages.map(\.name) == ["a", "b"] && job.stages[0].retry == nil && job.stages[1].after == ["a"])
    }

    @Test func aRequiredPartThatDoesNotReadLeavesTheSpecUnreadable() {
        #expect(PartialSpec.read(.job, ["stages": [["name": "a"]]]) == nil)
        #expect(PartialSpec.read(.trigger, ["source": ["model": "m"], "condition": "x > 1", "run": "j"]) == nil)
        #expect(PartialSpec.read(.team, "not an object") == nil)
    }

    @Test func pathsAreReadAsSteps() {
        #expect(PartialSpec.steps("stages[10].retry.attempts") == [.key("stages"), .index(10), .key("retry"), .key("attempts")])
        #expect(PartialSpec.steps("command[2]") == [.key("command"), .index(2)])
        #expect(PartialSpec.steps("") == [])
    }
}
