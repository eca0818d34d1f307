import Domain
import Foundation
import TestSupport
import Testing
@testable import Catalog

@Suite struct LoaderTests {
    @Test func theExamplesAndTheSeedJobAreValid() throws {
        let (files, fileErrors) = DefinitionLoader.files([fixturePath("fixtures/seed/job_101.json"), fixturePath("fixtures/examples/churn"),
                                                           fixturePath("fixtures/examples/notifications.yaml")])
        #expect(fileErrors.isEmpty)
        let (defs, errors) = DefinitionLoader.load(files: files)
        let all = errors + Validator.validate(defs)
        #expect(all.isEmpty, "\(all)")
        #expect(Set(defs.map(\.kind)) == Set(DefinitionKind.allCases), "the examples use every kind")
    }

    @Test func seedJobIsMappedOntoAJob() throws {
        let text = try String(contentsOfFile: fixturePath("fixtures/seed/job_101.json"), encoding: .utf8)
        let defs = try definitions(text, file: "job_101.json")
        let job = try #require(defs.first)
        #expect(defs.count == 1 && job.key == DefinitionKey(.job, "101"))
        let spec = try job.spec(as: JobSpec.self)
        #expect(spec.jobID == 101)
        #expect(spec.stages.map(\.name) == ["etl_1", "inference_2", "storage_3"])
        #expect(spec.stages.map(\.type) == ["etl", "inference", "storage"])
        #expect(spec.stages.map(\.after) == [[], ["etl_1"], ["inference_2"]])
        // The stored spec: the original stage is kept as written, and a first stage has no `after`.
        #expect(job.spec == ["job_id": 101, "stages": [
            ["name": "etl_1", "type": "etl",
             "seed": ["id": 1, "type": "ETL", "source": "SQL Server", "destination": "ADLS Gen2", "object": "customer_transactions"]],
            ["name": "inference_2", "type": "inference", "after": ["etl_1"],
             "seed": ["id": 2, "type": "Inference", "source": "ADLS Gen2", "destination": "ADLS Gen2", "object": "churn_scores"]],
            ["name": "storage_3", "type": "storage", "after": ["inference_2"],
             "seed": ["id": 3, "type": "Storage", "source": "ADLS Gen2", "destination": "Azure SQL", "object": "churn_predictions"]],
        ]])
    }

    @Test func aSeedInferenceRowsModelAndEntityKeyAreTheStages() throws {
        let text = try String(contentsOfFile: fixturePath("fixtures/demo/churn/job_101.json"), encoding: .utf8)
        let (defs, errors) = DefinitionLoader.load(text: text, file: "job_101.json")
        #expect(errors.isEmpty)
        let stages = try #require(defs.first).spec(as: JobSpec.self).stages
        #expect(stages[1].variant == .inference(StageSpec.Inference(model: "churn@production", entityKey: "customer_id")))
        #expect(stages[1].seed?.model == "churn@production", "the row stays as written")
        #expect(stages[0].model == nil && stages[2].model == nil)
        // Validated like a native stage's: the model must exist and want the alias.
        #expect(Validator.validate(defs).contains { $0.message.contains("refers to model 'churn', which is not defined") })
    }

    /// Seed 000 as written (`fixtures/seed/job_101_seed000.json`): the Inference row's `script`
    /// is the stage's (absolute, from the seed file's folder), the Storage row's `table` and
    /// `Delta Table` destination are read, and applying it again changes nothing.
    @Test func seed000AppliesAsWritten() throws {
        let file = fixturePath("fixtures/seed/job_101_seed000.json")
        let (defs, errors) = DefinitionLoader.load(files: [file])
        let all = errors + Validator.validate(defs)
        #expect(all.isEmpty, "\(all)")
        let job = try #require(defs.first)
        #expect(defs.count == 1 && job.key == DefinitionKey(.job, "101"))
        let stages = try job.spec(as: JobSpec.self).stages
        #expect(stages.map(\.name) == ["etl_1", "inference_2", "storage_3"])
        let script = fixturePath("fixtures/seed/predict_churn.py")
        #expect(stages[1].variant == .inference(StageSpec.Inference(model: nil, script: script)))
        #expect(stages[1].seed?.script == "predict_churn.py", "the row stays as written")
        #expect(stages[2].seed?.destination == "Delta Table" && stages[2].seed?.table == "churn_predictions" && stages[2].seed?.object == nil)
        #expect(stages[2].seed?.written == "churn_predictions" && stages[0].seed?.written == "customer_transactions")
        // Read from another working folder through a relative path: the same spec.
        let relative = DefinitionLoader.load(text: try String(contentsOfFile: file, encoding: .utf8),
                                             file: String(file.dropFirst(FileManager.default.currentDirectoryPath.count + 1)))
        if file.hasPrefix(FileManager.default.currentDirectoryPath + "/") { #expect(relative.definitions.first?.spec == job.spec) }

        var state = CatalogState()
        let first = ApplyPlan.decide(catalog: state, definitions: defs, prune: false, message: nil)
        #expect(first.appends.count == 1)
        fold(first, into: &state, firstSeq: 1)
        let again = ApplyPlan.decide(catalog: state, definitions: DefinitionLoader.load(files: [file]).definitions, prune: false, message: nil)
        #expect(again.changes.isEmpty && again.appends.isEmpty && again.count(.unchanged) == 1)
    }

    @Test func aSeedScriptThatIsNotThereIsOneErrorAtTheRow() throws {
        let folder = TemporaryDirectory()
        let file = folder.sub("job.json")
        let text = #"{"job_id": 5, "stages": [{"id": 1, "type": "Inference", "source": "ADLS Gen2", "object": "x", "script": "missing.py"}]}"#
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let (defs, errors) = DefinitionLoader.load(files: [file])
        #expect(defs.isEmpty)
        #expect(errors.map(\.description) == ["\(file):1:105: script 'missing.py' of seed job 5 is not a file (looked for \(folder.sub("missing.py"))); put it next to the job file, or write its absolute path"])
    }

    @Test func aNativeInferenceStageNamesAModelOrAScript() throws {
        func job(_ stage: String) -> String {
            "kind: source\nname: rows\ntype: jsonl\npath: data/rows\n---\nkind: job\nname: j\nstages:\n  - {name: score, type: inference, inputs: [rows]\(stage)}\n"
        }
        #expect(try definitions(job(", script: scorers/churn.py, interpreter: python3.11")).count == 2)
        #expect(diagnose(job("")).map(\.message) == ["inference stage 'score' of job 'j' names neither a model nor a script"])
        let both = "kind: model\nname: m\ntype: script\ncommand: [x]\ntraining_dataset: rows\nprediction_fields: [p]\n---\n" + job(", model: m, script: s.py")
        #expect(diagnose(both).map(\.message) == ["inference stage 'score' of job 'j' names both a model and a script"])
    }

    @Test func seedStagesAreOrderedByID() throws {
        let defs = try definitions(#"{"job_id": 7, "stages": [{"id": 3, "type": "Storage"}, {"id": 1, "type": "etl"}, {"id": 2, "type": "Inference"}]}"#, file: "x.json")
        #expect(try defs[0].spec(as: JobSpec.self).stages.map(\.name) == ["etl_1", "inference_2", "storage_3"])
    }

    @Test func yamlHoldsOneOrManyDefinitions() throws {
        let many = try definitions("""
        - {kind: team, name: a, emails: [a@example.com]}
        - {kind: team, name: b, emails: [b@example.com]}
        ---
        kind: team
        name: c
        emails: [c@example.com]
        """)
        #expect(many.map(\.name) == ["a", "b", "c"])
    }

    @Test func textFieldsKeepPlainScalarsAsWritten() throws {
        // The "Norway problem" and numeric names: text fields take the scalar as written.
        let defs = try definitions("""
        kind: column_mapping
        name: 2024
        product: NO
        columns: {code: 1.10}
        """)
        #expect(defs[0].name == "2024")
        let mapping = try defs[0].spec(as: ColumnMappingSpec.self)
        #expect(mapping.product == "NO")
        #expect(mapping.columns == [ColumnRename(from: "code", to: "1.10")])
    }

    @Test func locationsPointAtTheValue() throws {
        let defs = try definitions("""
        kind: job
        name: j
        stages:
          - name: a
            type: etl
            retry: {attempts: 2}
        """)
        let loc = defs[0].location(of: "stages[0].retry.attempts")
        #expect(loc.line == 6 && loc.column == 23)
        // A path without its own location falls back to the nearest ancestor's.
        #expect(defs[0].location(of: "stages[0].nothing").line == 4)
    }

    @Test func jsonLocationsAreLineAndColumn() {
        let d = diagnose("{\n  \"kind\": \"team\",\n  \"name\": \"ml\",\n  \"emails\": [\"nope\"]\n}\n", file: "t.json")
        #expect(d.map(\.description) == ["t.json:4:14: emails[0] of team 'ml' is 'nope', which is not an e-mail address; write it as name@example.com"])
    }

    @Test func specIsCanonicalWhateverTheKeyOrderOrFormat() throws {
        let yaml = try definitions("kind: team\nname: ml\nnotify_on: [failure]\nemails: [ml@example.com]\n")
        let json = try definitions(#"{"emails": ["ml@example.com"], "name": "ml", "kind": "team", "notify_on": ["failure"]}"#, file: "t.json")
        #expect(yaml[0].spec == json[0].spec)
        #expect(yaml[0].specHash == json[0].specHash && yaml[0].specHash.count == 64)
    }

    @Test func missingPathsAndEmptyFoldersAreErrors() {
        let dir = TemporaryDirectory("empty")
        let (files, errors) = DefinitionLoader.files(["/nonexistent/defs.yaml", dir.path])
        #expect(files.isEmpty && errors.count == 2)
        #expect(errors[0].description == "/nonexistent/defs.yaml: no such file or folder; check the path")
    }

    @Test func referencesResolveAgainstTheCatalog() {
        let schedule = "kind: schedule\nname: s\ncron: '@daily'\njob: nightly\n"
        let catalog: [DefinitionKey: Value] = [DefinitionKey(.job, "nightly"): ["stages": [["name": "a", "type": "etl"]]]]
        #expect(diagnose(schedule, catalog: catalog).isEmpty)
        // With --prune the catalog's job is deleted, so the reference breaks, and says why.
        let pruned = diagnose(schedule, catalog: catalog, prune: true)
        #expect(pruned.map(\.message) == ["schedule 's' refers to job 'nightly', which --prune would delete"])
    }
}

@Suite struct SuggestTests {
    @Test(arguments: [("stgaes", "stages"), ("etll", "etl"), ("Infrence", "Inference"), ("schedul", "schedule"), ("n_inits", "n_init")])
    func typosFindTheirWord(_ typo: String, _ word: String) {
        #expect(Suggest.closest(to: typo, in: ["stages", "etl", "Inference", "schedule", "n_init", "name"]) == word)
    }

    @Test func unrelatedWordsGetNoSuggestion() {
        #expect(Suggest.closest(to: "zebra", in: ["stages", "owner", "parameters"]) == nil)
    }
}
