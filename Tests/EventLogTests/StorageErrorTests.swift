import Domain
import EventLog
import Foundation
import Testing
import TestSupport

/// Storage failures come out of the log as `EventLogError` with LMDB's advice, never as the
/// wrapper's `LMDBError` (nothing above the log imports LMDB).
@Suite struct StorageErrorTests {
    @Test func aFileThatIsNotLMDBIsReportedAsACorruptStore() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        try Data(repeating: 0x5A, count: 64 * 1024).write(to: URL(fileURLWithPath: store + "/data.mdb"))
        do {
            _ = try EventLog.open(at: store)
            Issue.record("a store of garbage opened")
        } catch let e as EventLogError {
            #expect(e.kind == .corrupt)
            #expect(e.message.contains("MDB_INVALID"), "\(e.message)")
        } catch {
            Issue.record("expected an EventLogError, got \(type(of: error)): \(error)")
        }
    }

    @Test func aMissingStoreSaysHowToCreateOne() throws {
        let dir = TemporaryDirectory()
        let e = #expect(throws: EventLogError.self) { try EventLog.open(at: dir.sub("none")) }
        #expect(e?.kind == .noStore)
    }
}
