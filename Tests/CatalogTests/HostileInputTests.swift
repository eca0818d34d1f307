import Foundation
import Testing
import Domain
@testable import Catalog

/// Hostile definition files (issue 16): alias bombs, huge files and definitions, deep nesting and
/// deep expressions fail with one located error instead of eating memory or the stack.
@Suite struct HostileInputTests {
    /// Ten levels of anchors, each list repeating the previous one ten times: 10^10 scalars.
    static let aliasBomb: String = {
        let names = "abcdefghij".map(String.init)
        var lines = ["a: &a [x,x,x,x,x,x,x,x,x,x]"]
        for (previous, name) in zip(names, names.dropFirst()) {
            lines.append("\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ",") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    /// A valid job whose only stage filters with `filter`.
    static func job(filter: String) -> String {
        """
        kind: job
        name: j
        stages:
          - name: s
            type: etl
            filter: "\(filter)"
        """
    }

    @Test func theAliasBombIsRefusedAtTheAliasThatExpandsTooMuch() {
        #expect(Self.aliasBomb.utf8.count < 700)
        let errors = diagnose(Self.aliasBomb, file: "bomb.yaml")
        #expect(errors.count == 1)
        let e = errors.first
        // The 7th line's list repeats *f (each 10^5 scalars); its third use passes 4 MiB.
        #expect(e?.location == SourceLocation(file: "bomb.yaml", line: 7, column: 15))
        #expect(e?.description == "bomb.yaml:7:15: YAML aliases expand this file past 4 MiB (at the alias *f); write the repeated parts out, or use fewer and smaller aliases")
    }

    @Test func aliasesWithinTheBudgetExpandAsWritten() throws {
        let text = """
        kind: job
        name: j
        parameters: {cols: &cols [a, b, c], again: *cols, more: [*cols, *cols]}
        stages:
          - {name: s, type: script, command: [echo]}
        """
        let (defs, errors) = DefinitionLoader.load(text: text, file: "a.yaml")
        #expect(errors.isEmpty)
        let p = defs.first?.spec["parameters"]
        #expect(p?["again"] == p?["cols"] && p?["cols"] == ["a", "b", "c"])
        #expect(p?["more"] == [["a", "b", "c"], ["a", "b", "c"]])
    }

    @Test func aLongTextRepeatedByAnAliasCountsItsBytes() {
        // One 64 KiB scalar repeated 100 times is 6.4 MiB of expansion: refused.
        let long = String(repeating: "x", count: 64 << 10)
        let text = "a: &a \(long)\nb: [" + Array(repeating: "*a", count: 100).joined(separator: ", ") + "]\n"
        let errors = diagnose(text, file: "long.yaml")
        #expect(errors.count == 1 && errors.first?.message == "YAML aliases expand this file past 4 MiB (at the alias *a)")
        #expect(errors.first?.location.line == 2)
    }

    @Test(arguments: [200, 999, 100_000])
    func deeplyNestedYAMLListsAreRefused(_ depth: Int) {
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
        let errors = diagnose(text, file: "deep.yaml")
        #expect(errors.count == 1)
        #expect(errors.first?.message == "lists and mappings nest deeper than 128 levels here")
        #expect(errors.first?.fix == "flatten the definition (definitions nest a few levels; at most 128)")
        #expect((errors.first?.location.line ?? 0) == 1 && (errors.first?.location.column ?? 0) > 128)
    }

    @Test func deeplyNestedYAMLMappingsAreRefusedAtTheirLine() {
        var text = "kind: job\nname: j\nparameters:\n"
        for level in 1 ... 150 { text += String(repeating: " ", count: level) + "k:\n" }
        let errors = diagnose(text, file: "deep.yaml")
        #expect(errors.count == 1 && errors.first?.message == "lists and mappings nest deeper than 128 levels here")
        #expect(errors.first?.location.line == 3 + 128)
    }

    @Test(arguments: [200, 100_000])
    func deeplyNestedJSONIsRefused(_ depth: Int) {
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let errors = diagnose(text, file: "deep.json")
        #expect(errors.count == 1)
        #expect(errors.first?.description == "deep.json:1:130: lists and mappings nest deeper than 128 levels here; flatten the definition (definitions nest a few levels; at most 128)")
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        let inner = String(repeating: "[", count: 120) + "1" + String(repeating: "]", count: 120)
        let defs = try definitions("kind: job\nname: j\nparameters: {deep: \(inner)}\nstages:\n  - {name: s, type: script, command: [echo]}\n")
        var v = defs.first?.spec["parameters"]?["deep"]
        var levels = 0
        while case .array(let a)? = v { v = a.first; levels += 1 }
        #expect(levels == 120 && v == 1)
    }

    @Test func aDefinitionOverFourMebibytesIsRefused() {
        // 5 MiB of ints in a list: the file is under its limit only when written densely, so
        // build the text to just under 4 MiB with one-character items and check the encoded size.
        let items = Array(repeating: "1", count: 1_900_000).joined(separator: ",")
        let text = "kind: job\nname: big\nparameters: {rows: [\(items)]}\nstages:\n  - {name: s, type: script, command: [echo]}\n"
        #expect(text.utf8.count < DefinitionLoader.maxFileBytes)
        let (_, errors) = DefinitionLoader.load(text: text, file: "big.yaml")
        #expect(errors.count == 1)
        #expect(errors.first?.location == SourceLocation(file: "big.yaml", line: 1, column: 1))
        #expect(errors.first?.message.hasPrefix("job 'big' is ") == true)
        #expect(errors.first?.message.hasSuffix(" MiB once encoded, over the limit of 4 MiB for one definition") == true)
    }

    @Test func aFileOverFourMebibytesIsNotRead() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("huge.yaml").path
        let text = "kind: job\nname: j\ndescription: \"" + String(repeating: "x", count: 5 << 20) + "\"\n"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let (defs, errors) = DefinitionLoader.load(files: [file])
        #expect(defs.isEmpty)
        #expect(errors.map(\.description) == ["\(file): the file is larger than 4 MiB, the limit for one definition file; split it into several files, and keep large data in datasets or config files that definitions refer to"])
    }

    @Test func aDeviceThatNeverEndsIsRefusedWithoutReadingItAll() {
        let (defs, errors) = DefinitionLoader.load(files: ["/dev/zero"])
        #expect(defs.isEmpty && errors.count == 1 && errors.first?.message.hasPrefix("the file is larger than 4 MiB") == true)
    }

    // MARK: Expressions

    static let deepExpressions: [(String, String)] = [
        ("20,000 parentheses", String(repeating: "(", count: 20_000) + "a" + String(repeating: ")", count: 20_000)),
        ("20,000 unary minus", String(repeating: "-", count: 20_000) + "a"),
        ("20,000 not", String(repeating: "not ", count: 20_000) + "a"),
        ("20,000 !", String(repeating: "!", count: 20_000) + "a"),
        ("100,000 additions", Array(repeating: "a", count: 100_000).joined(separator: " + ")),
        ("100,000 or", Array(repeating: "a > 1", count: 100_000).joined(separator: " or ")),
        ("20,000 nested calls", String(repeating: "abs(", count: 20_000) + "a" + String(repeating: ")", count: 20_000)),
    ]

    @Test(arguments: deepExpressions.map(\.0))
    func deepExpressionsAreRefused(_ name: String) {
        let text = Self.deepExpressions.first { $0.0 == name }!.1
        #expect(throws: ExpressionError.self) { try Expression.parse(text) }
        do {
            _ = try Expression.parse(text)
        } catch {
            #expect(error.message == "the expression nests more than 256 levels deep (each parenthesis, not, minus, call and chained operator adds one)")
            #expect(error.offset > 256 && error.offset < 2_000)
        }
    }

    @Test func aDeepFilterIsOneLocatedErrorQuotingTheStartOfTheExpression() {
        let filter = String(repeating: "(", count: 20_000) + "a > 1" + String(repeating: ")", count: 20_000)
        let errors = diagnose(Self.job(filter: filter), file: "deep-filter.yaml")
        #expect(errors.map(\.description) == [
            "deep-filter.yaml:6:13: stages[0].filter of job 'j' does not parse: the expression nests more than 256 levels deep (each parenthesis, not, minus, call and chained operator adds one) at character 257 of '"
                + String(repeating: "(", count: 60) + "…'; fix the expression (compare with == != < <= > >=, join with and / or)",
        ])
    }

    /// The deepest expression the parser accepts, for each way of nesting.
    static let deepestAccepted: [String] = [
        String(repeating: "(", count: 255) + "a" + String(repeating: ")", count: 255),
        String(repeating: "-", count: 255) + "a",
        String(repeating: "not ", count: 255) + "a",
        Array(repeating: "a", count: 256).joined(separator: " + "),
        String(repeating: "abs(", count: 255) + "a" + String(repeating: ")", count: 255),
    ]

    /// Parsing, evaluating, printing and walking the deepest accepted expressions fit a 512 KiB
    /// stack (the smallest a worker thread gets), with room to spare.
    @Test func theDeepestAcceptedExpressionsEvaluateOnASmallStack() async {
        let results = await withCheckedContinuation { (done: CheckedContinuation<[String], Never>) in
            let thread = Thread {
                var out: [String] = []
                for text in Self.deepestAccepted {
                    do {
                        let e = try Expression.parse(text)
                        let v = e.evaluate { _ in .int(1) }
                        let again = try Expression.parse(e.description)
                        out.append("\(v) \(again == e) \(e.fields) \(e.isAggregate) \(e.fieldsOutsideAggregates.count) \(e.isCondition) \(e.hashValue != 0)")
                    } catch {
                        out.append("error: \(error)")
                    }
                }
                done.resume(returning: out)
            }
            thread.stackSize = 512 << 10
            thread.start()
        }
        #expect(results.count == Self.deepestAccepted.count)
        for r in results { #expect(!r.hasPrefix("error"), "\(r)") }
        #expect(results[0].hasPrefix("1 true [\"a\"]"))
        #expect(results[3].hasPrefix("256 true [\"a\"]"))
    }
}
