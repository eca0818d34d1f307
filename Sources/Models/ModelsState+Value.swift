import Domain

/// The registry as a value (projection snapshots, `models --json`) and back.
extension ModelsState {
    public var value: Value {
        .object([("models", .array(models.keys.sorted().compactMap { models[$0]?.value })), ("last_seq", .int(Int64(lastSeq)))])
    }

    /// What snapshot decoding failures name as the owner.
    public static let snapshotOwner = "models snapshot"

    /// The registry from a snapshot value; fails naming the field that is missing or of the wrong
    /// shape (nothing defaults: a malformed snapshot is not a registry).
    public init(value v: Value) throws(DecodingFailure) {
        self.init()
        let f = try Fields(ModelsState.snapshotOwner, v)
        for m in try f.objects("models") {
            let e = try ModelEntry(m)
            models[e.name] = e
        }
        lastSeq = try f.uint("last_seq")
    }
}

extension ModelEntry {
    public var value: Value {
        .object([("name", .string(name)),
                 ("versions", .array(versions.map(\.value))),
                 ("aliases", .object(aliases.map { ($0.key, .int(Int64($0.value))) })),
                 ("alias_history", .array(aliasHistory.map { a in
                     .object([("alias", .string(a.alias)), ("version", .int(Int64(a.version))), ("previous", a.previous.map { .int(Int64($0)) } ?? .null),
                              ("seq", .int(Int64(a.seq))), ("at", .int(a.recordedAtMicros)), ("by", .string(a.by))])
                 })),
                 ("latest_metrics", .object(latestMetrics.map { k, p in
                     (k, .object([("metric", .string(p.metric)), ("feature", p.feature.map { .string($0) } ?? .null), ("value", .double(p.value)),
                                  ("model_version", .int(Int64(p.modelVersion))), ("source", .string(p.source)), ("seq", .int(Int64(p.seq))),
                                  ("run", p.run.map { .string($0) } ?? .null)]))
                 })),
                 ("stream_version", .int(Int64(streamVersion)))])
    }

    init(_ f: Fields) throws(DecodingFailure) {
        self.init(name: try f.string("name"))
        versions = try f.objects("versions").map { v throws(DecodingFailure) in try ModelVersion(v) }
        let a = try f.object("aliases")
        for m in a.members { aliases[m.key] = try a.uint(m.key) }
        aliasHistory = try f.objects("alias_history").map { a throws(DecodingFailure) in
            AliasMove(alias: try a.string("alias"), version: try a.uint("version"), previous: try a.uint(opt: "previous"),
                      seq: try a.uint("seq"), recordedAtMicros: try a.int("at"), by: try a.string("by"))
        }
        let l = try f.object("latest_metrics")
        for m in l.members {
            let p = try l.object(m.key)
            latestMetrics[m.key] = MetricPoint(metric: try p.string("metric"), feature: try p.string(opt: "feature"), value: try p.double("value"),
                                               modelVersion: try p.uint("model_version"), source: try p.string("source"),
                                               seq: try p.uint("seq"), run: try p.string(opt: "run"))
        }
        streamVersion = try f.uint("stream_version")
    }
}

extension ModelVersion {
    /// The envelope members a snapshot adds to the registration payload.
    static let envelopeKeys: Set<String> = ["seq", "recorded_at", "correlation"]

    /// The version as a value: its registration payload plus where and when it was recorded.
    public var value: Value {
        registered.payload.setting("seq", to: .int(Int64(seq))).setting("recorded_at", to: .int(recordedAtMicros))
            .setting("correlation", to: .int(Int64(correlation)))
    }

    init(_ f: Fields) throws(DecodingFailure) {
        let registered: ModelVersionRegistered
        do throws(DecodingFailure) {
            registered = try ModelVersionRegistered(.members(f.members.filter { !ModelVersion.envelopeKeys.contains($0.key) }))
        } catch {
            // Named as a field of the snapshot.
            let field = error.field.isEmpty ? String(f.path.dropLast()) : f.path + error.field
            throw DecodingFailure(eventType: f.owner, field: field, expected: error.expected, found: error.found)
        }
        self.init(registered, seq: try f.uint("seq"), recordedAtMicros: try f.int("recorded_at"), correlation: try f.uint("correlation"))
    }
}
