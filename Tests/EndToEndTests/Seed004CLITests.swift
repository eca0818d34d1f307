import Domain
import Foundation
import TestSupport
import Testing

/// Seed 004 as a scenario, through the binary: `fixtures/scenarios/seed004/pipelines.yaml`
/// applied unchanged in a project folder; the generator lands two batches in staging; one
/// `ledgerflow work --once` senses both `.done` markers and runs `10-ingest-new-files` per batch,
/// which runs its four children in order. The files, the masking, the workbook, the kept logs and
/// the events are checked.
@Suite(.timeLimit(.minutes(3))) struct Seed004CLITests {
    @Test func twoBatchesAreIngestedEachByItsParentAndFourChildren() throws {
        let dir = TemporaryDirectory("seed004")
        let store = dir.sub(".ledgerflow")
        func lf(_ args: [String]) throws -> RunResult { try ledgerflow(args + ["--store", store], cwd: dir.path) }
        func events(_ type: String) throws -> [Value] { try lf(["events", "--json", "--type", type]).lines.map { try Value(json: $0) } }
        let scenario = dir.sub("seed004")
        try FileManager.default.copyItem(atPath: CatalogCLITests.fixture("fixtures/scenarios/seed004"), toPath: scenario)
        let salt = "seed004-salt-\(UUID().uuidString)"
        try salt.write(toFile: scenario + "/salt.txt", atomically: true, encoding: .utf8)
        #expect(try lf(["init"]).status == 0)
        let applied = try lf(["apply", "seed004/pipelines.yaml"])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(try lf(["schedules", "--json"]).stdout.contains("hourly-ingest-workload"))

        // The hourly generator, twice (as two ticks would): two batches and their markers.
        for _ in 0 ..< 2 { #expect(try lf(["run", "00-generate-ingest-workload"]).status == 0) }
        let worked = try lf(["work", "--once"])
        #expect(worked.status == 0, "\(worked.stderr)")

        let arrivals = try events("FileArrived")
        #expect(arrivals.count == 2)
        let guids = arrivals.compactMap { $0["payload"]?["file"]?.stringValue?.replacingOccurrences(of: ".done", with: "") }.sorted()
        #expect(guids.count == 2 && Set(guids).count == 2)
        // 2 generator runs, 2 parents, 8 children: all succeeded, nothing failed.
        let succeeded = try events("RunSucceeded")
        let listed = try lf(["runs"]).stdout
        #expect(succeeded.count == 12, "\(listed)")
        #expect(try events("RunFailed").isEmpty)
        let requested = try events("RunRequested").compactMap { $0["payload"] }
        let parents = requested.filter { $0["job"] == "10-ingest-new-files" }
        #expect(parents.count == 2 && parents.allSatisfy { $0["trigger"]?["type"] == "sensor" })
        let children = requested.filter { $0["trigger"]?["type"] == "parent" }
        #expect(children.map { $0["job"]?.stringValue ?? "" }.sorted()
                == ["11-initialize", "11-initialize", "12-convert", "12-convert", "13-pii", "13-pii", "14-workbook", "14-workbook"])

        let sample = try String(contentsOfFile: scenario + "/sample/records.csv", encoding: .utf8)
        let raw = sample.split(separator: "\n").dropFirst().flatMap { line -> [String] in
            let f = line.split(separator: ",").map(String.init)
            return [f[1], f[2], f[3]] // customer, email, card
        }
        for guid in guids {
            let batch = dir.sub("processing/\(guid)")
            // Initialize: the archive kept in Original/ and moved to Working/, staging emptied, the marker handled.
            let original = try Data(contentsOf: URL(fileURLWithPath: batch + "/Original/dataset.tar.gz"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: batch + "/Working/dataset.tar.gz")) == original)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.sub("staging/\(guid)")).isEmpty)
            #expect(FileManager.default.fileExists(atPath: dir.sub("staging/handled/\(guid).done")))
            // Convert: the readable CSV holds the sample's records.
            #expect(try String(contentsOfFile: batch + "/Converted/records.csv", encoding: .utf8).split(whereSeparator: \.isNewline).count == 41)
            // PII: no raw name, e-mail or card number in the masked output.
            let maskedFolder = batch + "/Masked"
            let masked = try FileManager.default.contentsOfDirectory(atPath: maskedFolder).filter { $0.hasSuffix(".csv") }
                .map { try String(contentsOfFile: maskedFolder + "/" + $0, encoding: .utf8) }.joined()
            #expect(masked.split(whereSeparator: \.isNewline).count == 41)
            #expect(raw.allSatisfy { !masked.contains($0) }, "a raw value reached the masked output")
            #expect(masked.contains("************"))
            // Workbook: one row per country, 40 records in all.
            let summary = try String(contentsOfFile: batch + "/Workbook/summary.csv", encoding: .utf8).split(whereSeparator: \.isNewline).dropFirst()
            #expect(summary.reduce(0) { $0 + (Int($1.split(separator: ",")[1]) ?? 0) } == 40)
        }
        // Each script stage's stdout is kept per attempt.
        let convertRun = try #require(requested.first { $0["job"] == "12-convert" }?["run"]?.stringValue)
        #expect(try lf(["logs", convertRun]).stdout.contains("converted 40 records"))
        // The salt never reaches the log.
        let all = try lf(["events", "--json"]).stdout
        #expect(!all.contains(salt))
        #expect(raw.allSatisfy { !all.contains($0) })
        #expect(try lf(["audit", "verify"]).status == 0)
    }
}
