import Domain
import Foundation
import Testing
import TestSupport
@testable import Catalog

/// files stages: how their operations read, and what apply refuses (one line each, at the
/// operation's line).
@Suite struct FilesSpecTests {
    static func job(_ operations: String, parameters: String = "{batch: B1}") -> String {
        """
        kind: job
        name: land
        parameters: \(parameters)
        stages:
          - name: stage_in
            type: files
            operations:
        \(operations)
        """
    }

    @Test func operationsReadInOrderWithTheirDefaults() throws {
        let defs = try definitions(Self.job("""
              - {op: mkdir, to: "processing/${params.batch}/Errors"}
              - {op: copy, from: staging, to: "processing/${params.batch}/Original", pattern: "*.csv", dataset: originals}
              - {op: move, from: staging, to: archive, overwrite: true}
              - {op: delete, from: scratch, pattern: "*.tmp"}
        """))
        let job = try #require(try defs[0].typedSpec.as(JobSpec.self))
        guard case .files(let files) = job.stages[0].variant else {
            Issue.record("not a files stage: \(job.stages[0].type)")
            return
        }
        let expected: [StageSpec.FileOperation] = [
            .init(op: .mkdir, to: "processing/${params.batch}/Errors"),
            .init(op: .copy, from: "staging", to: "processing/${params.batch}/Original", pattern: "*.csv", dataset: "originals"),
            .init(op: .move, from: "staging", to: "archive", overwrite: true),
            .init(op: .delete, from: "scratch", pattern: "*.tmp"),
        ]
        #expect(files.operations == expected)
        #expect(files.operations[2].glob == "*")
        #expect(job.stages[0].destination == nil && job.stages[0].model == nil)
    }

    @Test func malformedOperationsAreRefusedAtTheirLine() {
        let d = diagnose(Self.job("""
              - {op: rsync, from: a, to: b}
              - {op: copy, from: staging}
              - {op: delete, from: scratch}
              - {op: mkdir, from: a, to: b}
        """))
        let lines = d.map(\.description)
        #expect(lines.contains { $0.hasPrefix("test.yaml:8:") && $0.contains("rsync") && $0.contains("copy, move, delete, mkdir") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("test.yaml:9:") && $0.contains("'to'") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("test.yaml:10:") && $0.contains("'pattern'") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("test.yaml:11:") && $0.contains("from") }, "\(lines)")
        #expect(d.count == 4, "\(lines)")
        #expect(d.allSatisfy { !$0.description.contains("\n") })
    }

    @Test func operationsThatWouldLeaveTheirFoldersAreRefusedAtTheirLine() {
        let d = diagnose(Self.job("""
              - {op: copy, from: staging, to: ./staging/}
              - {op: move, from: staging, to: "../outside"}
              - {op: copy, from: staging, to: "out/${params.bacth}"}
              - {op: delete, from: scratch, pattern: "a/*.tmp"}
              - {op: copy, from: staging, to: "out/${params.batch}/${run}"}
        """))
        let lines = d.map(\.description)
        #expect(lines.contains { $0.hasPrefix("test.yaml:8:") && $0.contains("onto itself, so it would overwrite its own sources") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("test.yaml:9:") && $0.contains("holds '..'") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("test.yaml:10:") && $0.contains("${params.bacth}") && $0.contains("did you mean '${params.batch}'?") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("test.yaml:11:") && $0.contains("contains '/'") }, "\(lines)")
        #expect(d.count == 4, "\(lines)")
    }

    @Test func foldersInTheStoreAreRefusedWithTheStore() throws {
        let dir = TemporaryDirectory("files-guard")
        let store = dir.sub(".ledgerflow")
        func check(_ operations: String) -> [String] { storeGuardLines(Self.job(operations), file: "f.yaml", store: store) }
        let into = check("      - {op: copy, from: staging, to: .ledgerflow/x}")
        #expect(into.count == 1 && into[0].hasPrefix("f.yaml:8:") && into[0].contains("to '.ledgerflow/x' is inside the store"), "\(into)")
        let absolute = check("      - {op: move, from: staging, to: \(store)}")
        #expect(absolute.count == 1 && absolute[0].contains("is the store"), "\(absolute)")
        let delete = check("      - {op: delete, from: \".ledgerflow/${params.batch}\", pattern: \"*\"}")
        #expect(delete.count == 1 && delete[0].contains("is inside the store"), "\(delete)")
        // The project folder holds the store, but only its own regular files are touched: fine.
        #expect(check("      - {op: copy, from: staging, to: .}").isEmpty)
        #expect(check("      - {op: copy, from: staging, to: \"processing/${params.batch}\"}").isEmpty)
    }
}
