import Domain

/// The run events: stored identifiers, never renamed (change goes through a new schema version and
/// an upcaster). Every event of run `R` is in stream `run/R` (its stream version orders the run's
/// history); every version of dataset `D` is in stream `dataset/D` (its stream version is the
/// dataset's version). All events of a run share the correlation of its `RunRequested`.
///
/// Payloads (schema 1):
/// - `RunRequested`: `run`, `job`, `job_version`, `catalog_seq`, `parameters` (object), `trigger`
///   (`type`: manual | dependency | rerun | trigger | schedule | sensor, `by`, and per type
///   `dependency` + `after_runs`, or `rerun_of`), `stages` (the plan: `name`, `type`, `after`,
///   optional `retry` {attempts, backoff_s, factor, max_backoff_s} and `timeout_s`), `max_parallel`,
///   optional `reuse` (stage → {run, attempt}: outputs a rerun takes over).
/// - `StageQueued`: `stage`, `attempt`, optional `not_before` (µs since 1970).
/// - `StageStarted`: `stage`, `attempt`, `engine` (the engine instance that runs it).
/// - `DatasetVersionWritten` (stream `dataset/D`): `dataset`, `run`, `stage`, `attempt`,
///   `location`, `format`, `mode`, `rows`, `schema` ([{name, type}]), `content_hash`, optional
///   `partitions` ([{values, location, rows}]).
/// - `StageSucceeded` (schema 2): `stage`, `attempt`, `duration_ms`, optional `outputs` (metrics
///   and other reported values), `datasets` ([{dataset, version}]), `reused_from` ({run, attempt}),
///   `inputs` ([{dataset, optional version (the newest ledgerflow had written when the attempt
///   started), location, format, optional rows, schema, content_hash (of the rows as read)}]) and
///   optional `column_lineage` ({dataset written: {fields: {column: [{dataset, field, type,
///   subtype, description}]}, optional dataset: [the fields that decide the rows]}}). Schema 1
///   had no `inputs` and `column_lineage`; its upcaster leaves them absent, which readers take
///   as "not recorded" (a reused stage has none either: see `reused_from`).
/// - `StageFailed`: `stage`, `attempt`, `reason` (error | timeout | interrupted | unsupported),
///   `error`, `retry` (another attempt is queued), optional `duration_ms`.
/// - `StageSkipped`: `stage`, `reason`.
/// - `StageCancelled`: `stage`, optional `attempt` (when it was running).
/// - `RunCancelRequested`: `by`, optional `reason`.
/// - `RunSucceeded`, `RunFailed` (`failed_stages`), `RunCancelled`: `duration_ms`.
public enum RunEvents {
    public static let runRequested = "RunRequested"
    public static let stageQueued = "StageQueued"
    public static let stageStarted = "StageStarted"
    public static let datasetVersionWritten = "DatasetVersionWritten"
    public static let stageSucceeded = "StageSucceeded"
    public static let stageFailed = "StageFailed"
    public static let stageSkipped = "StageSkipped"
    public static let stageCancelled = "StageCancelled"
    public static let runCancelRequested = "RunCancelRequested"
    public static let runSucceeded = "RunSucceeded"
    public static let runFailed = "RunFailed"
    public static let runCancelled = "RunCancelled"

    /// Every type above.
    public static let types: Set<String> = [runRequested, stageQueued, stageStarted, datasetVersionWritten, stageSucceeded,
                                            stageFailed, stageSkipped, stageCancelled, runCancelRequested, runSucceeded,
                                            runFailed, runCancelled]
    public static let schemaVersion: UInt32 = 1

    public static let runStreamPrefix = "run/"
    public static let datasetStreamPrefix = "dataset/"

    /// The stream of run `id`.
    public static func stream(run id: String) -> String { runStreamPrefix + id }
    /// The stream of dataset `name`.
    public static func stream(dataset name: String) -> String { datasetStreamPrefix + name }

    /// The schema version `StageSucceeded` is written with (see above).
    public static let stageSucceededSchema: UInt32 = 2

    /// The upcasters of the run events: `StageSucceeded` 1 → 2 (a schema 1 payload is a
    /// schema 2 payload whose inputs and column lineage were not recorded).
    public static func register(_ u: inout Upcasters) {
        u.register(type: stageSucceeded, from: 1) { $0 }
    }

    static func succeeded(_ payload: [(String, Value)], causation: UInt64?, correlation: UInt64?) -> NewEvent {
        NewEvent(type: stageSucceeded, schemaVersion: stageSucceededSchema, payload: .object(payload), causation: causation, correlation: correlation)
    }

    static func event(_ type: String, _ payload: [(String, Value)], causation: UInt64?, correlation: UInt64?) -> NewEvent {
        NewEvent(type: type, schemaVersion: schemaVersion, payload: .object(payload), causation: causation, correlation: correlation)
    }
}
