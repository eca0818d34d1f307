import Catalog
import Domain
import EventLog
import Foundation
import ML
import Models

/// The model a stage names, with its definition and feature spec as the run's catalog holds them.
struct ModelDefinition {
    var name: String
    var spec: ModelSpec
    var version: UInt64
    var featureSpecName: String?
    var featureSpec: FeatureSpec?
    var featureSpecVersion: UInt64?

    init(_ name: String, _ ctx: StageContext) throws(StageError) {
        guard let entry = ctx.catalog.entries[DefinitionKey(.model, name)] else {
            throw StageError("model '\(name)' of stage '\(ctx.stage)' is not defined in the run's catalog (seq \(ctx.catalog.lastChangeSeq)); define it (kind: model)")
        }
        self.name = name
        spec = try ctx.read(entry, as: ModelSpec.self)
        version = entry.version
        if let f = spec.features {
            guard let fe = ctx.catalog.entries[DefinitionKey(.features, f)] else {
                throw StageError("feature spec '\(f)' of model '\(name)' is not defined in the run's catalog; define it (kind: features)")
            }
            featureSpecName = f
            featureSpecVersion = fe.version
            featureSpec = try FeatureSpecs.spec(try ctx.read(fe, as: FeaturesSpec.self), name: f)
        }
    }

    /// The model type as stored (`linear_regression`, …, `script`).
    var type: String { spec.type.rawValue }
    var target: String? { spec.target }
    /// The hyperparameters given (none: every default).
    var hyperparameters: ModelSpec.Hyperparameters { spec.hyperparameters ?? ModelSpec.Hyperparameters() }

    /// What the model's predictions carry (see `ModelSpec.predictionFields`).
    var outputs: [String] { spec.predictionFields }
}

/// train stages: fit the stage's model on its training dataset — the feature spec fitted on the
/// training rows only, the model on the transformed training rows, metrics on the holdout rows —
/// store the artifact content-addressed under the store, and hand the engine the version to
/// register (`ModelVersionRegistered`, numbered by the engine).
public struct TrainExecutor: StageExecutor {
    public init() {}

    public func run(_ context: StageContext) throws(StageError) -> StageResult {
        var ctx = context
        let stage = try ctx.stageSpec()
        guard case .train(let train) = stage.variant else { throw StageError("train stage '\(ctx.stage)' names no model; add `model: NAME`") }
        let name = train.model
        let def = try ModelDefinition(name, ctx)
        if let spark = train.spark { return try SparkML.train(ctx, stage, def, settings: spark) }
        // The training data: the stage's inputs, else the model's training dataset.
        let etl = ETLExecutor()
        var sources = try etl.sources(ctx, stage)
        var datasetName = stage.inputs.first.map(DatasetReference.name(of:)) ?? ""
        if sources.isEmpty {
            let ds = def.spec.trainingDataset
            sources = [try etl.endpoint(reading: ds, ctx)]
            datasetName = DatasetReference.name(of: ds)
        }
        let input = try etl.read(sources, ctx)
        // A version read by `NAME@N` is the training dataset's version the model records.
        if let pinned = sources.first?.pinned { ctx.datasetVersions[datasetName] = pinned.version }
        let table = input.table
        guard !table.rows.isEmpty else { throw StageError("training dataset '\(datasetName)' of model '\(name)' has no rows; nothing to train on") }
        try ctx.cancellation.check()

        var trained = def.spec.type == .script ? try trainScript(ctx, def, table, datasetName: datasetName) : try fit(ctx, def, table, datasetName: datasetName)
        trained.inputs = input.inputs
        return trained
    }

    /// Fits a built-in model on the training rows.
    func fit(_ ctx: StageContext, _ def: ModelDefinition, _ table: Table, datasetName: String) throws(StageError) -> StageResult {
        let name = def.name

        let fraction = def.spec.holdout ?? 0.2
        let method = (def.spec.split ?? .random).rawValue
        let hp = def.hyperparameters
        let (trainIdx, holdIdx) = Split.indices(count: table.rows.count, fraction: fraction, method: method, seed: UInt64(hp.seed ?? 0))
        let all = table.frame()
        let trainFrame = all.rows(trainIdx)
        let holdFrame = all.rows(holdIdx)

        let fitted: FittedFeatures?
        do throws(MLError) { fitted = try def.featureSpec?.fit(trainFrame) } catch { throw StageError("feature spec '\(def.featureSpecName ?? "")' of model '\(name)': \(error.message)") }
        let trainX = try transform(trainFrame, fitted, def)
        let holdX = try transform(holdFrame, fitted, def)
        let columns = try featureColumns(trainX, def)
        let xTrain = try matrix(trainX, columns, def)
        let xHold = holdIdx.isEmpty ? Matrix(rows: 0, cols: columns.count) : try matrix(holdX, columns, def)
        try ctx.cancellation.check()

        var artifact = ModelArtifact(model: name, type: def.type, target: def.target, featureColumns: columns, outputs: def.outputs,
                                     features: fitted, drift: [:])
        var metrics: [(String, Value)] = [("training_rows", .int(Int64(trainIdx.count))), ("holdout_rows", .int(Int64(holdIdx.count)))]
        var hyper: [(String, Value)] = []
        do {
            switch def.spec.type {
            case .linearRegression:
                let yTrain = try numericTarget(trainX, def), yHold = holdIdx.isEmpty ? [] : try numericTarget(holdX, def)
                let l2 = hp.l2 ?? 0
                hyper = [("l2", .double(l2))]
                let m = try LinearRegression.fit(xTrain, yTrain, l2: l2)
                artifact.linear = m
                if !yHold.isEmpty {
                    let p = m.predict(xHold)
                    metrics += [("r2", .double(Metrics.r2(yHold, p))), ("rmse", .double(Metrics.rmse(yHold, p)))]
                }
            case .logisticRegression:
                let (yTrain, classes) = try binaryTarget(trainX, def, classes: nil)
                let yHold = holdIdx.isEmpty ? [] : try binaryTarget(holdX, def, classes: classes).y
                let c = hp.c ?? 1, maxIter = Int(hp.maxIter ?? 100), threshold = hp.threshold ?? 0.5
                hyper = [("C", .double(c)), ("max_iter", .int(Int64(maxIter))), ("threshold", .double(threshold))]
                let m = try LogisticRegression.fit(xTrain, yTrain, C: c, maxIter: maxIter)
                artifact.logistic = m
                artifact.threshold = threshold
                artifact.classes = classes
                metrics.append(("converged", .bool(m.converged)))
                if !yHold.isEmpty {
                    let p = m.probabilities(xHold)
                    let labels = p.map { $0 >= threshold ? 1.0 : 0.0 }
                    metrics += [("accuracy", .double(Metrics.accuracy(yHold, labels))), ("log_loss", .double(Metrics.logLoss(yHold, p)))]
                    if let auc = Metrics.rocAUC(yHold, p) { metrics.append(("roc_auc", .double(auc))) }
                }
            case .kmeans:
                guard let k = hp.k else { throw MLError("model '\(name)' (kmeans) needs hyperparameters.k") }
                let nInit = Int(hp.nInit ?? 10), maxIter = Int(hp.maxIter ?? 300), seed = UInt64(hp.seed ?? 0)
                hyper = [("k", .int(k)), ("n_init", .int(Int64(nInit))), ("max_iter", .int(Int64(maxIter))), ("seed", .int(Int64(seed)))]
                let m = try KMeans.fit(xTrain, k: Int(k), nInit: nInit, maxIter: maxIter, seed: seed)
                artifact.kmeans = m
                metrics.append(("inertia", .double(m.inertia)))
                if !holdIdx.isEmpty { metrics.append(("holdout_inertia", .double(Metrics.inertia(xHold, m)))) }
            case .zscoreAnomaly:
                let threshold = hp.threshold ?? 3
                hyper = [("threshold", .double(threshold))]
                let m = try ZScoreAnomaly.fit(xTrain, threshold: threshold)
                artifact.zscore = m
                if !holdIdx.isEmpty {
                    let s = m.scores(xHold)
                    metrics.append(("anomaly_rate", .double(Double(s.filter { $0 >= threshold }.count) / Double(s.count))))
                }
            case .script:
                throw MLError("model '\(name)' has type '\(def.type)', which train stages do not fit")
            }
        } catch let e as StageError {
            throw e
        } catch let e as MLError {
            throw StageError("training model '\(name)': \(e.message)")
        } catch {
            throw StageError("training model '\(name)': \(error)")
        }
        // Training distributions of the raw numeric inputs, for PSI drift at inference.
        for (c, col) in trainFrame.columns.enumerated() where col != def.target && col != "id" && !col.hasSuffix("_id") {
            let xs = trainFrame.data[c].compactMap(\.numeric)
            guard xs.count == trainFrame.rowCount, !xs.isEmpty, let ref = try? DriftReference.fit(xs) else { continue }
            artifact.drift[col] = ref
        }
        let stored = try ArtifactStore(store: ctx.store).put(try artifact.encoded())
        return result(ctx, def, stored: stored, datasetName: datasetName, metrics: metrics, hyperparameters: hyper, columns: columns,
                      outputs: def.outputs, n: holdIdx.isEmpty ? trainIdx.count : holdIdx.count)
    }

    /// A script model's training: its command writes the artifact (see `ScriptModel`).
    func trainScript(_ ctx: StageContext, _ def: ModelDefinition, _ table: Table, datasetName: String) throws(StageError) -> StageResult {
        let outputs = try ScriptModel.outputs(def)
        let (bytes, reported) = try ScriptModel.train(ctx, def, rows: table)
        let stored = try ArtifactStore(store: ctx.store).put(bytes)
        let metrics: [(String, Value)] = [("training_rows", .int(Int64(table.rows.count)))] + reported
        return result(ctx, def, stored: stored, datasetName: datasetName, metrics: metrics, hyperparameters: def.hyperparameters.members.map { ($0.key, $0.value) },
                      columns: table.columns.filter { $0 != def.target }, outputs: outputs, n: table.rows.count)
    }

    /// The stage's result: the version to register and its metrics to observe.
    func result(_ ctx: StageContext, _ def: ModelDefinition, stored: (sha256: String, bytes: Int64), datasetName: String, metrics: [(String, Value)],
                hyperparameters hyper: [(String, Value)], columns: [String], outputs: [String], n: Int) -> StageResult {
        let name = def.name
        var payload: [(String, Value)] = [
            ("type", .string(def.type)), ("run", .string(ctx.run)), ("stage", .string(ctx.stage)), ("attempt", .int(Int64(ctx.attempt))),
            ("metrics", .object(metrics)), ("artifact", .object([("sha256", .string(stored.sha256)), ("bytes", .int(stored.bytes))])),
            ("training_dataset", .object([("name", .string(datasetName)), ("version", ctx.datasetVersions[datasetName].map { .int(Int64($0)) } ?? .null)])),
            ("feature_spec", def.featureSpecName.map { .object([("name", .string($0)), ("version", .int(Int64(def.featureSpecVersion ?? 0)))]) } ?? .null),
            ("model_definition_version", .int(Int64(def.version))), ("catalog_seq", .int(Int64(ctx.catalog.lastChangeSeq))),
            ("hyperparameters", .object(hyper)), ("columns", .array(columns.map { .string($0) })), ("outputs", .array(outputs.map { .string($0) })),
        ]
        if let t = def.target { payload.append(("target", .string(t))) }
        if def.spec.type == .script, let command = def.spec.command { payload.append(("command", .array(command.map { .string($0) }))) }
        let aliases = def.spec.aliases
        let observed: [Value] = metrics.compactMap { k, v in
            guard let d = v.doubleValue, !["training_rows", "holdout_rows"].contains(k), case .double = v else { return nil }
            return .object([("model", .string(name)), ("model_version", "registered"), ("metric", .string(k)), ("value", .double(d)),
                            ("source", "holdout"), ("n", .int(Int64(n))), ("run", .string(ctx.run)), ("stage", .string(ctx.stage))])
        }
        return StageResult(outputs: .object([("model", .string(name)), ("metrics", .object(metrics)), ("artifact", .string(stored.sha256))]),
                           registrations: [ModelDecider.Registration(model: name, payload: payload, wantedAliases: aliases)],
                           metrics: observed)
    }

    func transform(_ f: Frame, _ fitted: FittedFeatures?, _ def: ModelDefinition) throws(StageError) -> Frame {
        guard let fitted else { return f }
        do throws(MLError) { return try fitted.transform(f) } catch {
            throw StageError("feature spec '\(def.featureSpecName ?? "")' of model '\(def.name)': \(error.message)")
        }
    }

    /// `feature_columns`, else every column of the transformed training rows except the target
    /// and identifiers (`id`, `*_id`) whose cells are all numbers or booleans.
    func featureColumns(_ f: Frame, _ def: ModelDefinition) throws(StageError) -> [String] {
        if let named = def.spec.featureColumns, !named.isEmpty {
            for c in named where f.column(c) == nil {
                throw StageError("feature column '\(c)' of model '\(def.name)' is not in the training data after the feature spec; it has \(f.columns.joined(separator: ", "))")
            }
            return named
        }
        let cols = f.columns.enumerated().filter { i, c in
            c != def.target && c != "id" && !c.hasSuffix("_id") && f.data[i].allSatisfy(\.isModelInput)
        }.map(\.element)
        guard !cols.isEmpty else {
            throw StageError("model '\(def.name)' has no numeric feature columns in its training data (columns: \(f.columns.joined(separator: ", "))); add a feature spec (one_hot for text) or list feature_columns")
        }
        return cols
    }

    func matrix(_ f: Frame, _ columns: [String], _ def: ModelDefinition) throws(StageError) -> Matrix {
        do throws(MLError) { return try f.matrix(columns: columns) } catch { throw StageError("model '\(def.name)': \(error.message)") }
    }

    func targetColumn(_ f: Frame, _ def: ModelDefinition) throws(StageError) -> [Cell] {
        guard let t = def.target else { throw StageError("model '\(def.name)' (\(def.type)) needs a target; add `target: COLUMN`") }
        guard let col = f.column(t) else {
            throw StageError("target '\(t)' of model '\(def.name)' is not a column of the training data; it has \(f.columns.joined(separator: ", "))")
        }
        return col
    }

    func numericTarget(_ f: Frame, _ def: ModelDefinition) throws(StageError) -> [Double] {
        var out: [Double] = []
        for (r, c) in try targetColumn(f, def).enumerated() {
            guard let d = c.numeric else { throw StageError("target '\(def.target ?? "")' of model '\(def.name)' is not a number in training row \(r + 1) (\(c)); clean or filter it") }
            out.append(d)
        }
        return out
    }

    /// The target as 0/1 and the two classes (sorted; the second is the positive class 1).
    func binaryTarget(_ f: Frame, _ def: ModelDefinition, classes: [String]?) throws(StageError) -> (y: [Double], classes: [String]) {
        let col = try targetColumn(f, def)
        let keys = col.map(\.classKey)
        let cls = classes ?? Array(Set(keys.compactMap { $0 })).sorted { a, b in
            if let x = Double(a), let y = Double(b) { return x < y }
            return a < b
        }
        guard cls.count == 2 else {
            throw StageError("target '\(def.target ?? "")' of model '\(def.name)' must have exactly two classes for logistic regression; the training rows have \(cls.count): \(cls.prefix(5).joined(separator: ", "))")
        }
        var y: [Double] = []
        for (r, k) in keys.enumerated() {
            guard let k, let i = cls.firstIndex(of: k) else {
                throw StageError("target '\(def.target ?? "")' of model '\(def.name)' is \(col[r]) in row \(r + 1), not one of \(cls.joined(separator: ", "))")
            }
            y.append(Double(i))
        }
        return (y, cls)
    }
}

extension Cell {
    /// A number or a boolean: what a model reads.
    var isModelInput: Bool {
        switch self {
        case .number(let d): return !d.isNaN
        case .bool: return true
        default: return false
        }
    }

    /// The cell as a number (booleans 1/0, numeric text), or nil.
    var numeric: Double? {
        switch self {
        case .number(let d): return d.isNaN ? nil : d
        case .bool(let b): return b ? 1 : 0
        case .text(let s): return Double(s)
        case .missing: return nil
        }
    }

    /// The cell as a class label (`1`, `0`, `true`, `yes`), or nil when missing.
    var classKey: String? {
        switch self {
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .bool(let b): return b ? "1" : "0"
        case .text(let s): return s
        case .missing: return nil
        }
    }
}

extension Frame {
    /// The rows at `indices`, in order.
    func rows(_ indices: [Int]) -> Frame {
        Frame(columns: columns, data: data.map { col in indices.map { col[$0] } })
    }
}
