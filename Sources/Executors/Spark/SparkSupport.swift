import Catalog
import Domain
import EventLog
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where spark-submit is: `$SPARK_HOME/bin/spark-submit`, else the first on `PATH` (pip's pyspark
/// installs one there).
public enum SparkTools {
    public static func sparkSubmit(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let home = environment["SPARK_HOME"], !home.isEmpty {
            let p = (home as NSString).appendingPathComponent("bin/spark-submit")
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        for dir in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let p = (String(dir) as NSString).appendingPathComponent("spark-submit")
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}

/// The processes of a submitted application, found again by an engine that did not start them.
enum SparkProcesses {
    /// The process group of the attempt in `folder` when a process of it still runs: the recorded
    /// wrapper's group when that process is the one recorded (same start time, this boot), else the
    /// group of a process whose environment names the folder.
    static func running(in folder: String) -> pid_t? {
        AttemptProcesses.leftovers(in: [folder]).first?.group
    }

    static func isRunning(group: pid_t) -> Bool { !ProcessStat.group(group).isEmpty }
}

/// The predictions an application writes to its attempt's `predictions/` folder: each file that
/// has appeared whole (a task's output, renamed into place when the task commits) is recorded as
/// one transaction — its `PredictionRecorded` events and an `ApplicationOutputRecorded` naming it
/// at the application stream's next version — so a file is recorded once, whichever engine sees it.
struct PredictionFiles {
    let submission: SparkSubmission
    let recorder: any EventRecorder
    /// Files recorded (relative to the attempt folder).
    var done: Set<String> = []
    /// The application stream's version.
    var version: UInt64
    /// Predictions recorded, by every engine that followed the application.
    var total = 0

    init(submission: SparkSubmission, recorder: any EventRecorder, recorded: [RecordedEvent]) {
        self.submission = submission
        self.recorder = recorder
        version = recorded.last?.streamVersion ?? 0
        for e in recorded where e.type == ApplicationOutputRecorded.type {
            if let o = try? e.decode(ApplicationOutputRecorded.self) {
                done.insert(o.file)
                total += o.predictions
            }
        }
    }

    /// The folder, relative to the attempt's.
    static let folder = "predictions"

    /// Records each file not recorded yet, in name order (a `part-*` file is whole once it is there:
    /// it is renamed into place when its task commits).
    mutating func ingest() throws(StageError) {
        let dir = submission.file(Self.folder)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for name in names.sorted() where name.hasPrefix("part-") && !name.hasSuffix(".crc") {
            let rel = Self.folder + "/" + name
            // (No cancellation check here: a stopped application's committed files are still
            // recorded, and following it must go on until its processes are gone.)
            guard !done.contains(rel) else { continue }
            let events = try parse((dir as NSString).appendingPathComponent(name), rel)
            let marker = ApplicationOutputRecorded(key: submission.key, file: rel, predictions: events.count)
            let ctx = submission.ctx
            var appends = [StreamAppend(stream: submission.stream, expectedVersion: .exact(version),
                                        events: [marker.event(causation: ctx.startedSeq, correlation: ctx.correlation)])]
            if !events.isEmpty { appends.insert(StreamAppend(stream: MLEvents.stream(predictionsOfRun: ctx.run), expectedVersion: .any, events: events), at: 0) }
            do { try recorder.record(appends) } catch {
                throw StageError("recording the predictions of \(rel) failed: \(error)")
            }
            version += 1
            done.insert(rel)
            total += events.count
        }
    }

    /// One `PredictionRecorded` per line: `{"entity", "outputs": {…}, "inputs": {…}, "model",
    /// "model_version"}` (model and version default to the stage's model, for engine spark).
    func parse(_ path: String, _ rel: String) throws(StageError) -> [NewEvent] {
        guard let data = FileManager.default.contents(atPath: path) else { throw StageError("cannot read \(path)") }
        let ctx = submission.ctx
        var events: [NewEvent] = []
        var line = 0
        var failure: StageError?
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = 0
            while start < bytes.count, failure == nil {
                var end = start
                while end < bytes.count && bytes[end] != 0x0A { end += 1 }
                line += 1
                if end > start {
                    do {
                        let v = try Value(jsonBytes: Array(bytes[start ..< end]))
                        events.append(try prediction(v).event(causation: ctx.startedSeq, correlation: ctx.correlation))
                    } catch let e as DecodingFailure {
                        failure = StageError("\(rel) line \(line): \(e.field.isEmpty ? "the line" : e.field) should be \(e.expected), found \(e.found)")
                    } catch {
                        failure = StageError("\(rel) line \(line) is not a JSON object: \(error)")
                    }
                }
                start = end + 1
            }
        }
        if let failure { throw failure }
        return events
    }

    func prediction(_ v: Value) throws(DecodingFailure) -> PredictionRecorded {
        let f = try Fields("a prediction line", v)
        let ctx = submission.ctx
        let model = try f.string(opt: "model") ?? submission.predictionModel?.name ?? ctx.stage
        let version = try f.uint(opt: "model_version") ?? submission.predictionModel?.version
        let e = f.value("entity")
        var p = PredictionRecorded(run: ctx.run, stage: ctx.stage, attempt: UInt64(ctx.attempt), model: model, modelVersion: version,
                                   entity: e.map { $0.stringValue ?? $0.jsonString } ?? "", outputs: try f.objectValue("outputs"))
        if let inputs = try f.objectValue(opt: "inputs") { p.inputs = inputs }
        return p
    }
}

/// The Dagster Pipes bootstrap: an environment variable's value is base64(zlib(JSON)). The zlib
/// stream here uses stored (uncompressed) deflate blocks: any zlib reader inflates it, and the
/// parameters are a path or two.
enum PipesBootstrap {
    static func encode(path: String) -> String {
        let json = Value.object([("path", .string(path))]).jsonString
        return Data(zlibStored(Array(json.utf8))).base64EncodedString()
    }

    /// `bytes` as a zlib stream of stored deflate blocks (RFC 1950/1951), with its Adler-32.
    static func zlibStored(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var i = 0
        repeat {
            let n = min(65_535, bytes.count - i)
            let last: UInt8 = i + n >= bytes.count ? 1 : 0
            out.append(last)
            out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += bytes[i ..< i + n]
            i += n
        } while i < bytes.count
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes {
            a = (a + UInt32(x)) % 65_521
            b = (b + a) % 65_521
        }
        let adler = (b << 16) | a
        out += [UInt8(adler >> 24), UInt8((adler >> 16) & 0xFF), UInt8((adler >> 8) & 0xFF), UInt8(adler & 0xFF)]
        return out
    }
}

/// What an application said through the Dagster Pipes messages file (protocol 0.1): datasets
/// (asset materializations), ledgerflow's metrics and outputs (custom messages), log lines, the
/// application's id, and the exception it closed with.
struct PipesMessages {
    struct Dataset {
        var name: String
        var location: String?
        var format: String?
        var rows: Int64?
        var schema: [SchemaColumn] = []
        var contentHash: String?
        var mode: String?

        /// The dataset version the engine records.
        func written(_ ctx: StageContext) throws(StageError) -> WrittenDataset {
            guard let location else {
                throw StageError("the application reported dataset '\(name)' without its location; report it with metadata `location` (ledgerflow_spark.report_dataset does)")
            }
            let loc = ctx.resolve(location)
            guard let hash = contentHash ?? ScriptExecutor.fileHash(loc) else {
                throw StageError("the application reported dataset '\(name)' at \(loc), which does not exist")
            }
            return WrittenDataset(dataset: name, location: loc, format: format ?? "file", mode: mode ?? "replace", rows: rows ?? -1,
                                  schema: schema.map { ($0.name, $0.type) }, contentHash: hash)
        }
    }

    var datasets: [Dataset] = []
    var metrics: Value?
    var outputs: [(String, Value)] = []
    var logs: [(level: String, message: String)] = []
    var exception: String?
    var appID: String?

    /// Reads `path` (absent: nothing was said). Lines that are not Pipes messages are skipped.
    static func read(_ path: String) -> PipesMessages {
        var m = PipesMessages()
        guard let data = FileManager.default.contents(atPath: path) else { return m }
        for line in data.split(separator: 0x0A) where !line.isEmpty {
            guard let v = try? Value(jsonBytes: Array(line)), let method = v["method"]?.stringValue else { continue }
            let params = v["params"] ?? .null
            switch method {
            case "closed":
                if let e = params["exception"], e != .null {
                    let name = e["name"]?.stringValue
                    let message = e["message"]?.stringValue ?? e.jsonString
                    m.exception = name.map { "\($0): \(message)" } ?? message
                }
            case "log":
                m.logs.append((params["level"]?.stringValue ?? "info", params["message"]?.stringValue ?? params.jsonString))
            case "report_asset_materialization":
                guard let name = params["asset_key"]?.stringValue else { continue }
                let meta = params["metadata"] ?? .null
                func raw(_ k: String) -> Value? { meta[k].map { $0["raw_value"] ?? $0 } }
                var d = Dataset(name: name)
                d.location = raw("location")?.stringValue ?? raw("path")?.stringValue
                d.format = raw("format")?.stringValue
                d.rows = raw("rows")?.intValue ?? raw("dagster/row_count")?.intValue
                d.contentHash = raw("content_hash")?.stringValue
                d.mode = raw("mode")?.stringValue
                for c in raw("schema")?.arrayValue ?? [] {
                    if let n = c["name"]?.stringValue { d.schema.append(SchemaColumn(name: n, type: c["type"]?.stringValue ?? "string")) }
                }
                m.datasets.append(d)
            case "report_custom_message":
                let payload = params["payload"] ?? .null
                switch payload["ledgerflow"]?.stringValue {
                case "metrics": m.metrics = (m.metrics ?? .object([])).merging(payload["values"] ?? .object([]))
                case "outputs": for o in payload["values"]?.objectMembers ?? [] { m.outputs.append((o.key, o.value)) }
                case "application": m.appID = payload["values"]?["id"]?.stringValue ?? m.appID
                default: m.outputs.append(("message", payload))
                }
            default: continue
            }
        }
        return m
    }
}

/// The driver's logs in the attempt folder.
enum SparkLogs {
    /// Masks every secret in `path`, in place.
    static func mask(_ path: String, _ secrets: SecretMask) {
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let bytes = [UInt8](data)
        let masked = secrets.mask(bytes)
        if masked != bytes { try? Data(masked).write(to: URL(fileURLWithPath: path)) }
    }

    /// Appends the Pipes log messages to `path` (`[pipes LEVEL] message`), masked.
    static func append(_ logs: [(level: String, message: String)], to path: String, _ secrets: SecretMask) {
        guard !logs.isEmpty, let h = FileHandle(forWritingAtPath: path) else { return }
        defer { try? h.close() }
        _ = try? h.seekToEnd()
        let text = logs.map { "[pipes \($0.level)] \(secrets.mask($0.message))\n" }.joined()
        try? h.write(contentsOf: Data(text.utf8))
    }

    /// The application id the driver logged (`app-…` on a standalone cluster, `local-…`).
    static func applicationID(in path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        for marker in ["app ID ", "Submitted application: ", "applicationId="] {
            if let r = text.range(of: marker) {
                let id = text[r.upperBound...].prefix { !$0.isWhitespace && $0 != "," && $0 != ")" }
                if id.hasPrefix("app-") || id.hasPrefix("local-") { return String(id) }
            }
        }
        return nil
    }

    /// The most telling line of a failed driver's stderr: the last Python exception or Spark
    /// error line, else the last line.
    static func lastError(in path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let lines = String(decoding: data.suffix(65_536), as: UTF8.self).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let telling = lines.last { l in
            l.range(of: #"^[A-Za-z_.]*(Error|Exception)\b.*:"#, options: .regularExpression) != nil || l.hasPrefix("Error:")
        }
        return (telling ?? lines.last).map { String($0.prefix(300)) }
    }
}
