import Foundation
import Testing
@testable import EventLog

@Suite struct SmokeTests {
    @Test func appendAndRead() throws {
        let (log, _dir) = try makeLog()
        _ = _dir
        let r = try log.append([stageEvent(1), stageEvent(2)], to: "run/1", actor: "test")
        #expect(r.firstSeq == 1 && r.lastSeq == 2)
        let events = try log.read()
        #expect(events.count == 2)
        #expect(events[0].stream == "run/1" && events[1].streamVersion == 2)
        #expect(events[1].correlation == 1)
        #expect(try log.verify().ok)
    }
}
