import Catalog
import Domain
import EventLog
import Foundation
import ML
import Models

/// train and inference stages with `engine: spark`: the shipped application
/// (`ledgerflow_spark.py train|score`) fits or applies the model from the same artifact the
/// in-process executors write and read (fitted feature parameters, coefficients), so a version
/// trained either way scores either way with the same predictions. The engine keeps what it
/// does in process: resolving the model reference, registering the version, observing metrics
/// and drift, recording every prediction (here from the application's files, while it runs).
enum SparkML {
    /// The application's `task-result.json`.
    static func taskResult(_ submission: SparkSubmission) throws(StageError) -> Value {
        let path = submission.file("task-result.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StageError("the Spark application \(submission.key) ended without writing \(path); see its stderr (ledgerflow logs)")
        }
        do { return try Value(jsonBytes: [UInt8](data)) } catch {
            throw StageError("\(path) is not valid JSON: \(error)")
        }
    }

    static func submission(_ ctx: StageContext, _ stage: StageSpec, _ settings: StageSpec.SparkSettings, kind: String, task: Value,
                           inputs: [Endpoint]? = nil) throws(StageError) -> SparkSubmission {
        guard let module = SparkModule.path else {
            throw StageError("ledgerflow_spark.py is missing next to the ledgerflow binary (the Executors resources); reinstall ledgerflow, or set LEDGERFLOW_SPARK_MODULE to its path")
        }
        var s = SparkSubmission(ctx: ctx, stage: stage, settings: settings, application: module, mainClass: nil, args: [kind])
        s.task = task
        s.inputs = inputs
        return s
    }

    // MARK: inference

    /// Scores the stage's input on Spark with the version `model` resolves to.
    static func score(_ ctx: StageContext, _ stage: StageSpec, _ inference: StageSpec.Inference, settings: StageSpec.SparkSettings) throws(StageError) -> StageResult {
        guard let ref = inference.model else {
            throw StageError("inference stage '\(ctx.stage)' runs with engine spark but names no model; add `model: NAME@ALIAS`")
        }
        let model = try LoadedModel(ref: ref, ctx)
        guard model.version.type != "script" else {
            throw StageError("model '\(model.version.model)' v\(model.version.version) is a script model, which scores through its own command; remove `engine: spark`")
        }
        let etl = ETLExecutor()
        let sources = try etl.sources(ctx, stage)
        guard let input = sources.first, sources.count == 1 else {
            throw StageError("inference stage '\(ctx.stage)' with engine spark scores one input; give it one `inputs:` item or a `source:` (it has \(sources.count))")
        }
        let destination = try etl.destinations(ctx, stage).first
        let scorer = model.scorer
        let task = Value.object([
            ("kind", "score"), ("artifact", .string(ArtifactStore(store: ctx.store).path(model.version.artifact))),
            ("model", .string(scorer.model)), ("model_version", .int(Int64(scorer.version))),
            ("entity_key", inference.entityKey.map(Value.string) ?? .null), ("input", .string(input.name)),
            ("output", destination.map { .string($0.name) } ?? .null),
            ("prediction_inputs", .array(ctx.rules.inputColumns(model: scorer.model, outputs: scorer.outputs).map(Value.string))),
        ])
        var submission = try submission(ctx, stage, settings, kind: "score", task: task)
        submission.predictionModel = (scorer.model, scorer.version)
        let outcome = try submission.run()
        let result = try taskResult(submission)
        let rows = result["rows"]?.intValue ?? 0
        var metrics: [Value] = []
        for m in result["drift"]?.objectMembers ?? [] {
            guard let ref = scorer.drift[m.key], let n = m.value["n"]?.intValue, n > 0,
                  let counts = m.value["counts"]?.arrayValue?.compactMap(\.intValue), counts.count == ref.expected.count else { continue }
            let actual = counts.map { Double($0) / Double(n) }
            metrics.append(MetricObserved(model: scorer.model, modelVersion: scorer.version, metric: "psi", value: DriftReference.psi(expected: ref.expected, actual: actual),
                                          source: "drift", n: UInt64(n), feature: m.key, run: ctx.run, stage: ctx.stage).payload)
        }
        var o: [(String, Value)] = [("model", .string(scorer.model)), ("model_version", .int(Int64(scorer.version))), ("model_ref", .string(ref)),
                                    ("rows_scored", .int(rows)), ("predictions_recorded", .int(Int64(outcome.predictions)))]
        if let name = scorer.outputs.first, let mean = result["means"]?[name]?.doubleValue { o.append(("mean_\(name)", .double(mean))) }
        o.append(("engine", "spark"))
        o.append(("application", outcome.stageOutputs(key: submission.key, master: settings.masterURL)["application"] ?? .null))
        var r = StageResult(datasets: outcome.datasets, outputs: .object(o), metrics: metrics)
        r.inputs = [ReadDataset(dataset: input.name, version: input.pinned?.version ?? ctx.versionRead(input.name, at: input.location), location: input.location,
                                format: input.format.rawValue, rows: rows, schema: [SchemaColumn](), contentHash: nil)]
        return r
    }

    // MARK: training

    /// Trains the stage's model on Spark and hands the engine the version to register.
    static func train(_ ctx: StageContext, _ stage: StageSpec, _ def: ModelDefinition, settings: StageSpec.SparkSettings) throws(StageError) -> StageResult {
        guard def.spec.type != .script else {
            throw StageError("model '\(def.name)' is a script model, which trains through its own command; remove `engine: spark`")
        }
        let etl = ETLExecutor()
        var sources = try etl.sources(ctx, stage)
        var datasetName = stage.inputs.first.map(DatasetReference.name(of:)) ?? ""
        if sources.isEmpty {
            sources = [try etl.endpoint(reading: def.spec.trainingDataset, ctx)]
            datasetName = DatasetReference.name(of: def.spec.trainingDataset)
        }
        guard let input = sources.first, sources.count == 1 else {
            throw StageError("train stage '\(ctx.stage)' with engine spark trains on one input; give it one `inputs:` item (it has \(sources.count))")
        }
        var ctx = ctx
        if let pinned = input.pinned { ctx.datasetVersions[datasetName] = pinned.version }
        let features: Value
        if let name = def.featureSpecName, let entry = ctx.catalog.entries[DefinitionKey(.features, name)] { features = entry.spec } else { features = .null }
        let hp = def.hyperparameters
        var hyper: [(String, Value)] = hp.members.map { ($0.key, $0.value) }
        func setDefault(_ k: String, _ v: Value) { if !hyper.contains(where: { $0.0 == k }) { hyper.append((k, v)) } }
        switch def.spec.type {
        case .linearRegression: setDefault("l2", .double(0))
        case .logisticRegression:
            setDefault("C", .double(1))
            setDefault("max_iter", .int(100))
            setDefault("threshold", .double(0.5))
        case .kmeans:
            setDefault("n_init", .int(10))
            setDefault("max_iter", .int(300))
            setDefault("seed", .int(0))
        case .zscoreAnomaly: setDefault("threshold", .double(3))
        case .script: break
        }
        var submission = try submission(ctx, stage, settings, kind: "train", task: .null, inputs: [input])
        let artifactOut = submission.file("artifact.json")
        submission.task = .object([
            ("kind", "train"), ("model", .string(def.name)), ("type", .string(def.type)), ("target", def.target.map(Value.string) ?? .null),
            ("hyperparameters", .object(hyper)), ("holdout", .double(def.spec.holdout ?? 0.2)), ("split", .string((def.spec.split ?? .random).rawValue)),
            ("seed", .int(Int64(hp.seed ?? 0))), ("features", features), ("prediction_fields", .array(def.outputs.map(Value.string))),
            ("feature_columns", def.spec.featureColumns.map { .array($0.map(Value.string)) } ?? .null),
            ("input", .string(input.name)), ("artifact_out", .string(artifactOut)),
        ])
        let outcome = try submission.run()
        let result = try taskResult(submission)
        guard let data = FileManager.default.contents(atPath: artifactOut) else {
            throw StageError("the Spark application \(submission.key) wrote no artifact at \(artifactOut); see its stderr (ledgerflow logs)")
        }
        let artifact = try ModelArtifact.decode(data, sha256: "written by \(submission.key)")
        guard artifact.model == def.name, artifact.type == def.type else {
            throw StageError("the artifact \(submission.key) wrote is for \(artifact.type) model '\(artifact.model)', not \(def.type) model '\(def.name)'")
        }
        let stored = try ArtifactStore(store: ctx.store).put(data)
        let metrics = (result["metrics"]?.objectMembers ?? []).map { ($0.key, $0.value) }
        let trained = (result["training_rows"]?.intValue).map(Int.init) ?? 0, held = (result["holdout_rows"]?.intValue).map(Int.init) ?? 0
        var r = TrainExecutor().result(ctx, def, stored: stored, datasetName: datasetName,
                                        metrics: [("training_rows", .int(Int64(trained))), ("holdout_rows", .int(Int64(held)))] + metrics.filter { $0.0 != "training_rows" && $0.0 != "holdout_rows" },
                                        hyperparameters: (result["hyperparameters"]?.objectMembers ?? []).map { ($0.key, $0.value) }, columns: artifact.featureColumns,
                                        outputs: artifact.outputs, n: held > 0 ? held : trained)
        if var o = r.outputs {
            o = o.setting("engine", to: "spark").setting("application", to: outcome.stageOutputs(key: submission.key, master: settings.masterURL)["application"] ?? .null)
            r.outputs = o
        }
        r.inputs = [ReadDataset(dataset: datasetName, version: ctx.datasetVersions[datasetName], location: input.location,
                                format: input.format.rawValue, rows: Int64(trained + held), schema: [SchemaColumn](), contentHash: nil)]
        return r
    }
}
