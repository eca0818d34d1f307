import Domain
import Testing
@testable import Catalog

/// Job stages (`type: job`): how they read, and what apply refuses (one line each, at the
/// stage's line): an unknown child job, a cycle of jobs through job stages, nesting deeper than
/// `ChildJobs.maxDepth`, parameters the child does not take, missing or mistyped required ones.
@Suite struct ChildJobSpecTests {
    static let child = """
    kind: job
    name: load_day
    parameters: {day: {type: date, required: true}, limit: {type: int, default: 10}}
    stages: [{name: load, type: script, command: ["true"]}]
    """

    /// A parent job whose stage `run` (line 8) runs `job` with `parameters`.
    static func parent(_ job: String, _ parameters: String, extra: String = "") -> String {
        """
        kind: job
        name: nightly
        parameters: {day: {type: date, default: "2026-12-01"}}
        stages:
          - {name: prepare, type: script, command: ["true"]}
          - name: run
            type: job
            job: \(job)
            parameters: \(parameters)
            after: [prepare]\(extra)
        """
    }

    @Test func aJobStageReadsItsChildAndParameters() throws {
        let defs = try definitions(Self.child + "\n---\n" + Self.parent("load_day", "{day: \"${params.day}\", limit: 5}"))
        let job = try #require(try defs[1].typedSpec.as(JobSpec.self))
        guard case .job(let child) = job.stages[1].variant else {
            Issue.record("not a job stage: \(job.stages[1].type)")
            return
        }
        #expect(child.job == "load_day")
        #expect(child.parameters.map(\.key) == ["day", "limit"])
        #expect(child.parameters[1].value == .int(5))
        #expect(job.stages[1].destination == nil && job.stages[1].model == nil)
    }

    @Test func anUnknownChildJobIsRefusedAtItsLineWithASuggestion() {
        let lines = diagnose(Self.child + "\n---\n" + Self.parent("load_dya", "{day: \"2026-12-01\"}")).map(\.description)
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.hasPrefix("test.yaml:13:") == true, "\(lines)")
        #expect(lines.first?.contains("job 'load_dya', which is not defined") == true && lines.first?.contains("did you mean 'load_day'?") == true, "\(lines)")
    }

    @Test func parametersMustBeTheChildsAndRequiredOnesOfTheirType() {
        let missing = diagnose(Self.child + "\n---\n" + Self.parent("load_day", "{limit: 5}")).map(\.description)
        #expect(missing.count == 1 && missing[0].hasPrefix("test.yaml:14:"), "\(missing)")
        #expect(missing.first?.contains("stage 'run' of job 'nightly' runs job 'load_day', whose parameter 'day' (a date") == true, "\(missing)")
        let wrong = diagnose(Self.child + "\n---\n" + Self.parent("load_day", "{day: \"2026-12-01\", limit: many, dya: 1}")).map(\.description)
        #expect(wrong.count == 2, "\(wrong)")
        #expect(wrong.contains { $0.contains("passes the text \"many\" for parameter 'limit' of job 'load_day', which must be") }, "\(wrong)")
        #expect(wrong.contains { $0.contains("passes parameter 'dya', which job 'load_day' does not take") && $0.contains("did you mean 'day'?") }, "\(wrong)")
        // A placeholder is checked when the child is requested; one the parent lacks is refused now.
        #expect(diagnose(Self.child + "\n---\n" + Self.parent("load_day", "{day: \"${params.day}\"}")).isEmpty)
        let unknown = diagnose(Self.child + "\n---\n" + Self.parent("load_day", "{day: \"${params.dya}\"}")).map(\.description)
        #expect(unknown.count == 1 && unknown[0].contains("${params.dya}") && unknown[0].contains("did you mean '${params.day}'?"), "\(unknown)")
    }

    @Test func aTimeoutOnAJobStageIsRefused() {
        let lines = diagnose(Self.child + "\n---\n" + Self.parent("load_day", "{day: \"2026-12-01\"}", extra: "\n    timeout: 1h")).map(\.description)
        #expect(lines.count == 1 && lines[0].hasPrefix("test.yaml:16:") && lines[0].contains("takes no timeout"), "\(lines)")
    }

    @Test func jobsRunningEachOtherInACycleAreRefusedNamingTheCycle() {
        let text = """
        kind: job
        name: a
        stages: [{name: to_b, type: job, job: b}]
        ---
        kind: job
        name: b
        stages: [{name: first, type: script, command: ["true"]}, {name: to_a, type: job, job: a, after: [first]}]
        """
        let lines = diagnose(text).map(\.description)
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.hasPrefix("test.yaml:3:") == true, "\(lines)")
        #expect(lines.first?.contains("jobs run each other through job stages in a cycle: a → b → a") == true, "\(lines)")
        #expect(lines.first?.contains("'to_b' of a runs b, 'to_a' of b runs a") == true, "\(lines)")
        let itself = diagnose("kind: job\nname: self\nstages: [{name: again, type: job, job: self}]").map(\.description)
        #expect(itself.count == 1 && itself[0].contains("self → self"), "\(itself)")
    }

    @Test func nestingDeeperThanTheLimitIsRefusedAtTheTopJob() {
        func chain(_ levels: Int) -> String {
            (0 ..< levels).map { i in "kind: job\nname: j\(i)\nstages: [{name: s, type: job, job: j\(i + 1)}]" }.joined(separator: "\n---\n")
                + "\n---\nkind: job\nname: j\(levels)\nstages: [{name: s, type: script, command: [\"true\"]}]"
        }
        #expect(diagnose(chain(ChildJobs.maxDepth)).isEmpty)
        let lines = diagnose(chain(ChildJobs.maxDepth + 1)).map(\.description)
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.hasPrefix("test.yaml:3:") == true, "\(lines)")
        #expect(lines.first?.contains("nests child jobs 6 levels deep (j0 → j1 → j2 → j3 → j4 → j5 → j6), over the limit of 5") == true, "\(lines)")
        #expect(lines.allSatisfy { !$0.contains("\n") })
    }
}
