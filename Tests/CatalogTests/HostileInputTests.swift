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
        // Lines 2–5 repeat 2.1 MB; the 6th line's list repeats *e (10^4 scalars, 1.9 MB each):
        // its second use passes 4 MiB.
        #expect(e?.location == SourceLocation(file: "bomb.yaml", line: 6, column: 11))
        #expect(e?.description == "bomb.yaml:6:11: YAML aliases expand this file past 4 MiB (at the alias *e); write the repeated parts out, or use fewer and smaller aliases")
    }

    /// Yams' composer hashes every mapping key in full, aliases expanded: an aliased key of 10^9
    /// scalars took longer than 30 s (and was stopped) before libyaml's events were measured first.
    @Test func anAliasBombUsedAsAKeyIsRefusedBeforeYamsHashesIt() {
        let text = Self.aliasBomb.split(separator: "\n").prefix(9).joined(separator: "\n") + "\n? *i\n: 1\n"
        let errors = diagnose(text, file: "key.yaml")
        #expect(errors.map(\.description) == ["key.yaml:6:11: YAML aliases expand this file past 4 MiB (at the alias *e); write the repeated parts out, or use fewer and smaller aliases"])
    }

    @Test func thePrecheckMeasuresAliasesAndDepthOnEvents() {
        // Exactly at the budget passes; one byte more is refused at that alias.
        let budget = SourceParser.maxAliasExpansion
        let text = "a: &a \(String(repeating: "x", count: budget / 2 - 16))\nb: [*a, *a]\n"
        #expect(SourceParser.precheck(text, file: "t.yaml") == nil)
        let over = "a: &a \(String(repeating: "x", count: budget / 2 - 15))\nb: [*a, *a]\n"
        #expect(SourceParser.precheck(over, file: "t.yaml")?.location == SourceLocation(file: "t.yaml", line: 2, column: 9))
        let deep = String(repeating: "- ", count: 129) + "x\n"
        #expect(SourceParser.precheck(deep, file: "t.yaml")?.description == "t.yaml:1:259: lists and mappings nest deeper than 128 levels here; flatten the definition (definitions nest a few levels; at most 128)")
        #expect(SourceParser.precheck(String(repeating: "- ", count: 128) + "x\n", file: "t.yaml") == nil)
        #expect(SourceParser.precheck("a: [", file: "t.yaml") == nil, "syntax errors are left to Yams")
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
        // The root list is level 0: the 130th bracket is the one too many (as in JSON).
        #expect(errors.first?.location == SourceLocation(file: "deep.yaml", line: 1, column: 130))
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
        // A 1.5 MiB text written once and repeated twice by aliases (3 MiB of expansion, within
        // that budget): the definition is 4.5 MiB.
        let text = "kind: job\nname: big\nparameters: {a: &t " + String(repeating: "x", count: 3 << 19)
            + ", b: *t, c: *t}\nstages:\n  - {name: s, type: script, command: [echo]}\n"
        let (defs, errors) = DefinitionLoader.load(text: text, file: "big.yaml")
        #expect(errors.map(\.description) == ["big.yaml:1:1: job 'big' is 4.6 MiB once encoded, over the limit of 4 MiB for one definition; keep large data in datasets or config files and refer to them, or split the definition"])
        #expect(defs.map(\.name) == ["big"], "kept, like a definition with field errors, so that references to it resolve")
    }

    @Test func megabytesRoundUp() {
        #expect(DefinitionLoader.megabytes(4 << 20) == "4.0")
        #expect(DefinitionLoader.megabytes((4 << 20) + 1) == "4.1")
        #expect(DefinitionLoader.megabytes(3 << 19) == "1.5")
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
            #expect(error.message == "the expression nests more than 128 levels deep (each parenthesis, not, minus, call and chained operator adds one)")
            #expect(error.offset > 128 && error.offset < 2_000, "at the level past the limit, not at the end")
        }
    }

    @Test func aDeepFilterIsOneLocatedErrorQuotingTheStartOfTheExpression() {
        let filter = String(repeating: "(", count: 20_000) + "a > 1" + String(repeating: ")", count: 20_000)
        let errors = diagnose(Self.job(filter: filter), file: "deep-filter.yaml")
        #expect(errors.map(\.description) == [
            "deep-filter.yaml:6:13: stages[0].filter of job 'j' does not parse: the expression nests more than 128 levels deep (each parenthesis, not, minus, call and chained operator adds one) at character 129 of '"
                + String(repeating: "(", count: 60) + "…'; fix the expression (compare with == != < <= > >=, join with and / or)",
        ])
    }

    /// The deepest expression the parser accepts, for each way of nesting.
    static let deepestAccepted: [String] = {
        let n = Expression.maxDepth
        return [
            String(repeating: "(", count: n) + "a" + String(repeating: ")", count: n),
            String(repeating: "-", count: n - 1) + "a",
            String(repeating: "not ", count: n - 1) + "a",
            Array(repeating: "a", count: n).joined(separator: " + "),
            String(repeating: "abs(", count: n - 1) + "a" + String(repeating: ")", count: n - 1),
        ]
    }()

    /// Parsing, evaluating, printing and walking the deepest accepted expressions fit a 1 MiB
    /// stack, an eighth of a Linux thread's default 8 MiB, even in a debug build (whose frames are
    /// large: about 4 KiB of stack per level of parentheses when parsing).
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
            thread.stackSize = 1 << 20
            thread.start()
        }
        #expect(results.count == Self.deepestAccepted.count)
        for r in results { #expect(!r.hasPrefix("error"), "\(r)") }
        #expect(results[0] == "int(1) true [\"a\"] false 1 true true")
        #expect(results[1] == "int(-1) true [\"a\"] false 1 false true", "an odd number of minus signs")
        #expect(results[2] == "null true [\"a\"] false 1 true true", "not of a number is null")
        #expect(results[3] == "int(\(Expression.maxDepth)) true [\"a\"] false \(Expression.maxDepth) false true")
    }
}
