import Domain
import Testing
@testable import Catalog

/// for_each stages through validation: what apply accepts, and what it refuses (one line each,
/// at the line of the field at fault, with what to do).
@Suite struct ForEachApplyTests {
    static let base = """
    kind: job
    name: ingest_module
    parameters: {module: {type: text, required: true}, client: {type: text, default: none}, rows: {type: int, default: 1}}
    stages: [{name: load, type: script, command: ["true"]}]
    ---
    kind: config_table
    name: modules
    rows:
      - {module_path: lake/sales, module_name: sales, client_code: C1, product_code: P1}
      - {module_path: lake/risk, module_name: risk, client_code: C2, product_code: P2}
    ---
    kind: team
    name: team-P1
    emails: [p1@example.com]
    """

    /// A job `all` (its for_each stage's items at line 21 of the file, job 22, parameters 23) over `items`.
    static func loop(_ items: String, job: String = "ingest_module", parameters: String = "{module: \"${item.module_name}\"}",
                     extra: String = "") -> String {
        file(items, "job: \(job)\n    parameters: \(parameters)\(extra)")
    }

    /// The base definitions and job `all` whose for_each stage `each` loops over `items`, then `rest`.
    static func file(_ items: String, _ rest: String) -> String {
        base + """

        ---
        kind: job
        name: all
        stages:
          - name: each
            type: for_each
            items: \(items)
            \(rest)
        """
    }

    @Test func aForEachStageReadsAndApplies() throws {
        let text = Self.loop("{config_table: modules, where: \"product_code == 'P1'\"}", extra: "\n    max_parallel: 4\n    continue_on_error: true\n    item_owner: team-P1")
        #expect(diagnose(text).isEmpty, "\(diagnose(text).map(\.description))")
        let defs = try definitions(text)
        let job = try #require(try defs.last?.typedSpec.as(JobSpec.self))
        guard case .forEach(let loop) = job.stages[0].variant else {
            Issue.record("not a for_each stage: \(job.stages[0].type)")
            return
        }
        #expect(loop.job == "ingest_module" && loop.maxParallel == 4 && loop.continueOnError && loop.itemOwner == "team-P1")
        #expect(loop.items == .configTable(name: "modules", where: "product_code == 'P1'"))
        #expect(job.stages[0].childJob == "ingest_module")
    }

    @Test func anUnknownConfigTableIsRefusedAtItsLine() {
        let lines = diagnose(Self.loop("{config_table: moduls}")).map(\.description)
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.hasPrefix("test.yaml:21:") == true, "\(lines)")
        #expect(lines.first?.contains("config_table 'moduls', which is not defined") == true && lines.first?.contains("did you mean 'modules'?") == true, "\(lines)")
    }

    @Test func anUnknownChildJobIsRefusedOnce() {
        let lines = diagnose(Self.loop("{config_table: modules}", job: "ingest_modul")).map(\.description)
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.hasPrefix("test.yaml:22:") == true && lines.first?.contains("did you mean 'ingest_module'?") == true, "\(lines)")
    }

    @Test func itemFieldsAndWhereMustBeColumnsOfTheTable() {
        let field = diagnose(Self.loop("{config_table: modules}", parameters: "{module: \"${item.modul_name}\"}")).map(\.description)
        #expect(field.count == 1 && field[0].hasPrefix("test.yaml:23:") && field[0].contains("did you mean 'module_name'?"), "\(field)")
        let condition = diagnose(Self.loop("{config_table: modules, where: \"produkt == 'P1'\"}")).map(\.description)
        #expect(condition.count == 1 && condition[0].contains("where reads 'produkt'"), "\(condition)")
    }

    @Test func theChildsParametersAreChecked() {
        let unknown = diagnose(Self.loop("{config_table: modules}", parameters: "{module: \"${item.module_name}\", modul: x}")).map(\.description)
        #expect(unknown.count == 1 && unknown[0].contains("passes parameter 'modul', which job 'ingest_module' does not take"), "\(unknown)")
        let missing = diagnose(Self.loop("{config_table: modules}", parameters: "{client: \"${item.client_code}\"}")).map(\.description)
        #expect(missing.count == 1 && missing[0].contains("whose parameter 'module' (text) is required"), "\(missing)")
    }

    @Test func anItemOwnerThatNamesNoTeamForSomeRowIsRefused() {
        let lines = diagnose(Self.loop("{config_table: modules}", extra: "\n    item_owner: \"team-${item.product_code}\"")).map(\.description)
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.contains("names team 'team-P2'") == true && lines.first?.contains("kind: team, name: team-P2") == true, "\(lines)")
    }

    @Test func listItemsMustGiveTheFieldsTheParametersUse() {
        let lines = diagnose(Self.loop("{list: [{m: a}, {n: b}]}", parameters: "{module: \"${item.m}\"}")).map(\.description)
        #expect(lines.count == 1 && lines[0].contains("the item has no field 'm'"), "\(lines)")
        #expect(diagnose(Self.loop("{list: [{m: a}, {m: b}]}", parameters: "{module: \"${item.m}\"}")).isEmpty)
    }

    @Test func aSourceMustBeADataset() {
        let lines = diagnose(Self.loop("{source: nowhere}")).map(\.description)
        #expect(lines.count == 1 && lines[0].contains("loops over the rows of 'nowhere', which is no source"), "\(lines)")
    }

    @Test func jobsRunningEachOtherThroughALoopAreACycle() {
        let text = Self.loop("{config_table: modules}", job: "all", parameters: "{}")
        let lines = diagnose(text).map(\.description)
        #expect(lines.contains { $0.contains("in a cycle: all → all") }, "\(lines)")
    }

    @Test func aTimeoutOrMaxParallelBelowOneIsRefused() {
        let lines = diagnose(Self.loop("{config_table: modules}", extra: "\n    max_parallel: 0\n    timeout: 5m")).map(\.description)
        #expect(lines.contains { $0.contains("takes no timeout") }, "\(lines)")
        #expect(lines.contains { $0.contains("max_parallel") }, "\(lines)")
    }

    /// An inline stage (`stage:` instead of `job:`): read with the for_each's name, its settings
    /// checked as a stage's, its `${params.X}` the for_each's parameters.
    static func inline(_ stage: String, parameters: String = "{tag: \"${item.client_code}\"}") -> String {
        file("{config_table: modules}", "parameters: \(parameters)\n    stage: \(stage)")
    }

    @Test func anInlineStageReadsAndApplies() throws {
        let text = Self.inline("{type: script, command: [echo, \"${item.module_name}\", \"${params.tag}\", \"${run.id}\"], retry: {attempts: 2}}")
        #expect(diagnose(text).isEmpty, "\(diagnose(text).map(\.description))")
        let job = try #require(try definitions(text).last?.typedSpec.as(JobSpec.self))
        guard case .forEach(let loop) = job.stages[0].variant else { Issue.record("not a for_each"); return }
        #expect(loop.job == nil && loop.stage?["name"] == "each" && loop.stage?["type"] == "script")
        let one = try loop.stage(for: .object([("module_name", "sales")]))
        #expect(one?["command"]?.arrayValue?[1] == "sales" && one?["command"]?.arrayValue?[2] == "${params.tag}")
        #expect(job.stages[0].childJob == nil)
    }

    @Test func anInlineStageIsCheckedAgainstTheForEachsParametersAndTheTable() {
        let param = diagnose(Self.inline("{type: script, command: [echo, \"${params.tga}\"]}")).map(\.description)
        #expect(param.count == 1 && param[0].contains("its inline stage: ${params.tga}") && param[0].contains("for_each's parameters"), "\(param)")
        let column = diagnose(Self.inline("{type: script, command: [echo, \"${item.modul}\"]}")).map(\.description)
        #expect(column.count == 1 && column[0].contains("'modul' is not a column"), "\(column)")
        let nested = diagnose(Self.inline("{type: job, job: ingest_module}")).map(\.description)
        #expect(nested.first?.contains("stages[0].stage.type of job 'all' is 'job', which is not one of") == true, "\(nested)")
        let upstream = diagnose(Self.inline("{type: script, command: [echo, \"${stages.x.outputs.y}\"]}")).map(\.description)
        #expect(upstream.count == 1, "\(upstream)")
        let condition = diagnose(Self.inline("{type: script, command: [\"true\"], when: \"params.nope == 1\"}")).map(\.description)
        #expect(condition.count == 1 && condition[0].contains("reads 'params.nope'"), "\(condition)")
    }

    @Test func aLoopNamesAJobOrAnInlineStageNotBothNorNeither() {
        let both = diagnose(Self.loop("{config_table: modules}", extra: "\n    stage: {type: script, command: [\"true\"]}")).map(\.description)
        #expect(both.count == 1 && both[0].contains("names both a job and an inline stage"), "\(both)")
        let neither = diagnose(Self.inline("{type: script, command: [\"true\"]}").replacingOccurrences(of: "    stage: {type: script, command: [\"true\"]}", with: "")).map(\.description)
        #expect(neither.count == 1 && neither[0].contains("names neither a job nor an inline stage"), "\(neither)")
    }
}
