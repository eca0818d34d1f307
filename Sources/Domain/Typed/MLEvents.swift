/// The ML and automation events: their stored type names, the streams they are appended to, and
/// the sets of types the model registry and the automation state fold. The events themselves are
/// the typed values `ModelVersionRegistered`, `ModelAliasMoved`, `PredictionRecorded`,
/// `MetricObserved` (MLEvents+Registry.swift) and `ThresholdCrossed`, `TriggerFired`,
/// `AlertRaised` (MLEvents+Automation.swift). All schema 1.
///
/// Streams: model `M` is `model/M` (its versions and alias moves; a version's number is the count
/// of versions registered before it plus one); the predictions of run `R` are `predictions/R`;
/// the metrics of model `M` are `metrics/M`; trigger `T` is `trigger/T`, monitor `N` is
/// `monitor/N`, the retraining policy of model `M` is `retrain/M`; alerts for team `X` are
/// `alerts/X`.
public enum MLEvents {
    /// `ModelVersionRegistered`.
    public static let modelVersionRegistered = ModelVersionRegistered.type
    /// `ModelAliasMoved`.
    public static let modelAliasMoved = ModelAliasMoved.type
    /// `PredictionRecorded`.
    public static let predictionRecorded = PredictionRecorded.type
    /// `MetricObserved`.
    public static let metricObserved = MetricObserved.type
    /// `ThresholdCrossed`.
    public static let thresholdCrossed = ThresholdCrossed.type
    /// `TriggerFired`.
    public static let triggerFired = TriggerFired.type
    /// `AlertRaised`.
    public static let alertRaised = AlertRaised.type

    /// Every type above.
    public static let types: Set<String> = [modelVersionRegistered, modelAliasMoved, predictionRecorded, metricObserved,
                                            thresholdCrossed, triggerFired, alertRaised]
    /// The model registry's types.
    public static let registryTypes: Set<String> = [modelVersionRegistered, modelAliasMoved, metricObserved]
    /// The automation state's types.
    public static let automationTypes: Set<String> = [thresholdCrossed, triggerFired, alertRaised]
    /// The schema version every ML event is written with.
    public static let schemaVersion: UInt32 = 1

    /// Every ML event type, in the order of the reference.
    public static let all: [any DomainEvent.Type] = [ModelVersionRegistered.self, ModelAliasMoved.self, PredictionRecorded.self,
                                                     MetricObserved.self, ThresholdCrossed.self, TriggerFired.self, AlertRaised.self]

    /// `model/<name>`: a model's versions and alias moves.
    public static func stream(model name: String) -> String { "model/" + name }
    /// `predictions/<run>`: the predictions a run recorded.
    public static func stream(predictionsOfRun run: String) -> String { "predictions/" + run }
    /// `metrics/<model>`: the metrics observed for a model.
    public static func stream(metricsOf model: String) -> String { "metrics/" + model }
    /// `<kind>/<name>`: a rule's crossings and actions (`trigger/T`, `monitor/N`, `retrain/M`).
    public static func stream(rule kind: String, _ name: String) -> String { kind + "/" + name }
    /// `alerts/<team>`.
    public static func stream(alertsFor team: String) -> String { "alerts/" + team }
}

/// The rule a crossing, a fired trigger or an alert comes from (and that a run's trigger names):
/// `{kind, name, version}`; a retraining policy's has no version.
public struct RuleRef: Sendable, Hashable {
    /// trigger | monitor | retrain_policy
    public var kind: String
    /// The definition's name (for a retraining policy: the model's).
    public var name: String
    /// The definition version that decided (none for a retraining policy).
    public var version: UInt64?

    /// A rule reference.
    public init(kind: String, name: String, version: UInt64? = nil) {
        self.kind = kind
        self.name = name
        self.version = version
    }

    /// The rule of the object `f` reads (e.g. `try RuleRef(f.object("rule"))`).
    public init(_ f: Fields) throws(DecodingFailure) {
        kind = try f.string("kind")
        name = try f.string("name")
        version = try f.uint(opt: "version")
    }

    /// The object it is stored as: `{kind, name, version}` (no `version` when it has none).
    public var value: Value {
        var m: [Value.Member] = [Value.Member("kind", .string(kind)), Value.Member("name", .string(name))]
        if let version { m.append(Value.Member("version", .int(Int64(version)))) }
        return .members(m)
    }

    /// `kind:name`, as the trigger of a run it requested says who asked.
    public var by: String { "\(kind):\(name)" }

    /// The fields of the object, for the reference.
    public static let fieldDocumentation: [FieldDocumentation] = [
        FieldDocumentation("kind", "text", "trigger, monitor or retrain_policy."),
        FieldDocumentation("name", "text", "The rule's definition name (a retraining policy: the model's)."),
        .optional("version", "integer", "The definition version that decided (absent for a retraining policy)."),
    ]
}

/// Payload helpers of the ML events: an integer from a version or seq, and an ordered `Fields`
/// cursor for the events decoded once per prediction or metric (hot paths).
enum MLPayload {
    /// A non-negative integer as stored.
    @inline(__always)
    static func int(_ u: UInt64) -> Value { .int(Int64(u)) }

    /// Reads the members of a payload whose keys are asked for in key order, as its members are
    /// stored: each lookup goes on from the member after the previous one found (one key
    /// comparison per member when all are there), falling back to `Fields` from the start when a
    /// key is not ahead. Failures are `Fields`'. For the events decoded once per prediction or
    /// metric.
    struct Cursor {
        let f: Fields
        var next = 0

        init(_ f: Fields) { self.f = f }

        /// The member `key`, nil when absent or null.
        @inline(__always)
        mutating func value(_ key: String) -> Value? {
            let members = f.members
            var i = next
            while i < members.count {
                if members[i].key == key {
                    next = i + 1
                    if case .null = members[i].value { return nil }
                    return members[i].value
                }
                i += 1
            }
            return f.value(key)
        }

        mutating func string(_ key: String) throws(DecodingFailure) -> String {
            let v = value(key)
            guard case .string(let s)? = v else { throw f.failure(key, expected: "text", found: v) }
            return s
        }

        mutating func string(opt key: String) throws(DecodingFailure) -> String? {
            guard let v = value(key) else { return nil }
            guard case .string(let s) = v else { throw f.failure(key, expected: "text", found: v) }
            return s
        }

        mutating func uint(_ key: String) throws(DecodingFailure) -> UInt64 {
            let v = value(key)
            guard let i = v?.intValue, i >= 0 else { throw f.failure(key, expected: "a non-negative integer", found: v) }
            return UInt64(i)
        }

        mutating func uint(opt key: String) throws(DecodingFailure) -> UInt64? {
            guard let v = value(key) else { return nil }
            guard let i = v.intValue, i >= 0 else { throw f.failure(key, expected: "a non-negative integer", found: v) }
            return UInt64(i)
        }

        mutating func double(_ key: String) throws(DecodingFailure) -> Double {
            let v = value(key)
            guard let d = v?.doubleValue else { throw f.failure(key, expected: "a number", found: v) }
            return d
        }

        mutating func object(_ key: String) throws(DecodingFailure) -> Value {
            let v = value(key)
            guard case .members? = v, let v else { throw f.failure(key, expected: "an object", found: v) }
            return v
        }

        mutating func object(opt key: String) throws(DecodingFailure) -> Value? {
            guard let v = value(key) else { return nil }
            guard case .members = v else { throw f.failure(key, expected: "an object", found: v) }
            return v
        }
    }
}
