import Domain
import EventLog
import Models

/// How the model registry reads outside the engine — `ledgerflow models … --json` and the
/// console's API alike: every model, one model, and what differs between two versions.
public enum ModelViews {
    /// The registry as of the head of the log.
    public static func registry(_ log: EventLog) throws -> ModelsState {
        try ProjectionRunner(log: log, projection: ModelsProjection()).state(at: try log.lastSeq()).state
    }

    /// `{models: [{name, versions, aliases, latest}]}` (`models list --json`).
    public static func list(_ state: ModelsState) -> Value {
        let models = state.models.keys.sorted().compactMap { state.models[$0] }
        return .object([("models", .array(models.map { m in
            .object([("name", .string(m.name)), ("versions", .int(Int64(m.versions.count))),
                     ("aliases", .object(m.aliases.map { ($0.key, .int(Int64($0.value))) })),
                     ("latest", m.latest?.value ?? .null)])
        }))])
    }

    /// Model `name`; fails naming the registered ones.
    public static func model(_ state: ModelsState, _ name: String) throws(ModelCommandError) -> ModelEntry {
        guard let m = state.models[name] else {
            let known = state.models.keys.sorted()
            throw ModelCommandError("no model '\(name)' is registered; " + (known.isEmpty ? "train one first (a `train` stage)" : "registered: \(known.joined(separator: ", "))"))
        }
        return m
    }

    /// What differs between two versions of a model: each field whose value differs.
    public struct Diff: Sendable {
        public let model: String
        public let from: ModelVersion
        public let to: ModelVersion
        /// (field, value in `from`, value in `to`) for each field that differs.
        public let changes: [(field: String, from: Value, to: Value)]

        /// `{model, from, to, changes: [{field, from, to}]}` (`models diff --json`).
        public var value: Value {
            .object([("model", .string(model)), ("from", .int(Int64(from.version))), ("to", .int(Int64(to.version))),
                     ("changes", .array(changes.map { .object([("field", .string($0.field)), ("from", $0.from), ("to", $0.to)]) }))])
        }
    }

    /// Versions `from` and `to` of `model` (numbers, `v2`, or aliases) compared: by default the
    /// newest against the one before; metrics and hyperparameters member by member.
    public static func diff(_ state: ModelsState, model: String, from: String?, to: String?) throws(ModelCommandError) -> Diff {
        // A version (`2`, `v2`) or an alias.
        func tag(_ t: String) -> String { t.hasPrefix("v") && UInt64(t.dropFirst()) != nil ? String(t.dropFirst()) : t }
        let latest = try state.resolve(model)
        let b = try to.map { t throws(ModelCommandError) in try state.resolve("\(model)@\(tag(t))") } ?? latest
        let a: ModelVersion
        if let from {
            a = try state.resolve("\(model)@\(tag(from))")
        } else {
            guard b.version > 1 else { throw ModelCommandError("model '\(model)' has one version; nothing to compare it with") }
            a = try state.resolve("\(model)@\(b.version - 1)")
        }
        var rows: [(field: String, from: Value, to: Value)] = []
        func cmp(_ name: String, _ x: Value, _ y: Value) { if x != y { rows.append((name, x, y)) } }
        // Metrics and hyperparameters are open content: compare them member by member.
        func members(_ v: Value) -> [String: Value] {
            Dictionary((v.objectMembers ?? []).map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        }
        func cmpMembers(_ prefix: String, _ x: Value, _ y: Value) {
            let xs = members(x), ys = members(y)
            for k in Set(xs.keys).union(ys.keys).sorted() { cmp("\(prefix).\(k)", xs[k] ?? .null, ys[k] ?? .null) }
        }
        cmpMembers("metrics", a.metrics, b.metrics)
        cmpMembers("hyperparameters", a.hyperparameters, b.hyperparameters)
        cmp("training_dataset", a.registered.trainingDataset.value, b.registered.trainingDataset.value)
        cmp("feature_spec", a.registered.featureSpec?.value ?? .null, b.registered.featureSpec?.value ?? .null)
        cmp("model_definition_version", .int(Int64(a.definitionVersion)), .int(Int64(b.definitionVersion)))
        cmp("columns", .array(a.columns.map { .string($0) }), .array(b.columns.map { .string($0) }))
        cmp("artifact", .string(a.artifact), .string(b.artifact))
        cmp("run", .string(a.run), .string(b.run))
        return Diff(model: model, from: a, to: b, changes: rows)
    }
}
