import Catalog
import Domain
import EventLog
import Foundation

/// spark stages: run the stage's application with `spark-submit` (see `SparkSubmission` and
/// docs/spark.md). Its outputs record the application (key, id on the cluster, master), what it
/// reported (metrics, outputs) and how many predictions it recorded; the datasets it reported
/// become `DatasetVersionWritten` events.
public struct SparkExecutor: StageExecutor {
    public init() {}

    public func run(_ ctx: StageContext) throws(StageError) -> StageResult {
        let stage = try ctx.stageSpec()
        guard case .spark(let spark) = stage.variant else { throw StageError("stage '\(ctx.stage)' is a \(stage.type) stage, not a spark stage") }
        var args: [String] = []
        for a in spark.args {
            // Each argument stays one argument: a value is inserted as it is (no shell parses it).
            args.append(try Substitution.render(a.stringValue ?? Table.text(a), ctx) { $0.value })
        }
        let submission = SparkSubmission(ctx: ctx, stage: stage, settings: spark.settings, application: ctx.resolve(ctx.substitute(spark.application)),
                                         mainClass: spark.mainClass, args: args)
        let outcome = try submission.run()
        var result = StageResult(datasets: outcome.datasets, outputs: outcome.stageOutputs(key: submission.key, master: spark.settings.masterURL),
                                 predictions: outcome.reportPredictions)
        result.inputs = ScriptExecutor.declaredInputs(ctx, stage.inputs)
        return result
    }
}

/// The run context an application reads (`context.json`, format 1) and the Dagster Pipes context
/// file (docs/spark.md).
struct SparkContextFile {
    let submission: SparkSubmission

    /// Writes both files; returns their paths.
    func write() throws(StageError) -> (context: String, pipes: String) {
        let ctx = submission.ctx
        let etl = ETLExecutor()
        var inputs: [(String, Value)] = []
        let sources: [Endpoint]
        if let given = submission.inputs { sources = given } else { do throws(StageError) { sources = try etl.sources(ctx, submission.stage) } catch {
            // A spark stage may read what no definition names (its application knows where).
            if case .spark = submission.stage.variant { sources = submission.stage.inputs.compactMap { try? etl.endpoint(reading: $0, ctx) } } else { throw error }
        } }
        for e in sources { inputs.append((e.name, describe(e, reading: true))) }
        var outputs: [(String, Value)] = []
        let names = submission.stage.destination.map { [$0] } ?? submission.stage.outputs
        for n in names {
            guard let def = try ctx.definition(OutputSpec.self, n) else { continue }
            let e = Endpoint.from(output: n, def, context: ctx)
            try ctx.checkWrite(e.path, for: "output '\(n)'")
            outputs.append((n, describe(e, reading: false)))
        }
        let folder = submission.folder
        let context = Value.object([
            ("format", 1), ("run", .string(ctx.run)), ("job", .string(ctx.job)), ("stage", .string(ctx.stage)), ("attempt", .int(Int64(ctx.attempt))),
            ("idempotency_key", .string(submission.key)), ("project", .string(ctx.root)), ("store", .string(ctx.store)),
            ("attempt_folder", .string(folder)), ("parameters", ctx.parameters == .null ? .object([]) : ctx.parameters),
            ("inputs", .object(inputs)), ("outputs", .object(outputs)),
            ("predictions", .string(submission.file(PredictionFiles.folder))), ("messages", .string(submission.file("messages.jsonl"))),
            ("report", .string(submission.file("report.json"))), ("task", submission.task ?? .null),
        ])
        // The Pipes context: what a Dagster Pipes reader expects, ledgerflow's context in `extras`.
        let pipes = Value.object([
            ("asset_keys", .array(outputs.map { .string($0.0) })), ("run_id", .string(ctx.run)), ("job_name", .string(ctx.job)),
            ("retry_number", .int(Int64(ctx.attempt - 1))), ("partition_key", .null), ("partition_key_range", .null),
            ("partition_time_window", .null), ("code_version_by_asset_key", .null), ("provenance_by_asset_key", .null),
            ("extras", context),
        ])
        let paths = (submission.file("context.json"), submission.file("pipes-context.json"))
        for (path, value) in [(paths.0, context), (paths.1, pipes)] {
            do { try Data(value.jsonString.utf8).write(to: URL(fileURLWithPath: path)) } catch {
                throw StageError("cannot write \(path): \(error.localizedDescription)")
            }
        }
        return paths
    }

    /// An input or output as the application reads it.
    func describe(_ e: Endpoint, reading: Bool) -> Value {
        let ctx = submission.ctx
        var d: [(String, Value)] = [("location", .string(e.path)), ("format", .string(e.format.rawValue))]
        if e.format == .sqlite {
            if let t = e.table { d.append(("table", .string(t))) }
            if let q = e.query { d.append(("query", .string(q))) }
        }
        if e.format == .csv {
            d.append(("delimiter", .string(String(UnicodeScalar(e.delimiter)))))
            d.append(("header", .bool(e.header)))
        }
        if reading {
            let version = e.pinned?.version ?? ctx.versionRead(e.name, at: e.location)
            d.append(("version", version.map { .int(Int64($0)) } ?? .null))
        } else {
            d.append(("mode", .string(e.mode)))
            if !e.partitionBy.isEmpty { d.append(("partition_by", .array(e.partitionBy.map(Value.string)))) }
        }
        return .object(d)
    }
}
