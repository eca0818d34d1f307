import Domain

/// One registered version of a model, as its `ModelVersionRegistered` event says.
public struct ModelVersion: Sendable, Hashable {
    public var model: String
    public var version: UInt64
    public var type: String
    public var seq: UInt64
    public var recordedAtMicros: Int64
    public var correlation: UInt64
    public var run: String
    public var stage: String
    /// Holdout metrics (and row counts).
    public var metrics: Value
    /// SHA-256 (hex) of the artifact file under `<store>/artifacts/sha256/`.
    public var artifact: String
    public var artifactBytes: Int64
    public var trainingDataset: String
    public var trainingDatasetVersion: UInt64?
    public var featureSpec: String?
    public var featureSpecVersion: UInt64?
    public var definitionVersion: UInt64
    public var catalogSeq: UInt64
    public var hyperparameters: Value
    /// Feature columns the model reads, in order.
    public var columns: [String]
    /// Prediction field names.
    public var outputs: [String]
    /// The full payload, as recorded.
    public var payload: Value

    init(_ e: RecordedEvent) {
        let p = e.payload
        model = p["model"]?.stringValue ?? ""
        version = UInt64(p["version"]?.intValue ?? 0)
        type = p["type"]?.stringValue ?? ""
        seq = e.seq
        recordedAtMicros = e.recordedAtMicros
        correlation = e.correlation
        run = p["run"]?.stringValue ?? ""
        stage = p["stage"]?.stringValue ?? ""
        metrics = p["metrics"] ?? .object([])
        artifact = p["artifact"]?["sha256"]?.stringValue ?? ""
        artifactBytes = p["artifact"]?["bytes"]?.intValue ?? 0
        trainingDataset = p["training_dataset"]?["name"]?.stringValue ?? ""
        trainingDatasetVersion = p["training_dataset"]?["version"]?.intValue.map { UInt64($0) }
        featureSpec = p["feature_spec"]?["name"]?.stringValue
        featureSpecVersion = p["feature_spec"]?["version"]?.intValue.map { UInt64($0) }
        definitionVersion = UInt64(p["model_definition_version"]?.intValue ?? 0)
        catalogSeq = UInt64(p["catalog_seq"]?.intValue ?? 0)
        hyperparameters = p["hyperparameters"] ?? .object([])
        columns = (p["columns"]?.arrayValue ?? []).compactMap(\.stringValue)
        outputs = (p["outputs"]?.arrayValue ?? []).compactMap(\.stringValue)
        payload = p
    }
}

/// One move of an alias.
public struct AliasMove: Sendable, Hashable {
    public var alias: String
    public var version: UInt64
    public var previous: UInt64?
    public var seq: UInt64
    public var recordedAtMicros: Int64
    public var by: String
}

/// A metric observed for a model (holdout, labels, drift).
public struct MetricPoint: Sendable, Hashable {
    public var metric: String
    public var feature: String?
    public var value: Double
    public var modelVersion: UInt64
    public var source: String
    public var seq: UInt64
    public var run: String?
}

/// A model: its versions, where its aliases point, their history, and the metrics observed.
public struct ModelEntry: Sendable, Hashable {
    public var name: String
    public var versions: [ModelVersion] = []
    public var aliases: [String: UInt64] = [:]
    public var aliasHistory: [AliasMove] = []
    /// Newest value per metric (and feature, for psi).
    public var latestMetrics: [String: MetricPoint] = [:]
    /// Version of the stream `model/<name>`.
    public var streamVersion: UInt64 = 0

    public init(name: String) { self.name = name }

    /// Version `v`, if registered.
    public func version(_ v: UInt64) -> ModelVersion? {
        guard v >= 1, Int(v) <= versions.count else { return nil }
        return versions[Int(v) - 1]
    }
    public var latest: ModelVersion? { versions.last }
}

/// The model registry, folded from the log: models, versions, aliases, metrics.
public struct ModelsState: Sendable, Hashable {
    public var models: [String: ModelEntry] = [:]
    /// The state covers the log through this seq.
    public var lastSeq: UInt64 = 0

    public init() {}

    public mutating func evolve(_ e: RecordedEvent) {
        defer { lastSeq = max(lastSeq, e.seq) }
        let p = e.payload
        switch e.type {
        case MLEvents.modelVersionRegistered:
            // Registrations live in their model's stream (other writers' look-alikes are not versions).
            let v = ModelVersion(e)
            guard !v.model.isEmpty, e.stream == MLEvents.stream(model: v.model), v.version == UInt64((models[v.model]?.versions.count ?? 0) + 1) else { return }
            models[v.model, default: ModelEntry(name: v.model)].versions.append(v)
            models[v.model]?.streamVersion = e.streamVersion
        case MLEvents.modelAliasMoved:
            guard let model = p["model"]?.stringValue, let alias = p["alias"]?.stringValue, let v = p["version"]?.intValue,
                  e.stream == MLEvents.stream(model: model) else { return }
            var entry = models[model] ?? ModelEntry(name: model)
            entry.aliasHistory.append(AliasMove(alias: alias, version: UInt64(v), previous: entry.aliases[alias], seq: e.seq,
                                                recordedAtMicros: e.recordedAtMicros, by: p["by"]?.stringValue ?? e.actor))
            entry.aliases[alias] = UInt64(v)
            entry.streamVersion = e.streamVersion
            models[model] = entry
        case MLEvents.metricObserved:
            guard let model = p["model"]?.stringValue, let metric = p["metric"]?.stringValue, let value = p["value"]?.doubleValue,
                  e.stream == MLEvents.stream(metricsOf: model) else { return }
            let feature = p["feature"]?.stringValue
            let point = MetricPoint(metric: metric, feature: feature, value: value, modelVersion: UInt64(p["model_version"]?.intValue ?? 0),
                                    source: p["source"]?.stringValue ?? "", seq: e.seq, run: p["run"]?.stringValue)
            models[model, default: ModelEntry(name: model)].latestMetrics[feature.map { "\(metric):\($0)" } ?? metric] = point
        default: break
        }
    }

    /// The version `ref` names: `model` (its newest version), `model@alias` or `model@3` / `model:3`.
    public func resolve(_ ref: String) throws(ModelCommandError) -> ModelVersion {
        let sep = ref.firstIndex { $0 == "@" || $0 == ":" }
        let name = sep.map { String(ref[..<$0]) } ?? ref
        let tag = sep.map { String(ref[ref.index(after: $0)...]) }
        guard let entry = models[name] else {
            let known = models.keys.sorted()
            throw ModelCommandError("model '\(name)' has no registered version; train it first (a `train` stage) — "
                                    + (known.isEmpty ? "no model is registered yet" : "registered: \(known.joined(separator: ", "))"))
        }
        guard let tag else {
            guard let v = entry.latest else { throw ModelCommandError("model '\(name)' has no registered version; train it first") }
            return v
        }
        if let n = UInt64(tag) {
            guard let v = entry.version(n) else {
                throw ModelCommandError("model '\(name)' has no version \(n); it has versions 1–\(entry.versions.count)")
            }
            return v
        }
        guard let n = entry.aliases[tag], let v = entry.version(n) else {
            let aliases = entry.aliases.keys.sorted()
            throw ModelCommandError("model '\(name)' has no alias '\(tag)'; "
                                    + (aliases.isEmpty ? "no alias is set: `ledgerflow models promote \(name) VERSION --alias \(tag)`"
                                                       : "its aliases are \(aliases.joined(separator: ", "))"))
        }
        return v
    }
}

/// The registry's commands: register a trained version, move an alias. Pure.
public enum ModelDecider {
    /// What a training attempt produced, to register.
    public struct Registration: Sendable {
        public var model: String
        public var payload: [(String, Value)]
        /// Aliases the model's definition wants: set now when they point nowhere yet.
        public var wantedAliases: [String]
        public init(model: String, payload: [(String, Value)], wantedAliases: [String]) {
            self.model = model
            self.payload = payload
            self.wantedAliases = wantedAliases
        }
    }

    /// The `ModelVersionRegistered` (with the next version number) and, for aliases the model
    /// wants that point nowhere yet, their first `ModelAliasMoved`; appended to `model/<name>` at
    /// `expectedVersion` (the stream version the state holds).
    public static func register(_ state: ModelsState, _ r: Registration, pending: UInt64 = 0, causation: UInt64?, correlation: UInt64?, by: String)
        -> (version: UInt64, events: [NewEvent], expectedVersion: UInt64) {
        let entry = state.models[r.model] ?? ModelEntry(name: r.model)
        let version = UInt64(entry.versions.count) + 1 + pending
        var events = [MLEvents.event(MLEvents.modelVersionRegistered, r.payload + [("model", .string(r.model)), ("version", .int(Int64(version)))],
                                     causation: causation, correlation: correlation)]
        if pending == 0 {
            for alias in r.wantedAliases where entry.aliases[alias] == nil {
                events.append(MLEvents.event(MLEvents.modelAliasMoved, [("model", .string(r.model)), ("alias", .string(alias)), ("version", .int(Int64(version))),
                                                                        ("previous", .null), ("by", .string(by)), ("reason", .string("first version of a wanted alias"))],
                                             causation: causation, correlation: correlation))
            }
        }
        return (version, events, entry.streamVersion)
    }

    /// Moves `alias` of `model` to `version` (a promotion: jobs that score with `model@alias`
    /// use it from their next run; no job definition changes).
    public static func promote(_ state: ModelsState, model: String, version: UInt64, alias: String, by: String, reason: String? = nil)
        throws(ModelCommandError) -> NewEvent {
        guard let entry = state.models[model] else {
            let known = state.models.keys.sorted()
            throw ModelCommandError("no model '\(model)' is registered; " + (known.isEmpty ? "train one first" : "registered: \(known.joined(separator: ", "))"))
        }
        guard entry.version(version) != nil else {
            throw ModelCommandError("model '\(model)' has no version \(version); it has versions 1–\(entry.versions.count) (`ledgerflow models show \(model)`)")
        }
        guard !alias.isEmpty, alias.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }), !alias.allSatisfy(\.isNumber) else {
            throw ModelCommandError("alias '\(alias)' is not a name; use letters, digits, _ or - (e.g. production)")
        }
        if entry.aliases[alias] == version {
            throw ModelCommandError("alias '\(alias)' of model '\(model)' already points at version \(version); nothing to do")
        }
        var m: [(String, Value)] = [("model", .string(model)), ("alias", .string(alias)), ("version", .int(Int64(version))),
                                    ("previous", entry.aliases[alias].map { .int(Int64($0)) } ?? .null), ("by", .string(by))]
        if let reason { m.append(("reason", .string(reason))) }
        return MLEvents.event(MLEvents.modelAliasMoved, m, causation: entry.aliasHistory.last?.seq ?? entry.latest?.seq)
    }
}
