/// The well-known members of a stage's reported outputs (`StageSucceeded.outputs`). Each executor
/// reports its own values there and the typed event keeps them as open content (a `Value`); the
/// members ledgerflow itself reads are read here, in one place and leniently (a member of another
/// shape is not one of these).
public struct ReportedOutputs: Sendable {
    /// The metrics a stage reported (an object, rendered as it is).
    public let metrics: Value?
    /// The model a train stage registered or an inference or features stage used, and its version.
    public let model: String?
    public let modelVersion: Int64?
    /// The model reference an inference stage resolved (`churn@production`).
    public let modelRef: String?
    /// The predictions an inference stage recorded (in `predictions/RUN`).
    public let predictionsRecorded: Int64?
    /// Whether the stage scored rows (inference) and wrote an artifact (train).
    public let scoredRows: Bool
    public let wroteArtifact: Bool

    public init(_ outputs: Value?) {
        let f = outputs.flatMap { try? Fields("stage outputs", $0) }
        metrics = f?.value("metrics")
        model = f?.value("model")?.stringValue
        modelVersion = f?.value("model_version")?.intValue
        modelRef = f?.value("model_ref")?.stringValue
        predictionsRecorded = f?.value("predictions_recorded")?.intValue
        scoredRows = f?.has("rows_scored") ?? false
        wroteArtifact = f?.has("artifact") ?? false
    }

    /// The model version the stage registered or used.
    public var version: (model: String, version: Int64)? { model.flatMap { m in modelVersion.map { (m, $0) } } }

    /// The model version the stage used, not trained (a train stage's outputs carry the artifact it
    /// wrote), and whether it scored rows with it (inference) or applied its fitting (features).
    public var modelUsed: (model: String, version: Int64, scored: Bool)? {
        guard let (m, v) = version, !wroteArtifact else { return nil }
        return (m, v, scoredRows)
    }
}
