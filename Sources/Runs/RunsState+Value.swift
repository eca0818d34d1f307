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

    /// Decodes a state encoded by `value`; fails (naming the field) on a malformed one.
    public init(value v: Value) throws(DecodingFailure) {
        self.init()
        let f = try Fields(RunsState.snapshotOwner, v)
        for r in try f.objects("runs") {
            let run = try RunState(r)
            runs[run.id] = run
            if run.status == .running { active.insert(run.id) }
            if let seq = run.finishedSeq {
                finishedByJob[run.job, default: []].append(FinishedRun(run: run.id, status: run.status, seq: seq, correlation: run.correlation))
            }
        }
        for (job, list) in finishedByJob { finishedByJob[job] = list.sorted { $0.seq < $1.seq } }
        let c = try f.object("consumed")
        for m in c.members { consumed[m.key] = Set(try c.strings(m.key)) }
        lastRunNumber = Int(try f.int("last_run_number"))
        let d = try f.object("datasets")
        for m in d.members { datasetVersions[m.key] = try d.uint(m.key) }
        let l = try f.object("dataset_locations")
        for m in l.members { datasetLocations[m.key] = try l.string(m.key) }
        lastSeq = try f.uint("last_seq")
    }

    /// The owner named by snapshot decoding failures.
    static let snapshotOwner = "runs snapshot"
}

extension RunState {
    public var value: Value {
        var m: [(String, Value)] = [("id", .string(id)), ("job", .string(job)), ("job_version", .int(Int64(jobVersion))),
                                    ("catalog_seq", .int(Int64(catalogSeq))), ("parameters", parameters), ("trigger", trigger.value),
                                    ("requested_seq", .int(Int64(requestedSeq))), ("requested_at", .int(requestedAtMicros)),
                                    ("correlation", .int(Int64(correlation))), ("actor", .string(actor)), ("status", .string(status.rawValue)),
                                    ("cancel_requested", .bool(cancelRequested)), ("stream_version", .int(Int64(streamVersion))),
                                    ("last_event_seq", .int(Int64(lastEventSeq))), ("stages", .array(stages.map(\.value)))]
        if let maxParallel { m.append(("max_parallel", .int(Int64(maxParallel)))) }
        if let cancelRequestedBy { m.append(("cancel_requested_by", .string(cancelRequestedBy))) }
        if let owner { m.append(("owner", .string(owner))) }
        if let inlineStage { m.append(("inline_stage", inlineStage)) }
        if let finishedSeq { m.append(("finished_seq", .int(Int64(finishedSeq)))) }
        if let finishedAtMicros { m.append(("finished_at", .int(finishedAtMicros))) }
        if !reuseValue.isEmpty {
            m.append(("reuse", .object(reuseValue.map { ($0.key, .object([("run", .string($0.value.run)), ("attempt", .int(Int64($0.value.attempt)))])) })))
        }
        return .object(m)
    }

    init(_ f: Fields) throws(DecodingFailure) {
        var stages: [StageState] = []
        for s in try f.objects("stages") { stages.append(try StageState(s)) }
        var index: [String: Int] = [:]
        for (i, s) in stages.enumerated() { index[s.name] = i }
        let status = try f.string("status")
        guard let runStatus = RunStatus(rawValue: status) else { throw f.failure("status", expected: "a run status", found: .string(status)) }
        self.init(id: try f.string("id"), job: try f.string("job"), jobVersion: try f.uint("job_version"), catalogSeq: try f.uint("catalog_seq"),
                  parameters: try f.any("parameters"), trigger: try RunTrigger(try f.object("trigger")),
                  maxParallel: try f.int(opt: "max_parallel").map { Int($0) }, requestedSeq: try f.uint("requested_seq"),
                  requestedAtMicros: try f.int("requested_at"), correlation: try f.uint("correlation"), actor: try f.string("actor"),
                  status: runStatus, cancelRequested: try f.bool("cancel_requested"), cancelRequestedBy: try f.string(opt: "cancel_requested_by"),
                  owner: try f.string(opt: "owner"), inlineStage: f.value("inline_stage"), stages: stages, stageIndex: index, streamVersion: try f.uint("stream_version"), finishedSeq: try f.uint(opt: "finished_seq"),
                  finishedAtMicros: try f.int(opt: "finished_at"), lastEventSeq: try f.uint("last_event_seq"))
        if let r = try f.object(opt: "reuse") {
            for m in r.members {
                let ref = try r.object(m.key)
                reuseValue[m.key] = ReuseRef(run: try ref.string("run"), attempt: Int(try ref.int("attempt")))
            }
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
        if skippedByCondition { m.append(("skipped_by_condition", .bool(true))) }
        if let error { m.append(("error", .string(error))) }
        if !datasets.isEmpty { m.append(("datasets", .array(datasets.map(\.value)))) }
        if let outputs { m.append(("outputs", outputs)) }
        if let reusedRun { m.append(("reused_from", .object([("run", .string(reusedRun)), ("attempt", .int(Int64(reusedAttempt)))]))) }
        return .object(m)
    }

    init(_ f: Fields) throws(DecodingFailure) {
        self.init(plan: try PlannedStage(try f.object("plan")))
        let st = try f.string("status")
        guard let stageStatus = StageStatus(rawValue: st) else { throw f.failure("status", expected: "a stage status", found: .string(st)) }
        status = stageStatus
        for a in try f.objects("attempts") { attempts.append(try Attempt(a)) }
        queuedAttempt = Int(try f.int("queued_attempt"))
        queuedSeq = try f.uint("queued_seq")
        lastSeq = try f.uint("last_seq")
        notBeforeMicros = try f.int(opt: "not_before")
        reason = try f.string(opt: "reason")
        skippedByCondition = try f.bool(opt: "skipped_by_condition") ?? false
        error = try f.string(opt: "error")
        for d in try f.objects(opt: "datasets") ?? [] { datasets.append(try DatasetWrite(d)) }
        outputs = f.value("outputs")
        if let r = try f.object(opt: "reused_from") {
            reusedRun = try r.string("run")
            reusedAttempt = Int(try r.int("attempt"))
        }
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
        if let childRun { m.append(("child_run", .string(childRun))) }
        if let items { m.append(("items", .array(items))) }
        if !itemStarts.isEmpty {
            m.append(("item_starts", .array(itemStarts.keys.sorted().map { i in
                var o: [(String, Value)] = [("item", .int(Int64(i)))]
                if let c = itemStarts[i]?.childRun { o.append(("child_run", .string(c))) }
                if let e = itemStarts[i]?.error { o.append(("error", .string(e))) }
                if itemStarts[i]?.reused == true { o.append(("reused", .bool(true))) }
                return .object(o)
            })))
        }
        return .object(m)
    }

    init(_ f: Fields) throws(DecodingFailure) {
        let outcome = try f.string(opt: "outcome")
        self.init(number: Int(try f.int("number")), startedSeq: try f.uint("started_seq"), startedAtMicros: try f.int("started_at"),
                  engine: try f.string("engine"), endedAtMicros: try f.int(opt: "ended_at"), outcome: outcome.flatMap(StageStatus.init(rawValue:)),
                  reason: try f.string(opt: "reason"), error: try f.string(opt: "error"), durationMs: try f.int(opt: "duration_ms"),
                  childRun: try f.string(opt: "child_run"), items: try f.array(opt: "items"))
        for o in try f.objects(opt: "item_starts") ?? [] {
            itemStarts[Int(try o.int("item"))] = ItemStart(childRun: try o.string(opt: "child_run"), error: try o.string(opt: "error"),
                                                           reused: try o.bool(opt: "reused") ?? false)
        }
        if let outcome, self.outcome == nil { throw f.failure("outcome", expected: "a stage status", found: .string(outcome)) }
    }
}

extension DatasetWrite {
    public var value: Value {
        .object([("dataset", .string(dataset)), ("version", .int(Int64(version))), ("seq", .int(Int64(seq))), ("attempt", .int(Int64(attempt))),
                 ("location", .string(location)), ("rows", .int(rows)), ("content_hash", .string(contentHash))])
    }

    init(_ f: Fields) throws(DecodingFailure) {
        self.init(dataset: try f.string("dataset"), version: try f.uint("version"), seq: try f.uint("seq"), attempt: Int(try f.int("attempt")),
                  location: try f.string("location"), rows: try f.int("rows"), contentHash: try f.string("content_hash"))
    }
}
