import Domain

/// One registered version of a model: its `ModelVersionRegistered` event and where and when it
/// was recorded.
public struct ModelVersion: Sendable, Hashable {
    /// The registration, as recorded.
    public var registered: ModelVersionRegistered
    public var seq: UInt64
    public var recordedAtMicros: Int64
    public var correlation: UInt64

    /// A version from its registration and its envelope.
    public init(_ registered: ModelVersionRegistered, seq: UInt64, recordedAtMicros: Int64, correlation: UInt64) {
        self.registered = registered
        self.seq = seq
        self.recordedAtMicros = recordedAtMicros
        self.correlation = correlation
    }

    /// The model's name.
    public var model: String { registered.model }
    /// The version number.
    public var version: UInt64 { registered.version }
    /// The model type.
    public var type: String { registered.modelType }
    /// The run that trained it.
    public var run: String { registered.run }
    /// The train stage.
    public var stage: String { registered.stage }
    /// Holdout metrics (and row counts).
    public var metrics: Value { registered.metrics }
    /// SHA-256 (hex) of the artifact file under `<store>/artifacts/sha256/`.
    public var artifact: String { registered.artifact.sha256 }
    /// The artifact's size.
    public var artifactBytes: Int64 { registered.artifact.bytes }
    /// The dataset it was trained on.
    public var trainingDataset: String { registered.trainingDataset.name }
    /// That dataset's version, when known.
    public var trainingDatasetVersion: UInt64? { registered.trainingDataset.version }
    /// The feature spec its transform was fitted from.
    public var featureSpec: String? { registered.featureSpec?.name }
    /// That feature spec's version.
    public var featureSpecVersion: UInt64? { registered.featureSpec?.version }
    /// The version of the model's definition.
    public var definitionVersion: UInt64 { registered.modelDefinitionVersion }
    /// The catalog change the training run saw.
    public var catalogSeq: UInt64 { registered.catalogSeq }
    /// The hyperparameters used.
    public var hyperparameters: Value { registered.hyperparameters }
    /// Feature columns the model reads, in order.
    public var columns: [String] { registered.columns }
    /// Prediction field names.
    public var outputs: [String] { registered.outputs }
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

    /// Folds one event in; events of other types, outside their stream, out of order or that do
    /// not decode change nothing.
    public mutating func evolve(_ e: RecordedEvent) {
        defer { lastSeq = max(lastSeq, e.seq) }
        switch e.type {
        case ModelVersionRegistered.type:
            // Registrations live in their model's stream (other writers' look-alikes are not versions).
            guard let r = try? e.decode(ModelVersionRegistered.self), e.stream == MLEvents.stream(model: r.model),
                  r.version == UInt64((models[r.model]?.versions.count ?? 0) + 1) else { return }
            models[r.model, default: ModelEntry(name: r.model)].versions.append(ModelVersion(r, seq: e.seq, recordedAtMicros: e.recordedAtMicros,
                                                                                            correlation: e.correlation))
            models[r.model]?.streamVersion = e.streamVersion
        case ModelAliasMoved.type:
            guard let m = try? e.decode(ModelAliasMoved.self), e.stream == MLEvents.stream(model: m.model) else { return }
            var entry = models[m.model] ?? ModelEntry(name: m.model)
            entry.aliasHistory.append(AliasMove(alias: m.alias, version: m.version, previous: entry.aliases[m.alias], seq: e.seq,
                                                recordedAtMicros: e.recordedAtMicros, by: m.by))
            entry.aliases[m.alias] = m.version
            entry.streamVersion = e.streamVersion
            models[m.model] = entry
        case MetricObserved.type:
            guard let o = try? e.decode(MetricObserved.self), e.stream == MLEvents.stream(metricsOf: o.model) else { return }
            let point = MetricPoint(metric: o.metric, feature: o.feature, value: o.value, modelVersion: o.modelVersion, source: o.source,
                                    seq: e.seq, run: o.run)
            models[o.model, default: ModelEntry(name: o.model)].latestMetrics[o.feature.map { "\(o.metric):\($0)" } ?? o.metric] = point
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
        enum Draft: Sendable {
            case typed(ModelVersionRegistered)
            case members([(String, Value)])
        }

        public var model: String
        let draft: Draft
        /// Aliases the model's definition wants: set now when they point nowhere yet.
        public var wantedAliases: [String]

        /// The registration (its `version` is set when it is registered).
        public init(_ registered: ModelVersionRegistered, wantedAliases: [String]) {
            model = registered.model
            draft = .typed(registered)
            self.wantedAliases = wantedAliases
        }

        /// The registration's payload members except `model` and `version`, as a train stage
        /// builds them; decoded as a `ModelVersionRegistered` when registered.
        public init(model: String, payload: [(String, Value)], wantedAliases: [String]) {
            self.model = model
            draft = .members(payload)
            self.wantedAliases = wantedAliases
        }

        /// The registration as version `version`.
        func registered(as version: UInt64) throws(DecodingFailure) -> ModelVersionRegistered {
            var r: ModelVersionRegistered
            switch draft {
            case .typed(let t): r = t
            case .members(let m): r = try ModelVersionRegistered(.object(m + [("model", .string(model)), ("version", .int(Int64(version)))]))
            }
            r.model = model
            r.version = version
            return r
        }
    }

    /// The `ModelVersionRegistered` (with the next version number) and, for aliases the model
    /// wants that point nowhere yet, their first `ModelAliasMoved`; appended to `model/<name>` at
    /// `expectedVersion` (the stream version the state holds). Fails when the registration is
    /// not a valid `ModelVersionRegistered`.
    public static func register(_ state: ModelsState, _ r: Registration, pending: UInt64 = 0, causation: UInt64?, correlation: UInt64?, by: String)
        throws(DecodingFailure) -> (version: UInt64, events: [NewEvent], expectedVersion: UInt64) {
        let entry = state.models[r.model] ?? ModelEntry(name: r.model)
        let version = UInt64(entry.versions.count) + 1 + pending
        var events = [try r.registered(as: version).event(causation: causation, correlation: correlation)]
        if pending == 0 {
            for alias in r.wantedAliases where entry.aliases[alias] == nil {
                events.append(ModelAliasMoved(model: r.model, alias: alias, version: version, previous: nil, by: by,
                                              reason: "first version of a wanted alias").event(causation: causation, correlation: correlation))
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
        return ModelAliasMoved(model: model, alias: alias, version: version, previous: entry.aliases[alias], by: by, reason: reason)
            .event(causation: entry.aliasHistory.last?.seq ?? entry.latest?.seq)
    }
}
