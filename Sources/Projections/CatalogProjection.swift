import Catalog
import Domain
import EventLog
import Lineage

/// The catalog as a projection: every definition in force, folded from the catalog events.
public struct CatalogProjection: Projection {
    public init() {}
    public var name: String { "catalog" }
    public var summary: String { "definitions in force (kind, name, version, spec)" }
    public var version: UInt32 { 1 }
    public var eventTypes: Set<String>? { CatalogEvents.types }
    public var initial: CatalogState { CatalogState() }

    public func evolve(_ state: inout CatalogState, _ event: RecordedEvent) { state.evolve(event) }

    public func count(_ state: CatalogState) -> Int { state.entries.count }

    public func encode(_ state: CatalogState) -> Value {
        let entries: [Value] = state.entries.values.sorted { $0.key < $1.key }.map { e in
            var m: [(String, Value)] = [("kind", .string(e.key.kind.name)), ("name", .string(e.key.name)), ("version", .int(Int64(e.version))),
                                        ("spec", e.spec), ("spec_hash", .string(e.specHash)), ("seq", .int(Int64(e.seq))),
                                        ("at", .int(e.recordedAtMicros)), ("actor", .string(e.actor))]
            if let msg = e.message { m.append(("message", .string(msg))) }
            return .object(m)
        }
        let removed: [Value] = state.removedVersions.sorted { $0.key < $1.key }.map {
            .object([("kind", .string($0.key.kind.name)), ("name", .string($0.key.name)), ("version", .int(Int64($0.value)))])
        }
        return .object([("entries", .array(entries)), ("removed", .array(removed)), ("last_change_seq", .int(Int64(state.lastChangeSeq)))])
    }

    public func decode(_ value: Value) throws -> CatalogState { try CatalogProjection.state(value) }

    /// The owner named by snapshot decoding failures.
    static let snapshotOwner = "catalog snapshot"

    /// Decodes a state encoded by `encode`; fails (naming the field) on a malformed one.
    static func state(_ value: Value) throws(DecodingFailure) -> CatalogState {
        let f = try Fields(snapshotOwner, value)
        func key(_ item: Fields) throws(DecodingFailure) -> DefinitionKey {
            let kind = try item.string("kind")
            guard let k = DefinitionKind(rawValue: kind) else {
                throw item.failure("kind", expected: "one of \(DefinitionKind.allCases.map(\.name).joined(separator: ", "))", found: .string(kind))
            }
            return DefinitionKey(k, try item.string("name"))
        }
        var s = CatalogState()
        for e in try f.objects("entries") {
            let k = try key(e)
            s.entries[k] = CatalogEntry(key: k, version: try e.uint("version"), spec: try e.objectValue("spec"), specHash: try e.string("spec_hash"),
                                        seq: try e.uint("seq"), recordedAtMicros: try e.int("at"), actor: try e.string("actor"),
                                        message: try e.string(opt: "message"))
        }
        for r in try f.objects("removed") { s.removedVersions[try key(r)] = try r.uint("version") }
        s.lastChangeSeq = try f.uint("last_change_seq")
        return s
    }

    /// Definitions grouped by kind, then name.
    public func render(_ state: CatalogState) -> Value {
        var byKind: [String: [(String, Value)]] = [:]
        for e in state.entries.values.sorted(by: { $0.key < $1.key }) {
            byKind[e.key.kind.name, default: []].append((e.key.name, CatalogProjection.entryValue(e)))
        }
        return .object([("version", .int(Int64(state.lastChangeSeq))), ("count", .int(Int64(state.entries.count))),
                        ("definitions", .object(byKind.mapValues { Value.object($0) }))])
    }

    /// One entry for output: version, seq, time, actor, message, hash and spec.
    public static func entryValue(_ e: CatalogEntry) -> Value {
        var m: [(String, Value)] = [("kind", .string(e.key.kind.name)), ("name", .string(e.key.name)), ("version", .int(Int64(e.version))),
                                    ("seq", .int(Int64(e.seq))), ("recorded_at", .string(Timestamp.rfc3339(micros: e.recordedAtMicros))),
                                    ("actor", .string(e.actor)), ("spec_hash", .string(e.specHash)), ("spec", e.spec)]
        if let msg = e.message { m.append(("message", .string(msg))) }
        return .object(m)
    }
}

/// Every projection the CLI knows, by name.
public enum ProjectionRegistry {
    /// Type-erased runners over `log`.
    public static func all(_ log: EventLog) -> [AnyProjectionRunner] {
        [AnyProjectionRunner(ProjectionRunner(log: log, projection: CatalogProjection())),
         AnyProjectionRunner(ProjectionRunner(log: log, projection: RunsProjection())),
         // Rebuilding the models also rebuilds the on-disk index of predictions by model and entity.
         AnyProjectionRunner(ProjectionRunner(log: log, projection: ModelsProjection()), alsoRebuild: { _ = try PredictionIndex.rebuild(log) }),
         // The lineage state grows with the log; snapshot it less often. Rebuilding it also
         // rebuilds the on-disk lineage table the graph queries read.
         AnyProjectionRunner(ProjectionRunner(log: log, projection: LineageProjection(), snapshotEvery: 50_000),
                             alsoRebuild: { try LineageIndex.rebuild(log) })]
    }

    public static func named(_ name: String, _ log: EventLog) -> AnyProjectionRunner? {
        all(log).first { $0.name == name }
    }
}

/// A projection runner without its state type, for the CLI.
public struct AnyProjectionRunner: Sendable {
    public let name: String
    public let summary: String
    public let version: UInt32
    public let eventTypes: Set<String>?
    public let checkpointName: String
    let stateAt: @Sendable (UInt64, Bool) throws -> (rendered: Value, count: Int, fold: FoldInfo)
    let rebuildBody: @Sendable () throws -> (count: Int, fold: FoldInfo)
    let currentBody: @Sendable () throws -> (rendered: Value, count: Int, fold: FoldInfo)

    /// What a fold did, without the state.
    public struct FoldInfo: Sendable {
        public let through: UInt64
        public let fromSnapshot: UInt64?
        public let folded: Int
        public let snapshotsWritten: Int
    }

    public init<P: Projection>(_ runner: ProjectionRunner<P>, alsoRebuild: (@Sendable () throws -> Void)? = nil) {
        name = runner.projection.name
        summary = runner.projection.summary
        version = runner.projection.version
        eventTypes = runner.projection.eventTypes
        checkpointName = runner.checkpointName
        @Sendable func info(_ f: ProjectionRunner<P>.Fold) -> FoldInfo {
            FoldInfo(through: f.through, fromSnapshot: f.fromSnapshot, folded: f.folded, snapshotsWritten: f.snapshotsWritten)
        }
        stateAt = { seq, snaps in
            let f = try runner.state(at: seq, useSnapshots: snaps)
            return (runner.projection.render(f.state), runner.projection.count(f.state), info(f))
        }
        rebuildBody = {
            let f = try runner.rebuild()
            try alsoRebuild?()
            return (runner.projection.count(f.state), info(f))
        }
        currentBody = {
            let f = try runner.current()
            return (runner.projection.render(f.state), runner.projection.count(f.state), info(f))
        }
    }

    /// The rendered state as of `seq`.
    public func state(at seq: UInt64, useSnapshots: Bool = true) throws -> (rendered: Value, count: Int, fold: FoldInfo) {
        try stateAt(seq, useSnapshots)
    }

    /// The current rendered state (snapshotting when due on a writable log).
    public func current() throws -> (rendered: Value, count: Int, fold: FoldInfo) { try currentBody() }

    /// Rebuilds from seq 1.
    public func rebuild() throws -> (count: Int, fold: FoldInfo) { try rebuildBody() }
}
