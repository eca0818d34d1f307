import Catalog
import Domain
import Foundation
import TestSupport
import Testing
@testable import Executors

/// files stages on real folders: copy, move, delete, mkdir over globs and parameters; what is
/// recorded; verification; existing destinations; the store and folders that escape; and a
/// crash at each point of a copy or move, then a retry.
@Suite(.timeLimit(.minutes(1))) struct FilesExecutorTests {
    static func stage(_ operations: [Value]) -> Value {
        ["name": "stage_in", "type": "files", "operations": .array(operations)]
    }

    /// The names in `folder` (hidden ones too), sorted; empty when it does not exist.
    static func names(_ s: Sandbox, _ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: s.root + "/" + folder)) ?? []).sorted()
    }

    static func staged(_ s: Sandbox) throws {
        try s.write("staging/a.csv", "id\n1\n")
        try s.write("staging/b.csv", "id\n2\n3\n")
        try s.write("staging/notes.txt", "not data")
    }

    @Test func copyMoveDeleteMkdirInOrderWithParametersInFolders() throws {
        let s = try Sandbox()
        try Self.staged(s)
        try s.write("scratch/old.tmp", "x")
        try s.write("scratch/keep.txt", "y")
        let spec = Self.stage([
            ["op": "mkdir", "to": "processing/${params.batch}/Errors"],
            ["op": "copy", "from": "staging", "to": "processing/${params.batch}/Original", "pattern": "*.csv", "dataset": "originals_${params.batch}"],
            ["op": "move", "from": "staging", "to": "archive/${run}", "pattern": "*.csv"],
            ["op": "delete", "from": "scratch", "pattern": "*.tmp"],
        ])
        let r = try FilesExecutor().run(s.context(spec, params: ["batch": "B7"]))
        #expect(Self.names(s, "processing/B7") == ["Errors", "Original"])
        #expect(Self.names(s, "processing/B7/Original") == ["a.csv", "b.csv"])
        #expect(s.read("processing/B7/Original/b.csv") == "id\n2\n3\n")
        #expect(Self.names(s, "archive/1") == ["a.csv", "b.csv"])
        #expect(Self.names(s, "staging") == ["notes.txt"], "moved sources are gone; a file the pattern does not match stays")
        #expect(Self.names(s, "scratch") == ["keep.txt"])

        #expect(r.datasets.map(\.dataset) == ["originals_B7", "j.stage_in.3", "j.stage_in.4"])
        #expect(r.datasets.map(\.mode) == ["copy", "move", "delete"])
        let copied = r.datasets[0]
        #expect(copied.format == "files" && copied.rows == 2 && copied.location == s.root + "/processing/B7/Original")
        #expect(copied.files.map(\.name) == ["a.csv", "b.csv"])
        #expect(copied.files.map(\.size) == [5, 7])
        #expect(copied.files[1].source == s.root + "/staging/b.csv")
        #expect(copied.files[0].sha256 == (try Self.sha256sum(s.root + "/processing/B7/Original/a.csv")))
        #expect(r.datasets[2].files.map(\.name) == ["old.tmp"] && r.datasets[2].files[0].source == nil)
        let event = copied.event(run: "1", stage: "stage_in", attempt: 1)
        #expect(try DatasetVersionWritten(event.payload) == event, "the files round-trip through the typed event")

        let out = try #require(r.outputs)
        #expect(out["files"] == .int(5) && out["bytes"] == .int(25))
        let ops = try #require(out["operations"]?.arrayValue)
        #expect(ops.count == 4)
        #expect(ops[1]["files"] == .int(2) && ops[1]["bytes"] == .int(12) && ops[1]["op"] == "copy")
        #expect(ops[0]["op"] == "mkdir")
    }

    /// SHA-256 of a file as coreutils' sha256sum computes it.
    static func sha256sum(_ path: String) throws -> String {
        String(try run("/usr/bin/sha256sum", [path]).stdout.prefix(64))
    }

    @Test func anIdenticalDestinationIsDoneAndADifferentOneFailsUnlessOverwrite() throws {
        let s = try Sandbox()
        try Self.staged(s)
        try s.write("processing/a.csv", "id\n1\n")
        let copy: Value = ["op": "copy", "from": "staging", "to": "processing", "pattern": "*.csv"]
        let r = try FilesExecutor().run(s.context(Self.stage([copy])))
        #expect(r.datasets[0].files.map(\.name) == ["a.csv", "b.csv"])
        #expect(r.outputs?["operations"]?.arrayValue?[0]["already_there"] == .int(1))

        try s.write("processing/b.csv", "changed\n")
        #expect(throws: StageError.self) { try FilesExecutor().run(s.context(Self.stage([copy]))) }
        do {
            _ = try FilesExecutor().run(s.context(Self.stage([["op": "move", "from": "staging", "to": "processing", "pattern": "*.csv"]])))
        } catch {
            #expect(error.message.contains("processing/b.csv exists with other content than"))
            #expect(error.message.contains("set `overwrite: true`"))
        }
        #expect(Self.names(s, "staging") == ["a.csv", "b.csv", "notes.txt"], "a failed move deletes no source")
        #expect(s.read("processing/b.csv") == "changed\n")

        _ = try FilesExecutor().run(s.context(Self.stage([["op": "copy", "from": "staging", "to": "processing", "pattern": "b.csv", "overwrite": true]])))
        #expect(s.read("processing/b.csv") == "id\n2\n3\n")
    }

    @Test func aSourceThatChangesBeforeVerificationFailsAndDeletesNothing() throws {
        let s = try Sandbox()
        try Self.staged(s)
        let root = s.root
        let executor = FilesExecutor { point, path throws(StageError) in
            if point == .beforeVerify && path.hasSuffix("/b.csv") {
                try? "id\n2\n3\n4\n".write(toFile: root + "/staging/b.csv", atomically: false, encoding: .utf8)
            }
        }
        let spec = Self.stage([["op": "move", "from": "staging", "to": "processing", "pattern": "*.csv"]])
        do {
            _ = try executor.run(s.context(spec))
            Issue.record("a source that changed while it was copied was not noticed")
        } catch {
            #expect(error.message.contains("verification failed: the source \(root)/staging/b.csv changed while it was copied"))
        }
        #expect(Self.names(s, "staging") == ["a.csv", "b.csv", "notes.txt"])
        #expect(Self.names(s, "processing") == ["a.csv"], "the copy that did not verify is removed; no temporary file is left")

        // The retry, with the source stable, completes.
        let r = try FilesExecutor().run(s.context(spec, attempt: 2))
        #expect(Self.names(s, "processing") == ["a.csv", "b.csv"])
        #expect(s.read("processing/b.csv") == "id\n2\n3\n4\n")
        #expect(r.datasets[0].files.map(\.size) == [5, 9])
        #expect(Self.names(s, "staging") == ["notes.txt"])
    }

    /// A crash at each point of a move (the attempt stops there and cleans nothing), then a retry:
    /// every file ends up in the destination exactly once, no source is lost, no temporary file stays.
    @Test(arguments: [FilesExecutor.FaultPoint.temporaryWritten, .renamed, .beforeSourceDelete])
    func aRetryAfterACrashNeitherLosesNorDoublesAFile(_ crashAt: FilesExecutor.FaultPoint) throws {
        let s = try Sandbox()
        try Self.staged(s)
        let spec = Self.stage([["op": "move", "from": "staging", "to": "processing/${params.batch}", "pattern": "*.csv"]])
        let crashing = FilesExecutor { point, path throws(StageError) in
            if point == crashAt && path.contains("b.csv") { throw StageError("killed at \(point)") }
        }
        #expect(throws: StageError("killed at \(crashAt)")) { try crashing.run(s.context(spec, params: ["batch": "B1"])) }
        switch crashAt {
        case .temporaryWritten:
            #expect(Self.names(s, "processing/B1") == [".b.csv.ledgerflow-tmp", "a.csv"])
        case .renamed:
            #expect(Self.names(s, "processing/B1") == ["a.csv", "b.csv"])
        default:
            #expect(Self.names(s, "processing/B1") == ["a.csv", "b.csv"])
            #expect(Self.names(s, "staging") == ["b.csv", "notes.txt"], "a.csv's source was deleted before the crash")
        }

        let r = try FilesExecutor().run(s.context(spec, attempt: 2, params: ["batch": "B1"]))
        #expect(Self.names(s, "processing/B1") == ["a.csv", "b.csv"])
        #expect(s.read("processing/B1/a.csv") == "id\n1\n" && s.read("processing/B1/b.csv") == "id\n2\n3\n")
        #expect(Self.names(s, "staging") == ["notes.txt"])
        #expect(r.datasets[0].rows == (crashAt == .beforeSourceDelete ? 1 : 2))
    }

    @Test func aLeftoverTemporaryFileIsRemovedEvenWhenItsSourceIsGone() throws {
        let s = try Sandbox()
        try Self.staged(s)
        let spec = Self.stage([["op": "copy", "from": "staging", "to": "processing", "pattern": "*.csv"]])
        let crashing = FilesExecutor { point, path throws(StageError) in
            if point == .temporaryWritten && path.hasSuffix(".b.csv.ledgerflow-tmp") { throw StageError("killed") }
        }
        #expect(throws: StageError("killed")) { try crashing.run(s.context(spec)) }
        #expect(Self.names(s, "processing") == [".b.csv.ledgerflow-tmp", "a.csv"])
        try FileManager.default.removeItem(atPath: s.root + "/staging/b.csv")
        let r = try FilesExecutor().run(s.context(spec, attempt: 2))
        #expect(Self.names(s, "processing") == ["a.csv"])
        #expect(r.datasets[0].files.map(\.name) == ["a.csv"])
    }

    @Test func foldersThatLeaveTheirFolderOrReachTheStoreFail() throws {
        let s = try Sandbox()
        try Self.staged(s)
        try FileManager.default.createDirectory(atPath: s.root + "/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: s.root + "/processing", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: s.root + "/processing/link", withDestinationPath: s.root + "/elsewhere")
        let copy: (String) -> Value = { to in Self.stage([["op": "copy", "from": "staging", "to": .string(to), "pattern": "*.csv"]]) }
        let cases: [(String, Value, String)] = [
            ("processing/${params.batch}", ["batch": "../elsewhere"], "leaves the folder"),
            ("${params.batch}/x", ["batch": "/tmp"], "leaves the folder"),
            ("processing/${params.batch}", ["batch": "link"], "leads through a symlink"),
            ("${params.batch}/x", ["batch": ".ledgerflow"], "is inside the store"),
        ]
        for (to, params, why) in cases {
            do {
                _ = try FilesExecutor().run(s.context(copy(to), params: params))
                Issue.record("\(to) with \(params) ran")
            } catch {
                #expect(error.message.contains(why), "\(error.message)")
            }
        }
        #expect(Self.names(s, "elsewhere").isEmpty)
        #expect(Self.names(s, ".ledgerflow").isEmpty)
        #expect(Self.names(s, "staging") == ["a.csv", "b.csv", "notes.txt"])
    }

    @Test func aMoveWhoseFoldersMeetAfterSubstitutionFailsAndKeepsItsFiles() throws {
        let s = try Sandbox()
        try Self.staged(s)
        try FileManager.default.createSymbolicLink(atPath: s.root + "/alias", withDestinationPath: s.root + "/staging")
        for (to, params) in [("${params.x}", ["x": "staging"] as Value), ("alias", [:])] {
            let spec = Self.stage([["op": "move", "from": "staging", "to": .string(to), "pattern": "*.csv"]])
            do {
                _ = try FilesExecutor().run(s.context(spec, params: params))
                Issue.record("a move onto its own folder ran")
            } catch {
                #expect(error.message.contains("are the same folder"), "\(error.message)")
            }
            #expect(Self.names(s, "staging") == ["a.csv", "b.csv", "notes.txt"])
        }
    }

    @Test func aDestinationThatIsNoRegularFileFailsAndSymlinkedSourcesAreNotTaken() throws {
        let s = try Sandbox()
        try Self.staged(s)
        try s.write("outside/secret.csv", "s\n")
        try FileManager.default.createSymbolicLink(atPath: s.root + "/staging/linked.csv", withDestinationPath: s.root + "/outside/secret.csv")
        let r = try FilesExecutor().run(s.context(Self.stage([["op": "copy", "from": "staging", "to": "processing", "pattern": "*.csv"]])))
        #expect(r.datasets[0].files.map(\.name) == ["a.csv", "b.csv"])
        try FileManager.default.createDirectory(atPath: s.root + "/dest/a.csv", withIntermediateDirectories: true)
        #expect(throws: StageError.self) {
            try FilesExecutor().run(s.context(Self.stage([["op": "copy", "from": "staging", "to": "dest", "pattern": "a.csv"]])))
        }
    }
}
