import Foundation
import TestSupport
import Testing
import Domain

/// Hostile definition files through the built binary (issue 16): each is refused by `apply` and
/// by `apply --dry-run` (the validation) with exit 1, one error line and the summary, never a
/// signal, and nothing is appended.
@Suite(.timeLimit(.minutes(1))) struct HostileDefinitionTests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0 ..< 3 { url.deleteLastPathComponent() }
        return url.path
    }()

    func eventCount(_ store: String) throws -> Int {
        let r = try ledgerflow(["stats", "--json", "--store", store])
        return Int(try Value(json: r.stdout)["events"]?.intValue ?? -1)
    }

    /// Applies `file` (and dry-runs it) on a fresh store; returns the one error line.
    func refused(_ file: String, in dir: TemporaryDirectory, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> String? {
        let store = dir.sub("store")
        #expect(try ledgerflow(["init", "--store", store]).status == 0)
        var errorLines: [String] = []
        for dry in [false, true] {
            let r = try ledgerflow(["apply", "--store", store, file] + (dry ? ["--dry-run"] : []))
            #expect(!r.signalled && r.status == 1, "\(r.status) \(r.signalled) \(r.stderr.prefix(500))", sourceLocation: sourceLocation)
            let lines = r.stderr.split(separator: "\n").map(String.init)
            #expect(lines.count == 2, "\(r.stderr.prefix(2000))", sourceLocation: sourceLocation)
            #expect(lines.last == "ledgerflow: apply failed: 1 error in 1 file; nothing was appended", sourceLocation: sourceLocation)
            #expect(r.stdout.isEmpty, sourceLocation: sourceLocation)
            errorLines.append(lines.first ?? "")
        }
        #expect(errorLines[0] == errorLines[1], sourceLocation: sourceLocation)
        #expect(try eventCount(store) == 0, sourceLocation: sourceLocation)
        #expect(try ledgerflow(["events", "--store", store]).stdout.isEmpty, sourceLocation: sourceLocation)
        return errorLines.first
    }

    func write(_ text: String, _ name: String, in dir: TemporaryDirectory) throws -> String {
        let path = dir.sub(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theAliasBombIsRefusedQuicklyAtItsAlias() throws {
        let dir = TemporaryDirectory()
        var lines = ["a: &a [x,x,x,x,x,x,x,x,x,x]"]
        let names = "abcdefghij".map(String.init)
        for (previous, name) in zip(names, names.dropFirst()) {
            lines.append("\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ",") + "]")
        }
        let file = try write(lines.joined(separator: "\n") + "\n", "bomb.yaml", in: dir)
        let line = try refused(file, in: dir)
        #expect(line == "\(file):6:11: YAML aliases expand this file past 4 MiB (at the alias *e); write the repeated parts out, or use fewer and smaller aliases")
    }

    @Test func twentyThousandParenthesesInAFilterAreAnErrorNotACrash() throws {
        let dir = TemporaryDirectory()
        let filter = String(repeating: "(", count: 20_000) + "a > 1" + String(repeating: ")", count: 20_000)
        let file = try write("kind: job\nname: j\nstages:\n  - name: s\n    type: etl\n    filter: \"\(filter)\"\n", "parens.yaml", in: dir)
        let line = try refused(file, in: dir)
        #expect(line?.hasPrefix("\(file):6:13: stages[0].filter of job 'j' does not parse: the expression nests more than 128 levels deep") == true)
        #expect((line?.count ?? .max) < 400, "the line quotes only the start of the expression")
    }

    @Test func aHundredThousandTermsInAFilterAreAnError() throws {
        let dir = TemporaryDirectory()
        let filter = Array(repeating: "a", count: 100_000).joined(separator: " + ") + " > 1"
        let file = try write("kind: job\nname: j\nstages:\n  - name: s\n    type: etl\n    filter: \"\(filter)\"\n", "chain.yaml", in: dir)
        let line = try refused(file, in: dir)
        #expect(line?.contains("does not parse: the expression nests more than 128 levels deep") == true)
    }

    @Test func deeplyNestedYAMLAndJSONAreAnError() throws {
        let dir = TemporaryDirectory()
        let nested = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        for name in ["deep.yaml", "deep.json"] {
            let file = try write(nested, name, in: dir)
            let line = try refused(file, in: TemporaryDirectory())
            #expect(line == "\(file):1:130: lists and mappings nest deeper than 128 levels here; flatten the definition (definitions nest a few levels; at most 128)")
        }
        let block = "kind: job\nname: j\nparameters:\n" + (1 ... 150).map { String(repeating: " ", count: $0) + "k:\n" }.joined()
        let file = try write(block, "deep-block.yaml", in: dir)
        #expect(try refused(file, in: TemporaryDirectory()) == "\(file):131:129: lists and mappings nest deeper than 128 levels here; flatten the definition (definitions nest a few levels; at most 128)")
    }

    @Test func aHundredMegabyteFileIsRefusedWithoutReadingIt() throws {
        let dir = TemporaryDirectory()
        let file = dir.sub("huge.yaml")
        #expect(FileManager.default.createFile(atPath: file, contents: Data("kind: job\nname: j\ndescription: ".utf8)))
        let handle = try #require(FileHandle(forWritingAtPath: file))
        try handle.truncate(atOffset: 100 << 20) // sparse: 100 MB on paper
        try handle.close()
        #expect(try refused(file, in: dir) == "\(file): the file is larger than 4 MiB, the limit for one definition file; split it into several files, and keep large data in datasets or config files that definitions refer to")
    }
}
