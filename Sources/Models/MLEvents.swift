import Domain

/// The ML and automation events: stored identifiers, never renamed (change goes through a new
/// schema version and an upcaster). All schema 1.
///
/// Streams: model `M` is `model/M` (its versions and alias moves; a version's number is the count
/// of versions registered before it plus one); the predictions of run `R` are `predictions/R`;
/// the metrics of model `M` are `metrics/M`; trigger `T` is `trigger/T`, monitor `N` is
/// `monitor/N`, the retraining policy of model `M` is `retrain/M`; alerts for team `X` are
/// `alerts/X`.
///
/// Payloads:
/// - `ModelVersionRegistered`: `model`, `version`, `type`, `run`, `stage`, `attempt`, `metrics`
///   (holdout: accuracy, log_loss, roc_auc for classifiers; r2, rmse for regression; inertia for
///   k-means; training and holdout row counts), `artifact` ({sha256, bytes}: the file under
///   `<store>/artifacts/sha256/`), `training_dataset` ({name, version}), `feature_spec` ({name,
///   version} or null), `model_definition_version`, `catalog_seq`, `hyperparameters`, `columns`
///   (feature columns the model reads), `outputs` (prediction field names).
/// - `ModelAliasMoved`: `model`, `alias`, `version`, `previous` (version or null), `by`, optional `reason`.
/// - `PredictionRecorded`: `run`, `stage`, `attempt`, `model`, `model_version`, `entity` (text),
///   `outputs` (e.g. {churn_probability, churn_label}), optional `inputs` (the input columns that
///   trigger conditions on this model read).
/// - `MetricObserved`: `model`, `model_version`, `metric`, `value`, `source` (holdout | labels |
///   drift), `n` (rows it was computed on), optional `feature` (psi), `run`, `stage`.
/// - `ThresholdCrossed`: `rule` ({kind: trigger | monitor, name, version}), `subject` (entity or
///   model), `observed` (the values the condition read), `threshold` (the condition as written, or
///   `below`/`above` and its number), `source_event` (seq), `source_run`, `dedupe_key`,
///   optional `parameters` (for the run it starts).
/// - `TriggerFired`: `rule` (as above), `crossing` (seq of the ThresholdCrossed, or of the dataset
///   version for a retraining policy), `job`, `run` (the run requested).
/// - `AlertRaised`: `team`, `rule`, `crossing`, `message`.
public enum MLEvents {
    public static let modelVersionRegistered = "ModelVersionRegistered"
    public static let modelAliasMoved = "ModelAliasMoved"
    public static let predictionRecorded = "PredictionRecorded"
    public static let metricObserved = "MetricObserved"
    public static let thresholdCrossed = "ThresholdCrossed"
    public static let triggerFired = "TriggerFired"
    public static let alertRaised = "AlertRaised"

    /// Every type above.
    public static let types: Set<String> = [modelVersionRegistered, modelAliasMoved, predictionRecorded, metricObserved,
                                            thresholdCrossed, triggerFired, alertRaised]
    /// The model registry's types.
    public static let registryTypes: Set<String> = [modelVersionRegistered, modelAliasMoved, metricObserved]
    /// The automation state's types.
    public static let automationTypes: Set<String> = [thresholdCrossed, triggerFired, alertRaised]
    public static let schemaVersion: UInt32 = 1

    public static func stream(model name: String) -> String { "model/" + name }
    public static func stream(predictionsOfRun run: String) -> String { "predictions/" + run }
    public static func stream(metricsOf model: String) -> String { "metrics/" + model }
    public static func stream(rule kind: String, _ name: String) -> String { kind + "/" + name }
    public static func stream(alertsFor team: String) -> String { "alerts/" + team }

    static func event(_ type: String, _ payload: [(String, Value)], causation: UInt64? = nil, correlation: UInt64? = nil) -> NewEvent {
        NewEvent(type: type, schemaVersion: schemaVersion, payload: .object(payload), causation: causation, correlation: correlation)
    }
}

/// A refused model command (unknown model or version, alias already there): one line.
public struct ModelCommandError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
