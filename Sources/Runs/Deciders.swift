import Catalog
import Domain

/// How a stage attempt ended, as its executor reports it.
public enum StageOutcome: Sendable {
    /// Done: reported values (metrics, outputs), the dataset versions written (already appended
    /// in the same transaction as the success, see `StageDecider.complete`), the datasets read
    /// (`StageSucceeded.inputs` items) and the column lineage per dataset written.
    case succeeded(outputs: Value?, datasets: [DatasetRef], inputs: [StageInput] = [],
                   columnLineage: [(dataset: String, lineage: DatasetColumnLineage)]? = nil)
    /// Failed: `reason` is error, timeout, interrupted or unsupported.
    case failed(reason: String, error: String)
    /// Stopped because the run was cancelled.
    case cancelled
}

/// Why a run command was refused (the CLI prints `message`).
public struct RunCommandError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The stage state machine: pure functions from a run's state and a command to the events that
/// record it. `pending → queued → running → succeeded | failed (→ queued again while the retry
/// policy allows) | cancelled`; `pending → skipped`.
public enum StageDecider {
    /// Claims the queued attempt of `stage` for `engine`: the StageStarted that must be committed
    /// before the attempt's side effects begin. A job stage names the child run requested in the
    /// same append (`childRun`).
    public static func start(_ run: RunState, stage: String, engine: String, childRun: String? = nil, items: [Value]? = nil) throws(RunCommandError) -> NewEvent {
        guard let s = run.stage(stage), s.status == .queued else {
            throw RunCommandError("stage '\(stage)' of run \(run.id) is not queued (it is \(run.stage(stage)?.status.rawValue ?? "unknown"))")
        }
        return StageStarted(stage: stage, attempt: s.queuedAttempt, engine: engine, childRun: childRun, items: items).event(causation: s.queuedSeq, correlation: run.correlation)
    }

    /// A queued stage whose executor does not exist (yet): failed without starting, never retried.
    public static func reject(_ run: RunState, stage: String, error: String) throws(RunCommandError) -> NewEvent {
        guard let s = run.stage(stage), s.status == .queued else {
            throw RunCommandError("stage '\(stage)' of run \(run.id) is not queued")
        }
        return StageFailed(stage: stage, attempt: s.queuedAttempt, reason: "unsupported", error: error, retry: false)
            .event(causation: s.queuedSeq, correlation: run.correlation)
    }

    /// Records how the running attempt `attempt` of `stage` ended; a failure the retry policy
    /// allows another attempt for is followed by a StageQueued for it, not before the backoff.
    public static func complete(_ run: RunState, stage: String, attempt: Int, outcome: StageOutcome,
                                nowMicros: Int64) throws(RunCommandError) -> [NewEvent] {
        guard let s = run.stage(stage), s.status == .running, let a = s.attempts.last, a.number == attempt, a.outcome == nil else {
            throw RunCommandError("attempt \(attempt) of stage '\(stage)' in run \(run.id) is not running")
        }
        let duration = max(0, (nowMicros - a.startedAtMicros) / 1000)
        let cause = a.startedSeq
        switch outcome {
        case .succeeded(let outputs, let datasets, let inputs, let columnLineage):
            return [StageSucceeded(stage: stage, attempt: attempt, durationMs: duration, outputs: outputs, datasets: datasets, inputs: inputs,
                                   columnLineage: columnLineage).event(causation: cause, correlation: run.correlation)]
        case .cancelled:
            return [StageCancelled(stage: stage, attempt: attempt).event(causation: cause, correlation: run.correlation)]
        case .failed(let reason, let error):
            let retry = reason != "unsupported" && !run.cancelRequested && attempt < s.plan.retry.attempts
            var out = [StageFailed(stage: stage, attempt: attempt, reason: reason, error: error, retry: retry, durationMs: duration)
                .event(causation: cause, correlation: run.correlation)]
            if retry {
                let wait = Int64(s.plan.retry.backoff(afterAttempt: attempt) * 1_000_000)
                out.append(StageQueued(stage: stage, attempt: attempt + 1, notBefore: nowMicros + wait).event(causation: cause, correlation: run.correlation))
            }
            return out
        }
    }

    /// Recovery: the running attempt of `stage` belongs to an engine that is gone. `note` (what
    /// recovery did about processes the attempt left running) is added to the error.
    public static func interrupt(_ run: RunState, stage: String, note: String? = nil, nowMicros: Int64) throws(RunCommandError) -> [NewEvent] {
        guard let a = run.stage(stage)?.running else { throw RunCommandError("stage '\(stage)' of run \(run.id) is not running") }
        let why = "the engine (\(a.engine)) stopped while attempt \(a.number) ran" + (note.map { "; \($0)" } ?? "")
        return try complete(run, stage: stage, attempt: a.number, outcome: .failed(reason: "interrupted", error: why), nowMicros: nowMicros)
    }
}

/// The stage-scheduler reactor's decision for one run: level-triggered, so that deciding twice on
/// the same state gives the same events and deciding on a state that already holds them gives none.
public enum Scheduler {
    /// Queues every pending stage whose `after:` stages all succeeded (or records it as succeeded
    /// by reuse, for a rerun), skips stages that can no longer run, cancels what has not started
    /// once a cancel was requested, and finishes the run when every stage is done.
    public static func advance(_ run: RunState, nowMicros: Int64) -> [NewEvent] {
        guard run.status == .running else { return [] }
        var r = run
        var out: [NewEvent] = []
        let cause = run.lastEventSeq
        func ev(_ e: some DomainEvent) { out.append(e.event(causation: cause, correlation: r.correlation)) }
        let duration = max(0, (nowMicros - run.requestedAtMicros) / 1000)
        if r.cancelRequested {
            for i in r.stages.indices where r.stages[i].status == .pending || r.stages[i].status == .queued {
                ev(StageCancelled(stage: r.stages[i].name))
                r.stages[i].status = .cancelled
            }
            if r.runningCount == 0 { ev(RunCancelled(durationMs: duration)) }
            return out
        }
        var changed = true
        while changed {
            changed = false
            for i in r.stages.indices where r.stages[i].status == .pending {
                switch readiness(r.stages[i], in: r) {
                case .waiting:
                    continue
                case .skip(let why, let byCondition):
                    ev(StageSkipped(stage: r.stages[i].name, reason: why, byCondition: byCondition ? true : nil))
                    r.stages[i].status = .skipped
                    r.stages[i].skippedByCondition = byCondition
                case .fail(let why):
                    ev(StageFailed(stage: r.stages[i].name, attempt: 0, reason: "error", error: why, retry: false))
                    r.stages[i].status = .failed
                case .ready:
                    if let reuse = r.reuseValue[r.stages[i].name] {
                        ev(StageSucceeded(stage: r.stages[i].name, attempt: 0, durationMs: 0, reusedFrom: AttemptRef(run: reuse.run, attempt: reuse.attempt)))
                        r.stages[i].status = .succeeded
                    } else {
                        ev(StageQueued(stage: r.stages[i].name, attempt: 1))
                        r.stages[i].status = .queued
                        continue
                    }
                }
                changed = true
            }
        }
        if r.stages.allSatisfy({ $0.status.isTerminal }) {
            let counted = failedStages(r)
            if counted.isEmpty {
                ev(RunSucceeded(durationMs: duration))
            } else {
                ev(RunFailed(durationMs: duration, failedStages: counted))
            }
        }
        return out
    }

    /// What a pending stage can do now, from the stages it follows, its `on:` and its `when:`.
    enum Readiness: Equatable {
        case waiting, ready
        case skip(String, byCondition: Bool)
        case fail(String)
    }

    static func readiness(_ stage: StageState, in r: RunState) -> Readiness {
        let plan = stage.plan
        var ended: [(name: String, state: StageState)] = []
        for name in plan.after {
            guard let dep = r.stage(name) else { return .skip("'\(name)' is not a stage of this run", byCondition: false) }
            ended.append((name, dep))
        }
        switch plan.on ?? .success {
        case .success:
            // As soon as one of them cannot succeed any more, this stage cannot run.
            if let bad = ended.first(where: { [.failed, .skipped, .cancelled].contains($0.state.status) }) {
                let s = bad.state
                let why = s.status == .failed ? "failed" : s.status == .cancelled ? "was cancelled" : s.skippedByCondition ? "was skipped by its condition" : "was skipped"
                // Skipped after a stage its condition skipped: a branch not taken, not a failure.
                return .skip("'\(bad.name)' \(why)", byCondition: s.status == .skipped && s.skippedByCondition)
            }
            guard ended.allSatisfy({ $0.state.status == .succeeded }) else { return .waiting }
        case .failure, .completion:
            guard ended.allSatisfy({ $0.state.status.isTerminal }) else { return .waiting }
            if let c = ended.first(where: { $0.state.status == .cancelled }) { return .skip("'\(c.name)' was cancelled", byCondition: false) }
            if plan.on == .failure && !ended.contains(where: { $0.state.status == .failed }) {
                let names = ended.map { "'\($0.name)'" }.joined(separator: ", ")
                return .skip("it runs on failure, and \(ended.count == 1 ? names + " did not fail" : "none of " + names + " failed")", byCondition: true)
            }
        }
        guard let text = plan.when else { return .ready }
        let expression: Expression
        do throws(ExpressionError) { expression = try Expression.parse(text) } catch {
            return .fail("its condition `\(text)` does not read: \(error)")
        }
        switch expression.evaluate({ conditionField($0, in: r) }) {
        case .bool(true): return .ready
        case .bool(false): return .skip("its condition `\(text)` is false", byCondition: true)
        case let other: return .fail("its condition `\(text)` is \(other.jsonString), not true or false")
        }
    }

    /// A field of a stage's `when:`: `params.NAME`, `run.id|job|trigger`, `stages.S.status`,
    /// `stages.S.outputs.FIELD…` (nil: unknown, which compares as null).
    static func conditionField(_ name: String, in r: RunState) -> Value? {
        var params: [String: Value] = [:]
        for m in r.parameters.objectMembers ?? [] { params[m.key] = m.value }
        return StageFields.value(name, params: params,
                                 run: ["id": .string(r.id), "job": .string(r.job), "trigger": .string(r.trigger.kind.rawValue)],
                                 status: { r.stage($0).map { .string($0.status.rawValue) } }, outputs: { r.stage($0)?.outputs })
    }

    /// The stages that make a finished run fail: a failure no `on: failure` stage after it handled
    /// (one that succeeded), a cancelled stage, and stages skipped on the way of a failure — unless
    /// every failure was handled (then they are the branch not taken). Stages skipped by their own
    /// condition never count. Empty: the run succeeded.
    static func failedStages(_ r: RunState) -> [String] {
        var handled: Set<String> = []
        for h in r.stages where h.plan.on == .failure && h.status == .succeeded {
            for f in h.plan.after where r.stage(f)?.status == .failed { handled.insert(f) }
        }
        let unhandled = r.stages.contains { $0.status == .failed && !handled.contains($0.name) }
        let broken = r.stages.contains { s in s.status == .cancelled || s.plan.after.contains { r.stage($0) == nil } }
        if !unhandled && !broken { return [] }
        return r.stages.filter { $0.status != .succeeded && !$0.skippedByCondition && !handled.contains($0.name) }.map(\.name)
    }

    /// The queued stages of `run` that may start now, oldest queued first, at most `limit`
    /// (and at most the run's `max_parallel` minus what runs).
    public static func startable(_ run: RunState, nowMicros: Int64, limit: Int) -> [String] {
        guard run.status == .running, !run.cancelRequested, limit > 0 else { return [] }
        var room = limit
        if let m = run.maxParallel { room = min(room, m - run.runningCount) }
        guard room > 0 else { return [] }
        return run.stages.filter { $0.status == .queued && ($0.notBeforeMicros ?? 0) <= nowMicros }
            .sorted { $0.queuedSeq < $1.queuedSeq }.prefix(room).map(\.name)
    }

    /// The earliest time a queued stage of `run` waits for (retry backoff), if any.
    public static func nextWake(_ run: RunState) -> Int64? {
        run.stages.compactMap { $0.status == .queued ? $0.notBeforeMicros : nil }.min()
    }
}
