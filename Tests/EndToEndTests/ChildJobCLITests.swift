import Domain
import Foundation
import Testing

/// A job stage through the binary: `run` waits for the child too, `status` shows the child run
/// of the stage, `runs` says what started the child, and `why` walks from the child to its parent.
@Suite struct ChildJobCLITests {
    @Test(.timeLimit(.minutes(1))) func statusAndWhyShowTheChildRun() throws {
        let p = try RunCLITests.Project("""
        kind: job
        name: child
        parameters: {n: {type: int, required: true}}
        stages: [{name: work, type: script, command: [sh, -c, "echo $LEDGERFLOW_PARAM_N"]}]
        ---
        kind: job
        name: parent
        stages: [{name: sub, type: job, job: child, parameters: {n: 4}}]
        """)
        let ran = try p.lf(["run", "parent"])
        #expect(ran.status == 0, "\(ran.stderr)")
        let status = try p.lf(["status", "1"])
        let line = status.stdout.split(separator: "\n").first { $0.hasPrefix("sub ") }.map(String.init) ?? ""
        #expect(line.contains("job") && line.contains("succeeded") && line.hasSuffix("child run 2 of job child: succeeded"), "\(status.stdout)")
        let json = try p.status("1")
        #expect(json["stages"]?.arrayValue?.first?["attempts"]?.arrayValue?.first?["child_run"] == .string("2"))
        #expect(json["stages"]?.arrayValue?.first?["outputs"]?["run"] == .string("2"))
        let child = try p.status("2")
        #expect(child["status"] == .string("succeeded") && child["parameters"]?["n"] == .int(4))
        #expect(child["trigger"]?["parent_run"] == .string("1") && child["trigger"]?["parent_stage"] == .string("sub"))
        let why = try p.lf(["why", "2"])
        #expect(why.status == 0, "\(why.stderr)")
        #expect(why.stdout.contains("child run of stage sub (attempt 1) of run 1") && why.stdout.contains("run 1 of job parent"), "\(why.stdout)")
    }
}
