import Catalog
import Domain
import EventLog
import Foundation
import ML
import Models

/// evaluate stages: labels arrive for earlier predictions. Each labelled row is matched with the
/// newest prediction the model recorded for its entity; per model version that scored them, the
/// metrics of its type are computed — accuracy, log loss and ROC AUC for logistic regression (the
/// label against the predicted label and probability), R² and RMSE for linear regression — and
/// observed (`MetricObserved`, source labels), where monitors see them.
public struct EvaluateExecutor: StageExecutor {
    public init() {}

    public func run(_ ctx: StageContext) throws(StageError) -> StageResult {
        let stage = try ctx.stageSpec()
        guard case .evaluate(let evaluate) = stage.variant else {
            throw StageError("evaluate stage '\(ctx.stage)' needs model, entity_key and label")
        }
        let model = evaluate.model, key = evaluate.entityKey, labelColumn = evaluate.label
        guard let lookup = ctx.predictions else { throw StageError("evaluate stage '\(ctx.stage)' runs without a log to read predictions from") }
        let etl = ETLExecutor()
        let sources = try etl.sources(ctx, stage)
        guard !sources.isEmpty else { throw StageError("evaluate stage '\(ctx.stage)' names no labels to read; give it `inputs:` or `source:`") }
        let input = try etl.read(sources, ctx)
        let labels = input.table
        guard let k = labels.columns.firstIndex(of: key), let l = labels.columns.firstIndex(of: labelColumn) else {
            throw StageError("the labels of stage '\(ctx.stage)' need columns '\(key)' and '\(labelColumn)'; they have \(labels.columns.joined(separator: ", "))")
        }
        let entities = labels.rows.map { $0[k].stringValue ?? Table.text($0[k]) }
        let predictions: [String: RecordedPrediction]
        do { predictions = try lookup(model, Set(entities)) } catch { throw StageError("reading the predictions of model '\(model)': \(error)") }
        // Labelled rows per version that scored them.
        var byVersion: [UInt64: [(label: Value, outputs: Value)]] = [:]
        var unmatched = 0
        for (i, row) in labels.rows.enumerated() {
            guard row[l] != .null, let p = predictions[entities[i]] else { unmatched += 1; continue }
            byVersion[p.modelVersion, default: []].append((row[l], p.outputs))
        }
        var metrics: [Value] = []
        var summary: [(String, Value)] = [("labels", .int(Int64(labels.rows.count))), ("matched", .int(Int64(labels.rows.count - unmatched))),
                                          ("unmatched", .int(Int64(unmatched)))]
        for (version, rows) in byVersion.sorted(by: { $0.key < $1.key }) {
            guard let mv = ctx.models.models[model]?.version(version) else { continue }
            let outputs = mv.outputs
            var computed: [(String, Double)] = []
            switch mv.type {
            case "logistic_regression":
                guard outputs.count >= 2 else { continue }
                let classes = try classes(of: mv, ctx)
                var y: [Double] = [], p: [Double] = [], predicted: [Double] = []
                for r in rows {
                    guard let i = classes.firstIndex(of: classKey(r.label)), let prob = r.outputs[outputs[0]]?.doubleValue,
                          let lab = r.outputs[outputs[1]], let j = classes.firstIndex(of: classKey(lab)) else { continue }
                    y.append(Double(i)); p.append(prob); predicted.append(Double(j))
                }
                guard !y.isEmpty else { continue }
                computed = [("accuracy", Metrics.accuracy(y, predicted)), ("log_loss", Metrics.logLoss(y, p))]
                if let auc = Metrics.rocAUC(y, p) { computed.append(("roc_auc", auc)) }
            case "linear_regression":
                guard let name = outputs.first else { continue }
                let pairs = rows.compactMap { r in r.label.doubleValue.flatMap { y in r.outputs[name]?.doubleValue.map { (y, $0) } } }
                guard !pairs.isEmpty else { continue }
                computed = [("r2", Metrics.r2(pairs.map(\.0), pairs.map(\.1))), ("rmse", Metrics.rmse(pairs.map(\.0), pairs.map(\.1)))]
            default:
                continue
            }
            for (metric, value) in computed where value.isFinite {
                metrics.append(.object([("model", .string(model)), ("model_version", .int(Int64(version))), ("metric", .string(metric)),
                                        ("value", .double(value)), ("source", "labels"), ("n", .int(Int64(rows.count))),
                                        ("run", .string(ctx.run)), ("stage", .string(ctx.stage))]))
            }
            summary.append(("v\(version)", .object(computed.map { ($0.0, .double($0.1)) })))
        }
        return StageResult(outputs: .object(summary), metrics: metrics, inputs: input.inputs)
    }

    func classes(of v: ModelVersion, _ ctx: StageContext) throws(StageError) -> [String] {
        let artifact = try ModelArtifact.decode(try ArtifactStore(store: ctx.store).get(v.artifact), sha256: v.artifact)
        return artifact.classes ?? ["0", "1"]
    }

    func classKey(_ v: Value) -> String {
        switch v {
        case .bool(let b): return b ? "1" : "0"
        case .double(let d) where d == d.rounded() && abs(d) < 1e15: return String(Int64(d))
        case .int(let i): return String(i)
        default: return v.stringValue ?? Table.text(v)
        }
    }
}
