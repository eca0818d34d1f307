import Domain
import Foundation
import Testing

/// A for_each stage through the binary: `run` waits for every item's run, `status` lists the
/// items with their runs and outcomes (text and `--json`), and `why` walks from an item's run to
/// the loop.
@Suite struct LoopCLITests {
    @Test(.timeLimit(.minutes(1))) func statusListsEachItemAndWhyNamesIt() throws {
        let p = try RunCLITests.Project("""
        kind: job
        name: child
        parameters: {module: {type: text, required: true}}
        stages: [{name: work, type: script, command: [sh, -c, "test \\"$LEDGERFLOW_PARAM_MODULE\\" != broken"]}]
        ---
        kind: config_table
        name: modules
        rows:
          - {module_path: lake/a, module_name: sales, client_code: C1, product_code: P1}
          - {module_path: lake/b, module_name: broken, client_code: C2, product_code: P1}
          - {module_path: lake/c, module_name: risk, client_code: C3, product_code: P1}
          - {module_path: lake/d, module_name: old, client_code: C4, product_code: P1, active: false}
        ---
        kind: job
        name: parent
        stages: [{name: each, type: for_each, items: {config_table: modules}, job: child, parameters: {module: "${item.module_name}"},
                  max_parallel: 2, continue_on_error: true}]
        """)
        let ran = try p.lf(["run", "parent"])
        #expect(ran.status == 1, "the loop failed: \(ran.stdout) \(ran.stderr)")
        let status = try p.lf(["status", "1"])
        let out = status.stdout
        let stageLine = out.split(separator: "\n").first { $0.hasPrefix("each ") }.map(String.init) ?? ""
        #expect(stageLine.contains("for_each") && stageLine.contains("failed"), "\(out)")
        let items = out.components(separatedBy: "items of each:").last ?? ""
        let rows = items.split(separator: "\n").dropFirst().map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.count == 3, "\(out)")
        #expect(rows.map { $0.first } == ["0", "1", "2"], "\(out)")
        #expect(rows.map { $0.last } == ["succeeded", "failed", "succeeded"], "\(out)")
        #expect(items.contains("sales") && items.contains("broken") && !items.contains("old"), "\(out)")
        let json = try p.status("1")
        let listed = try #require(json["stages"]?.arrayValue?.first?["items"]?.arrayValue)
        #expect(listed.map { $0["status"] } == ["succeeded", "failed", "succeeded"].map { Value.string($0) })
        #expect(listed.map { $0["value"]?["module_name"] } == ["sales", "broken", "risk"].map { Value.string($0) })
        let broken = try #require(listed[1]["run"]?.stringValue)
        let why = try p.lf(["why", broken])
        #expect(why.status == 0, "\(why.stderr)")
        #expect(why.stdout.contains("child run of item 1 of stage each (attempt 1) of run 1"), "\(why.stdout)")
        let child = try p.status(broken)
        #expect(child["trigger"]?["parent_item"] == .int(1))
    }

    /// A for_each over a config table that does not exist: apply says so in one line at the
    /// table's line (with "did you mean") and appends nothing.
    @Test(.timeLimit(.minutes(1))) func applyRefusesALoopOverAMissingTableAndAppendsNothing() throws {
        let p = try RunCLITests.Project("""
        kind: job
        name: child
        parameters: {module: {type: text, required: true}}
        stages: [{name: work, type: script, command: ["true"]}]
        ---
        kind: config_table
        name: modules
        rows: [{module_path: lake/a, module_name: sales, client_code: C1, product_code: P1}]
        """)
        let head = try p.lf(["audit", "head", "--json"]).stdout
        try """
        kind: job
        name: parent
        stages:
          - name: each
            type: for_each
            items: {config_table: moduls}
            job: child
            parameters: {module: "${item.module_name}"}
        """.write(toFile: p.dir.sub("loop.yaml"), atomically: true, encoding: .utf8)
        let r = try p.lf(["apply", "loop.yaml"])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("loop.yaml:6:") && lines[0].contains("did you mean 'modules'?"), "\(r.stderr)")
        #expect(lines.last == "ledgerflow: apply failed: 1 error in 1 file; nothing was appended")
        #expect(try p.lf(["audit", "head", "--json"]).stdout == head)
    }
}
