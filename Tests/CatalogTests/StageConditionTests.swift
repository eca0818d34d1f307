import Domain
import Foundation
import Testing
@testable import Catalog

/// What apply refuses of a stage's `on:` and `when:` (one line, the stage's field).
@Suite struct StageConditionTests {
    func job(_ stages: String) -> String {
        """
        kind: job
        name: load
        parameters: {day: {type: date, required: true}, full: false}
        stages:
        \(stages)
        """
    }

    @Test func conditionsThatReadWhatTheyMayApply() throws {
        let defs = try definitions(job("""
          - {name: count, type: script, command: ["true"]}
          - {name: copy, type: script, command: ["true"], after: [count], when: "stages.count.outputs.rows > 0 and params.full == false"}
          - {name: alert, type: script, command: ["true"], after: [copy], on: failure, when: "run.trigger != 'rerun' and stages.count.status == 'succeeded'"}
          - {name: tidy, type: script, command: ["true"], after: [copy, alert], on: completion}
        """))
        let spec = try JobSpec(defs[0].spec)
        #expect(spec.stage(named: "alert")?.on == .failure && spec.stage(named: "tidy")?.on == .completion)
        #expect(spec.stage(named: "copy")?.when == "stages.count.outputs.rows > 0 and params.full == false")
    }

    @Test func referencesInSettingsAreCheckedAndOthersLeftToTheProgram() {
        let ok = diagnose(job("""
          - {name: a, type: script, command: ["true"]}
          - {name: b, type: script, after: [a], command: [sh, -c, "echo ${HOME} ${params.day} ${params.full:raw} ${run.id} ${run.scheduled_time} ${stages.a.outputs.rows} ${format_date(date_add(params.day, -1), 'yyyyMMdd')} ${concat('x', stages.a.outputs.rows)}"]}
        """))
        #expect(ok.isEmpty, "\(ok)")
        let bad = diagnose(job("""
          - {name: a, type: script, command: [sh, -c, "echo ${params.dya} ${stages.b.outputs.rows} ${run.when} ${stages.a.status} ${date_add(params.dya, 1)} ${concat('a',)} ${trim(weather)}"]}
          - {name: b, type: script, after: [a], command: ["true"]}
        """))
        #expect(bad.map(\.message).filter { !$0.contains("(") || $0.contains("which this stage does not follow") }.sorted() == [
            "stage 'a' of job 'load': ${params.dya} names parameter 'dya', which job 'load' does not declare",
            "stage 'a' of job 'load': ${run.when} is not a fact of the run",
            "stage 'a' of job 'load': ${stages.a.status} does not read as an output",
            "stage 'a' of job 'load': ${stages.b.outputs.rows} reads stage 'b', which this stage does not follow (its outputs are not there yet)",
        ], "\(bad)")
        #expect(bad.count == 7, "\(bad)")
        #expect(bad.contains { $0.message == "stage 'a' of job 'load': ${date_add(params.dya, 1)} names parameter 'dya', which job 'load' does not declare" })
        #expect(bad.contains { $0.message.hasPrefix("stage 'a' of job 'load': ${concat('a',)} does not read:") })
        #expect(bad.contains { $0.message == "stage 'a' of job 'load': ${trim(weather)} uses 'weather', which is no reference" })
        #expect(bad.allSatisfy { $0.location.line == 5 })
    }

    @Test(arguments: [
        ("{name: a, type: script, command: [\"true\"], on: failure}", "stages[0].on", "runs on failure of the stages it follows, but follows none"),
        ("{name: a, type: script, command: [\"true\"], on: maybe}", "stages[0].on", "success, failure, completion"),
        ("{name: a, type: script, command: [\"true\"], when: \"params.dya == '2026-01-01'\"}", "stages[0].when", "uses parameter 'dya', which job 'load' does not declare"),
        ("{name: a, type: script, command: [\"true\"], when: \"stages.b.status == 'failed'\"}", "stages[0].when", "refers to stage 'b', which it does not follow"),
        ("{name: a, type: script, command: [\"true\"], when: \"weather == 'sunny'\"}", "stages[0].when", "uses unknown field 'weather'"),
        ("{name: a, type: script, command: [\"true\"], when: \"params.full ==\"}", "stages[0].when", ""),
    ])
    func badConditionsAreRefusedAtApply(_ stage: String, _ field: String, _ message: String) {
        let d = diagnose(job("  - " + stage + "\n  - {name: b, type: script, command: [\"true\"], after: [a]}"))
        #expect(d.count == 1, "\(d)")
        let text = d.first.map { "\($0)" } ?? ""
        #expect(message.isEmpty ? text.contains("does not parse") : text.contains(message), "\(text)")
        // The line of the stage that holds the field (`field`).
        #expect(d.first?.location.file == "test.yaml" && d.first?.location.line == 5, "\(field): \(text)")
    }
}
