import Domain
import EventLog
import Foundation
import TestSupport
import Testing

/// A fresh store with the demo's churn definitions applied and the CRM data in
/// `data/sql_server.sqlite`, driven through the binary.
struct ChurnStore {
    let dir = TemporaryDirectory()
    var store: String { dir.sub(".ledgerflow") }

    init() throws {
        try FileManager.default.createDirectory(atPath: dir.sub("data"), withIntermediateDirectories: true)
        let sql = CatalogCLITests.fixture("fixtures/demo/churn/customers.sql")
        #expect(try run("/bin/sh", ["-c", "sqlite3 data/sql_server.sqlite < '\(sql)'"], cwd: dir.path).status == 0)
        #expect(try lf(["init"]).status == 0)
        #expect(try lf(["apply", CatalogCLITests.fixture("fixtures/demo/churn")]).status == 0)
    }

    /// `ledgerflow ARGS… --store STORE`, run in the store's directory.
    func lf(_ args: [String]) throws -> RunResult { try ledgerflow(args + ["--store", store], cwd: dir.path) }

    /// The command's `--json` output (expected to succeed).
    func json(_ args: [String]) throws -> Value {
        let r = try lf(args + ["--json"])
        #expect(r.status == 0, "\(args): \(r.stderr)")
        return try Value(json: r.stdout)
    }
}
