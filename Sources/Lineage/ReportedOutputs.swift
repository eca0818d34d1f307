import Domain

/// What lineage reads from a stage's reported outputs (`StageSucceeded.outputs`). Each executor
/// reports its own values there, so the typed event keeps them as a `Value`; they are read here,
/// in one place and leniently (a value of another shape is not one of these), as before.
struct ReportedOutputs {
    let value: Value?

    init(_ outputs: Value?) { value = outputs }

    /// The model version the stage used, not trained (a train stage's outputs carry the artifact it
    /// wrote), and whether it scored rows with it (inference) or applied its fitting (features).
    var modelUsed: (model: String, version: Int64, scored: Bool)? {
        guard let o = value, let m = o["model"]?.stringValue, let v = o["model_version"]?.intValue, o["artifact"] == nil else { return nil }
        return (m, v, o["rows_scored"] != nil)
    }

    /// The predictions an inference stage recorded (in `predictions/RUN`).
    var predictionsRecorded: Int64? { value?["predictions_recorded"]?.intValue }
}
