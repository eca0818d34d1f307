import Catalog
import Crypto
import Domain
import EventLog
import Foundation
import Models

/// Models of type `script`: an external program trains and scores, Ledgerflow keeps the record.
///
/// The model's `command` (argv, no shell) runs in the project folder like a script stage (its
/// stdout and stderr kept under the attempt's folder, killed on timeout or cancel), with:
/// - training: `LEDGERFLOW_MODE=train`, `LEDGERFLOW_TRAINING_DATA` (JSON Lines of the training
///   rows), `LEDGERFLOW_TARGET`, `LEDGERFLOW_ARTIFACT` (the file to write the trained model to;
///   stored content-addressed like every artifact) and `LEDGERFLOW_REPORT` (optional JSON with
///   `metrics`, recorded with the version);
/// - scoring: `LEDGERFLOW_MODE=score`, `LEDGERFLOW_ARTIFACT` (the version's stored file, checked
///   against its hash), `LEDGERFLOW_INPUT` (JSON Lines of the rows) and `LEDGERFLOW_OUTPUT`, where
///   the program writes one JSON object per input row, in order, with the model's
///   `prediction_fields`.
enum ScriptModel {
    static func command(_ def: ModelDefinition) throws(StageError) -> [String] {
        guard let argv = def.spec.command, !argv.isEmpty else {
            throw StageError("model '\(def.name)' is of type script but has no command; add `command: [program, args…]`")
        }
        return argv
    }

    static func outputs(_ def: ModelDefinition) throws(StageError) -> [String] {
        let names = def.spec.predictionFields
        guard !names.isEmpty else { throw StageError("model '\(def.name)' is of type script: list the fields its command writes in `prediction_fields`") }
        return names
    }

    /// Runs `command` as a script stage of this attempt with `env` added.
    static func run(_ ctx: StageContext, command: [String], env: [(String, String)]) throws(StageError) -> StageResult {
        let script = StageSpec.Script(command: command, env: env.map { StageSpec.EnvVariable(name: $0.0, value: .value(.string($0.1))) })
        return try ScriptExecutor().run(ctx, script, inputs: [])
    }

    static func writeRows(_ table: Table, to path: String) throws(StageError) {
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try JSONLines.write(table, rows: table.rows.indices).write(to: URL(fileURLWithPath: path))
        } catch {
            throw StageError("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// Trains: returns the artifact's bytes and the metrics the program reported.
    static func train(_ ctx: StageContext, _ def: ModelDefinition, rows: Table) throws(StageError) -> (artifact: Data, metrics: [(String, Value)]) {
        let folder = ctx.attemptFolder
        let data = (folder as NSString).appendingPathComponent("training.jsonl")
        let artifact = (folder as NSString).appendingPathComponent("artifact")
        try? FileManager.default.removeItem(atPath: artifact)
        try writeRows(rows, to: data)
        let result = try run(ctx, command: try command(def), env: [("LEDGERFLOW_MODE", "train"), ("LEDGERFLOW_TRAINING_DATA", data),
                                                                     ("LEDGERFLOW_TARGET", def.target ?? ""), ("LEDGERFLOW_ARTIFACT", artifact)])
        guard let bytes = FileManager.default.contents(atPath: artifact) else {
            throw StageError("the command of script model '\(def.name)' wrote no artifact at $LEDGERFLOW_ARTIFACT (\(artifact)); write the trained model there")
        }
        let metrics = (result.outputs?.member("metrics")?.objectMembers ?? []).map { ($0.key, $0.value) }
        return (bytes, metrics)
    }

    /// Scores: one array of values per output field, one value per row.
    static func score(_ ctx: StageContext, _ version: ModelVersion, command: [Value], rows: Table) throws(StageError) -> [[Value]] {
        let artifact = ArtifactStore(store: ctx.store)
        _ = try artifact.get(version.artifact)
        let scored = try score(ctx, model: version.model, command: command.compactMap(\.stringValue), rows: rows,
                               env: [("LEDGERFLOW_ARTIFACT", artifact.path(version.artifact))])
        return try fields(version.outputs, of: scored, model: version.model)
    }

    /// Runs `command` in scoring mode on `rows` (`LEDGERFLOW_MODE=score`, `LEDGERFLOW_INPUT`,
    /// `LEDGERFLOW_OUTPUT`, and `env`); returns what it wrote, one row per input row.
    static func score(_ ctx: StageContext, model: String, command: [String], rows: Table, env: [(String, String)]) throws(StageError) -> Table {
        let folder = ctx.attemptFolder
        let input = (folder as NSString).appendingPathComponent("input.jsonl")
        let output = (folder as NSString).appendingPathComponent("output.jsonl")
        try? FileManager.default.removeItem(atPath: output)
        try writeRows(rows, to: input)
        _ = try run(ctx, command: command, env: [("LEDGERFLOW_MODE", "score")] + env + [("LEDGERFLOW_INPUT", input), ("LEDGERFLOW_OUTPUT", output)])
        guard FileManager.default.fileExists(atPath: output) else {
            throw StageError("the command of script model '\(model)' wrote no predictions at $LEDGERFLOW_OUTPUT (\(output))")
        }
        let scored = try JSONLines.read(file: output)
        guard scored.rows.count == rows.rows.count else {
            throw StageError("the command of script model '\(model)' wrote \(scored.rows.count) predictions for \(rows.rows.count) rows; write one line per input row, in order")
        }
        return scored
    }

    /// The values of each field in `names`, one array per field.
    static func fields(_ names: [String], of scored: Table, model: String) throws(StageError) -> [[Value]] {
        var out: [[Value]] = []
        for name in names {
            guard let c = scored.columns.firstIndex(of: name) else {
                throw StageError("the predictions of script model '\(model)' have no field '\(name)'; they have \(scored.columns.joined(separator: ", "))")
            }
            out.append(scored.rows.map { c < $0.count ? $0[c] : .null })
        }
        return out
    }
}

/// An inference stage's `script`: a scorer program that is not a registered model (the seed job's
/// `"script": "predict_churn.py"`). It runs through the script models' scoring protocol with no
/// artifact (`LEDGERFLOW_ARTIFACT` is not set); every field it writes is an output, in name
/// order (as JSON Lines are read). Its predictions are recorded under the script's file name without its
/// extension (`predict_churn`), version 0 (no version is registered); the stage's outputs record
/// the script's path and SHA-256, so the exact program that scored is on record.
struct ScriptScorer {
    /// The script, absolute.
    var path: String
    /// argv: the interpreter (given, `python3` for `.py`, else none) and the script.
    var command: [String]
    /// The model name its predictions are recorded under.
    var model: String

    /// The version number predictions of a script that is no registered model carry.
    static let version: UInt64 = 0

    init(script: String, interpreter: String?, _ ctx: StageContext) throws(StageError) {
        path = ctx.resolve(script)
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw StageError("the script '\(script)' of inference stage '\(ctx.stage)' is not a readable file (looked for \(path)); put it there or fix `script`")
        }
        try ctx.checkRead(path, for: "script of stage '\(ctx.stage)'")
        let program = interpreter ?? ((path as NSString).pathExtension.lowercased() == "py" ? "python3" : nil)
        command = (program.map { [$0] } ?? []) + [path]
        model = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// SHA-256 (hex) of the script's bytes.
    func sha256() throws(StageError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw StageError("cannot read the script \(path)") }
        return Hex.lowercase(SHA256.hash(data: data))
    }

    /// Scores `rows`: the output field names and one array of values per field.
    func score(_ ctx: StageContext, rows: Table) throws(StageError) -> (names: [String], outputs: [[Value]]) {
        let scored = try ScriptModel.score(ctx, model: model, command: command, rows: rows, env: [])
        guard !scored.columns.isEmpty || rows.rows.isEmpty else {
            throw StageError("the script \(path) wrote predictions with no fields; write one JSON object per row with its outputs")
        }
        return (scored.columns, try ScriptModel.fields(scored.columns, of: scored, model: model))
    }
}
