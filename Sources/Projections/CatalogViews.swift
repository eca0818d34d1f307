import Catalog
import Domain
import EventLog
import Foundation

/// How the catalog reads outside the engine — `ledgerflow catalog … --json` and the console's
/// API alike: the definitions in force at a moment, one definition, and a definition's history.
public enum CatalogViews {
    /// The seq a moment names — `atSeq`, the last event recorded at or before `asOfMicros`, or
    /// the head when neither is given — and a phrase for headers. `names` are how the caller
    /// spells the two (`--at-seq`, `as_of`) in its error.
    public static func moment(_ log: EventLog, atSeq: UInt64?, asOfMicros: Int64?, atSeqName: String = "--at-seq") throws -> (seq: UInt64, phrase: String) {
        let head = try log.lastSeq()
        if let atSeq {
            guard atSeq <= head else { throw ReadFailure(.badRequest, "\(atSeqName) \(atSeq) is past the end of the log (last seq \(head))") }
            return (atSeq, "as of seq \(atSeq)")
        }
        if let micros = asOfMicros {
            let seq = try log.lastSeq(recordedAtOrBefore: Date(timeIntervalSince1970: Double(micros) / 1_000_000))
            return (seq, "as of \(Timestamp.rfc3339(micros: micros)) (seq \(seq))")
        }
        return (head, "at seq \(head)")
    }

    /// The definitions in force in `state`, in key order, of one kind or all.
    public static func entries(_ state: CatalogState, kind: DefinitionKind?) -> [CatalogEntry] {
        let all = state.entries.values.sorted { $0.key < $1.key }
        return kind.map { k in all.filter { $0.key.kind == k } } ?? all
    }

    /// `{seq, catalog_version, definitions}`: the catalog as of `seq` (`catalog show --json`).
    public static func show(_ state: CatalogState, seq: UInt64, kind: DefinitionKind?) -> Value {
        .object([("seq", .int(Int64(seq))), ("catalog_version", .int(Int64(state.lastChangeSeq))),
                 ("definitions", .array(entries(state, kind: kind).map(CatalogProjection.entryValue)))])
    }

    /// Definition `key` in `state`; fails with the closest name of its kind (`phrase` says when).
    public static func entry(_ state: CatalogState, _ key: DefinitionKey, phrase: String) throws(ReadFailure) -> CatalogEntry {
        guard let e = state.entries[key] else {
            let names = entries(state, kind: key.kind).map(\.key.name)
            let hint = Suggest.closest(to: key.name, in: names).map { "; did you mean '\($0)'?" } ?? ""
            throw ReadFailure(.notFound, "no \(key.kind.name) named '\(key.name)' in the catalog \(phrase)\(hint)")
        }
        return e
    }

    /// One version of a definition: an apply (with its spec) or a removal, and its diff to the one before.
    public struct Version: Sendable {
        public let version: UInt64
        /// created, updated or removed.
        public let action: String
        public let seq: UInt64
        public let recordedAtMicros: Int64
        public let actor: String
        public let correlation: UInt64
        public let diff: [SpecDiff.Change]
        public let message: String?
        public let specHash: String?
        /// nil for a removal.
        public let spec: Value?

        public var value: Value {
            var v: [(String, Value)] = [("version", .int(Int64(version))), ("action", .string(action)),
                                        ("seq", .int(Int64(seq))), ("recorded_at", .string(Timestamp.rfc3339(micros: recordedAtMicros))),
                                        ("actor", .string(actor)), ("correlation", .int(Int64(correlation))),
                                        ("diff", .array(diff.map(\.value)))]
            if let m = message { v.append(("message", .string(m))) }
            if let h = specHash { v.append(("spec_hash", .string(h))) }
            if let s = spec { v.append(("spec", s)) }
            return .object(v)
        }
    }

    /// Every version of definition `key`, oldest first; fails when it was never defined (with the
    /// closest name of its kind) or when a stored event of its stream does not read (naming it).
    public static func history(_ log: EventLog, _ key: DefinitionKey) throws -> [Version] {
        let events = try log.read(stream: key.stream)
        guard !events.isEmpty else {
            let state = try ProjectionRunner(log: log, projection: CatalogProjection()).current().state
            let names = state.entries.keys.filter { $0.kind == key.kind }.map(\.name)
            let hint = Suggest.closest(to: key.name, in: names).map { "; did you mean '\($0)'?" } ?? ""
            throw ReadFailure(.notFound, "\(key.phrase) was never defined\(hint)")
        }
        var previous: Value?
        var versions: [Version] = []
        for e in events {
            let spec: Value?, version: UInt64, message: String?, specHash: String?
            if let removed = try e.decodeIf(DefinitionRemoved.self) {
                (spec, version, message, specHash) = (nil, removed.version, removed.message, nil)
            } else {
                let applied = try e.decode(DefinitionApplied.self)
                (spec, version, message, specHash) = (applied.spec, applied.version, applied.message, applied.specHash)
            }
            let action = spec == nil ? "removed" : (previous == nil ? "created" : "updated")
            versions.append(Version(version: version, action: action, seq: e.seq, recordedAtMicros: e.recordedAtMicros, actor: e.actor,
                                    correlation: e.correlation, diff: SpecDiff.changes(from: previous, to: spec), message: message,
                                    specHash: specHash, spec: spec))
            previous = spec
        }
        return versions
    }

    /// `{kind, name, versions}` (`catalog history --json`).
    public static func historyValue(_ key: DefinitionKey, _ versions: [Version]) -> Value {
        .object([("kind", .string(key.kind.name)), ("name", .string(key.name)), ("versions", .array(versions.map(\.value)))])
    }
}
