import Catalog
import Engine
import Domain
import EventLog
import Executors
import Foundation
import ML

/// `ledgerflow-bench ml`: score N rows (default 1,000,000) with a logistic regression over 20
/// features, (a) recording every prediction as a `PredictionRecorded` event through the inference
/// stage's own recording path (batches of 8,192 appended to a durable store while the next batch
/// is built), and (b) the same scoring without logging — the raw limit, measured in the same run.
enum MLBenchmark {
    static func run(_ o: Options) throws {
        let rows = max(1, try o.int("rows", default: 1_000_000))
        let features = 20
        let repeats = max(1, try o.int("repeat", default: 3))
        let base = o.string("dir") ?? FileManager.default.temporaryDirectory.path

        // Data: 20 standard-normal-ish features, labels from a known linear rule with noise.
        var rng = ML.SplitMix64(seed: 42)
        var values = [Double](repeating: 0, count: rows * features)
        for i in values.indices { values[i] = rng.nextUnit() * 2 - 1 + rng.nextUnit() - 0.5 }
        let x = Matrix(rows: rows, cols: features, values: values)
        let trainRows = min(rows, 20_000)
        var y: [Double] = []
        for r in 0 ..< trainRows {
            var z = 0.3
            for j in 0 ..< features { z += x[r, j] * (j % 2 == 0 ? 0.8 : -0.5) }
            y.append(z + (rng.nextUnit() - 0.5) > 0 ? 1 : 0)
        }
        let model = try LogisticRegression.fit(x.rows(0 ..< trainRows), y, C: 1, maxIter: 100)
        var artifact = ModelArtifact(model: "bench", type: "logistic_regression", target: "y",
                                     featureColumns: (0 ..< features).map { "f\($0)" }, outputs: ["churn_probability", "churn_label"])
        artifact.logistic = model
        artifact.threshold = 0.5
        artifact.classes = ["0", "1"]
        let entities = Table(columns: ["customer_id"], rows: (0 ..< rows).map { [.int(Int64($0 + 1))] })

        var logged: [Double] = [], unlogged: [Double] = [], bytes: [Double] = [], appendOnly: [Double] = []
        for _ in 0 ..< repeats {
            // (b) the raw limit: scoring alone (the same outputs the stage computes).
            let t0 = Date()
            let outputs = try InferenceExecutor.outputs(of: artifact, x, version: 1)
            unlogged.append(Double(rows) / Date().timeIntervalSince(t0))
            precondition(outputs[0].count == rows)

            // (a) scoring and recording every prediction, durably.
            let dir = base + "/lf-bench-ml-\(UUID().uuidString)"
            let log = try EventLog.create(at: dir)
            var ctx = StageContext(run: "1", job: "score", stage: "score", attempt: 1, spec: .object([]), parameters: .object([]),
                                   catalog: CatalogState(), store: dir, root: base, cancellation: Cancellation())
            ctx.recorder = LogRecorder(log: log, actor: "bench")
            let t1 = Date()
            let scored = try InferenceExecutor.outputs(of: artifact, x, version: 1)
            let n = try InferenceExecutor.record(ctx, model: "bench", version: 1, entities, scored, names: artifact.outputs, entityColumn: 0, inputs: [])
            logged.append(Double(n) / Date().timeIntervalSince(t1))
            let last = try log.lastSeq()
            guard last == UInt64(rows) else { throw UsageError("expected \(rows) prediction events, the log has \(last)") }
            let size = (try? FileManager.default.attributesOfItem(atPath: dir + "/data.mdb")[.size] as? NSNumber)?.doubleValue ?? 0
            bytes.append(size / Double(rows))
            // For reference: the log alone, appending the same events already built.
            let events = try log.read(stream: "predictions/1").map { NewEvent(type: $0.type, payload: $0.payload) }
            log.close()
            if ProcessInfo.processInfo.environment["LEDGERFLOW_BENCH_KEEP"] == nil { try? FileManager.default.removeItem(atPath: dir) }
            let dir2 = base + "/lf-bench-ml-\(UUID().uuidString)"
            let log2 = try EventLog.create(at: dir2)
            let t2 = Date()
            var i = 0
            while i < events.count {
                let end = min(events.count, i + InferenceExecutor.batchSize)
                try log2.append(Array(events[i ..< end]), to: "predictions/1", actor: "bench")
                i = end
            }
            appendOnly.append(Double(events.count) / Date().timeIntervalSince(t2))
            log2.close()
            try? FileManager.default.removeItem(atPath: dir2)
        }
        let m = (logged: median(logged), unlogged: median(unlogged), bytes: median(bytes), append: median(appendOnly))
        if o.flag("json") {
            print(Value.object([("logged_predictions_per_s", .double(m.logged.rounded())), ("unlogged_predictions_per_s", .double(m.unlogged.rounded())),
                                ("rows", .int(Int64(rows))), ("features", .int(Int64(features))), ("repeat", .int(Int64(repeats))),
                                ("bytes_per_prediction", .double((m.bytes * 10).rounded() / 10)),
                                ("append_only_events_per_s", .double(m.append.rounded()))]).jsonString)
            return
        }
        print("ml benchmark: logistic regression over \(features) features, \(rows) rows, durable store, median of \(repeats) runs")
        print(String(format: "  unlogged (raw limit): scoring alone                %12.0f predictions/s", m.unlogged))
        print(String(format: "  logged: scoring + one PredictionRecorded each     %12.0f predictions/s (%.3f× the raw limit; target ≥ 500,000)", m.logged, m.logged / m.unlogged))
        print(String(format: "  the log alone: appending the same events, built   %12.0f events/s (logged is %.2f× this)", m.append, m.logged / m.append))
        print(String(format: "  on disk per prediction event                      %12.1f bytes", m.bytes))
    }

    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
}
