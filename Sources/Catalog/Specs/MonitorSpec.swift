import Domain

/// Watch a model metric against thresholds and act.
public struct MonitorSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.monitor

    /// The metrics a monitor watches (psi: drift of one feature).
    public enum Metric: String, Sendable, Hashable, CaseIterable {
        case accuracy
        case logLoss = "log_loss"
        case rocAUC = "roc_auc"
        case r2, rmse, inertia, psi

        /// The model types that report the metric (nil: any, for psi drift).
        public var reportedBy: Set<ModelSpec.ModelType>? {
            switch self {
            case .accuracy, .logLoss, .rocAUC: return [.logisticRegression, .script]
            case .r2, .rmse: return [.linearRegression, .script]
            case .inertia: return [.kmeans]
            case .psi: return nil
            }
        }
    }

    /// Free text for people.
    public var description: String?
    /// The model watched.
    public var model: String
    /// The metric watched.
    public var metric: Metric
    /// The feature (metric psi).
    public var feature: String?
    /// Act when the metric is below this.
    public var below: Double?
    /// Act when the metric is above this.
    public var above: Double?
    /// Team to alert.
    public var alert: String?
    /// Job to run.
    public var run: String?

    /// A value with these fields.
    public init(description: String? = nil, model: String, metric: Metric, feature: String? = nil, below: Double? = nil, above: Double? = nil,
                alert: String? = nil, run: String? = nil) {
        self.description = description
        self.model = model
        self.metric = metric
        self.feature = feature
        self.below = below
        self.above = above
        self.alert = alert
        self.run = run
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        model = try f.string("model")
        metric = try f.choice("metric")
        feature = try f.string(opt: "feature")
        below = try f.double(opt: "below")
        above = try f.double(opt: "above")
        alert = try f.string(opt: "alert")
        run = try f.string(opt: "run")
    }
}
