import Domain
import EventLog
import Foundation
import Runs
import Testing
import TestSupport
@testable import Engine

/// Run numbers are decided from the runs seen and taken by appending the run's first event to a
/// stream that must not exist yet; a writer that loses the number decides again.
@Suite(.timeLimit(.minutes(2))) struct RunRequestContentionTests {
    @Test func eightWritersRequestingAtOnceEachGetTheirRuns() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: j
        stages:
          - name: s
            type: script
            command: ["true"]
        """)
        let log = p.log, writers = 8, each = 40
        let ids = Locked<[String]>([])
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: writers) { _ in
            for _ in 0 ..< each {
                do {
                    let id = try RunCommands.request(log, job: "j", trigger: RunTrigger(.manual), actor: "test")
                    ids.withLock { $0.append(id) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(3) })")
        let all = ids.withLock { $0 }
        #expect(all.count == writers * each)
        #expect(Set(all) == Set((1 ... writers * each).map(String.init)))
        #expect(try RunCommands.runs(p.log).runs.count == writers * each)
    }
}
