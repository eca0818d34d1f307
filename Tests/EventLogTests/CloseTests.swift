import Domain
import EventLog
import Foundation
import Testing
import TestSupport

/// After `close()`, nothing of the log reads the store's files: a caller may cut, move or copy them.
@Suite(.timeLimit(.minutes(2))) struct CloseTests {
    @Test func closeWaitsForABackgroundTrainingBeforeTheFilesAreCut() throws {
        for round in 0 ..< 10 {
            let dir = TemporaryDirectory()
            var c = EventLog.Configuration()
            c.durable = false
            c.mapSize = 1 << 30
            c.dictionaryTraining = .automatic(firstAt: 2_000, growth: 10)
            let log = try EventLog.create(at: dir.sub("s"), configuration: c)
            // The append that crosses 2,000 events starts a training in the background.
            try log.append((0 ..< 3_000).map { i in
                NewEvent(type: "StageStarted", payload: ["run": .string("r\(i % 97)"), "stage": .string("s\(i)"), "attempt": 1, "note": .string("text to compress, round \(round)")])
            }, to: "run/\(round)")
            log.close()
            // Cut the file under whatever still reads it (a reader would die of SIGBUS).
            let file = dir.sub("s") + "/data.mdb"
            let h = try #require(FileHandle(forWritingAtPath: file))
            try h.truncate(atOffset: 0)
            try h.close()
        }
    }
}
