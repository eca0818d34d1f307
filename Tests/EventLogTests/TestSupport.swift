import Foundation
import Testing
import Domain
@testable import EventLog

/// A fresh temporary directory per test, removed afterwards.
final class TemporaryDirectory {
    let path: String
    init() {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("ledgerflow-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func sub(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
}

/// A fresh store in its own temporary directory (not durable: tests do not need fsync unless
/// they say so).
func makeLog(durable: Bool = false, training: EventLog.DictionaryTraining = .manual, upcasters: Upcasters = Upcasters()) throws -> (EventLog, TemporaryDirectory) {
    let dir = TemporaryDirectory()
    var c = EventLog.Configuration()
    c.durable = durable
    c.dictionaryTraining = training
    c.upcasters = upcasters
    c.mapSize = 1 << 30
    return (try EventLog.create(at: dir.sub("store"), configuration: c), dir)
}

func stageEvent(_ i: Int, run: Int = 1) -> NewEvent {
    NewEvent(type: "StageStarted", payload: ["run": .int(Int64(run)), "stage": .string("stage-\(i % 7)"), "attempt": 1, "worker": .string("w\(i % 3)")])
}
