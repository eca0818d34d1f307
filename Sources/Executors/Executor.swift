import Catalog
import Domain
import EventLog
import Foundation
import Models

/// Runs one attempt of one stage type. Called on a worker thread, outside any transaction; it may
/// block. It reports what it wrote and computed, or throws a `StageError`.
public protocol StageExecutor: Sendable {
    func run(_ context: StageContext) throws(StageError) -> StageResult
}

/// Everything an attempt may use: the stage, the run, the catalog as of the run's version, and
/// where to keep files.
public struct StageContext: Sendable {
    public var run: String
    public var job: String
    public var stage: String
    public var attempt: Int
    /// The stage's spec, as the catalog held it when the run was requested.
    public var spec: Value
    /// The run's parameters (job defaults overridden by `--param`).
    public var parameters: Value
    /// The catalog the run executes under (its seq is the run's `catalog_seq`).
    public var catalog: CatalogState
    /// The store folder (`.ledgerflow`).
    public var store: String
    /// Relative paths in definitions are relative to this folder (the store's parent).
    public var root: String
    /// Set when the attempt must stop (timeout, run cancelled); executors check it and register
    /// the processes to kill.
    public var cancellation: Cancellation
    /// The model registry as the engine saw it when the attempt started (aliases resolve here).
    public var models = ModelsState()
    /// The trigger, monitor and retraining rules in force (which inputs predictions carry).
    public var rules = AutomationRules()
    /// The outputs of the run's stages that have succeeded, by stage (`${stages.S.outputs.F}`).
    public var upstreamOutputs: [String: Value] = [:]
    /// Per dataset, its newest version when the attempt started.
    public var datasetVersions: [String: UInt64] = [:]
    /// Per dataset, where its newest version was written.
    public var datasetLocations: [String: String] = [:]
    /// Version `version` of dataset `name` as the log recorded it (the `DatasetVersionWritten` at
    /// that version of stream `dataset/NAME`: one point read), nil when the stream has no such
    /// version; nil itself when the attempt runs without a log (then `NAME@N` cannot be read).
    public var datasetVersion: (@Sendable (_ name: String, _ version: UInt64) throws -> DatasetVersionWritten?)?
    /// Appends events while the attempt runs (an inference stage's predictions, in batches), or
    /// nil when the attempt runs without a log (then predictions are not recorded).
    public var recorder: (any EventRecorder)?
    /// The newest prediction `model` recorded before the attempt started for each of `entities`
    /// that it scored (`evaluate` stages), or nil when the attempt runs without a log.
    public var predictions: (@Sendable (_ model: String, _ entities: Set<String>) throws -> [String: RecordedPrediction])?
    /// Seq of the attempt's `StageStarted` (the cause of what it records) and the run's correlation.
    public var startedSeq: UInt64?
    public var correlation: UInt64?

    public init(run: String, job: String, stage: String, attempt: Int, spec: Value, parameters: Value, catalog: CatalogState,
                store: String, root: String, cancellation: Cancellation) {
        self.run = run
        self.job = job
        self.stage = stage
        self.attempt = attempt
        self.spec = spec
        self.parameters = parameters
        self.catalog = catalog
        self.store = store
        self.root = root
        self.cancellation = cancellation
    }

    /// A path from a definition, made absolute against `root`.
    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : (root as NSString).appendingPathComponent(path)
    }

    /// `run-<run>-<stage>-<attempt>`: names temporary files and the parts this attempt writes.
    public var token: String { "run\(run)-\(stage)-a\(attempt)" }

    /// The folder that keeps this attempt's files (logs, report) under the store.
    public var attemptFolder: String { Self.attemptFolder(store: store, run: run, stage: stage, attempt: attempt) }

    /// `<store>/runs/<run>/<stage>/<attempt>`: an attempt's files (logs, report, the record of its
    /// process), for the engine's recovery and `ledgerflow logs` too.
    public static func attemptFolder(store: String, run: String, stage: String, attempt: Int) -> String {
        (store as NSString).appendingPathComponent("runs/\(run)/\(stage)/\(attempt)")
    }

    /// The stage's typed spec (an attempt reads it once, when it starts).
    public func stageSpec() throws(StageError) -> StageSpec {
        do throws(DecodingFailure) { return try StageSpec(spec) } catch {
            throw StageError("stage '\(stage)' of job '\(job)' does not read as a stage: \(error)")
        }
    }

    /// The typed spec of the `S` definition `name` in the run's catalog; nil when it has none.
    public func definition<S: KindSpec>(_ type: S.Type, _ name: String) throws(StageError) -> S? {
        guard let entry = catalog.entries[DefinitionKey(S.kind, name)] else { return nil }
        return try read(entry, as: type)
    }

    /// A catalog entry's typed spec.
    public func read<S: KindSpec>(_ entry: CatalogEntry, as type: S.Type) throws(StageError) -> S {
        do throws(DecodingFailure) { return try entry.spec(as: type) } catch {
            throw StageError("\(entry.key.phrase) in the run's catalog (seq \(catalog.lastChangeSeq)) does not read: \(error)")
        }
    }

    /// Replaces `${params.NAME}` (and `${params.NAME:raw}`), `${run}`, `${stage}`, `${attempt}` in
    /// `text` with the values as they are (paths, environment values). Texts a program parses
    /// quote them instead: `substitute(command:)`, `substitute(query:source:)`.
    public func substitute(_ text: String) -> String {
        guard text.contains("${") else { return text }
        do throws(StageError) { return try Substitution.render(text, self) { $0.value } } catch { return text }
    }
}

/// Appends the events an attempt records while it runs (one call: one transaction).
public protocol EventRecorder: Sendable {
    /// Appends `events` to `stream` (any version); returns when they are durable.
    func record(_ events: [NewEvent], to stream: String) throws
    /// Appends to several streams in one transaction, each at its expected version (a conflict
    /// throws and appends nothing); returns when they are durable.
    func record(_ appends: [StreamAppend]) throws
    /// The events of `stream`, in order (empty when it does not exist).
    func events(of stream: String) throws -> [RecordedEvent]
}

/// A prediction as an evaluate stage compares it with a label.
public struct RecordedPrediction: Sendable, Hashable {
    public var seq: UInt64
    public var modelVersion: UInt64
    public var outputs: Value
    public init(seq: UInt64, modelVersion: UInt64, outputs: Value) {
        self.seq = seq
        self.modelVersion = modelVersion
        self.outputs = outputs
    }
}

/// What an attempt produced.
public struct StageResult: Sendable {
    /// Datasets written (each becomes a `DatasetVersionWritten` event).
    public var datasets: [WrittenDataset]
    /// Reported values: metrics, counts, anything the stage wants on record.
    public var outputs: Value?
    /// Rows of predictions a script reported.
    public var predictions: [Value]
    /// Model versions a training attempt produced, to register (the engine numbers them).
    public var registrations: [ModelDecider.Registration]
    /// Metrics observed (`MetricObserved` payloads); `model_version` is filled in by the engine
    /// for metrics of a version registered by this attempt (`"registered"`).
    public var metrics: [Value]
    /// The datasets the attempt read.
    public var inputs: [ReadDataset]
    /// The column lineage of what it wrote (every dataset it wrote has these columns), or nil
    /// when not known (a script's outputs).
    public var columns: ColumnFlow?

    public init(datasets: [WrittenDataset] = [], outputs: Value? = nil, predictions: [Value] = [],
                registrations: [ModelDecider.Registration] = [], metrics: [Value] = [],
                inputs: [ReadDataset] = [], columns: ColumnFlow? = nil) {
        self.datasets = datasets
        self.outputs = outputs
        self.predictions = predictions
        self.registrations = registrations
        self.metrics = metrics
        self.inputs = inputs
        self.columns = columns
    }

    /// `StageSucceeded.column_lineage` (schema 2): per dataset written, its columns' lineage.
    public var columnLineage: [(dataset: String, lineage: DatasetColumnLineage)]? {
        guard let columns, !datasets.isEmpty else { return nil }
        let lineage = columns.lineage
        var seen = Set<String>()
        return datasets.compactMap { seen.insert($0.dataset).inserted ? ($0.dataset, lineage) : nil }
    }
}

/// One dataset version an attempt wrote.
public struct WrittenDataset: Sendable, Hashable {
    public var dataset: String
    public var location: String
    /// sqlite, csv, jsonl or file.
    public var format: String
    public var mode: String
    public var rows: Int64
    /// Column names and types, in order.
    public var schema: [(name: String, type: String)] {
        get { schemaColumns.map { ($0.name, $0.type) } }
        set { schemaColumns = newValue.map { SchemaColumn(name: $0.name, type: $0.type) } }
    }
    var schemaColumns: [SchemaColumn]
    /// SHA-256 (hex) of the rows written (see `Table.contentHash`), or of the file's bytes.
    public var contentHash: String
    /// Partition folders written: values, location, rows.
    public var partitions: [WrittenPartition]
    /// The files a files stage copied, moved or deleted.
    public var files: [WrittenFile] = []

    public init(dataset: String, location: String, format: String, mode: String, rows: Int64,
                schema: [(name: String, type: String)], contentHash: String, partitions: [WrittenPartition] = []) {
        self.dataset = dataset
        self.location = location
        self.format = format
        self.mode = mode
        self.rows = rows
        self.schemaColumns = schema.map { SchemaColumn(name: $0.name, type: $0.type) }
        self.contentHash = contentHash
        self.partitions = partitions
    }

    /// Its `DatasetVersionWritten`, by the attempt of `run`/`stage`.
    public func event(run: String, stage: String, attempt: Int) -> DatasetVersionWritten {
        DatasetVersionWritten(dataset: dataset, run: run, stage: stage, attempt: attempt, location: location, format: format, mode: mode,
                              rows: rows, schema: schemaColumns, contentHash: contentHash,
                              partitions: partitions, files: files)
    }
}

/// Why an attempt failed: `reason` is error, timeout or cancelled; `message` is one line.
public struct StageError: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String
    public var message: String
    public init(_ message: String, reason: String = "error") {
        self.reason = reason
        self.message = message
    }
    public var description: String { message }
}

/// Tells a running attempt to stop, and stops the processes it registered.
public final class Cancellation: Sendable {
    private struct State {
        var why: String?
        var handlers: [UInt64: @Sendable () -> Void] = [:]
        var next: UInt64 = 0
    }
    private let state = Locked(State())

    public init() {}

    /// The reason given (timeout or cancelled), once cancelled.
    public var reason: String? { state.withLock { $0.why } }
    public var isCancelled: Bool { reason != nil }

    /// Stops the attempt: records why (the first reason wins) and runs the registered handlers.
    public func cancel(_ reason: String) {
        let run: [@Sendable () -> Void] = state.withLock { s in
            guard s.why == nil else { return [] }
            s.why = reason
            return Array(s.handlers.values)
        }
        for h in run { h() }
    }

    /// Runs `body` on cancellation (at once if already cancelled) until the token is removed.
    @discardableResult
    public func onCancel(_ body: @escaping @Sendable () -> Void) -> UInt64 {
        let (id, now): (UInt64, Bool) = state.withLock { s in
            s.next += 1
            if s.why != nil { return (s.next, true) }
            s.handlers[s.next] = body
            return (s.next, false)
        }
        if now { body() }
        return id
    }

    public func remove(_ id: UInt64) { state.withLock { _ = $0.handlers.removeValue(forKey: id) } }

    /// Throws the matching `StageError` when cancelled.
    public func check(_ what: @autoclosure () -> String = "the attempt") throws(StageError) {
        if let r = reason { throw StageError.stopped(r, what()) }
    }
}

extension StageError {
    /// The error of an attempt stopped for `reason` (timeout or cancelled).
    static func stopped(_ reason: String, _ what: String) -> StageError {
        StageError(reason == "timeout" ? "\(what) ran past its timeout and was stopped" : "\(what) was cancelled", reason: reason)
    }
}

/// The executors by stage type.
public struct ExecutorRegistry: Sendable {
    public var executors: [String: any StageExecutor]
    public init(_ executors: [String: any StageExecutor]) { self.executors = executors }

    /// Every stage type: etl, storage, script, features, train, inference, evaluate, merge, files, spark.
    public static let builtIn = ExecutorRegistry(["etl": ETLExecutor(), "storage": ETLExecutor(), "script": ScriptExecutor(),
                                                  "features": FeaturesExecutor(), "train": TrainExecutor(),
                                                  "inference": InferenceExecutor(), "evaluate": EvaluateExecutor(), "merge": MergeExecutor(),
                                                  "files": FilesExecutor(), "spark": SparkExecutor()])

    /// Why a stage type cannot run here, or nil when it can.
    public func rejection(for type: String) -> String? {
        if executors[type] != nil { return nil }
        return "no executor for stage type '\(type)'; stage types that run are \(executors.keys.sorted().joined(separator: ", "))"
    }
}

extension StageContext {
    /// The version of dataset `name` a read of `location` saw: its newest version when that was
    /// written to `location` (a source table that shares a name with a dataset ledgerflow writes
    /// elsewhere is a different thing, read without a version).
    public func versionRead(_ name: String, at location: String) -> UInt64? {
        guard let v = datasetVersions[name] else { return nil }
        if let written = datasetLocations[name], written != location { return nil }
        return v
    }
}

extension StageContext {
    /// The store folder with symlinks and `..` resolved.
    var canonicalStore: String { StoreGuard.canonical(store, relativeTo: root) }

    /// Fails when writing `path` would write into, over or above the store (`what`: `output 'x'`).
    /// Checked on the path as it will be written: after substitution, symlinks and `..` resolved.
    public func checkWrite(_ path: String, for what: String) throws(StageError) {
        if let c = StoreGuard.conflict(StoreGuard.canonical(path, relativeTo: root), store: canonicalStore) {
            throw StageError("\(what): path '\(path)' \(c.phrase); \(StoreGuard.outputFix)")
        }
    }

    /// Fails when `path` is the store or inside it (`what`: `source 'x'`): reading LMDB's files in
    /// the engine's process would release the engine's locks on them when the file is closed.
    public func checkRead(_ path: String, for what: String) throws(StageError) {
        if let c = StoreGuard.conflict(StoreGuard.canonical(path, relativeTo: root), store: canonicalStore), c != .holdsStore {
            throw StageError("\(what): path '\(path)' \(c.phrase); \(StoreGuard.sourceFix)")
        }
    }
}
