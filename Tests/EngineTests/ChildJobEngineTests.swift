import Catalog
import Domain
import EventLog
import Foundation
import Runs
import TestSupport
import Testing
@testable import Engine

/// Job stages through the engine, with real script stages: the child run is requested with the
/// stage's start, the stage ends with the child, a cancel of the parent reaches the child, and an
/// engine that stops between steps never leads to a second child.
@Suite(.timeLimit(.minutes(1))) struct ChildJobEngineTests {
    /// The child job: `work` reports `{count: n, tag: tag}` from its parameters (or fails when
    /// `fail` is true).
    static let child = """
    kind: job
    name: child
    parameters: {n: {type: int, required: true}, tag: {type: text, default: none}, fail: {type: bool, default: false}}
    stages:
      - {name: work, type: script, command: [sh, report.sh], retry: {attempts: 2, backoff: 0s}}
    """
    static let report = """
    echo "$LEDGERFLOW_PARAM_N" >> child-ran.txt
    if [ "$LEDGERFLOW_PARAM_FAIL" = true ]; then exit 2; fi
    printf '{"outputs": {"count": %s, "tag": "%s"}}' "$LEDGERFLOW_PARAM_N" "$LEDGERFLOW_PARAM_TAG" > "$LEDGERFLOW_REPORT"
    """

    static func project(_ parent: String) throws -> Project {
        let p = try Project()
        try report.write(toFile: p.root + "/report.sh", atomically: true, encoding: .utf8)
        try p.apply(child + "\n---\n" + parent)
        return p
    }

    /// Runs started by a job stage (trigger `parent`).
    static func children(_ state: RunsState) -> [RunState] { state.ordered.filter { $0.trigger.kind == .parent } }

    @Test func aJobStageRunsItsChildAndTakesItsOutputs() throws {
        let p = try Self.project("""
        kind: job
        name: parent
        parameters: {n: {type: int, default: 3}}
        stages:
          - {name: prep, type: script, command: [sh, -c, "printf '{\\"outputs\\": {\\"label\\": \\"daily\\"}}' > \\"$LEDGERFLOW_REPORT\\""]}
          - {name: sub, type: job, job: child, after: [prep], parameters: {n: "${params.n}", tag: "${stages.prep.outputs.label}-${run.id}"}}
          - {name: use, type: script, after: [sub], command: [sh, -c, "echo ${stages.sub.outputs.stages.work.count} > used.txt"]}
        """)
        let id = try RunCommands.request(p.log, job: "parent", trigger: RunTrigger(.manual), actor: "test")
        let state = try p.runAll()
        let run = try #require(state.runs[id])
        #expect(run.status == .succeeded, "\(run.stages.map { "\($0.name): \($0.status) \($0.error ?? "")" })")
        let children = Self.children(state)
        #expect(children.count == 1)
        let child = try #require(children.first)
        #expect(child.status == .succeeded && child.job == "child")
        #expect(child.parameters["n"] == .int(3) && child.parameters["tag"] == .string("daily-\(id)"))
        #expect(child.trigger.parentRun == id && child.trigger.parentStage == "sub" && child.trigger.parentAttempt == 1)
        #expect(child.correlation == run.correlation, "the child joins its parent's causal tree")
        #expect(child.catalogSeq == run.catalogSeq, "the child runs under its parent's catalog version")
        let sub = try #require(run.stage("sub"))
        #expect(sub.attempts.map(\.childRun) == [child.id])
        #expect(sub.outputs == .object([("run", .string(child.id)), ("job", "child"), ("status", "succeeded"),
                                        ("stages", .object([("work", .object([("count", .int(3)), ("tag", .string("daily-\(id)"))]))]))]))
        #expect(try String(contentsOfFile: p.root + "/used.txt", encoding: .utf8) == "3\n")
        // The child's request is in the same append as the stage's start: one transaction.
        let started = try #require(try p.events(id).first { $0.type == RunEvents.stageStarted && (try? $0.decode(StageStarted.self))?.stage == "sub" })
        let requested = try #require(try p.events(child.id).first)
        #expect(requested.type == RunEvents.runRequested && requested.seq == started.seq + 1)
    }

    @Test func aFailedChildFailsTheStageAndAFailurePathHandlesIt() throws {
        let p = try Self.project("""
        kind: job
        name: parent
        stages:
          - {name: sub, type: job, job: child, parameters: {n: 4, fail: true}}
          - {name: next, type: script, after: [sub], command: [sh, -c, "echo next >> parent-ran.txt"]}
          - {name: handle, type: script, after: [sub], on: failure, command: [sh, -c, "echo handle >> parent-ran.txt"]}
        ---
        kind: job
        name: unhandled
        stages: [{name: sub, type: job, job: child, parameters: {n: 5, fail: true}}]
        """)
        let id = try RunCommands.request(p.log, job: "parent", trigger: RunTrigger(.manual), actor: "test")
        let bare = try RunCommands.request(p.log, job: "unhandled", trigger: RunTrigger(.manual), actor: "test")
        let state = try p.runAll()
        let run = try #require(state.runs[id])
        let child = try #require(Self.children(state).first { $0.trigger.parentRun == id })
        #expect(child.status == .failed && child.stage("work")?.attempts.count == 2)
        #expect(run.stage("sub")?.status == .failed)
        #expect(run.stage("sub")?.error == "child run \(child.id) of job 'child' failed (stage work)")
        #expect(run.stage("next")?.status == .skipped && run.stage("handle")?.status == .succeeded)
        #expect(run.status == .succeeded, "the failure is handled")
        #expect(try String(contentsOfFile: p.root + "/parent-ran.txt", encoding: .utf8) == "handle\n")
        #expect(state.runs[bare]?.status == .failed && state.runs[bare]?.stage("sub")?.status == .failed)
        #expect(Self.children(state).count == 2)
    }

    /// A child that cannot be requested (here a value the child's typed parameter refuses)
    /// fails the job stage with the one-line reason, and no child run exists.
    @Test func aChildThatCannotBeRequestedFailsTheStageWithTheReason() throws {
        let p = try Self.project("""
        kind: job
        name: parent
        parameters: {count: {type: text, default: many}}
        stages: [{name: sub, type: job, job: child, parameters: {n: "${params.count}"}}]
        """)
        let id = try RunCommands.request(p.log, job: "parent", trigger: RunTrigger(.manual), actor: "test")
        let state = try p.runAll()
        let run = try #require(state.runs[id])
        #expect(run.status == .failed)
        #expect(run.stage("sub")?.attempts.map(\.childRun) == [nil])
        let error = try #require(run.stage("sub")?.error)
        #expect(error.contains("'n'") && error.contains("many") && !error.contains("\n"), "\(error)")
        #expect(Self.children(state).isEmpty)
    }

    @Test func cancellingTheParentCancelsItsRunningChild() throws {
        let p = try Self.project("""
        kind: job
        name: slow
        stages: [{name: wait, type: script, command: [sh, -c, "sleep 30 & echo $! > sleep.pid; wait; echo done > done.txt"]}]
        ---
        kind: job
        name: parent
        stages:
          - {name: sub, type: job, job: slow}
          - {name: after, type: script, after: [sub], command: ["true"]}
        """)
        let id = try RunCommands.request(p.log, job: "parent", trigger: RunTrigger(.manual), actor: "test")
        let pidFile = p.root + "/sleep.pid"
        let cancelFailure = p.cancel(id, by: "ann", once: "the child's script started", pidWritten: pidFile)
        let state = try p.runAll()
        #expect(cancelFailure.withLock { $0 } == nil)
        let run = try #require(state.runs[id])
        #expect(run.status == .cancelled)
        #expect(run.stages.map(\.status) == [.cancelled, .cancelled])
        let child = try #require(Self.children(state).first)
        #expect(child.status == .cancelled && child.cancelRequestedBy == "run:\(id)")
        #expect(!FileManager.default.fileExists(atPath: p.root + "/done.txt"))
        let sleeper = try #require(pidWritten(to: pidFile))
        try waitFor("the cancelled child's process \(sleeper) to end") { processHasEnded(sleeper) }
    }

    /// An engine that stops between steps (never to run again, its attempts abandoned) after the
    /// child was requested and its stage started: the next engine finds the child run through the
    /// parent's StageStarted, recovers the child's attempt, and requests no second child; the
    /// parent's job stage is not taken for an interrupted attempt.
    @Test func anEngineStoppedWhileTheChildRunsLeadsToOneChild() throws {
        let p = try Self.project("""
        kind: job
        name: parent
        stages: [{name: sub, type: job, job: child, parameters: {n: 7}}]
        """)
        let id = try RunCommands.request(p.log, job: "parent", trigger: RunTrigger(.manual), actor: "test")
        let first = p.engine()
        try first.load()
        var steps = 0
        func childStageStarted() throws -> Bool {
            try Self.children(RunCommands.runs(p.log)).first?.stage("work")?.status == .running
        }
        while try !childStageStarted() {
            _ = try first.step()
            steps += 1
            try #require(steps < 50, "the child's stage never started")
        }
        // The first engine is gone (it never steps again); a second one takes over.
        let state = try p.runAll()
        let run = try #require(state.runs[id])
        #expect(run.status == .succeeded)
        #expect(run.stage("sub")?.attempts.count == 1 && run.stage("sub")?.attempts.first?.reason == nil)
        let children = Self.children(state)
        #expect(children.count == 1)
        #expect(children.first?.status == .succeeded)
        #expect(children.first?.stage("work")?.attempts.first?.reason == "interrupted")
        #expect(run.stage("sub")?.outputs?["run"] == children.first.map { .string($0.id) })
    }

    /// `rerun --from-failure` of a parent reuses its succeeded job stage like any other: no
    /// second child run.
    @Test func aRerunFromFailureReusesASucceededJobStage() throws {
        let p = try Self.project("""
        kind: job
        name: parent
        stages:
          - {name: sub, type: job, job: child, parameters: {n: 2}}
          - {name: check, type: script, after: [sub], command: [sh, -c, "test -f ok"]}
        """)
        let (first, second, state) = try p.failThenRerun("parent")
        let run = try #require(state.runs[second])
        #expect(run.status == .succeeded)
        #expect(run.stage("sub")?.reusedFrom?.run == first)
        #expect(Self.children(state).count == 1)
        #expect(try String(contentsOfFile: p.root + "/child-ran.txt", encoding: .utf8) == "2\n")
    }
}
