import Catalog
import Domain
import EventLog
import Foundation
import Models
import Projections
import Runs

/// What a sensor read (`ledgerflow sensors … --json`, the console) sees of one sensor: its definition (when it has one), its stream and the
/// engine's status file.
public struct SensorReport {
    public let name: String
    public let spec: SensorSpec?
    public let version: UInt64?
    public let history: SensorHistory
    /// This sensor's entry in `<store>/status/sensors.json`, when the file holds one.
    public let status: Value?

    public static func load(_ log: EventLog, store: String, name: String, catalog: CatalogState) throws -> SensorReport {
        let entry = catalog.entries[DefinitionKey(.sensor, name)]
        var history = SensorHistory()
        for e in try log.read(stream: SensorEvents.stream(sensor: name)) { history.evolve(e) }
        let status = statusFile(store: store)?["sensors"]?.arrayValue?.first { $0["name"]?.stringValue == name }
        return SensorReport(name: name, spec: try entry?.spec(as: SensorSpec.self), version: entry?.version, history: history, status: status)
    }

    /// The engine's status file, when present and readable.
    public static func statusFile(store: String) -> Value? {
        try? StatusFile.read(store: store, name: "sensors")
    }

    public func folder(store: String) -> String? {
        guard let spec else { return nil }
        let absolute = URL(fileURLWithPath: store).standardizedFileURL.path
        return StoreGuard.canonical(spec.path, relativeTo: (absolute as NSString).deletingLastPathComponent)
    }

    public static func arrivalValue(_ a: SensorHistory.Arrival, runs: RunsState) -> Value {
        let e = a.event
        var m: [(String, Value)] = [("seq", .int(Int64(a.seq))), ("at", .string(Timestamp.rfc3339(micros: a.recordedAtMicros))),
                                    ("file", .string(e.file)), ("size", .int(e.size)), ("mtime", .string(Timestamp.rfc3339(micros: e.mtimeMicros))),
                                    ("mtime_us", .int(e.mtimeMicros)), ("after_run", .string(e.afterRun.rawValue))]
        if let run = e.run {
            m.append(("run", .string(run)))
            m.append(("run_status", .string(runs.runs[run]?.status.rawValue ?? "unknown")))
        } else {
            m.append(("run", .null))
        }
        if let error = e.error { m.append(("error", .string(error))) }
        if let h = a.handled {
            var o: [(String, Value)] = [("outcome", .string(h.outcome.rawValue))]
            if let to = h.to { o.append(("to", .string(to))) }
            if let error = h.error { o.append(("error", .string(error))) }
            if let note = h.note { o.append(("note", .string(note))) }
            m.append(("marker", .object(o)))
        } else {
            m.append(("marker", e.run == nil ? .object([("outcome", .string("kept"))]) : .object([("outcome", .string("pending"))])))
        }
        return .object(m)
    }

    public static func markerText(_ a: SensorHistory.Arrival) -> String {
        guard let h = a.handled else { return a.event.run == nil ? "kept" : "pending (\(a.event.afterRun.rawValue))" }
        switch h.outcome {
        case .moved: return "moved to \(h.to ?? "?")"
        case .failed: return "failed: \(h.error ?? "")"
        default: return h.outcome.rawValue + (h.note.map { " (\($0))" } ?? "")
        }
    }

    /// The sensor as JSON (`sensors list --json`): folder, pattern, job, state, arrivals, the last
    /// one, and the last and next poll from the engine's status file.
    public func value(store: String, runs: RunsState) -> Value {
        let r = self
        var m: [(String, Value)] = [("name", .string(r.name)), ("version", r.version.map { .int(Int64($0)) } ?? .null),
                                    ("folder", r.folder(store: store).map(Value.string) ?? .null),
                                    ("pattern", r.spec.map { .string($0.glob) } ?? .null), ("recursive", .bool(r.spec?.isRecursive ?? false)),
                                    ("job", r.spec.map { .string($0.job) } ?? .null),
                                    ("state", .string(r.history.error == nil ? "ok" : "error")), ("error", r.history.error.map(Value.string) ?? .null),
                                    ("arrivals", .int(Int64(r.history.arrivals.count)))]
        m.append(("last_arrival", r.history.arrivals.last.map { SensorReport.arrivalValue($0, runs: runs) } ?? .null))
        for key in ["last_poll", "next_poll", "files_seen", "entries", "settling"] { m.append((key, r.status?[key] ?? .null)) }
        if r.history.unreadable > 0 { m.append(("unreadable_events", .int(Int64(r.history.unreadable)))) }
        return .object(m)
    }

    /// Every sensor of the catalog, by name.
    public static func all(_ log: EventLog, store: String, catalog: CatalogState) throws -> [SensorReport] {
        try catalog.entries.keys.filter { $0.kind == .sensor }.map(\.name).sorted().map { try load(log, store: store, name: $0, catalog: catalog) }
    }

    /// Sensor `name` (defined, or with a recorded stream); fails (`ReadFailure`) naming the closest.
    public static func named(_ log: EventLog, store: String, name: String, catalog: CatalogState) throws -> SensorReport {
        let known = catalog.entries[DefinitionKey(.sensor, name)] != nil
        let recorded = try log.streamVersion(SensorEvents.stream(sensor: name)) > 0
        guard known || recorded else {
            let names = catalog.entries.keys.filter { $0.kind == .sensor }.map(\.name)
            let hint = Suggest.closest(to: name, in: names).map { "did you mean '\($0)'?" } ?? "`ledgerflow sensors` lists them"
            throw ReadFailure(.notFound, "no sensor '\(name)'; \(hint)")
        }
        return try load(log, store: store, name: name, catalog: catalog)
    }
}
