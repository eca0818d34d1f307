import Foundation
import Testing
@testable import Catalog

/// Every hostile file of the catalog in fixtures/hostile (`catalog-*`) produces exactly the one
/// error in its `.expected` file (issue 16), quickly and without exhausting memory or the stack.
@Suite struct HostileCorpusTests {
    static let files: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: fixturePath("fixtures/hostile"))) ?? []
        return names.filter { $0.hasPrefix("catalog-") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".json")) }.sorted()
    }()

    @Test func theCorpusCoversAliasesNestingAndExpressions() {
        #expect(Self.files.count >= 10)
    }

    @Test(arguments: files)
    func fileProducesItsExpectedError(_ name: String) throws {
        let relative = "fixtures/hostile/\(name)"
        let expectedPath = fixturePath("fixtures/hostile/\((name as NSString).deletingPathExtension).expected")
        let expected = try String(contentsOfFile: expectedPath, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(expected.count == 1, "\(name): one error")
        // Read as the CLI reads it (the file limits apply), then validated.
        let (defs, errors) = DefinitionLoader.load(files: [fixturePath(relative)])
        let got = (errors + Validator.validate(defs)).sorted().map(\.description)
            .map { $0.replacingOccurrences(of: fixturePath(relative), with: relative) }
        #expect(got == expected)
        for line in got { #expect(line.hasPrefix(relative + ":") && line.count < 400) }
    }
}
