import Catalog
import Domain
import EventLog
import Foundation
import Runs
import TestSupport
import Testing
@testable import Engine

/// for_each stages through the engine, with real script stages as the items' child job: items
/// resolved once and recorded, one child run per item requested in the same append as its
/// `StageItemStarted`, `max_parallel` held, fail fast and continue_on_error, refused items,
/// source rows, a stopped engine, and a cancelled parent.
@Suite(.timeLimit(.minutes(2))) struct LoopEngineTests {
    /// The child job: `work` appends its module to ran.txt and reports `{module, rows}` (or
    /// fails when the module is `broken`); `hold` makes it wait for a file.
    static let child = """
    kind: job
    name: module
    parameters: {module: {type: text, required: true}, client: {type: text, default: none}, rows: {type: int, default: 1}}
    stages:
      - {name: work, type: script, command: [sh, work.sh]}
    """
    static let work = """
    echo "start $LEDGERFLOW_PARAM_MODULE" >> events.txt
    if [ -f hold ]; then while [ ! -f release ]; do sleep 0.02; done; fi
    # rendezvous: wait (5 s at most) until two items have started, to show they run together.
    if [ -f rendezvous ]; then i=0; while [ "$(grep -c '^start' events.txt)" -lt 2 ] && [ $i -lt 250 ]; do sleep 0.02; i=$((i+1)); done; fi
    echo "$LEDGERFLOW_PARAM_MODULE/$LEDGERFLOW_PARAM_CLIENT" >> ran.txt
    echo "end $LEDGERFLOW_PARAM_MODULE" >> events.txt
    if [ "$LEDGERFLOW_PARAM_MODULE" = broken ]; then echo "module broken has no data" >&2; exit 3; fi
    printf '{"outputs": {"module": "%s", "rows": %s}}' "$LEDGERFLOW_PARAM_MODULE" "$LEDGERFLOW_PARAM_ROWS" > "$LEDGERFLOW_REPORT"
    """
    static let table = """
    kind: config_table
    name: modules
    rows:
      - {module_path: lake/sales, module_name: sales, client_code: C1, product_code: P1}
      - {module_path: lake/risk, module_name: risk, client_code: C2, product_code: P2}
      - {module_path: lake/old, module_name: old, client_code: C3, product_code: P1, active: false}
      - {module_path: sql/hr, module_name: hr, client_code: C4, product_code: P9}
      - {module_path: sql/ops, module_name: ops, client_code: C5, product_code: P2}
    ---
    kind: team
    name: team-P1
    emails: [p1@example.com]
    ---
    kind: team
    name: team-P2
    emails: [p2@example.com]
    """

    static func project(_ parent: String) throws -> Project {
        let p = try Project()
        try work.write(toFile: p.root + "/work.sh", atomically: true, encoding: .utf8)
        try p.apply(child + "\n---\n" + table + "\n---\n" + parent)
        return p
    }

    static func children(_ state: RunsState, of parent: String) -> [RunState] {
        state.ordered.filter { $0.trigger.parentRun == parent }
    }

    static func lines(_ p: Project, _ file: String) throws -> [String] {
        try String(contentsOfFile: p.root + "/" + file, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func aConfigTableLoopRunsEachActiveRowOnceAndGathersTheOutputs() throws {
        let p = try Self.project("""
        kind: job
        name: all_modules
        stages:
          - name: modules
            type: for_each
            items: {config_table: modules, where: "product_code != 'P9'"}
            job: module
            parameters: {module: "${item.module_name}", client: "${item.client_code}-${run.id}"}
            max_parallel: 2
            item_owner: "team-${item.product_code}"
          - {name: after, type: script, after: [modules], command: [sh, -c, "echo ${stages.modules.outputs.succeeded} > after.txt"]}
        """)
        try "".write(toFile: p.root + "/rendezvous", atomically: true, encoding: .utf8)
        let id = try RunCommands.request(p.log, job: "all_modules", trigger: RunTrigger(.manual), actor: "test")
        let state = try p.runAll()
        let run = try #require(state.runs[id])
        #expect(run.status == .succeeded, "\(run.stages.map { "\($0.name): \($0.status) \($0.error ?? "")" })")
        // The inactive row and the row `where` leaves out never ran; the others ran once each.
        #expect(try Self.lines(p, "ran.txt").sorted() == ["ops/C5-\(id)", "risk/C2-\(id)", "sales/C1-\(id)"])
        let children = Self.children(state, of: id)
        #expect(children.map(\.parameters["module"]) == [.string("sales"), .string("risk"), .string("ops")])
        #expect(children.map(\.trigger.parentItem) == [0, 1, 2])
        #expect(children.map(\.owner) == ["team-P1", "team-P2", "team-P2"])
        #expect(children.allSatisfy { $0.correlation == run.correlation && $0.catalogSeq == run.catalogSeq })
        // The items are recorded with the attempt; each item's child is named by its StageItemStarted.
        let attempt = try #require(run.stage("modules")?.attempts.first)
        #expect(attempt.items?.compactMap { $0["module_name"] } == [.string("sales"), .string("risk"), .string("ops")])
        #expect(attempt.itemStarts.mapValues(\.childRun) == [0: children[0].id, 1: children[1].id, 2: children[2].id])
        let outputs = try #require(run.stage("modules")?.outputs)
        #expect(outputs["items"] == .int(3) && outputs["succeeded"] == .int(3) && outputs["failed"] == .int(0))
        let first = try #require(outputs["runs"]?.arrayValue?.first)
        #expect(first["run"] == .string(children[0].id) && first["status"] == "succeeded")
        #expect(first["outputs"]?["stages"]?["work"]?["module"] == "sales")
        #expect(first["value"]?["client_code"] == "C1")
        #expect(try Self.lines(p, "after.txt") == ["3"])
        // Each child's RunRequested is in the transaction of its StageItemStarted (one group
        // write: one recorded time).
        let events = try p.events(id)
        for c in children {
            let item = try #require(events.first { e in
                e.type == RunEvents.stageItemStarted && (try? e.decode(StageItemStarted.self))?.childRun == c.id
            })
            let requested = try #require(try p.events(c.id).first)
            #expect(requested.recordedAtMicros == item.recordedAtMicros)
        }
        // Never more than max_parallel item runs at once, and two did run together.
        var running = 0, most = 0
        for line in try Self.lines(p, "events.txt") {
            running += line.hasPrefix("start ") ? 1 : -1
            most = max(most, running)
        }
        #expect(most == 2)
    }

    @Test func failFastStartsNoFurtherItemAndContinueOnErrorRunsThemAll() throws {
        let p = try Self.project("""
        kind: job
        name: fast
        stages:
          - {name: each, type: for_each, items: {list: [a, broken, c, d]}, job: module, parameters: {module: "${item}", client: fast}}
        ---
        kind: job
        name: patient
        stages:
          - {name: each, type: for_each, items: {list: [a, broken, c, d]}, job: module, parameters: {module: "${item}", client: patient},
             max_parallel: 2, continue_on_error: true}
          - {name: tell, type: script, after: [each], on: failure, command: [sh, -c, "echo handled > handled.txt"]}
        """)
        let fast = try RunCommands.request(p.log, job: "fast", trigger: RunTrigger(.manual), actor: "test")
        let patient = try RunCommands.request(p.log, job: "patient", trigger: RunTrigger(.manual), actor: "test")
        let state = try p.runAll()
        let f = try #require(state.runs[fast])
        #expect(f.status == .failed)
        #expect(Self.children(state, of: fast).map(\.parameters["module"]) == [.string("a"), .string("broken")])
        #expect(f.stage("each")?.error == "1 of 4 items failed (item 1); 2 not started")
        let q = try #require(state.runs[patient])
        #expect(Self.children(state, of: patient).count == 4)
        #expect(q.stage("each")?.status == .failed && q.stage("each")?.error == "1 of 4 items failed (item 1)")
        #expect(q.stage("tell")?.status == .succeeded && q.status == .succeeded, "the failure is handled")
        #expect(try Self.lines(p, "ran.txt").filter { $0.hasSuffix("/patient") }.sorted() == ["a/patient", "broken/patient", "c/patient", "d/patient"])
    }

    /// An item whose parameters the child job refuses (a text for an int) gets no run: its
    /// StageItemStarted says why, it counts as failed, and the other items still run.
    @Test func anItemThatCannotBeRequestedFailsAloneWithTheReason() throws {
        let p = try Self.project("""
        kind: job
        name: mixed
        stages:
          - {name: each, type: for_each, job: module, continue_on_error: true,
             items: {list: [{m: a, n: 1}, {m: b, n: many}, {m: c, n: 3}]}, parameters: {module: "${item.m}", rows: "${item.n}"}}
        """)
        let id = try RunCommands.request(p.log, job: "mixed", trigger: RunTrigger(.manual), actor: "test")
        let state = try p.runAll()
        let run = try #require(state.runs[id])
        #expect(run.status == .failed)
        #expect(Self.children(state, of: id).map(\.parameters["rows"]) == [.int(1), .int(3)])
        let start = try #require(run.stage("each")?.attempts.first?.itemStarts[1])
        #expect(start.childRun == nil)
        let error = try #require(start.error)
        #expect(error.contains("'rows'") && error.contains("many") && !error.contains("\n"), "\(error)")
        #expect(run.stage("each")?.error == "1 of 3 items failed (item 1)")
    }

    /// ADF's Lookup: the rows of a source (here a CSV file), filtered by `where`.
    @Test func aSourceLoopRunsOneChildPerMatchingRow() throws {
        let p = try Self.project("""
        kind: source
        name: work_list
        type: csv
        path: work_list.csv
        ---
        kind: job
        name: listed
        stages:
          - {name: each, type: for_each, items: {source: work_list, where: "size > 10"}, job: module,
             parameters: {module: "${item.name}", rows: "${item.size}"}, max_parallel: 3}
        """)
        try "name,size\nsmall,5\nbig,20\nhuge,300\n".write(toFile: p.root + "/work_list.csv", atomically: true, encoding: .utf8)
        let id = try RunCommands.request(p.log, job: "listed", trigger: RunTrigger(.manual), actor: "test")
        let state = try p.runAll()
        #expect(state.runs[id]?.status == .succeeded)
        let children = Self.children(state, of: id)
        #expect(children.map(\.parameters["module"]) == [.string("big"), .string("huge")])
        #expect(children.map(\.parameters["rows"]) == [.int(20), .int(300)])
    }

    /// An empty loop (every row filtered out) succeeds at once with zero items.
    @Test func aLoopWithNoItemsSucceedsWithZeroItems() throws {
        let p = try Self.project("""
        kind: job
        name: none
        stages: [{name: each, type: for_each, items: {config_table: modules, where: "product_code == 'none'"}, job: module,
                  parameters: {module: "${item.module_name}"}}]
        """)
        let id = try RunCommands.request(p.log, job: "none", trigger: RunTrigger(.manual), actor: "test")
        let run = try #require(try p.runAll().runs[id])
        #expect(run.status == .succeeded && run.stage("each")?.outputs?["items"] == .int(0))
    }

    /// An engine that stops between steps while items run: the next engine finds the items and
    /// their runs in the log, starts the remaining items, and no item gets a second run.
    @Test func anEngineStoppedMidLoopLeadsToOneRunPerItem() throws {
        let p = try Self.project("""
        kind: job
        name: retrying
        parameters: {module: {type: text, required: true}, client: {type: text, default: none}, rows: {type: int, default: 1}}
        stages: [{name: work, type: script, command: [sh, work.sh], retry: {attempts: 3, backoff: 0s}}]
        ---
        kind: job
        name: loop
        stages: [{name: each, type: for_each, items: {list: [a, b, c, d, e]}, job: retrying, parameters: {module: "${item}"}, max_parallel: 2}]
        """)
        let id = try RunCommands.request(p.log, job: "loop", trigger: RunTrigger(.manual), actor: "test")
        let first = p.engine()
        try first.load()
        // Stop stepping once two items have runs and one of their scripts runs (in flight).
        var steps = 0
        while try !{ let c = Self.children(try RunCommands.runs(p.log), of: id)
                     return c.count >= 2 && c.contains { $0.stage("work")?.status == .running } }() {
            _ = try first.step()
            Thread.sleep(forTimeInterval: 0.005)
            steps += 1
            try #require(steps < 4_000, "no item's script started")
        }
        let state = try p.runAll()
        let run = try #require(state.runs[id])
        #expect(run.status == .succeeded)
        #expect(run.stage("each")?.attempts.count == 1)
        let children = Self.children(state, of: id)
        #expect(children.map(\.parameters["module"]) == ["a", "b", "c", "d", "e"].map { .string($0) },
                "\(children.map { c in "\(c.id) \(c.status): \(c.stages.map { "\($0.name) \($0.attempts.map { "\($0.reason ?? "") \($0.error ?? "")" })" })" })")
        #expect(children.allSatisfy { $0.status == .succeeded })
        #expect(children.contains { $0.stage("work")?.attempts.first?.reason == "interrupted" }, "the first engine stopped with an item's script running")
        #expect(run.stage("each")?.outputs?["succeeded"] == .int(5))
    }

    /// `rerun --from-failure` of a failed loop runs only the items whose run did not succeed;
    /// the others take over their earlier run (`StageItemStarted.reused`).
    @Test func aRerunFromFailureRunsOnlyTheItemsThatFailed() throws {
        let p = try Self.project("""
        kind: job
        name: loop
        stages: [{name: each, type: for_each, items: {list: [a, broken, c]}, job: module, parameters: {module: "${item}"},
                  continue_on_error: true}]
        """)
        let first = try RunCommands.request(p.log, job: "loop", trigger: RunTrigger(.manual), actor: "test")
        var state = try p.runAll()
        #expect(state.runs[first]?.status == .failed)
        // "Fixed": the broken module is renamed in work.sh so that it now succeeds.
        try Self.work.replacingOccurrences(of: "= broken ]", with: "= nothing ]").write(toFile: p.root + "/work.sh", atomically: true, encoding: .utf8)
        let second = try RunCommands.rerunFromFailure(p.log, run: first, actor: "test")
        state = try p.runAll()
        let run = try #require(state.runs[second])
        #expect(run.status == .succeeded, "\(run.stages.map { "\($0.name): \($0.status) \($0.error ?? "")" })")
        let before = Self.children(state, of: first)
        let again = Self.children(state, of: second)
        #expect(again.map(\.parameters["module"]) == [.string("broken")], "only the failed item runs again")
        let starts = try #require(run.stage("each")?.attempts.first?.itemStarts)
        #expect(starts[0] == ItemStart(childRun: before[0].id, reused: true) && starts[2] == ItemStart(childRun: before[2].id, reused: true))
        #expect(starts[1]?.childRun == again.first?.id && starts[1]?.reused == false)
        #expect(run.stage("each")?.outputs?["succeeded"] == .int(3))
        #expect(try Self.lines(p, "ran.txt").count == 4, "a, broken, c, then broken again")
    }

    /// An inline stage per item: each item's run is of job `JOB/STAGE`, its one stage the inline
    /// stage with the item's fields in place (recorded in its RunRequested), reading the
    /// for_each's parameters as its own; a retry policy applies per item.
    @Test func anInlineStageRunsOncePerItemWithTheItemsFields() throws {
        let p = try Self.project("""
        kind: job
        name: inline
        parameters: {label: {type: text, default: nightly}}
        stages:
          - name: each
            type: for_each
            items: {config_table: modules, where: "product_code == 'P2'"}
            parameters: {tag: "${params.label}-${item.client_code}"}
            max_parallel: 2
            item_owner: "team-${item.product_code}"
            stage:
              type: script
              command: [sh, -c, "echo ${item.module_name} $LEDGERFLOW_PARAM_TAG run ${run.id} >> inline.txt; test ${item.module_name} != ops || test -f second"]
              retry: {attempts: 2, backoff: 0s}
        """)
        // First run: ops fails both of its attempts (no file `second`); then `second` exists.
        let id = try RunCommands.request(p.log, job: "inline", trigger: RunTrigger(.manual), actor: "test")
        var state = try p.runAll()
        var run = try #require(state.runs[id])
        #expect(run.status == .failed, "ops fails both attempts: nothing creates `second`")
        try "".write(toFile: p.root + "/second", atomically: true, encoding: .utf8)
        let again = try RunCommands.request(p.log, job: "inline", trigger: RunTrigger(.manual), actor: "test")
        state = try p.runAll()
        run = try #require(state.runs[again])
        #expect(run.status == .succeeded, "\(run.stages.map { "\($0.name): \($0.status) \($0.error ?? "")" })")
        let children = Self.children(state, of: again)
        #expect(children.map(\.job) == ["inline/each", "inline/each"])
        #expect(children.map(\.owner) == ["team-P2", "team-P2"])
        #expect(children.map(\.parameters["tag"]) == [.string("nightly-C2"), .string("nightly-C5")])
        let first = try #require(children.first)
        #expect(first.inlineStage?["command"]?.arrayValue?.last?.stringValue?.hasPrefix("echo risk $LEDGERFLOW_PARAM_TAG run ${run.id}") == true,
                "the item's fields are in place; ${run.id} is left for the item's run: \(String(describing: first.inlineStage))")
        #expect(first.stages.map(\.name) == ["each"] && first.stages.first?.plan.type == "script")
        let lines = try Self.lines(p, "inline.txt").filter { $0.contains("run \(children[0].id)") || $0.contains("run \(children[1].id)") }
        #expect(lines.sorted() == ["ops nightly-C5 run \(children[1].id)", "risk nightly-C2 run \(children[0].id)"])
        let failedFirst = Self.children(state, of: id).first { $0.parameters["tag"] == .string("nightly-C5") }
        #expect(failedFirst?.stage("each")?.attempts.count == 2, "the inline stage's retry policy applies per item")
    }

    @Test func cancellingTheParentCancelsTheRunningItemsAndStartsNoMore() throws {
        let p = try Self.project("""
        kind: job
        name: loop
        stages: [{name: each, type: for_each, items: {list: [a, b, c]}, job: module, parameters: {module: "${item}"}}]
        """)
        try "".write(toFile: p.root + "/hold", atomically: true, encoding: .utf8)
        let id = try RunCommands.request(p.log, job: "loop", trigger: RunTrigger(.manual), actor: "test")
        let log = p.log
        let engine = p.engine()
        try engine.load()
        // Step until item a's script runs, cancel the parent, then run to the end.
        var steps = 0
        while !FileManager.default.fileExists(atPath: p.root + "/events.txt") {
            _ = try engine.step()
            Thread.sleep(forTimeInterval: 0.01)
            steps += 1
            try #require(steps < 2_000, "item a never started")
        }
        try RunCommands.cancel(log, run: id, actor: "ann")
        let state = try engine.run { $0.runs[id]?.status.isFinished == true && Self.children($0, of: id).allSatisfy { $0.status.isFinished } }
        let run = try #require(state.runs[id])
        #expect(run.status == .cancelled)
        #expect(run.stage("each")?.status == .cancelled)
        let children = Self.children(state, of: id)
        #expect(children.count == 1, "no item starts after the cancel")
        #expect(children.first?.status == .cancelled && children.first?.cancelRequestedBy == "run:\(id)")
    }
}
