import Domain

/// A model: its algorithm, data, hyperparameters, prediction fields and aliases.
public struct ModelSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.model

    /// The algorithms, and `script` for an external trainer and scorer.
    public enum ModelType: String, Sendable, Hashable, CaseIterable {
        case linearRegression = "linear_regression"
        case logisticRegression = "logistic_regression"
        case kmeans
        case zscoreAnomaly = "zscore_anomaly"
        case script

        /// The outputs a built-in type predicts, in order (nil for `script`, whose outputs are its
        /// `prediction_fields`).
        public var builtInOutputs: [String]? {
            switch self {
            case .linearRegression: return ["prediction"]
            case .logisticRegression: return ["probability", "label"]
            case .kmeans: return ["cluster", "distance"]
            case .zscoreAnomaly: return ["anomaly_score", "is_anomaly"]
            case .script: return nil
            }
        }

        /// Whether the type needs a target column (regression and classification).
        public var needsTarget: Bool { self == .linearRegression || self == .logisticRegression }
    }

    /// Which training rows are held out: a seeded shuffle or the last rows.
    public enum Split: String, Sendable, Hashable, CaseIterable {
        case random, tail
    }

    /// When to retrain.
    public struct Retrain: Sendable, Hashable {
        /// Retrain on this cron schedule (local time in `timezone`).
        public var schedule: String?
        /// The IANA zone the schedule's fields are read in (default UTC).
        public var timezone: String?
        /// The job the schedule runs, when several jobs train the model.
        public var job: String?
        /// Retrain when a new version of the training dataset is written.
        public var onNewData: Bool?

        /// A value with these fields.
        public init(schedule: String? = nil, timezone: String? = nil, job: String? = nil, onNewData: Bool? = nil) {
            self.schedule = schedule
            self.timezone = timezone
            self.job = job
            self.onNewData = onNewData
        }
    }

    /// Hyperparameters as written (validation checks them against the type); typed readers for
    /// the ones the built-in types take.
    public struct Hyperparameters: Sendable, Hashable {
        /// Name → value, in name order.
        public var members: [Value.Member]

        /// A value with these fields.
        public init(_ members: [Value.Member] = []) { self.members = members }

        /// The hyperparameter `name` as written.
        public func value(_ name: String) -> Value? { members.first { $0.key == name }?.value }

        /// Ridge penalty (linear regression).
        public var l2: Double? { value("l2")?.doubleValue }
        /// Inverse L2 strength (logistic regression).
        public var c: Double? { value("C")?.doubleValue }
        /// Iterations (logistic regression; k-means per initialisation).
        public var maxIter: Int64? { value("max_iter")?.intValue }
        /// Probability at or above which the label is 1 (logistic regression); |z| at or above
        /// which a row is an anomaly (z-score).
        public var threshold: Double? { value("threshold")?.doubleValue }
        /// Clusters (k-means).
        public var k: Int64? { value("k")?.intValue }
        /// Initialisations (k-means).
        public var nInit: Int64? { value("n_init")?.intValue }
        /// Random seed (k-means; the holdout shuffle of every type).
        public var seed: Int64? { value("seed")?.intValue }
    }

    /// Free text for people.
    public var description: String?
    /// The algorithm.
    public var type: ModelType
    /// Feature spec applied before training and scoring.
    public var features: String?
    /// Column to predict.
    public var target: String?
    /// Dataset to train on.
    public var trainingDataset: String
    /// As written; nil when the model gives none (the types' defaults apply).
    public var hyperparameters: Hyperparameters?
    /// `prediction_fields` as written: names of the outputs (see `predictionFields`).
    public var predictionFieldNames: [String]?
    /// Columns the model reads after the feature spec (nil: chosen from the training data).
    public var featureColumns: [String]?
    /// Fraction of the training rows held out (default 0.2).
    public var holdout: Double?
    /// Which rows are held out (default random).
    public var split: Split?
    /// argv of an external trainer and scorer (type script).
    public var command: [String]?
    /// Aliases wanted (moved to new versions that pass).
    public var aliases: [String]
    /// When to retrain.
    public var retrain: Retrain?

    /// A value with these fields.
    public init(description: String? = nil, type: ModelType, features: String? = nil, target: String? = nil, trainingDataset: String,
                hyperparameters: Hyperparameters? = nil, predictionFieldNames: [String]? = nil, featureColumns: [String]? = nil,
                holdout: Double? = nil, split: Split? = nil, command: [String]? = nil, aliases: [String] = [], retrain: Retrain? = nil) {
        self.description = description
        self.type = type
        self.features = features
        self.target = target
        self.trainingDataset = trainingDataset
        self.hyperparameters = hyperparameters
        self.predictionFieldNames = predictionFieldNames
        self.featureColumns = featureColumns
        self.holdout = holdout
        self.split = split
        self.command = command
        self.aliases = aliases
        self.retrain = retrain
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        type = try f.choice("type")
        features = try f.string(opt: "features")
        target = try f.string(opt: "target")
        trainingDataset = try f.string("training_dataset")
        hyperparameters = f.has("hyperparameters") ? Hyperparameters(try f.mapping(opt: "hyperparameters")) : nil
        predictionFieldNames = try f.strings(opt: "prediction_fields")
        featureColumns = try f.strings(opt: "feature_columns")
        holdout = try f.double(opt: "holdout")
        split = try f.choice(opt: "split")
        command = try f.strings(opt: "command")
        aliases = try f.strings(opt: "aliases") ?? []
        if let r = try f.object(opt: "retrain") {
            retrain = Retrain(schedule: try r.string(opt: "schedule"), timezone: try r.timeZoneName(opt: "timezone"), job: try r.string(opt: "job"),
                              onNewData: try r.bool(opt: "on_new_data"))
        } else {
            retrain = nil
        }
    }

    /// What the model's predictions carry, in order: a built-in type's outputs, each renamed by
    /// the name at its position in `prediction_fields` when there is one; a script model's
    /// `prediction_fields` (empty when it names none, which validation refuses).
    public var predictionFields: [String] {
        ModelSpec.predictionFields(type: type, named: predictionFieldNames)
    }

    /// What predictions of a model of `type` carry, given its `prediction_fields` (see
    /// `predictionFields`).
    public static func predictionFields(type: ModelType, named: [String]?) -> [String] {
        guard let builtIn = type.builtInOutputs else { return named ?? [] }
        let named = named ?? []
        return builtIn.indices.map { $0 < named.count ? named[$0] : builtIn[$0] }
    }
}
