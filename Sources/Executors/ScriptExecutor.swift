import Catalog
import Crypto
import Domain
import EventLog
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// script stages: run a command (argv, no shell) and let its exit code decide.
///
/// - Working folder: `workdir` (relative to the project folder, the store's parent), else the
///   project folder.
/// - Environment: the engine's without the variables the catalog's secrets are read from, plus
///   `env` (text, or `{secret: NAME}` resolved now from the secret definition's `from_env` /
///   `from_file`; a value shorter than `SecretMask.minimumLength` is refused), plus `LEDGERFLOW_RUN`, `LEDGERFLOW_JOB`, `LEDGERFLOW_STAGE`,
///   `LEDGERFLOW_ATTEMPT`, `LEDGERFLOW_STORE`, `LEDGERFLOW_ATTEMPT_FOLDER` (how recovery finds its processes), `LEDGERFLOW_PARAM_<NAME>` for each parameter,
///   `LEDGERFLOW_INPUT_<NAME>` for each of its `inputs:` (where it is; `NAME@N`: version N's location), and
///   `LEDGERFLOW_REPORT`: the path of the report file.
/// - stdout and stderr are kept under the store: `runs/<run>/<stage>/<attempt>/stdout.log`,
///   `stderr.log` (`ledgerflow logs`), masked as they stream (see `SecretMask`): no secret value
///   of the run's catalog reaches a file, an error or an event. The child's pid and start time
///   are kept in `process` there (see `AttemptProcesses`: recovery stops what a
///   killed engine left running).
/// - `${params.NAME}`, `${run}`, `${stage}`, `${attempt}` in the command and env values are
///   replaced.
/// - The report file (optional), JSON: `{"datasets": [{"name", "location", "format", "rows",
///   "schema": [{"name", "type"}], "content_hash"}], "metrics": {…}, "outputs": {…},
///   "predictions": [{…}]}`. Only `name` and `location` are required for a dataset; a missing
///   content hash is computed from the file (or the folder's files) at `location`.
public struct ScriptExecutor: StageExecutor {
    public init() {}

    public func run(_ ctx: StageContext) throws(StageError) -> StageResult {
        let stage = try ctx.stageSpec()
        guard case .script(let script) = stage.variant else { throw StageError("stage '\(ctx.stage)' is a \(stage.type) stage, not a script") }
        return try run(ctx, script, inputs: stage.inputs)
    }

    /// Runs `script` as this attempt; `inputs` are the datasets it declares it reads.
    ///
    /// No secret value of the run's catalog leaves the attempt: the child's output is masked as
    /// it streams into the log files, a report holding a secret fails the attempt (before any of
    /// it becomes an event), and every error message is masked.
    func run(_ ctx: StageContext, _ script: StageSpec.Script, inputs: [String]) throws(StageError) -> StageResult {
        let secrets = Secrets.mask(catalog: ctx.catalog, root: ctx.root)
        do throws(StageError) {
            return try attempt(ctx, script, inputs: inputs, secrets: secrets)
        } catch {
            throw StageError(secrets.mask(error.message), reason: error.reason)
        }
    }

    private func attempt(_ ctx: StageContext, _ script: StageSpec.Script, inputs: [String], secrets: SecretMask) throws(StageError) -> StageResult {
        let argv = try ctx.substitute(command: script.command)
        guard !argv.isEmpty else { throw StageError("stage '\(ctx.stage)' has no command") }
        let workdir = script.workdir.map { ctx.resolve(ctx.substitute($0)) } ?? ctx.root
        let folder = ctx.attemptFolder
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw StageError("cannot create \(folder): \(error.localizedDescription)")
        }
        let report = (folder as NSString).appendingPathComponent("report.json")
        try? FileManager.default.removeItem(atPath: report)
        let env = try Self.environment(ctx, script.env, inputs: inputs, report: report)
        let out = (folder as NSString).appendingPathComponent("stdout.log")
        let err = (folder as NSString).appendingPathComponent("stderr.log")
        try ctx.cancellation.check("the script")
        let child = try ChildProcess.spawn(argv: argv, workdir: workdir, environment: env)
        // Should this engine die, the next one finds the child (and its group) by this record.
        AttemptProcesses.record(child.pid, in: folder)
        let stopped = Locked(false)
        let token = ctx.cancellation.onCancel {
            // Ask politely, then insist: the process group gets SIGTERM, and SIGKILL 2 s later.
            child.signal(SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { if !stopped.withLock({ $0 }) { child.signal(SIGKILL) } }
        }
        let code = child.relay(to: (out, err), mask: secrets)
        stopped.withLock { $0 = true }
        ctx.cancellation.remove(token)
        if let r = ctx.cancellation.reason { throw StageError.stopped(r, "the script") }
        guard code == 0 else {
            let last = Self.lastLine(of: err).map { "; last stderr line: \($0)" } ?? ""
            let what = code < 0 ? "was killed by signal \(-code)" : "exited with code \(code)"
            throw StageError("`\(argv.joined(separator: " "))` \(what)\(last)")
        }
        var result = FileManager.default.fileExists(atPath: report) ? try Self.parseReport(report, ctx: ctx, secrets: secrets) : StageResult()
        result.inputs = Self.declaredInputs(ctx, inputs)
        return result
    }

    /// The environment of a program an attempt runs: the engine's without the variables the
    /// catalog's secrets are read from (a secret reaches a program only through its stage's `env`),
    /// the stage's `env` (secrets resolved now), `LEDGERFLOW_RUN`, `_JOB`, `_STAGE`, `_ATTEMPT`,
    /// `_STORE`, the attempt folder, `LEDGERFLOW_REPORT`, `LEDGERFLOW_PARAM_<NAME>` and
    /// `LEDGERFLOW_INPUT_<NAME>`.
    static func environment(_ ctx: StageContext, _ variables: [StageSpec.EnvVariable], inputs: [String], report: String) throws(StageError) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for name in Secrets.sourceVariables(ctx.catalog) { env[name] = nil }
        for variable in variables {
            switch variable.value {
            case .secret(let name):
                env[variable.name] = try Secrets.resolve(name, ctx: ctx, use: "env \(variable.name)")
            case .malformedSecret(let v), .value(let v):
                env[variable.name] = ctx.substitute(v.stringValue ?? Table.text(v))
            }
        }
        env["LEDGERFLOW_RUN"] = ctx.run
        env["LEDGERFLOW_JOB"] = ctx.job
        env["LEDGERFLOW_STAGE"] = ctx.stage
        env["LEDGERFLOW_ATTEMPT"] = String(ctx.attempt)
        env["LEDGERFLOW_STORE"] = ctx.store
        env[AttemptProcesses.folderVariable] = ctx.attemptFolder
        env["LEDGERFLOW_REPORT"] = report
        for m in ctx.parameters.objectMembers ?? [] {
            env["LEDGERFLOW_PARAM_" + m.key.uppercased()] = m.value.stringValue ?? Table.text(m.value)
        }
        for (name, location) in try inputLocations(ctx, inputs) { env["LEDGERFLOW_INPUT_" + name] = location }
        return env
    }

    /// Where each declared input is, by its variable's suffix (the name upper-cased, other
    /// characters than letters and digits `_`): for the script to read. `NAME@N` is version N's
    /// recorded location, and fails the attempt when the dataset has no version N; an input
    /// without a version that is no definition has none.
    static func inputLocations(_ ctx: StageContext, _ inputs: [String]) throws(StageError) -> [(String, String)] {
        let etl = ETLExecutor()
        var out: [(String, String)] = []
        for text in inputs {
            guard let ref = DatasetReference(text) else { continue }
            let e: Endpoint?
            if ref.version == nil { e = try? etl.endpoint(reading: text, ctx) } else { e = try etl.endpoint(reading: text, ctx) }
            let suffix = String(ref.name.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
            if let e { out.append((suffix, e.location)) }
        }
        return out
    }

    /// The stage's `inputs:` as datasets read: the script reads them itself, so their rows and
    /// hash are not known here, only which version ledgerflow last wrote of each (the version
    /// named, for `NAME@N`).
    static func declaredInputs(_ ctx: StageContext, _ inputs: [String]) -> [ReadDataset] {
        let etl = ETLExecutor()
        return inputs.map { text in
            let name = DatasetReference.name(of: text)
            let e = try? etl.endpoint(reading: text, ctx)
            return ReadDataset(dataset: name, version: DatasetReference(text)?.version ?? e.map { ctx.versionRead(name, at: $0.location) } ?? ctx.datasetVersions[name],
                               location: e?.location ?? name, format: e?.format.rawValue ?? "file",
                               rows: nil, schema: [SchemaColumn](), contentHash: nil)
        }
    }

    static func lastLine(of file: String) -> String? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        let text = String(decoding: data.suffix(4096), as: UTF8.self)
        return text.split(separator: "\n").last.map { String($0.prefix(300)) }
    }

    /// Reads the report a script wrote (see the type's documentation).
    ///
    /// A report holding the value of a secret fails the attempt (and the report file is masked
    /// in place): what a report holds becomes events, kept in the log for good, and masking it
    /// instead would quietly change the values recorded (a metric, a prediction, a dataset's
    /// location) into something no one reported. The script has a bug; it is named.
    static func parseReport(_ path: String, ctx: StageContext, secrets: SecretMask = SecretMask([])) throws(StageError) -> StageResult {
        let v: Value
        do {
            guard let data = FileManager.default.contents(atPath: path) else { throw StageError("cannot read the report \(path)") }
            let bytes = [UInt8](data)
            let masked = secrets.mask(bytes)
            if masked != bytes { try? Data(masked).write(to: URL(fileURLWithPath: path)) }
            v = try Value(jsonBytes: bytes)
        } catch let e as StageError { throw e } catch {
            throw StageError("the script's report \(path) is not valid JSON: \(error)")
        }
        if let (name, field) = Secrets.find(in: v, secrets) {
            // Written with JSON escapes, the value escapes the byte mask above: then the file goes.
            if let now = FileManager.default.contents(atPath: path), let w = try? Value(jsonBytes: [UInt8](now)), Secrets.find(in: w, secrets) != nil {
                try? FileManager.default.removeItem(atPath: path)
            }
            throw StageError("the script's report \(path) holds the value of secret '\(name)' (in \(field)); what a report holds is recorded in the event log for good, so none of it was: leave secrets out of the report")
        }
        let report: ScriptReport
        do throws(DecodingFailure) { report = try ScriptReport(v) } catch {
            throw StageError("the script's report \(path): \(error.field.isEmpty ? "it" : error.field) should be \(error.expected), found \(error.found)")
        }
        var datasets: [WrittenDataset] = []
        for (i, d) in report.datasets.enumerated() {
            let loc = ctx.resolve(d.location)
            let hash: String
            if let h = d.contentHash { hash = h } else {
                guard let h = fileHash(loc) else { throw StageError("the script's report \(path): datasets[\(i)] location \(loc) does not exist") }
                hash = h
            }
            datasets.append(WrittenDataset(dataset: d.name, location: loc, format: d.format ?? "file", mode: d.mode ?? "replace", rows: d.rows ?? -1,
                                           schema: d.schema.map { ($0.name, $0.type) }, contentHash: hash))
        }
        var outputs: [(String, Value)] = []
        if let m = report.metrics { outputs.append(("metrics", m)) }
        outputs += report.outputs
        if !report.predictions.isEmpty { outputs.append(("predictions", .int(Int64(report.predictions.count)))) }
        return StageResult(datasets: datasets, outputs: outputs.isEmpty ? nil : .object(outputs), predictions: report.predictions)
    }

    /// SHA-256 of a file's bytes, or of a folder's files (relative path and bytes, sorted).
    static func fileHash(_ path: String) -> String? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return nil }
        var h = SHA256()
        if isDir.boolValue {
            for f in Endpoint.files(in: path, pattern: "*") {
                h.update(data: Data(f.dropFirst(path.count).utf8))
                h.update(data: FileManager.default.contents(atPath: f) ?? Data())
            }
        } else {
            h.update(data: FileManager.default.contents(atPath: path) ?? Data())
        }
        return Hex.lowercase(h.finalize())
    }
}
