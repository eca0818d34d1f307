import Domain

/// The registry as a value (projection snapshots, `models --json`) and back.
extension ModelsState {
    public var value: Value {
        .object([("models", .array(models.keys.sorted().compactMap { models[$0]?.value })), ("last_seq", .int(Int64(lastSeq)))])
    }

    public init(value v: Value) {
        self.init()
        for m in v["models"]?.arrayValue ?? [] {
            let e = ModelEntry(value: m)
            models[e.name] = e
        }
        lastSeq = UInt64(v["last_seq"]?.intValue ?? 0)
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

    init(value v: Value) {
        self.init(name: v["name"]?.stringValue ?? "")
        versions = (v["versions"]?.arrayValue ?? []).map(ModelVersion.init(value:))
        for m in v["aliases"]?.objectMembers ?? [] { aliases[m.key] = UInt64(m.value.intValue ?? 0) }
        aliasHistory = (v["alias_history"]?.arrayValue ?? []).map { a in
            AliasMove(alias: a["alias"]?.stringValue ?? "", version: UInt64(a["version"]?.intValue ?? 0), previous: a["previous"]?.intValue.map { UInt64($0) },
                      seq: UInt64(a["seq"]?.intValue ?? 0), recordedAtMicros: a["at"]?.intValue ?? 0, by: a["by"]?.stringValue ?? "")
        }
        for m in v["latest_metrics"]?.objectMembers ?? [] {
            let p = m.value
            latestMetrics[m.key] = MetricPoint(metric: p["metric"]?.stringValue ?? "", feature: p["feature"]?.stringValue, value: p["value"]?.doubleValue ?? 0,
                                               modelVersion: UInt64(p["model_version"]?.intValue ?? 0), source: p["source"]?.stringValue ?? "",
                                               seq: UInt64(p["seq"]?.intValue ?? 0), run: p["run"]?.stringValue)
        }
        streamVersion = UInt64(v["stream_version"]?.intValue ?? 0)
    }
}

extension ModelVersion {
    /// The version as a value: its registration payload plus where and when it was recorded.
    public var value: Value {
        payload.setting("seq", to: .int(Int64(seq))).setting("recorded_at", to: .int(recordedAtMicros))
            .setting("correlation", to: .int(Int64(correlation)))
    }

    init(value v: Value) {
        let seq = UInt64(v["seq"]?.intValue ?? 0)
        let payload = v.removing("seq").removing("recorded_at").removing("correlation")
        self.init(RecordedEvent(seq: seq, recordedAtMicros: v["recorded_at"]?.intValue ?? 0, stream: MLEvents.stream(model: v["model"]?.stringValue ?? ""),
                                streamVersion: 0, type: MLEvents.modelVersionRegistered, causation: nil,
                                correlation: UInt64(v["correlation"]?.intValue ?? 0), actor: "", payload: payload))
    }
}
