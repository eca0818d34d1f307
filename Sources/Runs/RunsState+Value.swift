import Domain

/// The runs state as a value (projection snapshots, `status --json`) and back.
extension RunsState {
    public var value: Value {
        .object([("runs", .array(ordered.map(\.value))),
                 ("consumed", .object(consumed.map { ($0.key, .array($0.value.sorted().map { .string($0) })) })),
                 ("last_run_number", .int(Int64(lastRunNumber))),
                 ("datasets", .object(datasetVersions.map { ($0.key, .int(Int64($0.value))) })),
                 ("dataset_locations", .object(datasetLocations.map { ($0.key, .string($0.value)) })),
                 ("last_seq", .int(Int64(lastSeq)))])
    }

    public init(value v: Value) {
        self.init()
        for r in v["runs"]?.arrayValue ?? [] {
            let run = RunState(value: r)
            runs[run.id] = run
            if run.status == .running { active.insert(run.id) }
            if let seq = run.finishedSeq {
                finishedByJob[run.job, default: []].append(FinishedRun(run: run.id, status: run.status, seq: seq, correlation: run.correlation))
            }
        }
        for (job, list) in finishedByJob { finishedByJob[job] = list.sorted { $0.seq < $1.seq } }
        for m in v["consumed"]?.objectMembers ?? [] { consumed[m.key] = Set((m.value.arrayValue ?? []).compactMap(\.stringValue)) }
        lastRunNumber = Int(v["last_run_number"]?.intValue ?? 0)
        for m in v["datasets"]?.objectMembers ?? [] { datasetVersions[m.key] = UInt64(m.value.intValue ?? 0) }
        for m in v["dataset_locations"]?.objectMembers ?? [] { datasetLocations[m.key] = m.value.stringValue }
        lastSeq = UInt64(v["last_seq"]?.intValue ?? 0)
    }
}

extension RunState {
    public var value: Value {
        var m: [(String, Value)] = [("id", .string(id)), ("job", .string(job)), ("job_version", .int(Int64(jobVersion))),
                                    ("catalog_seq", .int(Int64(catalogSeq))), ("parameters", parameters), ("trigger", trigger),
                                    ("requested_seq", .int(Int64(requestedSeq))), ("requested_at", .int(requestedAtMicros)),
                                    ("correlation", .int(Int64(correlation))), ("actor", .string(actor)), ("status", .string(status.rawValue)),
                                    ("cancel_requested", .bool(cancelRequested)), ("stream_version", .int(Int64(streamVersion))),
                                    ("last_event_seq", .int(Int64(lastEventSeq))), ("stages", .array(stages.map(\.value)))]
        if let maxParallel { m.append(("max_parallel", .int(Int64(maxParallel)))) }
        if let cancelRequestedBy { m.append(("cancel_requested_by", .string(cancelRequestedBy))) }
        if let finishedSeq { m.append(("finished_seq", .int(Int64(finishedSeq)))) }
        if let finishedAtMicros { m.append(("finished_at", .int(finishedAtMicros))) }
        if !reuseValue.isEmpty {
            m.append(("reuse", .object(reuseValue.map { ($0.key, .object([("run", .string($0.value.run)), ("attempt", .int(Int64($0.value.attempt)))])) })))
        }
        return .object(m)
    }

    init(value v: Value) {
        let stages = (v["stages"]?.arrayValue ?? []).map(StageState.init(value:))
        var index: [String: Int] = [:]
        for (i, s) in stages.enumerated() { index[s.name] = i }
        self.init(id: v["id"]?.stringValue ?? "?", job: v["job"]?.stringValue ?? "?", jobVersion: UInt64(v["job_version"]?.intValue ?? 0),
                  catalogSeq: UInt64(v["catalog_seq"]?.intValue ?? 0), parameters: v["parameters"] ?? .object([]), trigger: v["trigger"] ?? .null,
                  maxParallel: v["max_parallel"]?.intValue.map { Int($0) }, requestedSeq: UInt64(v["requested_seq"]?.intValue ?? 0),
                  requestedAtMicros: v["requested_at"]?.intValue ?? 0, correlation: UInt64(v["correlation"]?.intValue ?? 0),
                  actor: v["actor"]?.stringValue ?? "", status: RunStatus(rawValue: v["status"]?.stringValue ?? "") ?? .running,
                  cancelRequested: v["cancel_requested"]?.boolValue ?? false, cancelRequestedBy: v["cancel_requested_by"]?.stringValue,
                  stages: stages, stageIndex: index, streamVersion: UInt64(v["stream_version"]?.intValue ?? 0),
                  finishedSeq: v["finished_seq"]?.intValue.map { UInt64($0) }, finishedAtMicros: v["finished_at"]?.intValue,
                  lastEventSeq: UInt64(v["last_event_seq"]?.intValue ?? 0))
        for m in v["reuse"]?.objectMembers ?? [] {
            reuseValue[m.key] = ReuseRef(run: m.value["run"]?.stringValue ?? "", attempt: Int(m.value["attempt"]?.intValue ?? 0))
        }
    }
}

extension StageState {
    public var value: Value {
        var m: [(String, Value)] = [("plan", plan.value), ("status", .string(status.rawValue)),
                                    ("attempts", .array(attempts.map(\.value))), ("queued_attempt", .int(Int64(queuedAttempt))),
                                    ("queued_seq", .int(Int64(queuedSeq))), ("last_seq", .int(Int64(lastSeq)))]
        if let notBeforeMicros { m.append(("not_before", .int(notBeforeMicros))) }
        if let reason { m.append(("reason", .string(reason))) }
        if let error { m.append(("error", .string(error))) }
        if !datasets.isEmpty { m.append(("datasets", .array(datasets.map(\.value)))) }
        if let outputs { m.append(("outputs", outputs)) }
        if let reusedRun { m.append(("reused_from", .object([("run", .string(reusedRun)), ("attempt", .int(Int64(reusedAttempt)))]))) }
        return .object(m)
    }

    init(value v: Value) {
        self.init(plan: PlannedStage(value: v["plan"] ?? .null))
        status = StageStatus(rawValue: v["status"]?.stringValue ?? "") ?? .pending
        attempts = (v["attempts"]?.arrayValue ?? []).map(Attempt.init(value:))
        queuedAttempt = Int(v["queued_attempt"]?.intValue ?? 0)
        queuedSeq = UInt64(v["queued_seq"]?.intValue ?? 0)
        lastSeq = UInt64(v["last_seq"]?.intValue ?? 0)
        notBeforeMicros = v["not_before"]?.intValue
        reason = v["reason"]?.stringValue
        error = v["error"]?.stringValue
        datasets = (v["datasets"]?.arrayValue ?? []).map(DatasetWrite.init(value:))
        outputs = v["outputs"]
        reusedRun = v["reused_from"]?["run"]?.stringValue
        reusedAttempt = Int(v["reused_from"]?["attempt"]?.intValue ?? 0)
    }
}

extension Attempt {
    public var value: Value {
        var m: [(String, Value)] = [("number", .int(Int64(number))), ("started_seq", .int(Int64(startedSeq))),
                                    ("started_at", .int(startedAtMicros)), ("engine", .string(engine))]
        if let endedAtMicros { m.append(("ended_at", .int(endedAtMicros))) }
        if let outcome { m.append(("outcome", .string(outcome.rawValue))) }
        if let reason { m.append(("reason", .string(reason))) }
        if let error { m.append(("error", .string(error))) }
        if let durationMs { m.append(("duration_ms", .int(durationMs))) }
        return .object(m)
    }

    init(value v: Value) {
        self.init(number: Int(v["number"]?.intValue ?? 0), startedSeq: UInt64(v["started_seq"]?.intValue ?? 0),
                  startedAtMicros: v["started_at"]?.intValue ?? 0, engine: v["engine"]?.stringValue ?? "",
                  endedAtMicros: v["ended_at"]?.intValue, outcome: v["outcome"]?.stringValue.flatMap(StageStatus.init(rawValue:)),
                  reason: v["reason"]?.stringValue, error: v["error"]?.stringValue, durationMs: v["duration_ms"]?.intValue)
    }
}

extension DatasetWrite {
    public var value: Value {
        .object([("dataset", .string(dataset)), ("version", .int(Int64(version))), ("seq", .int(Int64(seq))), ("attempt", .int(Int64(attempt))),
                 ("location", .string(location)), ("rows", .int(rows)), ("content_hash", .string(contentHash))])
    }

    init(value v: Value) {
        self.init(dataset: v["dataset"]?.stringValue ?? "", version: UInt64(v["version"]?.intValue ?? 0), seq: UInt64(v["seq"]?.intValue ?? 0),
                  attempt: Int(v["attempt"]?.intValue ?? 0), location: v["location"]?.stringValue ?? "", rows: v["rows"]?.intValue ?? 0,
                  contentHash: v["content_hash"]?.stringValue ?? "")
    }
}
