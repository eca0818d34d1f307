import Catalog
import Domain
import EventLog
import Foundation
import ML
import Models

/// A model version ready to score: its registry entry and its artifact, checked against its hash.
struct LoadedModel {
    var version: ModelVersion
    var artifact: ModelArtifact

    init(ref: String, _ ctx: StageContext) throws(StageError) {
        do throws(ModelCommandError) { version = try ctx.models.resolve(ref) } catch { throw StageError(error.description) }
        let data = try ArtifactStore(store: ctx.store).get(version.artifact)
        if version.type == "script" {
            // The program's own file: no fitted features or parameters of ours.
            artifact = ModelArtifact(model: version.model, type: "script", target: nil, featureColumns: [], outputs: version.outputs)
        } else {
            artifact = try ModelArtifact.decode(data, sha256: version.artifact)
        }
    }

    /// Scores the feature matrix: one array of output values per output field.
    func score(_ x: Matrix) throws(StageError) -> [[Value]] {
        try InferenceExecutor.outputs(of: artifact, x, version: version.version)
    }

    /// What predictions and outputs record of this version.
    var scorer: Scorer {
        Scorer(model: version.model, version: version.version, type: artifact.type, outputs: artifact.outputs, drift: artifact.drift)
    }
}

/// What scored an inference stage's rows, as its predictions and outputs record it: a model
/// version, or a script (`ScriptScorer`: version 0, no drift references).
struct Scorer {
    var model: String
    var version: UInt64
    var type: String
    /// The prediction fields, in order.
    var outputs: [String]
    /// Per raw input column, its training distribution (PSI drift).
    var drift: [String: DriftReference] = [:]
}

/// inference stages: resolve the model reference (`churn@production`) once, at stage start, and
/// record the version used; apply the version's fitted feature transform and model to every row;
/// record every prediction as a `PredictionRecorded` event (in batches, while scoring goes on);
/// observe PSI drift of each numeric input against the training distribution; write the scored
/// rows to the stage's destination.
public struct InferenceExecutor: StageExecutor {
    /// Predictions per append.
    public static let batchSize = 65_536

    public init() {}

    /// The model's outputs for each row of `x`, one array per output field (in the type's order:
    /// probability and label; prediction; cluster and distance; anomaly score and flag).
    public static func outputs(of a: ModelArtifact, _ x: Matrix, version: UInt64) throws(StageError) -> [[Value]] {
        // The models trap on a matrix of the wrong width (a programmer error); an artifact that
        // disagrees with its own feature columns is refused here instead.
        let width = a.linear?.coefficients.count ?? a.logistic?.coefficients.count ?? a.kmeans?.centroids.cols ?? a.zscore?.means.count
        if let width, width != x.cols {
            throw StageError("model '\(a.model)' v\(version) reads \(width) columns but its artifact names \(x.cols) feature columns; retrain it")
        }
        switch a.type {
        case "linear_regression":
            guard let m = a.linear else { break }
            return [m.predict(x).map { .double($0) }]
        case "logistic_regression":
            guard let m = a.logistic else { break }
            let p = m.probabilities(x)
            let threshold = a.threshold ?? 0.5
            let classes = (a.classes ?? ["0", "1"]).map { c -> Value in Int64(c).map { .int($0) } ?? .string(c) }
            let zero = classes.first ?? 0, one = classes.count > 1 ? classes[1] : 1
            return [p.map { .double($0) }, p.map { $0 >= threshold ? one : zero }]
        case "kmeans":
            guard let m = a.kmeans else { break }
            let r = m.assign(x)
            return [r.map { .int(Int64($0.cluster)) }, r.map { .double($0.distance) }]
        case "zscore_anomaly":
            guard let m = a.zscore else { break }
            let s = m.scores(x)
            return [s.map { .double($0) }, s.map { .bool($0 >= m.threshold) }]
        default: break
        }
        throw StageError("model '\(a.model)' v\(version) has type '\(a.type)' with no fitted parameters in its artifact; retrain it")
    }

    public func run(_ ctx: StageContext) throws(StageError) -> StageResult {
        let stage = try ctx.stageSpec()
        let inference: StageSpec.Inference?
        if case .inference(let i) = stage.variant { inference = i } else { inference = nil }
        if let inference, let spark = inference.spark { return try SparkML.score(ctx, stage, inference, settings: spark) }
        let ref = inference?.model ?? stage.seed?.model
        let script = ref == nil ? try inference?.script.map { s throws(StageError) in try ScriptScorer(script: s, interpreter: inference?.interpreter, ctx) } : nil
        guard ref != nil || script != nil else {
            throw StageError("inference stage '\(ctx.stage)' names no model; add `model: NAME@ALIAS` or `script: PATH` (for a seed stage: \"model\": \"NAME@ALIAS\" or \"script\": \"scorer.py\")")
        }
        let model = try ref.map { r throws(StageError) in try LoadedModel(ref: r, ctx) }
        let etl = ETLExecutor()
        let sources = try etl.sources(ctx, stage)
        guard !sources.isEmpty else { throw StageError("inference stage '\(ctx.stage)' names nothing to score; give it `inputs:` or `source:`") }
        let input = try etl.read(sources, ctx)
        let table = input.table
        try ctx.cancellation.check()
        let frame = table.frame()
        let outputs: [[Value]]
        let scorer: Scorer
        var scriptOutputs: [(String, Value)] = []
        if let model {
            scorer = model.scorer
            if model.version.type == "script" {
                guard let command = model.version.registered.command?.map(Value.string) else {
                    throw StageError("script model '\(model.version.model)' v\(model.version.version) recorded no command; retrain it")
                }
                outputs = try ScriptModel.score(ctx, model.version, command: command, rows: table)
            } else {
                outputs = try InferenceExecutor.builtIn(model, frame)
            }
        } else if let script {
            let hash = try script.sha256()
            let scored = try script.score(ctx, rows: table)
            outputs = scored.outputs
            scorer = Scorer(model: script.model, version: ScriptScorer.version, type: "script", outputs: scored.names)
            scriptOutputs = [("script", .string(script.path)), ("script_sha256", .string(hash))]
        } else {
            throw StageError("inference stage '\(ctx.stage)' names no model")
        }
        try ctx.cancellation.check()
        var result = try finish(ctx, stage, entityKey: inference?.entityKey ?? stage.seed?.entityKey, ref: ref ?? script?.path ?? "", scorer: scorer,
                                table: consume table, frame: frame, outputs: outputs)
        if !scriptOutputs.isEmpty, let o = result.outputs { result.outputs = .object((o.objectMembers ?? []).map { ($0.key, $0.value) } + scriptOutputs) }
        result.inputs = input.inputs
        result.columns = InferenceExecutor.flow(input.flow, scorer, features: model?.artifact.features, featureSpec: model?.version.featureSpec,
                                                used: model.map { $0.version.type == "script" ? input.flow.columns : $0.artifact.featureColumns } ?? input.flow.columns)
        return result
    }

    /// The column lineage of the scored rows: the input's columns unchanged, each output computed
    /// by the scorer from the input fields its features come from (`used`: a model's feature
    /// columns; a script's, every input column), and the constant model_version.
    static func flow(_ input: ColumnFlow, _ scorer: Scorer, features fitted: FittedFeatures?, featureSpec: String?, used: [String]) -> ColumnFlow {
        var features = input
        fitted?.flow(&features, spec: featureSpec ?? "of the model")
        var fields: [String] = []
        for c in used { for s in features.sources[c] ?? [] where !fields.contains(s.field) && input.sources[s.field] != nil { fields.append(s.field) } }
        var out = input
        for name in scorer.outputs { out.derive(name, from: fields, "model \(scorer.model) v\(scorer.version)") }
        out.constant("model_version")
        return out
    }

    /// The outputs of a built-in model: its fitted transform, then the model.
    static func builtIn(_ model: LoadedModel, _ frame: Frame) throws(StageError) -> [[Value]] {
        let transformed: Frame
        if let f = model.artifact.features {
            do throws(MLError) { transformed = try f.transform(frame) } catch {
                throw StageError("applying the feature transform of \(model.version.model) v\(model.version.version): \(error.message)")
            }
        } else {
            transformed = frame
        }
        let x: Matrix
        do throws(MLError) { x = try transformed.matrix(columns: model.artifact.featureColumns) } catch {
            throw StageError("scoring with \(model.version.model) v\(model.version.version): \(error.message)")
        }
        return try model.score(x)
    }

    /// Records the predictions, observes drift and writes the scored rows.
    func finish(_ ctx: StageContext, _ stage: StageSpec, entityKey: String?, ref: String, scorer model: Scorer, table: consuming Table, frame: Frame,
                outputs: [[Value]]) throws(StageError) -> StageResult {
        let etl = ETLExecutor()
        var entityColumn: Int?
        if let entityKey {
            guard let i = table.columns.firstIndex(of: entityKey) else {
                throw StageError("entity_key '\(entityKey)' of stage '\(ctx.stage)' is not a column of its input; it has \(table.columns.joined(separator: ", "))")
            }
            entityColumn = i
        }
        let names = model.outputs
        let inputNames = ctx.rules.inputColumns(model: model.model, outputs: names).filter { table.columns.contains($0) }
        let inputIdx = inputNames.compactMap { table.columns.firstIndex(of: $0) }
        let recorded = try InferenceExecutor.record(ctx, model: model.model, version: model.version, table, outputs, names: names, entityColumn: entityColumn, inputs: Array(zip(inputNames, inputIdx)))

        // Drift of each raw numeric input the training data had.
        var metrics: [Value] = []
        for (c, col) in frame.columns.enumerated() {
            guard let ref = model.drift[col] else { continue }
            let xs = frame.data[c].compactMap(\.numeric)
            guard !xs.isEmpty else { continue }
            metrics.append(MetricObserved(model: model.model, modelVersion: model.version, metric: "psi", value: ref.psi(xs),
                                          source: "drift", n: UInt64(xs.count), feature: col, run: ctx.run, stage: ctx.stage).payload)
        }

        // The scored rows: the input's columns, then the outputs and the model version (appended
        // in place: the input table is consumed, not copied).
        var out = consume table
        out.columns += names + ["model_version"]
        let mv = Value.int(Int64(model.version))
        for r in out.rows.indices {
            for o in outputs.indices { out.rows[r].append(outputs[o][r]) }
            out.rows[r].append(mv)
        }
        let destinations = try etl.destinations(ctx, stage)
        let written = try etl.write(out, to: destinations, ctx, stage)
        var o: [(String, Value)] = [("model", .string(model.model)), ("model_version", mv), ("model_ref", .string(ref)),
                                    ("rows_scored", .int(Int64(out.rows.count))), ("predictions_recorded", .int(Int64(recorded)))]
        if let first = outputs.first, let name = names.first, model.type != "kmeans" {
            let ds = first.compactMap(\.doubleValue)
            if !ds.isEmpty { o.append(("mean_\(name)", .double(ds.reduce(0, +) / Double(ds.count)))) }
        }
        return StageResult(datasets: written, outputs: .object(o), metrics: metrics)
    }

    /// Records one `PredictionRecorded` per row through the context's recorder, `batchSize` at a
    /// time, building the next batch while the previous one is appended. Returns how many.
    public static func record(_ ctx: StageContext, model: String, version: UInt64, _ table: Table, _ outputs: [[Value]], names: [String],
                              entityColumn: Int?, inputs: [(String, Int)]) throws(StageError) -> Int {
        guard let recorder = ctx.recorder else { return 0 }
        let stream = MLEvents.stream(predictionsOfRun: ctx.run)
        // Object members in canonical key order, built once.
        let outOrder = names.indices.sorted { Value.keyPrecedes(names[$0], names[$1]) }
        let inOrder = inputs.indices.sorted { Value.keyPrecedes(inputs[$0].0, inputs[$1].0) }
        let (run, stage, attempt) = (ctx.run, ctx.stage, UInt64(ctx.attempt))
        let failure = Locked<StageError?>(nil)
        let inFlight = DispatchSemaphore(value: 2)
        let group = DispatchGroup()
        let queue = DispatchQueue(label: "ledgerflow.predictions")
        var start = 0
        let n = table.rows.count
        while start < n {
            if failure.withLock({ $0 }) != nil { break }
            if let why = ctx.cancellation.reason { failure.setFirst(StageError.stopped(why, "the inference stage")); break }
            let end = min(n, start + InferenceExecutor.batchSize)
            var events: [NewEvent] = []
            events.reserveCapacity(end - start)
            for r in start ..< end {
                let entity: String
                if let c = entityColumn {
                    let v = table.rows[r][c]
                    entity = v.stringValue ?? Table.text(v)
                } else {
                    entity = String(r + 1)
                }
                var p = PredictionRecorded(run: run, stage: stage, attempt: attempt, model: model, modelVersion: version, entity: entity,
                                           outputs: .members(outOrder.map { Value.Member(names[$0], outputs[$0][r]) }))
                if !inputs.isEmpty { p.inputs = .members(inOrder.map { Value.Member(inputs[$0].0, table.rows[r][inputs[$0].1]) }) }
                events.append(p.event(causation: ctx.startedSeq, correlation: ctx.correlation))
            }
            inFlight.wait()
            group.enter()
            let batch = events
            queue.async {
                defer { inFlight.signal(); group.leave() }
                guard failure.withLock({ $0 }) == nil else { return }
                do { try recorder.record(batch, to: stream) } catch { failure.setFirst(StageError("recording predictions failed: \(error)")) }
            }
            start = end
        }
        group.wait()
        if let e = failure.withLock({ $0 }) { throw e }
        return n
    }
}

extension Locked {
    /// Keeps the first error of several threads.
    func setFirst(_ e: StageError) where State == StageError? { withLock { if $0 == nil { $0 = e } } }
}
