import Domain

/// The engine's working set: a `RunsState` that has let go of what no decision can need any more,
/// so that what the engine holds is bounded by the work in progress, not by the history.
///
/// `forget(decidedThrough:rules:keepFinished:)` drops, of what is at or below `decidedThrough`
/// (the seq every reactor has decided through):
/// - finished runs (their `RunState`), except the `keepFinished` most recently finished ones —
///   a run's events all come before its end, so every reactor has decided on all of them;
/// - from `finishedByJob`, the finished runs no dependency rule can still pick: a rule picks a
///   finished run of a job in its `after` that matches its `on`, finished after the rule's
///   version was applied, and that it has not consumed. A rule applied later than the run's end
///   never picks it, so the rules of the current catalog decide it for every future catalog too;
/// - from `consumed`, the runs no longer in `finishedByJob` (the reactor asks `consumed` only
///   about runs it finds there).
///
/// What stays: active runs, the newest `keepFinished` finished runs, undecided finishes, and per
/// job the finished runs a rule may still consume (a rule waiting on several jobs keeps one
/// job's finishes until the others have finished as well: that backlog is the rule's, not the
/// history's). `lastRunNumber`, dataset versions and locations are kept as they are (one entry
/// per dataset). Deciding on a working set gives the same events as deciding on the full state
/// (`DependencyReactor.due`, `Scheduler`, `StageDecider` read nothing else that was dropped).
extension RunsState {
    /// Drops what every reactor has decided on and no decision can need again (see the type's
    /// documentation); returns how many runs were dropped.
    @discardableResult
    public mutating func forget(decidedThrough: UInt64, rules: [DependencyRule], keepFinished: Int) -> Int {
        var dropped = 0
        if runs.count - active.count > keepFinished {
            let finished = runs.values.compactMap { r in r.finishedSeq.map { (r.id, $0) } }.sorted { $0.1 > $1.1 }
            for (id, seq) in finished.dropFirst(max(0, keepFinished)) where seq <= decidedThrough {
                runs[id] = nil
                dropped += 1
            }
            forgotten += dropped
        }
        var held: Set<String> = []
        for (job, list) in finishedByJob {
            let waiting = rules.filter { !$0.after.isEmpty && $0.after.contains(job) }
            let kept = list.filter { f in
                f.seq > decidedThrough
                    || waiting.contains { $0.appliedSeq < f.seq && $0.matches(f.status) && !(consumed[$0.name]?.contains(f.run) ?? false) }
            }
            if kept.isEmpty { finishedByJob[job] = nil } else if kept.count != list.count { finishedByJob[job] = kept }
            for f in kept { held.insert(f.run) }
        }
        for (rule, runs) in consumed {
            let kept = runs.intersection(held)
            if kept.isEmpty { consumed[rule] = nil } else if kept.count != runs.count { consumed[rule] = kept }
        }
        return dropped
    }

    /// Whether run `id` has finished. A working set no longer holding a run it numbered has let it
    /// go after it finished (it drops finished runs only); a full state answers from the run.
    public func hasFinished(_ id: String) -> Bool {
        if let r = runs[id] { return r.status.isFinished }
        guard forgotten > 0, let n = Int(id), n >= 1, n <= lastRunNumber else { return false }
        return !active.contains(id)
    }

    /// The working set as a value (the engine's snapshot): unlike `value`, it keeps the finished
    /// runs per job explicitly (the runs they name may be gone).
    public var workingSetValue: Value {
        .object([("runs", .array(ordered.map(\.value))),
                 ("finished_by_job", .object(finishedByJob.sorted { $0.key < $1.key }.map { job, list in
                     (job, .array(list.map { f in
                         .object([("run", .string(f.run)), ("status", .string(f.status.rawValue)), ("seq", .int(Int64(f.seq))),
                                  ("correlation", .int(Int64(f.correlation)))])
                     }))
                 })),
                 ("consumed", .object(consumed.map { ($0.key, .array($0.value.sorted().map { .string($0) })) })),
                 ("last_run_number", .int(Int64(lastRunNumber))),
                 ("forgotten", .int(Int64(forgotten))),
                 ("datasets", .object(datasetVersions.map { ($0.key, .int(Int64($0.value))) })),
                 ("dataset_locations", .object(datasetLocations.map { ($0.key, .string($0.value)) })),
                 ("last_seq", .int(Int64(lastSeq)))])
    }

    /// A working set from `workingSetValue`; fails (naming the field) on a malformed one.
    public init(workingSet v: Value) throws(DecodingFailure) {
        self.init()
        let f = try Fields(RunsState.workingSetOwner, v)
        for r in try f.objects("runs") {
            let run = try RunState(r)
            runs[run.id] = run
            if run.status == .running { active.insert(run.id) }
        }
        let byJob = try f.object("finished_by_job")
        for m in byJob.members {
            var list: [FinishedRun] = []
            for x in try byJob.objects(m.key) {
                let status = try x.string("status")
                guard let s = RunStatus(rawValue: status), s.isFinished else { throw x.failure("status", expected: "a finished run's status", found: .string(status)) }
                list.append(FinishedRun(run: try x.string("run"), status: s, seq: try x.uint("seq"), correlation: try x.uint("correlation")))
            }
            finishedByJob[m.key] = list
        }
        let c = try f.object("consumed")
        for m in c.members { consumed[m.key] = Set(try c.strings(m.key)) }
        lastRunNumber = Int(try f.int("last_run_number"))
        forgotten = Int(try f.int("forgotten"))
        let d = try f.object("datasets")
        for m in d.members { datasetVersions[m.key] = try d.uint(m.key) }
        let l = try f.object("dataset_locations")
        for m in l.members { datasetLocations[m.key] = try l.string(m.key) }
        lastSeq = try f.uint("last_seq")
    }

    /// The owner named by working-set decoding failures.
    static let workingSetOwner = "engine runs snapshot"
}
