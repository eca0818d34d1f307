import Catalog
import Domain
import EventLog
import Foundation
import ML
import Models

/// Feature specs from the catalog's `features` definitions.
enum FeatureSpecs {
    /// The ML feature spec of a `features` definition's spec.
    static func spec(_ v: Value, name: String) throws(StageError) -> FeatureSpec {
        var steps: [FeatureStep] = []
        for (i, s) in (v["steps"]?.arrayValue ?? []).enumerated() {
            let columns = (s["columns"]?.arrayValue ?? []).compactMap(\.stringValue)
            let pairs = (s["columns"]?.objectMembers ?? []).compactMap { m in m.value.stringValue.map { (m.key, $0) } }
            switch s["op"]?.stringValue ?? "" {
            case "standard_scale": steps.append(.standardScale(columns: columns))
            case "minmax_scale":
                let r = (s["range"]?.arrayValue ?? []).compactMap(\.doubleValue)
                let lo = r.count == 2 ? r[0] : 0, hi = r.count == 2 ? r[1] : 1
                guard lo < hi else { throw StageError("feature spec '\(name)' step \(i + 1): minmax_scale range [\(lo), \(hi)] must go up; write e.g. [0, 1]") }
                steps.append(.minMaxScale(columns: columns, range: lo ... hi))
            case "one_hot":
                steps.append(.oneHot(columns: columns, unknown: UnknownCategory(rawValue: s["unknown"]?.stringValue ?? "ignore") ?? .ignore))
            case "impute":
                let strategy: ImputeStrategy
                switch s["strategy"]?.stringValue {
                case "mean": strategy = .mean
                case "median": strategy = .median
                default:
                    guard let c = s["value"] else { throw StageError("feature spec '\(name)' step \(i + 1): impute constant needs `value:`") }
                    strategy = .constant(Cell(c))
                }
                steps.append(.impute(columns: columns, strategy: strategy))
            case "log": steps.append(.log(columns: columns, offset: s["offset"]?.doubleValue ?? 1))
            case "select": steps.append(.select(columns: columns))
            case "rename": steps.append(.rename(pairs.map { RenamePair(from: $0.0, to: $0.1) }))
            case "cast":
                steps.append(.cast(pairs.compactMap { p in CastType(rawValue: p.1).map { CastPair(column: p.0, type: $0) } }))
            case let op:
                throw StageError("feature spec '\(name)' step \(i + 1) has op '\(op)'; known: \(KindSchemas.featureOps.joined(separator: ", "))")
            }
        }
        guard !steps.isEmpty else { throw StageError("feature spec '\(name)' has no steps") }
        return FeatureSpec(steps: steps)
    }
}

/// features stages: apply a feature spec to the stage's input and write the result. With
/// `fit: true` the spec's parameters are fitted on this input (and reported in the stage's
/// outputs); otherwise the fitted parameters of `model` (a version or alias, resolved at stage
/// start) are applied, exactly as at training time.
public struct FeaturesExecutor: StageExecutor {
    public init() {}

    public func run(_ ctx: StageContext) throws(StageError) -> StageResult {
        guard let specName = ctx.spec["spec"]?.stringValue, let def = ctx.definition(.features, specName) else {
            throw StageError("features stage '\(ctx.stage)' names no feature spec of the run's catalog; add `spec: NAME` (kind: features)")
        }
        let etl = ETLExecutor()
        let sources = try etl.sources(ctx)
        guard !sources.isEmpty else { throw StageError("features stage '\(ctx.stage)' names nothing to read; give it `inputs:` or `source:`") }
        let input = try etl.read(sources, ctx)
        let table = input.table
        let frame = table.frame()
        let fitted: FittedFeatures
        var outputs: [(String, Value)] = [("rows", .int(Int64(table.rows.count))), ("spec", .string(specName))]
        if ctx.spec["fit"]?.boolValue == true {
            let spec = try FeatureSpecs.spec(def, name: specName)
            do throws(MLError) { fitted = try spec.fit(frame) } catch { throw StageError("feature spec '\(specName)': \(error.message)") }
            outputs.append(("fitted", .array(fitted.describe().map { .string($0) })))
        } else {
            guard let ref = ctx.spec["model"]?.stringValue else {
                throw StageError("features stage '\(ctx.stage)' neither fits (`fit: true`) nor names a model whose fitted parameters it applies (`model: NAME@ALIAS`)")
            }
            let model = try LoadedModel(ref: ref, ctx)
            guard let f = model.artifact.features else {
                throw StageError("model '\(model.version.model)' v\(model.version.version) was trained without a feature spec; nothing to apply")
            }
            fitted = f
            outputs += [("model", .string(model.version.model)), ("model_version", .int(Int64(model.version.version)))]
        }
        let out: Frame
        do throws(MLError) { out = try fitted.transform(frame) } catch { throw StageError("feature spec '\(specName)': \(error.message)") }
        let destinations = try etl.destinations(ctx)
        guard !destinations.isEmpty else { throw StageError("features stage '\(ctx.stage)' names nothing to write; give it `destination:` or `outputs:`") }
        let written = try etl.write(Table(frame: out), to: destinations, ctx)
        var flow = input.flow
        fitted.flow(&flow, spec: specName)
        flow.select(out.columns)
        return StageResult(datasets: written, outputs: .object(outputs), inputs: input.inputs, columns: flow)
    }
}
