import Foundation
import TestSupport
import Testing
import Domain
import EventLog

/// The catalog and projection commands through the built binary.
/// Through the built binary: every test has a time limit.
@Suite(.timeLimit(.minutes(1))) struct CatalogCLITests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0 ..< 3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static func fixture(_ p: String) -> String { (root as NSString).appendingPathComponent(p) }
    let seed = fixture("fixtures/seed/job_101.json")
    let examples = fixture("fixtures/examples/churn")

    func eventCount(_ store: String) throws -> Int {
        let r = try ledgerflow(["stats", "--json", "--store", store])
        return Int(try Value(json: r.stdout)["events"]?.intValue ?? -1)
    }

    @Test func applyShowsThePlanAndReapplyingAppendsNothing() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        #expect(try ledgerflow(["init", "--store", store]).status == 0)
        let first = try ledgerflow(["apply", "--store", store, seed, examples, "--message", "import"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.lines.first == "plan: 24 to create, 0 to update, 0 to delete, 0 unchanged")
        #expect(first.stdout.contains("  + job/101  (new, version 1)"))
        #expect(first.lines.last == "applied 24 changes: seq 1–24, correlation 1; catalog version is now 24")
        let again = try ledgerflow(["apply", "--store", store, seed, examples, "--json"])
        #expect(again.status == 0)
        let v = try Value(json: again.stdout)
        #expect(v["unchanged"] == 24 && v["created"] == 0 && v["first_seq"] == nil)
        #expect(try eventCount(store) == 24)
        // Every event of the first apply shares its correlation.
        let events = try ledgerflow(["events", "--store", store, "--json", "--correlation", "1"])
        #expect(events.lines.count == 24)
    }

    /// `make demo` applies these folders: each is valid on a fresh store, store checks included
    /// (the automation sensor's folders are next to the store).
    @Test(arguments: ["fixtures/demo/churn", "fixtures/demo/automation"])
    func theDemoDefinitionsApplyOnAFreshStore(_ folder: String) throws {
        let dir = TemporaryDirectory()
        let store = dir.sub(".ledgerflow")
        #expect(try ledgerflow(["init", "--store", store]).status == 0)
        let dry = try ledgerflow(["apply", "--store", store, "--dry-run", Self.fixture(folder)])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stderr.isEmpty, "\(dry.stderr)")
        #expect(dry.lines.last == "dry run: nothing was appended")
        #expect(try eventCount(store) == 0)
    }

    @Test func changesShowADiffAndHistoryAndAsOfShowThePast() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        _ = try ledgerflow(["init", "--store", store])
        _ = try ledgerflow(["apply", "--store", store, seed, examples])
        // Change one field of the model and apply again.
        let changed = dir.sub("changed")
        try FileManager.default.copyItem(atPath: examples, toPath: changed)
        let ml = (changed as NSString).appendingPathComponent("ml.yaml")
        try (try String(contentsOfFile: ml, encoding: .utf8)).replacingOccurrences(of: "C: 1.0", with: "C: 0.25")
            .write(toFile: ml, atomically: true, encoding: .utf8)
        let dry = try ledgerflow(["apply", "--store", store, "--dry-run", seed, changed])
        #expect(dry.status == 0 && dry.stdout.contains("~ hyperparameters.C: 1.0 → 0.25") && dry.lines.last == "dry run: nothing was appended")
        #expect(try eventCount(store) == 24)
        let r = try ledgerflow(["apply", "--store", store, seed, changed, "--message", "lower C"])
        #expect(r.status == 0 && r.stdout.contains("  ~ model/churn  (version 1 → 2)"))

        let history = try ledgerflow(["catalog", "history", "model", "churn", "--store", store, "--json"])
        let versions = try #require(try Value(json: history.stdout)["versions"]?.arrayValue)
        #expect(versions.map { $0["action"]?.stringValue } == ["created", "updated"])
        #expect(versions[1]["message"] == "lower C" && versions[1]["seq"] == 25)
        #expect(versions[1]["diff"] == [["change": "changed", "path": "hyperparameters.C", "old": 1.0, "new": 0.25]])

        let now = try Value(json: try ledgerflow(["catalog", "model", "churn", "--store", store, "--json"]).stdout)
        let then = try Value(json: try ledgerflow(["catalog", "model", "churn", "--store", store, "--json", "--at-seq", "24"]).stdout)
        #expect(now["version"] == 2 && now["spec"]?["hyperparameters"]?["C"] == 0.25)
        #expect(then["version"] == 1 && then["spec"]?["hyperparameters"]?["C"] == 1.0)
        let early = try ledgerflow(["catalog", "--store", store, "--at-seq", "3"])
        #expect(early.lines.first == "catalog as of seq 3: 3 definitions, catalog version 3")
        let past = try ledgerflow(["catalog", "--store", store, "--as-of", "2000-01-01", "--json"])
        #expect(try Value(json: past.stdout)["definitions"] == [])
    }

    @Test func invalidFilesAppendNothingAndReportEveryError() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        _ = try ledgerflow(["init", "--store", store])
        let bad = Self.fixture("fixtures/invalid-multi/many-errors.yaml")
        let r = try ledgerflow(["apply", "--store", store, seed, bad])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count >= 12)
        #expect(lines.dropLast().allSatisfy { $0.hasPrefix(bad + ":") })
        #expect(lines.last?.hasPrefix("ledgerflow: apply failed: ") == true && lines.last?.hasSuffix("; nothing was appended") == true)
        #expect(try eventCount(store) == 0)
        #expect(r.stdout.isEmpty)
    }

    @Test func badUsageExitsTwo() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        _ = try ledgerflow(["init", "--store", store])
        let kind = try ledgerflow(["catalog", "jobs", "--store", store])
        #expect(kind.status == 2 && kind.stderr.contains("unknown kind 'jobs'; did you mean 'job'?"))
        let both = try ledgerflow(["catalog", "--store", store, "--at-seq", "1", "--as-of", "2026-01-01"])
        #expect(both.status == 2)
        #expect(try ledgerflow(["apply", "--store", store]).status == 2)
        #expect(try ledgerflow(["projection", "show", "catalgo", "--store", store]).status == 2)
        let missing = try ledgerflow(["catalog", "job", "nope", "--store", store])
        #expect(missing.status == 1 && missing.stderr.contains("no job named 'nope'"))
        let past = try ledgerflow(["catalog", "--store", store, "--at-seq", "99"])
        #expect(past.status == 1 && past.stderr.contains("past the end of the log"))
    }

    @Test func projectionListShowAndRebuild() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        _ = try ledgerflow(["init", "--store", store])
        _ = try ledgerflow(["apply", "--store", store, seed, examples])
        let rebuild = try ledgerflow(["projection", "rebuild", "catalog", "--store", store, "--json"])
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        let rb = try Value(json: rebuild.stdout)
        #expect(rb["events_folded"] == 24 && rb["entries"] == 24 && rb["snapshots_written"] == 1 && (rb["events_per_s"]?.doubleValue ?? 0) > 0)
        let list = try Value(json: try ledgerflow(["projection", "list", "--store", store, "--json"]).stdout)
        let catalog = try #require(list["projections"]?.arrayValue?.first)
        #expect(catalog["name"] == "catalog" && catalog["checkpoint"] == 24 && catalog["lag"] == 0 && catalog["snapshots"] == [24])
        #expect(catalog["entries"] == 24 && (catalog["state_bytes"]?.intValue ?? 0) > 0)
        let show = try Value(json: try ledgerflow(["projection", "show", "catalog", "--store", store, "--json", "--at-seq", "10"]).stdout)
        #expect(show["state"]?["count"] == 10 && show["from_snapshot"] == .null && show["events_folded"] == 10)
        let text = try ledgerflow(["projection", "list", "--store", store])
        #expect(text.lines.first?.hasPrefix("NAME") == true && text.lines.count == 5)
        #expect(text.lines.dropFirst().map { String($0.prefix(8)) } == ["catalog ", "runs    ", "models  ", "lineage "])
    }
}
