import Catalog
import Domain

/// The run state machine's commands: request, cancel, rerun. Pure: state and command in, events
/// (and the new run's id) out.
public enum RunDecider {
    /// A new run of a job.
    public struct Request: Sendable {
        public var job: String
        public var jobVersion: UInt64
        /// The job's spec as the catalog holds it at `catalogSeq`.
        public var jobSpec: Value
        /// The catalog version (seq of its last change) the run executes under.
        public var catalogSeq: UInt64
        /// Parameters given (override the job's defaults).
        public var parameters: [(String, Value)]
        /// Parameters the engine provides whether or not the job declares them (a schedule's
        /// `scheduled_time`); they win over defaults and given ones.
        public var provided: [(String, Value)] = []
        /// Why it runs.
        public var trigger: RunTrigger
        /// Stage → the run and attempt whose outputs are reused (reruns).
        public var reuse: [String: (run: String, attempt: Int)]
        public var causation: UInt64?
        public var correlation: UInt64?
        /// A team told when the run fails, besides the job's owners (a for_each item's owner).
        public var owner: String?
        /// A for_each item's inline stage (the job spec is then `{parameters, stages: [it]}`).
        public var inlineStage: Value?

        public init(job: String, jobVersion: UInt64, jobSpec: Value, catalogSeq: UInt64, parameters: [(String, Value)] = [],
                    trigger: RunTrigger, reuse: [String: (run: String, attempt: Int)] = [:], causation: UInt64? = nil, correlation: UInt64? = nil) {
            self.job = job
            self.jobVersion = jobVersion
            self.jobSpec = jobSpec
            self.catalogSeq = catalogSeq
            self.parameters = parameters
            self.trigger = trigger
            self.reuse = reuse
            self.causation = causation
            self.correlation = correlation
        }
    }

    /// The RunRequested for `request`, with the id it takes (the next run number). Unknown
    /// parameters are refused.
    public static func request(_ state: RunsState, _ request: Request) throws(RunCommandError) -> (id: String, event: NewEvent) {
        let job: JobSpec.Outline
        do throws(DecodingFailure) { job = try JobSpec.Outline(request.jobSpec) } catch {
            throw RunCommandError("job '\(request.job)' does not read as a job: \(error)")
        }
        let known = job.declared.map(\.name)
        var given: [String: Value] = [:]
        for (k, v) in request.parameters {
            guard known.contains(k) else {
                let hint = Suggest.closest(to: k, in: known).map { "did you mean '\($0)'?" }
                    ?? (known.isEmpty ? "job '\(request.job)' takes no parameters" : "its parameters are \(known.joined(separator: ", "))")
                throw RunCommandError("job '\(request.job)' has no parameter '\(k)'; \(hint)")
            }
            given[k] = v
        }
        // Each declared parameter: the value given (typed ones checked and converted), else its default.
        var params: [String: Value] = [:]
        for p in job.declared {
            switch p.resolve(given[p.name], job: request.job) {
            case .success(let v): params[p.name] = v
            case .failure(let problem): throw RunCommandError(problem.description)
            }
        }
        for (k, v) in request.provided { params[k] = v }
        let plan = PlannedStage.plan(of: job)
        guard !plan.isEmpty else { throw RunCommandError("job '\(request.job)' has no stages") }
        let id = state.nextRunID
        var reuse: [String: AttemptRef] = [:]
        for (stage, r) in request.reuse { reuse[stage] = AttemptRef(run: r.run, attempt: r.attempt) }
        let event = RunRequested(run: id, job: request.job, jobVersion: request.jobVersion, catalogSeq: request.catalogSeq,
                                 parameters: .object(params), trigger: request.trigger, stages: plan,
                                 maxParallel: job.maxParallel, reuse: reuse, owner: request.owner,
                                 inlineStage: request.inlineStage)
        return (id, event.event(causation: request.causation, correlation: request.correlation))
    }

    /// Asks a running run to stop: what has not started is cancelled, running attempts are killed.
    public static func cancel(_ state: RunsState, run id: String, by: String, reason: String? = nil) throws(RunCommandError) -> NewEvent {
        guard let run = state.runs[id] else { throw RunCommandError("no run '\(id)'; `ledgerflow runs` lists them") }
        guard run.status == .running else { throw RunCommandError("run \(id) already \(run.status.rawValue); nothing to cancel") }
        guard !run.cancelRequested else { throw RunCommandError("run \(id) is already being cancelled (asked by \(run.cancelRequestedBy ?? "?"))") }
        return RunCancelRequested(by: by, reason: reason).event(causation: run.lastEventSeq, correlation: run.correlation)
    }

    /// The stages of a finished, unsuccessful run whose outputs a rerun from failure reuses: those
    /// that succeeded (pointing at the attempt that produced the outputs, through earlier reruns),
    /// limited to the stages of the new plan.
    public static func reuse(forRerunOf id: String, in state: RunsState, newJobSpec: Value) throws(RunCommandError) -> [String: (run: String, attempt: Int)] {
        guard let run = state.runs[id] else { throw RunCommandError("no run '\(id)'; `ledgerflow runs` lists them") }
        guard run.status == .failed || run.status == .cancelled else {
            throw RunCommandError(run.status == .running ? "run \(id) is still running; wait for it or cancel it first"
                                                         : "run \(id) succeeded; there is no failure to rerun from (use `ledgerflow run \(run.job)`)")
        }
        let names = Set(PlannedStage.plan(ofJob: newJobSpec).map(\.name))
        var reuse: [String: (run: String, attempt: Int)] = [:]
        for s in run.stages where s.status == .succeeded && names.contains(s.name) {
            if let r = s.reusedFrom { reuse[s.name] = r } else if let a = s.attempts.last(where: { $0.outcome == .succeeded }) {
                reuse[s.name] = (run.id, a.number)
            }
        }
        return reuse
    }
}

/// A job-dependency definition as the reactor uses it.
public struct DependencyRule: Sendable, Hashable {
    public var name: String
    /// Seq of the definition's current version: only upstream runs finished after it count.
    public var appliedSeq: UInt64
    public var after: [String]
    /// success, failure or completion.
    public var on: String
    public var run: String
    public var parameters: Value

    public init(name: String, appliedSeq: UInt64, after: [String], on: String, run: String, parameters: Value) {
        self.name = name
        self.appliedSeq = appliedSeq
        self.after = after
        self.on = on
        self.run = run
        self.parameters = parameters
    }

    /// The rule of a dependency definition's spec; one that waits for nothing (and so never
    /// fires) when the spec does not read as a dependency.
    public init(name: String, appliedSeq: UInt64, spec: Value) {
        guard let dependency = try? DependencySpec(spec) else {
            self.init(name: name, appliedSeq: appliedSeq, after: [], on: DependencySpec.Outcome.success.rawValue, run: "", parameters: .object([]))
            return
        }
        self.init(name: name, appliedSeq: appliedSeq, dependency: dependency)
    }

    /// The rule of a dependency definition.
    public init(name: String, appliedSeq: UInt64, dependency: DependencySpec) {
        self.init(name: name, appliedSeq: appliedSeq, after: dependency.after, on: (dependency.on ?? .success).rawValue,
                  run: dependency.run, parameters: .members(dependency.parameters))
    }

    func matches(_ status: RunStatus) -> Bool {
        switch on {
        case "failure": return status == .failed
        case "completion": return status == .succeeded || status == .failed
        default: return status == .succeeded
        }
    }
}

/// The job-dependency reactor's decision: level-triggered over the finished runs and the runs
/// each rule already consumed (recorded in the RunRequested it appended).
public enum DependencyReactor {
    /// One run to start: the rule and the upstream runs (one per job in `after`) it consumes.
    public struct Firing: Sendable, Hashable {
        public var rule: DependencyRule
        public var upstream: [FinishedRun]
    }

    /// Every firing due: for each rule, as long as each job in `after` has a finished run that
    /// matches `on`, finished after the rule's version, and is not consumed yet — the earliest
    /// such run of each job is consumed by one firing.
    public static func due(_ state: RunsState, rules: [DependencyRule]) -> [Firing] {
        var out: [Firing] = []
        for rule in rules where !rule.after.isEmpty {
            var consumed = state.consumed[rule.name] ?? []
            while true {
                var picked: [FinishedRun] = []
                for job in rule.after {
                    guard let f = state.finishedByJob[job]?.first(where: { $0.seq > rule.appliedSeq && rule.matches($0.status) && !consumed.contains($0.run) }) else { break }
                    picked.append(f)
                }
                guard picked.count == rule.after.count else { break }
                for f in picked { consumed.insert(f.run) }
                out.append(Firing(rule: rule, upstream: picked))
            }
        }
        return out
    }

    /// The trigger a firing's RunRequested carries.
    public static func trigger(_ f: Firing) -> RunTrigger {
        var t = RunTrigger(.dependency, by: "reactor:job-dependency")
        t.dependency = f.rule.name
        t.on = f.rule.on
        t.afterRuns = f.upstream.map(\.run)
        return t
    }
}
