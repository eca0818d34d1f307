/// A trained model version entered the registry (`model/<model>`): what was trained, from which
/// data and definition, how well it did on the holdout, and its artifact.
public struct ModelVersionRegistered: DomainEvent {
    /// The stored type name.
    public static var type: String { "ModelVersionRegistered" }

    /// The artifact file under `<store>/artifacts/sha256/`.
    public struct Artifact: Sendable, Hashable {
        /// SHA-256 of the file's bytes (hex): its name.
        public var sha256: String
        /// The file's size in bytes.
        public var bytes: Int64

        /// An artifact reference.
        public init(sha256: String, bytes: Int64) {
            self.sha256 = sha256
            self.bytes = bytes
        }

        /// The stored object `{sha256, bytes}`.
        public var value: Value { .members([Value.Member("bytes", .int(bytes)), Value.Member("sha256", .string(sha256))]) }
    }

    /// The dataset the version was trained on.
    public struct TrainingDataset: Sendable, Hashable {
        /// The dataset's name.
        public var name: String
        /// Its version (null when the run did not know it).
        public var version: UInt64?

        /// A training dataset reference.
        public init(name: String, version: UInt64?) {
            self.name = name
            self.version = version
        }

        /// The stored object `{name, version}` (`version` null when not known).
        public var value: Value { .members([Value.Member("name", .string(name)), Value.Member("version", version.map(MLPayload.int) ?? .null)]) }
    }

    /// The feature spec the version's transform was fitted from.
    public struct FeatureSpecRef: Sendable, Hashable {
        /// The feature spec's name.
        public var name: String
        /// Its definition version.
        public var version: UInt64

        /// A feature spec reference.
        public init(name: String, version: UInt64) {
            self.name = name
            self.version = version
        }

        /// The stored object `{name, version}`.
        public var value: Value { .members([Value.Member("name", .string(name)), Value.Member("version", MLPayload.int(version))]) }
    }

    /// The model's name.

    public var model: String
    /// The version number: the versions registered before it in `model/<model>`, plus one.
    public var version: UInt64
    /// The model type (`type`): logistic_regression, linear_regression, kmeans, zscore_anomaly, script.
    public var modelType: String
    /// The run that trained it.
    public var run: String
    /// The train stage.
    public var stage: String
    /// The stage attempt.
    public var attempt: UInt64
    /// Holdout metrics and row counts (open: numbers, counts, `converged`).
    public var metrics: Value
    /// The artifact file.
    public var artifact: Artifact
    /// The dataset it was trained on (`training_dataset`).
    public var trainingDataset: TrainingDataset
    /// Null when the model has no feature spec.
    public var featureSpec: FeatureSpecRef?
    /// The version of the model's definition (`model_definition_version`).
    public var modelDefinitionVersion: UInt64
    /// The seq of the catalog change the training run saw (`catalog_seq`).
    public var catalogSeq: UInt64
    /// The hyperparameters used (open).
    public var hyperparameters: Value
    /// Feature columns the model reads, in order.
    public var columns: [String]
    /// Prediction field names.
    public var outputs: [String]
    /// The target column, when the type has one.
    public var target: String?
    /// A script model's command (argv).
    public var command: [String]?

    /// A registration.
    public init(model: String, version: UInt64, modelType: String, run: String, stage: String, attempt: UInt64, metrics: Value,
                artifact: Artifact, trainingDataset: TrainingDataset, featureSpec: FeatureSpecRef?, modelDefinitionVersion: UInt64,
                catalogSeq: UInt64, hyperparameters: Value, columns: [String], outputs: [String], target: String? = nil, command: [String]? = nil) {
        self.model = model
        self.version = version
        self.modelType = modelType
        self.run = run
        self.stage = stage
        self.attempt = attempt
        self.metrics = metrics
        self.artifact = artifact
        self.trainingDataset = trainingDataset
        self.featureSpec = featureSpec
        self.modelDefinitionVersion = modelDefinitionVersion
        self.catalogSeq = catalogSeq
        self.hyperparameters = hyperparameters
        self.columns = columns
        self.outputs = outputs
        self.target = target
        self.command = command
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        model = try f.string("model")
        version = try f.uint("version")
        modelType = try f.string("type")
        run = try f.string("run")
        stage = try f.string("stage")
        attempt = try f.uint("attempt")
        metrics = try f.objectValue("metrics")
        let a = try f.object("artifact")
        artifact = Artifact(sha256: try a.string("sha256"), bytes: try a.int("bytes"))
        let d = try f.object("training_dataset")
        trainingDataset = TrainingDataset(name: try d.string("name"), version: try d.uint(opt: "version"))
        if let s = try f.object(opt: "feature_spec") {
            featureSpec = FeatureSpecRef(name: try s.string("name"), version: try s.uint("version"))
        } else {
            featureSpec = nil
        }
        modelDefinitionVersion = try f.uint("model_definition_version")
        catalogSeq = try f.uint("catalog_seq")
        hyperparameters = try f.objectValue("hyperparameters")
        columns = try f.strings("columns")
        outputs = try f.strings("outputs")
        target = try f.string(opt: "target")
        command = try f.strings(opt: "command")
    }

    public var payload: Value {
        var b = PayloadBuilder()
        b.set("model", model)
        b.set("version", version)
        b.set("type", modelType)
        b.set("run", run)
        b.set("stage", stage)
        b.set("attempt", attempt)
        b.set("metrics", metrics)
        b.set("artifact", artifact.value)
        b.set("training_dataset", trainingDataset.value)
        b.set("feature_spec", featureSpec?.value ?? .null)
        b.set("model_definition_version", modelDefinitionVersion)
        b.set("catalog_seq", catalogSeq)
        b.set("hyperparameters", hyperparameters)
        b.set("columns", columns)
        b.set("outputs", outputs)
        b.set("target", target)
        b.set("command", command)
        return b.value
    }

    public static let documentation = EventDocumentation(
        "A trained model version entered the registry: what was trained, on which data and definition, its holdout metrics and its artifact.",
        stream: "model/<model>",
        fields: [
            FieldDocumentation("model", "text", "The model's name."),
            FieldDocumentation("version", "integer", "The version number: the versions registered before it, plus one."),
            FieldDocumentation("type", "text", "The model type: logistic_regression, linear_regression, kmeans, zscore_anomaly or script."),
            FieldDocumentation("run", "text", "The run that trained it."),
            FieldDocumentation("stage", "text", "The train stage."),
            FieldDocumentation("attempt", "integer", "The stage attempt."),
            FieldDocumentation("metrics", "object", "Holdout metrics (accuracy, log_loss, roc_auc for classifiers; r2, rmse for regression; inertia for k-means) and the training and holdout row counts."),
            FieldDocumentation("artifact", "object", "The artifact file under <store>/artifacts/sha256/.", fields: [
                FieldDocumentation("sha256", "text", "SHA-256 of the file (hex): its name."),
                FieldDocumentation("bytes", "integer", "Its size."),
            ]),
            FieldDocumentation("training_dataset", "object", "The dataset it was trained on.", fields: [
                FieldDocumentation("name", "text", "The dataset."),
                FieldDocumentation("version", "integer or null", "Its version (null when not known)."),
            ]),
            FieldDocumentation("feature_spec", "object or null", "The feature spec its transform was fitted from (null: none).", fields: [
                FieldDocumentation("name", "text", "The feature spec."),
                FieldDocumentation("version", "integer", "Its definition version."),
            ]),
            FieldDocumentation("model_definition_version", "integer", "The version of the model's definition."),
            FieldDocumentation("catalog_seq", "integer", "The seq of the catalog change the run saw."),
            FieldDocumentation("hyperparameters", "object", "The hyperparameters used."),
            FieldDocumentation("columns", "list of text", "The feature columns the model reads, in order."),
            FieldDocumentation("outputs", "list of text", "The prediction field names."),
            .optional("target", "text", "The target column (types that have one)."),
            .optional("command", "list of text", "A script model's command (argv)."),
        ])

    public static let example = ModelVersionRegistered(
        model: "churn", version: 2, modelType: "logistic_regression", run: "14", stage: "train", attempt: 1,
        metrics: .object([("accuracy", .double(0.84)), ("converged", true), ("holdout_rows", 60), ("log_loss", .double(0.37)),
                          ("roc_auc", .double(0.9)), ("training_rows", 240)]),
        artifact: Artifact(sha256: "9f2c1e7a", bytes: 2167), trainingDataset: TrainingDataset(name: "customers", version: 3),
        featureSpec: FeatureSpecRef(name: "churn_features", version: 1), modelDefinitionVersion: 2, catalogSeq: 41,
        hyperparameters: .object([("C", .double(1)), ("max_iter", 100), ("threshold", .double(0.5))]),
        columns: ["tenure_months", "monthly_charges"], outputs: ["churn_probability", "churn_label"], target: "churned",
        command: ["python3", "model.py"])
}

/// An alias of a model now points at a version (`model/<model>`): a promotion, or a wanted
/// alias's first version.
public struct ModelAliasMoved: DomainEvent {
    /// The stored type name.
    public static var type: String { "ModelAliasMoved" }

    /// The model.

    public var model: String
    /// The alias moved, e.g. production.
    public var alias: String
    /// The version it points at now.
    public var version: UInt64
    /// Where the alias pointed before (nil: nowhere; stored as null).
    public var previous: UInt64?
    /// Who moved it.
    public var by: String
    /// Why it was moved.
    public var reason: String?

    /// An alias move.
    public init(model: String, alias: String, version: UInt64, previous: UInt64?, by: String, reason: String? = nil) {
        self.model = model
        self.alias = alias
        self.version = version
        self.previous = previous
        self.by = by
        self.reason = reason
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        model = try f.string("model")
        alias = try f.string("alias")
        version = try f.uint("version")
        previous = try f.uint(opt: "previous")
        by = try f.string("by")
        reason = try f.string(opt: "reason")
    }

    public var payload: Value {
        var m: [Value.Member] = [Value.Member("alias", .string(alias)), Value.Member("by", .string(by)), Value.Member("model", .string(model)),
                                 Value.Member("previous", previous.map(MLPayload.int) ?? .null)]
        if let reason { m.append(Value.Member("reason", .string(reason))) }
        m.append(Value.Member("version", MLPayload.int(version)))
        return .members(m)
    }

    public static let documentation = EventDocumentation(
        "An alias of a model now points at a version: jobs that score with model@alias use it from their next run.",
        stream: "model/<model>",
        fields: [
            FieldDocumentation("model", "text", "The model."),
            FieldDocumentation("alias", "text", "The alias moved, e.g. production."),
            FieldDocumentation("version", "integer", "The version it points at now."),
            FieldDocumentation("previous", "integer or null", "The version it pointed at before (null: none)."),
            FieldDocumentation("by", "text", "Who moved it (engine:<id> for a wanted alias's first version, cli:<user> for a promotion)."),
            .optional("reason", "text", "Why."),
        ])

    public static let example = ModelAliasMoved(model: "churn", alias: "production", version: 2, previous: 1, by: "cli:ana", reason: "better holdout AUC")
}

/// One prediction of a model for one entity (`predictions/<run>`), recorded while an inference
/// stage scores (or reported by a script stage).
public struct PredictionRecorded: DomainEvent {
    /// The stored type name.
    public static var type: String { "PredictionRecorded" }

    /// The run that scored.

    public var run: String
    /// The stage that scored.
    public var stage: String
    /// The stage attempt.
    public var attempt: UInt64
    /// The model.
    public var model: String
    /// The version that scored (nil for a script's prediction that named none; stored as null).
    public var modelVersion: UInt64?
    /// The entity's key, as text.
    public var entity: String
    /// The prediction fields, e.g. {churn_probability, churn_label} (an object; open).
    public var outputs: Value
    /// The input columns that trigger conditions on this model read (an object; open).
    public var inputs: Value?

    /// A prediction. `outputs` and `inputs` are objects (members in canonical order, e.g. built
    /// with `Value.object` or `.members` sorted by `Value.keyPrecedes`).
    @inlinable
    public init(run: String, stage: String, attempt: UInt64, model: String, modelVersion: UInt64?, entity: String, outputs: Value, inputs: Value? = nil) {
        self.run = run
        self.stage = stage
        self.attempt = attempt
        self.model = model
        self.modelVersion = modelVersion
        self.entity = entity
        self.outputs = outputs
        self.inputs = inputs
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        // Members asked for in key order (decoded once per prediction).
        var c = MLPayload.Cursor(try Fields(Self.type, payload))
        attempt = try c.uint("attempt")
        entity = try c.string("entity")
        inputs = try c.object(opt: "inputs")
        model = try c.string("model")
        modelVersion = try c.uint(opt: "model_version")
        outputs = try c.object("outputs")
        run = try c.string("run")
        stage = try c.string("stage")
    }

    /// A prediction a script stage reported (`StageResult.predictions`): `{entity, model,
    /// model_version, outputs}`, or flat fields (every member but entity, model and model_version
    /// is an output). The model defaults to the stage's name, the entity to "" (a non-text entity
    /// is kept as its JSON text). Fails naming `predictions[index]` and the field.
    public init(reported row: Value, index: Int, run: String, stage: String, attempt: UInt64) throws(DecodingFailure) {
        let f = try Fields("the script's report", row, path: "predictions[\(index)].")
        self.run = run
        self.stage = stage
        self.attempt = attempt
        model = try f.string(opt: "model") ?? stage
        modelVersion = try f.uint(opt: "model_version")
        let e = f.members.first { $0.key == "entity" }?.value
        entity = e.map { $0.stringValue ?? $0.jsonString } ?? ""
        if f.members.contains(where: { $0.key == "outputs" }) {
            outputs = try f.objectValue("outputs")
        } else {
            outputs = .members(f.members.filter { $0.key != "entity" && $0.key != "model" && $0.key != "model_version" })
        }
        inputs = nil
    }

    /// The stored payload, built member by member in canonical key order (no sort: this is
    /// written once per scored row).
    public var payload: Value {
        let version = modelVersion.map(MLPayload.int) ?? .null
        // `.null` is no inputs (a `cond ? nil : value` argument gives `.null`, not nil: `Value` takes the nil literal).
        if let inputs, inputs != .null {
            return .members([Value.Member("attempt", .int(Int64(attempt))), Value.Member("entity", .string(entity)), Value.Member("inputs", inputs),
                             Value.Member("model", .string(model)), Value.Member("model_version", version), Value.Member("outputs", outputs),
                             Value.Member("run", .string(run)), Value.Member("stage", .string(stage))])
        }
        return .members([Value.Member("attempt", .int(Int64(attempt))), Value.Member("entity", .string(entity)),
                         Value.Member("model", .string(model)), Value.Member("model_version", version), Value.Member("outputs", outputs),
                         Value.Member("run", .string(run)), Value.Member("stage", .string(stage))])
    }

    /// A field for a trigger condition: an output, then an input, then a member of the payload
    /// (`entity_key` is the entity; a dotted path reads into a member, e.g. `outputs.score`).
    public func field(_ name: String) -> Value? {
        if let v = outputs[name] { return v }
        if let v = inputs?[name] { return v }
        if name == "entity_key" { return .string(entity) }
        guard name.contains(".") else { return member(name) }
        var parts = name.split(separator: ".").makeIterator()
        var cur = parts.next().flatMap { member(String($0)) }
        while let part = parts.next() { cur = cur?[String(part)] }
        return cur
    }

    /// The payload's member `key`, as stored.
    public func member(_ key: String) -> Value? {
        switch key {
        case "attempt": return MLPayload.int(attempt)
        case "entity": return .string(entity)
        case "inputs": return inputs
        case "model": return .string(model)
        case "model_version": return modelVersion.map(MLPayload.int) ?? .null
        case "outputs": return outputs
        case "run": return .string(run)
        case "stage": return .string(stage)
        default: return nil
        }
    }

    public static let documentation = EventDocumentation(
        "One prediction of a model for one entity, recorded while an inference stage scores (or reported by a script stage).",
        stream: "predictions/<run>",
        fields: [
            FieldDocumentation("run", "text", "The run that scored."),
            FieldDocumentation("stage", "text", "The stage that scored."),
            FieldDocumentation("attempt", "integer", "The stage attempt."),
            FieldDocumentation("model", "text", "The model."),
            FieldDocumentation("model_version", "integer or null", "The version that scored (null: a script's prediction that named none)."),
            FieldDocumentation("entity", "text", "The entity's key (the stage's entity_key column, else the row number)."),
            FieldDocumentation("outputs", "object", "The prediction fields, e.g. {churn_probability, churn_label}."),
            .optional("inputs", "object", "The input columns that trigger conditions on this model read."),
        ])

    public static let example = PredictionRecorded(
        run: "15", stage: "score", attempt: 1, model: "churn", modelVersion: 2, entity: "cust-42",
        outputs: .object([("churn_label", 1), ("churn_probability", .double(0.93))]), inputs: .object([("tenure_months", 3)]))
}

/// A metric observed for a model version (`metrics/<model>`): on the holdout when it was
/// trained, against labels, or input drift (PSI) while scoring.
public struct MetricObserved: DomainEvent {
    /// The stored type name.
    public static var type: String { "MetricObserved" }

    /// The model.

    public var model: String
    /// The version observed (`model_version`).
    public var modelVersion: UInt64
    /// accuracy, log_loss, roc_auc, r2, rmse, psi, …
    public var metric: String
    /// The metric's value.
    public var value: Double
    /// holdout | labels | drift
    public var source: String
    /// The rows it was computed on.
    public var n: UInt64
    /// The input column (psi).
    public var feature: String?
    /// The run that observed it.
    public var run: String?
    /// The stage that observed it.
    public var stage: String?

    /// An observation.
    public init(model: String, modelVersion: UInt64, metric: String, value: Double, source: String, n: UInt64,
                feature: String? = nil, run: String?, stage: String?) {
        self.model = model
        self.modelVersion = modelVersion
        self.metric = metric
        self.value = value
        self.source = source
        self.n = n
        self.feature = feature
        self.run = run
        self.stage = stage
    }

    public init(_ payload: Value) throws(DecodingFailure) {
        // Members asked for in key order (decoded once per metric when the registry is folded).
        var c = MLPayload.Cursor(try Fields(Self.type, payload))
        feature = try c.string(opt: "feature")
        metric = try c.string("metric")
        model = try c.string("model")
        modelVersion = try c.uint("model_version")
        n = try c.uint("n")
        run = try c.string(opt: "run")
        source = try c.string("source")
        stage = try c.string(opt: "stage")
        value = try c.double("value")
    }

    /// A metric an attempt reported (`StageResult.metrics`): this payload, except that its
    /// `model_version` may be the text `registered`, meaning the version this attempt registered
    /// for the model (`registered(model)`; 0 when it registered none).
    public init(reported payload: Value, registered: (String) -> UInt64?) throws(DecodingFailure) {
        let f = try Fields(Self.type, payload)
        if case .string("registered")? = f.value("model_version") {
            let model = try f.string("model")
            try self.init(payload.setting("model_version", to: MLPayload.int(registered(model) ?? 0)))
        } else {
            try self.init(payload)
        }
    }

    public var payload: Value {
        var b = PayloadBuilder()
        b.set("model", model)
        b.set("model_version", modelVersion)
        b.set("metric", metric)
        b.set("value", value)
        b.set("source", source)
        b.set("n", n)
        b.set("feature", feature)
        b.set("run", run)
        b.set("stage", stage)
        return b.value
    }

    /// A field for a trigger condition: the metric's name or `value` is its value; otherwise a
    /// member of the payload (`model_version`, `feature`, `run`, …).
    public func field(_ name: String) -> Value? {
        if name == metric || name == "value" { return .double(value) }
        switch name {
        case "model": return .string(model)
        case "model_version": return MLPayload.int(modelVersion)
        case "metric": return .string(metric)
        case "source": return .string(source)
        case "n": return MLPayload.int(n)
        case "feature": return feature.map { .string($0) }
        case "run": return run.map { .string($0) }
        case "stage": return stage.map { .string($0) }
        default: return nil
        }
    }

    public static let documentation = EventDocumentation(
        "A metric observed for a model version: on the holdout when it was trained, against labels, or input drift while scoring.",
        stream: "metrics/<model>",
        fields: [
            FieldDocumentation("model", "text", "The model."),
            FieldDocumentation("model_version", "integer", "The version observed."),
            FieldDocumentation("metric", "text", "accuracy, log_loss, roc_auc, r2, rmse, inertia, psi, …"),
            FieldDocumentation("value", "number", "Its value."),
            FieldDocumentation("source", "text", "holdout, labels or drift."),
            FieldDocumentation("n", "integer", "The rows it was computed on."),
            .optional("feature", "text", "The input column (psi)."),
            .optional("run", "text", "The run that observed it."),
            .optional("stage", "text", "The stage that observed it."),
        ])

    public static let example = MetricObserved(model: "churn", modelVersion: 2, metric: "psi", value: 0.27, source: "drift", n: 300,
                                               feature: "tenure_months", run: "15", stage: "score")
}
