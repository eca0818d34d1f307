import Catalog
import Domain

/// Job stages (a stage that runs another job and waits for it): pure decisions over a parent run
/// and its children. The engine requests the child in the same append as the stage's
/// `StageStarted` (which names it, `child_run`); the child's `RunRequested` names its parent
/// (trigger `parent`). Level-triggered like the scheduler: deciding on a state that holds the
/// events gives none.
public enum ChildRuns {
    /// The type of a job stage.
    public static let stageType = "job"

    /// A job stage's running attempt and the child run it waits for.
    public struct Waiting: Sendable, Hashable {
        public var stage: String
        public var attempt: Int
        public var child: String
    }

    /// The job stages of `run` that wait for a child run.
    public static func waiting(_ run: RunState) -> [Waiting] {
        run.stages.compactMap { s in
            guard s.plan.type == stageType, let a = s.running, let child = a.childRun else { return nil }
            return Waiting(stage: s.name, attempt: a.number, child: child)
        }
    }

    /// How a job stage's attempt ends once its child run has ended (nil while it runs): the
    /// child's success is the stage's, with outputs `{run, job, status, stages: {STAGE: outputs}}`;
    /// a failed child fails it (naming the stages that failed); a cancelled child cancels it when
    /// the parent is being cancelled, else fails it.
    public static func outcome(of child: RunState, parent: RunState) -> StageOutcome? {
        switch child.status {
        case .running:
            return nil
        case .succeeded:
            return .succeeded(outputs: outputs(of: child), datasets: [])
        case .failed:
            let failed = child.stages.filter { $0.status == .failed }.map(\.name)
            return .failed(reason: "error", error: "child run \(child.id) of job '\(child.job)' failed"
                + (failed.isEmpty ? "" : " (stage\(failed.count == 1 ? "" : "s") \(failed.joined(separator: ", ")))"))
        case .cancelled:
            if parent.cancelRequested { return .cancelled }
            return .failed(reason: "error", error: "child run \(child.id) of job '\(child.job)' was cancelled")
        }
    }

    /// A job stage's outputs: the child run, its job and status, and its succeeded stages' outputs.
    public static func outputs(of child: RunState) -> Value {
        let stages = child.stages.compactMap { s in s.status == .succeeded ? s.outputs.map { (s.name, $0) } : nil }
        return .object([("run", .string(child.id)), ("job", .string(child.job)), ("status", .string(child.status.rawValue)),
                        ("stages", .object(stages))])
    }

    /// The cancel a running child gets when its parent is being cancelled (nil otherwise).
    public static func cancel(_ child: RunState, parent: RunState) -> NewEvent? {
        guard parent.cancelRequested, child.status == .running, !child.cancelRequested else { return nil }
        return RunCancelRequested(by: "run:\(parent.id)", reason: "its parent run \(parent.id) is being cancelled")
            .event(causation: child.lastEventSeq, correlation: child.correlation)
    }

    /// How many parents above `run` (0: not a child), following `trigger.parent_run` through
    /// `lookup`, stopping at `ChildJobs.maxDepth` + 1.
    public static func depth(of run: RunState, lookup: (String) -> RunState?) -> Int {
        var n = 0
        var current = run
        while current.trigger.kind == .parent, let p = current.trigger.parentRun, let parent = lookup(p), n <= ChildJobs.maxDepth {
            n += 1
            current = parent
        }
        return n
    }
}
