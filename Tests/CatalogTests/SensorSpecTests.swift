import Domain
import Foundation
import Testing
import TestSupport
@testable import Catalog

/// Sensor definitions: the pattern, the options and their defaults, `${file.X}` placeholders, and
/// what apply refuses (with the line of the field).
@Suite struct SensorSpecTests {
    static let job = """
    kind: job
    name: load
    parameters: {file: "", day: ""}
    stages: [{name: s, type: script, command: ["true"]}]
    ---

    """

    // MARK: FileGlob

    @Test(arguments: [
        ("*.done", "a.done", true), ("*.done", "a.done.tmp", false), ("*.done", ".a.done", false), (".*.done", ".a.done", true),
        ("*", ".hidden", false), ("?.csv", "a.csv", true), ("?.csv", "ab.csv", false), ("[a-c]*.done", "b1.done", true),
        ("[a-c]*.done", "d1.done", false), ("[!a-c]*", "d", true), ("[^a-c]*", "a", false), ("\\*.done", "*.done", true),
        ("\\*.done", "x.done", false), ("*_SUCCESS", "_SUCCESS", true), ("day-*-*.ok", "day-1-2.ok", true), ("day-*-*.ok", "day-1.ok", false),
        ("[]]x", "]x", true), ("ready", "ready", true), ("ready", "Ready", false), ("*.dönë", "ö.dönë", true),
    ])
    func globsMatchFileNames(_ pattern: String, _ name: String, _ expected: Bool) throws {
        #expect(try FileGlob(pattern).matches(name) == expected, "\(pattern) ~ \(name)")
    }

    @Test(arguments: [
        ("", "is empty"), ("in/*.done", "contains '/'"), (".", "names a folder entry"), ("..", "names a folder entry"),
        ("[a-c*.done", "never closed"), ("*[z-a].done", "runs backwards"), ("x\\", "lone '\\'"), ("a\u{0}b", "NUL"),
        (String(repeating: "x", count: 256), "longer than a file name can be"), ("[]", "never closed"),
    ])
    func patternsThatCanNeverMatchAreRefused(_ pattern: String, _ why: String) {
        #expect(throws: FileGlob.Problem.self) { try FileGlob(pattern) }
        do {
            _ = try FileGlob(pattern)
        } catch {
            #expect(error.description.contains(why), "\(pattern): \(error.description)")
        }
    }

    @Test func aLongPatternWithAStarIsFine() throws {
        #expect(try FileGlob(String(repeating: "x", count: 255) + "*").matches(String(repeating: "x", count: 255)))
    }

    // MARK: spec and placeholders

    @Test func defaultsAndOptionsRead() throws {
        let defs = try definitions(Self.job + """
        kind: sensor
        name: a
        path: in
        job: load
        """ + "\n---\n" + """
        kind: sensor
        name: b
        path: in
        pattern: "*.ok"
        recursive: true
        settle: 2s
        after_run: {move: done}
        poll_interval: 250ms
        job: load
        parameters: {file: "${file.path}"}
        ---
        kind: sensor
        name: c
        path: in
        after_run: delete
        job: load
        """)
        let a = try #require(defs.first { $0.name == "a" }).spec(as: SensorSpec.self)
        #expect(a.glob == "*.done" && a.pollSeconds == 5 && a.settleSeconds == 0 && !a.isRecursive && a.afterRunInForce == .keep)
        let b = try #require(defs.first { $0.name == "b" }).spec(as: SensorSpec.self)
        #expect(b.glob == "*.ok" && b.pollSeconds == 0.25 && b.settleSeconds == 2 && b.isRecursive && b.afterRunInForce == .move("done"))
        let c = try #require(defs.first { $0.name == "c" }).spec(as: SensorSpec.self)
        #expect(c.afterRunInForce == .delete && c.afterRunInForce.action == .delete)
    }

    @Test func placeholdersResolveToTheFilesFacts() {
        let f = SensedFile(watched: "/data/in", relative: "2026/12/sales.csv.done")
        #expect(f.path == "/data/in/2026/12/sales.csv.done")
        #expect(f.name == "sales.csv.done")
        #expect(f.stem == "sales.csv")
        #expect(f.folder == "/data/in/2026/12")
        #expect(f.relative == "2026/12/sales.csv.done")
        let v: Value = ["a": "${file.name}", "b": ["x=${file.stem};y=${file.folder}"], "c": 3, "d": "${params.x} ${file.nope}"]
        let r = f.resolve(v)
        #expect(r["a"] == "sales.csv.done")
        #expect(r["b"] == ["x=sales.csv;y=/data/in/2026/12"])
        #expect(r["c"] == 3)
        #expect(r["d"] == "${params.x} ${file.nope}")
        #expect(SensedFile(watched: "/", relative: ".env").stem == ".env")
        #expect(SensedFile(watched: "/", relative: "x").folder == "/")
    }

    // MARK: validation

    @Test func badOptionsAreRefusedAtTheirLine() {
        let d = diagnose(Self.job + """
        kind: sensor
        name: s
        path: in
        pattern: "in/*.done"
        poll_interval: 10ms
        after_run: trash
        job: load
        parameters:
          file: "${file.nmae}"
          day: "${file.stem"
          other: x
        """)
        let lines = d.map(\.description)
        #expect(lines.contains { $0.hasPrefix("test.yaml:9:") && $0.contains("pattern 'in/*.done' of sensor 's' contains '/'") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("test.yaml:10:") && $0.contains("below the least of 100ms") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("test.yaml:11:") && $0.contains("after_run") && $0.contains("trash") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("test.yaml:14:") && $0.contains("unknown placeholder '${file.nmae}'") && $0.contains("did you mean '${file.name}'") },
                "\(lines)")
        #expect(lines.contains { $0.hasPrefix("test.yaml:15:") && $0.contains("unclosed") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("test.yaml:16:") && $0.contains("which job 'load' does not have") }, "\(lines)")
        #expect(d.count == 6, "\(lines)")
    }

    @Test func aMoveTargetInsideARecursivelyWatchedFolderOrIntoTheStoreIsRefused() throws {
        let dir = TemporaryDirectory("sensor-guard")
        let store = dir.sub(".ledgerflow")
        func check(_ yaml: String) throws -> [String] { storeGuardLines(Self.job + yaml, file: "s.yaml", store: store) }
        let inside = try check("kind: sensor\nname: s\npath: in\nrecursive: true\nafter_run: {move: in/done}\njob: load\n")
        #expect(inside.count == 1 && inside[0].hasPrefix("s.yaml:10:") && inside[0].contains("every moved marker would arrive again"), "\(inside)")
        // Not recursive: a subfolder is never listed, so it is fine; the watched folder itself is not.
        #expect(try check("kind: sensor\nname: s\npath: in\nafter_run: {move: in/done}\njob: load\n").isEmpty)
        let same = try check("kind: sensor\nname: s\npath: in\nafter_run: {move: ./in}\njob: load\n")
        #expect(same.count == 1 && same[0].contains("is the watched folder"), "\(same)")
        let intoStore = try check("kind: sensor\nname: s\npath: in\nafter_run: {move: .ledgerflow/x}\njob: load\n")
        #expect(intoStore.count == 1 && intoStore[0].contains("is inside the store"), "\(intoStore)")
        let watchStore = try check("kind: sensor\nname: s\npath: .ledgerflow\njob: load\n")
        #expect(watchStore.count == 1 && watchStore[0].hasPrefix("s.yaml:8:") && watchStore[0].contains("is the store"), "\(watchStore)")
        let holds = try check("kind: sensor\nname: s\npath: .\nrecursive: true\njob: load\n")
        #expect(holds.count == 1 && holds[0].contains("would list the store's files"), "\(holds)")
        // The project folder, not recursive, lists its own files only: fine.
        #expect(try check("kind: sensor\nname: s\npath: .\njob: load\n").isEmpty)
        #expect(try check("kind: sensor\nname: s\npath: in\nrecursive: true\nafter_run: {move: done}\njob: load\n").isEmpty)
    }
}
