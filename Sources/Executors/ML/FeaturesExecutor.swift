import Catalog
import Domain
import EventLog
import Foundation
import ML
import Models

/// Feature specs from the catalog's `features` definitions.
enum FeatureSpecs {
    /// The ML feature spec of a `features` definition's spec.
    static func spec(_ spec: FeaturesSpec, name: String) throws(StageError) -> FeatureSpec {
        var steps: [FeatureStep] = []
        for (i, s) in spec.steps.enumerated() {
            switch s {
            case .standardScale(let columns): steps.append(.standardScale(columns: columns))
            case .minmaxScale(let columns, let range):
                let r = range ?? []
                let lo = r.count == 2 ? r[0] : 0, hi = r.count == 2 ? r[1] : 1
                guard lo < hi else { throw StageError("feature spec '\(name)' step \(i + 1): minmax_scale range [\(lo), \(hi)] must go up; write e.g. [0, 1]") }
                steps.append(.minMaxScale(columns: columns, range: lo ... hi))
            case .oneHot(let columns, let unknown):
                steps.append(.oneHot(columns: columns, unknown: UnknownCategory(rawValue: (unknown ?? .ignore).rawValue) ?? .ignore))
            case .impute(let columns, let how, let value):
                let strategy: ImputeStrategy
                switch how {
                case .mean: strategy = .mean
                case .median: strategy = .median
                case .constant:
                    guard let c = value else { throw StageError("feature spec '\(name)' step \(i + 1): impute constant needs `value:`") }
                    strategy = .constant(Cell(c))
                }
                steps.append(.impute(columns: columns, strategy: strategy))
            case .log(let columns, let offset): steps.append(.log(columns: columns, offset: offset ?? 1))
            case .select(let columns): steps.append(.select(columns: columns))
            case .rename(let pairs): steps.append(.rename(pairs.map { RenamePair(from: $0.from, to: $0.to) }))
            case .cast(let casts):
                steps.append(.cast(casts.compactMap { c in CastType(rawValue: c.type.rawValue).map { CastPair(column: c.column, type: $0) } }))
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
        let stage = try ctx.stageSpec()
        guard case .features(let features) = stage.variant, let def = try ctx.definition(FeaturesSpec.self, features.spec) else {
            throw StageError("features stage '\(ctx.stage)' names no feature spec of the run's catalog; add `spec: NAME` (kind: features)")
        }
        let specName = features.spec
        let etl = ETLExecutor()
        let sources = try etl.sources(ctx, stage)
        guard !sources.isEmpty else { throw StageError("features stage '\(ctx.stage)' names nothing to read; give it `inputs:` or `source:`") }
        let input = try etl.read(sources, ctx)
        let table = input.table
        let frame = table.frame()
        let fitted: FittedFeatures
        var outputs: [(String, Value)] = [("rows", .int(Int64(table.rows.count))), ("spec", .string(specName))]
        if features.fit {
            let spec = try FeatureSpecs.spec(def, name: specName)
            do throws(MLError) { fitted = try spec.fit(frame) } catch { throw StageError("feature spec '\(specName)': \(error.message)") }
            outputs.append(("fitted", .array(fitted.describe().map { .string($0) })))
        } else {
            guard let ref = features.model else {
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
        let destinations = try etl.destinations(ctx, stage)
        guard !destinations.isEmpty else { throw StageError("features stage '\(ctx.stage)' names nothing to write; give it `destination:` or `outputs:`") }
        let written = try etl.write(Table(frame: out), to: destinations, ctx, stage)
        var flow = input.flow
        fitted.flow(&flow, spec: specName)
        flow.select(out.columns)
        return StageResult(datasets: written, outputs: .object(outputs), inputs: input.inputs, columns: flow)
    }
}
