import Foundation
import Testing
@testable import Catalog

/// Every malformed file in fixtures/invalid produces exactly the errors in its `.expected` file.
@Suite struct InvalidCorpusTests {
    static let files: [String] = {
        let dir = fixturePath("fixtures/invalid")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".json") }.sorted()
    }()

    @Test func theCorpusHasAtLeastThirtyFiles() {
        #expect(Self.files.count >= 30)
    }

    @Test(arguments: files)
    func fileProducesItsExpectedErrors(_ name: String) throws {
        let relative = "fixtures/invalid/\(name)"
        let text = try String(contentsOfFile: fixturePath(relative), encoding: .utf8)
        let expectedPath = fixturePath("fixtures/invalid/\((name as NSString).deletingPathExtension).expected")
        let expected = try String(contentsOfFile: expectedPath, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(!expected.isEmpty, "\(name) has no expected errors")
        let got = diagnose(text, file: relative).map(\.description)
        #expect(got == expected)
        // Each message names a file position and says what to do.
        for line in got { #expect(line.hasPrefix(relative + ":")) }
    }

    @Test func allErrorsOfOneApplyAreReportedTogether() throws {
        let relative = "fixtures/invalid-multi/many-errors.yaml"
        let text = try String(contentsOfFile: fixturePath(relative), encoding: .utf8)
        let got = diagnose(text, file: relative)
        // Field errors, references, a stage cycle, an inline secret, cron, an expression, an
        // unknown condition field and an unknown kind, all from one file.
        let needles = ["refers to team 'data-engg'", "unknown field 'stgaes'", "form a cycle: a → c → b → a",
                       "must be a whole number ≥ 1", "looks like a secret written inline", "does not parse",
                       "not a valid cron expression", "value written inline", "uses 'churn_probabilty'",
                       "trains on 'nowhere'", "unknown kind 'dependncy'"]
        for n in needles { #expect(got.contains { $0.message.contains(n) }, "missing: \(n)") }
        #expect(got == got.sorted())
    }
}
