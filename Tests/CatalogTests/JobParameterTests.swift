import Domain
import Foundation
import Testing
@testable import Catalog

/// Typed job parameters: the two forms of `parameters`, the conversions, and what apply refuses
/// (one line with the file and line, for the job and for a schedule or sensor that runs it).
@Suite struct JobParameterTests {
    @Test func untypedAndTypedFormsRead() throws {
        let defs = try definitions("""
        kind: job
        name: load
        parameters:
          marker: ""
          day: {type: date, required: true, description: the business day}
          limit: {type: int, default: "50"}
          where: {kind: x}
        stages: [{name: s, type: script, command: ["true"]}]
        """)
        let job = try JobSpec(defs[0].spec)
        let declared = try JobParameter.declarations(job.parameters, owner: JobSpec.owner)
        let byName = Dictionary(uniqueKeysWithValues: declared.map { ($0.name, $0) })
        #expect(byName["marker"]?.kind == nil && byName["marker"]?.defaultValue == "")
        #expect(byName["day"]?.kind == .date && byName["day"]?.required == true && byName["day"]?.description == "the business day")
        // A default is converted to its type when read.
        #expect(byName["limit"]?.kind == .int && byName["limit"]?.defaultValue == .int(50))
        // An object without `type` is an untyped default, as before.
        #expect(byName["where"]?.kind == nil && byName["where"]?.defaultValue == .object([("kind", "x")]))
    }

    @Test(arguments: [
        (JobParameter.Kind.date, Value.string("2024-02-29"), true), (.date, "2023-02-29", false), (.date, "2026-13-01", false),
        (.date, "2026-1-01", false), (.date, "２０２６-01-01", false), (.int, "-12", true), (.int, .double(3.5), false),
        (.int, .double(4), true), (.number, "1e3", true), (.number, "inf", false), (.bool, "OFF", true), (.bool, .int(2), false),
        (.list, "", true), (.list, "[\"a\"]", true), (.list, "{}", true), (.text, .bool(true), true), (.text, .array([]), false),
    ])
    func conversions(_ kind: JobParameter.Kind, _ value: Value, _ ok: Bool) {
        if case .success = kind.coerce(value) { #expect(ok, "\(kind) \(value)") } else { #expect(!ok, "\(kind) \(value)") }
    }

    @Test(arguments: [
        ("{type: datetime}", "parameters.day.type", "one of text, int, number, bool, date, list"),
        ("{type: date, default: tomorrow}", "parameters.day.default", "a date (YYYY-MM-DD)"),
        ("{type: int, default: 3, required: true}", "parameters.day.required", "a required parameter has no default"),
    ])
    func badDeclarationsAreRefusedAtApplyWithTheirLine(_ declaration: String, _ field: String, _ expected: String) {
        let d = diagnose("""
        kind: job
        name: load
        parameters:
          day: \(declaration)
        stages: [{name: s, type: script, command: ["true"]}]
        """)
        #expect(d.count == 1, "\(d)")
        #expect(d.first?.location.file == "test.yaml" && (d.first?.location.line ?? 0) >= 1, "\(d)")
        #expect(d.first.map { "\($0)".contains(field) && "\($0)".contains(expected) } == true, "\(d)")
    }

    @Test func schedulesAndSensorsMustPassRequiredParametersOfTheirType() {
        let job = """
        kind: job
        name: load
        parameters:
          day: {type: date, required: true}
          limit: {type: int, default: 10}
        stages: [{name: s, type: script, command: ["true"]}]
        ---

        """
        let missing = diagnose(job + "kind: schedule\nname: nightly\ncron: '0 2 * * *'\njob: load\n")
        #expect(missing.map(\.message) == ["schedule 'nightly' runs job 'load', whose parameter 'day' (a date (YYYY-MM-DD)) is required, and does not pass it"])
        let wrong = diagnose(job + "kind: schedule\nname: nightly\ncron: '0 2 * * *'\njob: load\nparameters: {day: '2026-01-01', limit: lots}\n")
        #expect(wrong.map(\.message) == ["schedule 'nightly' passes the text \"lots\" for parameter 'limit' of job 'load', which must be a whole number"])
        #expect(wrong.first?.location.line == 12, "\(wrong)")
        // A placeholder is checked when the run is requested, not at apply.
        #expect(diagnose(job + "kind: sensor\nname: drop\npath: in\njob: load\nparameters: {day: '${file.stem}'}\n").isEmpty)
        #expect(diagnose(job + "kind: sensor\nname: drop\npath: in\njob: load\n").map(\.message)
                == ["sensor 'drop' runs job 'load', whose parameter 'day' (a date (YYYY-MM-DD)) is required, and does not pass it"])
    }
}
