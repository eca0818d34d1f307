import Domain

/// The report a script stage may write at `$LEDGERFLOW_REPORT` (see `ScriptExecutor`): datasets
/// it wrote, metrics, outputs and predictions. Decoding names the field that is wrong.
struct ScriptReport {
    /// One dataset the script wrote.
    struct Dataset {
        var name: String
        var location: String
        var format: String?
        var mode: String?
        var rows: Int64?
        var schema: [SchemaColumn]
        var contentHash: String?
    }

    var datasets: [Dataset] = []
    var metrics: Value?
    /// Reported values, in key order.
    var outputs: [(String, Value)] = []
    /// Prediction rows (recorded as `PredictionRecorded`, see the engine).
    var predictions: [Value] = []

    static let owner = "script report"
    static let fields: Set<String> = ["datasets", "metrics", "outputs", "predictions"]

    init(_ v: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, v)
        if let unknown = f.members.first(where: { !Self.fields.contains($0.key) }) {
            throw f.failure(unknown.key, expected: "absent (the report's fields are \(Self.fields.sorted().joined(separator: ", ")))",
                            found: unknown.value)
        }
        for d in try f.objects(opt: "datasets") ?? [] {
            var schema: [SchemaColumn] = []
            for c in try d.objects(opt: "schema") ?? [] { schema.append(SchemaColumn(name: try c.string("name"), type: try c.string("type"))) }
            datasets.append(Dataset(name: try d.string("name"), location: try d.string("location"), format: try d.string(opt: "format"),
                                    mode: try d.string(opt: "mode"), rows: try d.int(opt: "rows"), schema: schema,
                                    contentHash: try d.string(opt: "content_hash")))
        }
        metrics = try f.objectValue(opt: "metrics")
        outputs = try f.object(opt: "outputs")?.pairs ?? []
        predictions = try f.array(opt: "predictions") ?? []
    }
}
