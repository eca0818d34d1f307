import Domain
import Foundation
import Testing
import TestSupport

/// `ledgerflow work --once`: what is due now, then exit (for a system cron).
@Suite(.timeLimit(.minutes(1))) struct WorkOnceTests {
    @Test func onceRunsWhatIsDueAndLeavesABackoffForTheNextEngine() throws {
        let p = try RunCLITests.Project("""
        kind: job
        name: fine
        stages:
          - {name: a, type: script, command: ["true"]}
          - {name: b, type: script, command: ["true"], after: [a]}
        ---
        kind: job
        name: flaky
        stages:
          - name: f
            type: script
            command: ["false"]
            retry: {attempts: 3, backoff: 1h}
        ---
        kind: dependency
        name: after_fine
        after: fine
        run: flaky
        """)
        #expect(try p.lf(["run", "fine", "--detach"]).status == 0)
        let once = try p.lf(["work", "--once"])
        #expect(once.status == 0, "\(once.stderr)")
        #expect(once.stderr.contains("engine idle: nothing more is due now (1 run still active: its next attempt is not due yet)"), "\(once.stderr)")
        // The requested run ran to its end, and so did the reaction to it: the dependent run
        // started, failed its first attempt, and waits an hour for the second.
        let runs = try p.runs()
        #expect(runs.count == 2)
        let fine = try p.status("1"), flaky = try p.status("2")
        #expect(fine["status"] == .string("succeeded"))
        #expect(flaky["status"] == .string("running"))
        #expect(flaky["stages"]?.arrayValue?.first?["attempts"]?.arrayValue?.count == 1)
        // Nothing is due: a second --once does nothing and exits.
        let again = try p.lf(["work", "--once"])
        #expect(again.status == 0)
        #expect(try p.status("2")["stages"]?.arrayValue?.first?["attempts"]?.arrayValue?.count == 1)
    }
}
