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
/// - Environment: the engine's, plus `env` (text, or `{secret: NAME}` resolved now from the
///   secret definition's `from_env` / `from_file`; values never reach the log, and are masked as
///   `***` in the kept stdout/stderr), plus `LEDGERFLOW_RUN`, `LEDGERFLOW_JOB`, `LEDGERFLOW_STAGE`,
///   `LEDGERFLOW_ATTEMPT`, `LEDGERFLOW_STORE`, `LEDGERFLOW_PARAM_<NAME>` for each parameter, and
///   `LEDGERFLOW_REPORT`: the path of the report file.
/// - stdout and stderr are kept under the store: `runs/<run>/<stage>/<attempt>/stdout.log`,
///   `stderr.log` (`ledgerflow logs`).
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
    func run(_ ctx: StageContext, _ script: StageSpec.Script, inputs: [String]) throws(StageError) -> StageResult {
        let argv = try ctx.substitute(command: script.command)
        guard !argv.isEmpty else { throw StageError("stage '\(ctx.stage)' has no command") }
        let workdir = script.workdir.map { ctx.resolve(ctx.substitute($0)) } ?? ctx.root
        let folder = ctx.attemptFolder
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw StageError("cannot create \(folder): \(error.localizedDescription)")
        }
        let report = (folder as NSString).appendingPathComponent("report.json")
        try? FileManager.default.removeItem(atPath: report)
        var env = ProcessInfo.processInfo.environment
        var secrets: [String] = []
        for variable in script.env {
            switch variable.value {
            case .secret(let name):
                let value = try Secrets.resolve(name, ctx: ctx, for: variable.name)
                env[variable.name] = value
                if value.count >= 3 { secrets.append(value) }
            case .malformedSecret(let v), .value(let v):
                env[variable.name] = ctx.substitute(v.stringValue ?? Table.text(v))
            }
        }
        env["LEDGERFLOW_RUN"] = ctx.run
        env["LEDGERFLOW_JOB"] = ctx.job
        env["LEDGERFLOW_STAGE"] = ctx.stage
        env["LEDGERFLOW_ATTEMPT"] = String(ctx.attempt)
        env["LEDGERFLOW_STORE"] = ctx.store
        env["LEDGERFLOW_REPORT"] = report
        for m in ctx.parameters.objectMembers ?? [] {
            env["LEDGERFLOW_PARAM_" + m.key.uppercased()] = m.value.stringValue ?? Table.text(m.value)
        }
        let out = (folder as NSString).appendingPathComponent("stdout.log")
        let err = (folder as NSString).appendingPathComponent("stderr.log")
        try ctx.cancellation.check("the script")
        let child = try ChildProcess.spawn(argv: argv, workdir: workdir, environment: env, stdout: out, stderr: err)
        let stopped = Locked(false)
        let token = ctx.cancellation.onCancel {
            // Ask politely, then insist: the process group gets SIGTERM, and SIGKILL 2 s later.
            child.signal(SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { if !stopped.withLock({ $0 }) { child.signal(SIGKILL) } }
        }
        let code = child.wait()
        stopped.withLock { $0 = true }
        ctx.cancellation.remove(token)
        if !secrets.isEmpty { for f in [out, err] { Secrets.mask(file: f, values: secrets) } }
        if let r = ctx.cancellation.reason { throw StageError.stopped(r, "the script") }
        guard code == 0 else {
            let last = Self.lastLine(of: err).map { "; last stderr line: \($0)" } ?? ""
            let what = code < 0 ? "was killed by signal \(-code)" : "exited with code \(code)"
            throw StageError("`\(argv.joined(separator: " "))` \(what)\(last)")
        }
        var result = FileManager.default.fileExists(atPath: report) ? try Self.parseReport(report, ctx: ctx) : StageResult()
        result.inputs = Self.declaredInputs(ctx, inputs)
        return result
    }

    /// The stage's `inputs:` as datasets read: the script reads them itself, so their rows and
    /// hash are not known here, only which version ledgerflow last wrote of each.
    static func declaredInputs(_ ctx: StageContext, _ inputs: [String]) -> [ReadDataset] {
        let etl = ETLExecutor()
        return inputs.map { name in
            let e = try? etl.endpoint(reading: name, ctx)
            return ReadDataset(dataset: name, version: e.map { ctx.versionRead(name, at: $0.location) } ?? ctx.datasetVersions[name], location: e?.location ?? name, format: e?.format.rawValue ?? "file",
                               rows: nil, schema: [SchemaColumn](), contentHash: nil)
        }
    }

    static func lastLine(of file: String) -> String? {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data.suffix(4096), encoding: .utf8) else { return nil }
        return text.split(separator: "\n").last.map { String($0.prefix(300)) }
    }

    /// Reads the report a script wrote (see the type's documentation).
    static func parseReport(_ path: String, ctx: StageContext) throws(StageError) -> StageResult {
        let v: Value
        do {
            guard let data = FileManager.default.contents(atPath: path) else { throw StageError("cannot read the report \(path)") }
            v = try Value(jsonBytes: [UInt8](data))
        } catch let e as StageError { throw e } catch {
            throw StageError("the script's report \(path) is not valid JSON: \(error)")
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

/// Secret references, resolved when a stage runs.
enum Secrets {
    static func resolve(_ name: String, ctx: StageContext, for variable: String) throws(StageError) -> String {
        guard let def = try ctx.definition(SecretSpec.self, name) else {
            throw StageError("env \(variable): secret '\(name)' is not defined in the run's catalog; define it (kind: secret, from_env or from_file)")
        }
        if let v = def.fromEnv {
            guard let value = ProcessInfo.processInfo.environment[v] else {
                throw StageError("env \(variable): secret '\(name)' comes from environment variable \(v), which is not set in the engine's environment")
            }
            return value
        }
        if let f = def.fromFile {
            let path = ctx.resolve(f)
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw StageError("env \(variable): secret '\(name)' comes from \(path), which cannot be read")
            }
            return text.hasSuffix("\n") ? String(text.dropLast()) : text
        }
        throw StageError("env \(variable): secret '\(name)' says neither from_env nor from_file")
    }

    /// Replaces every occurrence of the values in `file` with `***`.
    static func mask(file: String, values: [String]) {
        guard let data = FileManager.default.contents(atPath: file), var text = String(data: data, encoding: .utf8) else { return }
        var changed = false
        for v in values where text.contains(v) {
            text = text.replacingOccurrences(of: v, with: "***")
            changed = true
        }
        if changed { try? Data(text.utf8).write(to: URL(fileURLWithPath: file)) }
    }
}
