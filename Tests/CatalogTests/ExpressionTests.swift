import Foundation
import Domain
import Testing
@testable import Catalog

@Suite struct ExpressionTests {
    func eval(_ text: String, _ row: [String: Value]) throws -> Value {
        try Expression.parse(text).evaluate { row[$0] }
    }

    @Test func comparisonsAndLogic() throws {
        let row: [String: Value] = ["churn_probability": 0.85, "tenure_months": 4, "plan": "basic"]
        #expect(try eval("churn_probability >= 0.8 and tenure_months < 6", row) == true)
        #expect(try eval("churn_probability >= 0.9 or plan == 'basic'", row) == true)
        #expect(try eval("not (tenure_months < 6)", row) == false)
        #expect(try eval("tenure_months * 2 + 1 == 9", row) == true)
        #expect(try eval("missing > 1", row) == false)
        #expect(try eval("missing != 1", row) == false, "comparisons with null are false")
        #expect(try eval("lower(plan) == \"basic\" && abs(-3) == 3", row) == true)
    }

    @Test func precedenceIsConventional() throws {
        #expect(try Expression.parse("a or b and c").description == "a or b and c")
        #expect(try Expression.parse("(a or b) and c").description == "(a or b) and c")
        #expect(try eval("1 + 2 * 3 == 7", [:]) == true)
        #expect(try eval("true or false and false", [:]) == true)
    }

    @Test func aggregatesFoldOverARun() throws {
        let e = try Expression.parse("count(churn_probability > 0.8) >= 2 and avg(churn_probability) > 0.5")
        #expect(e.isAggregate && e.fieldsOutsideAggregates.isEmpty)
        let rows: [[String: Value]] = [["churn_probability": 0.9], ["churn_probability": 0.95], ["churn_probability": 0.1]]
        #expect(e.evaluate(rows: rows) { row, f in row[f] } == true)
        #expect(e.evaluate(rows: rows.suffix(1)) { row, f in row[f] } == false)
        #expect(try Expression.parse("count() > 2").evaluate(rows: rows) { row, f in row[f] } == true)
    }

    @Test(arguments: [
        ("a > > 1", "unexpected '>'", 5),
        ("a = 1", "unexpected '= 1'", 3),
        ("a < b < c", "comparisons cannot be chained", 7),
        ("cnt(a > 1) > 2", "unknown function 'cnt'; did you mean 'count'?", 1),
        ("sum(count(a)) > 1", "aggregates cannot be nested", 1),
        ("'open", "unterminated text", 6),
        ("(a > 1", "expected ')'", 7),
    ])
    func parseErrorsSayWhatAndWhere(_ text: String, _ message: String, _ offset: Int) {
        #expect(throws: ExpressionError.self) { try Expression.parse(text) }
        do {
            _ = try Expression.parse(text)
        } catch {
            #expect(error.message.hasPrefix(message), "\(error)")
            #expect(error.offset == offset, "\(error)")
        }
    }

    @Test func fieldsAreListedOnce() throws {
        #expect(try Expression.parse("a > 1 and (b < a or outputs.rows == 0)").fields == ["a", "b", "outputs.rows"])
    }
}

@Suite struct CronTests {
    func date(_ s: String) -> Date { Date(timeIntervalSince1970: Double(Timestamp.parse(s)!) / 1e6) }

    @Test func nextFireTimes() throws {
        let weekdays = try CronSchedule("30 6 * * 1-5")
        // 2026-11-21 is a Saturday: the next weekday 06:30 is Monday the 23rd.
        #expect(weekdays.next(after: date("2026-11-21T07:00:00Z")) == date("2026-11-23T06:30:00Z"))
        #expect(try CronSchedule("*/15 * * * *").next(after: date("2026-11-22T10:07:30Z")) == date("2026-11-22T10:15:00Z"))
        #expect(try CronSchedule("@monthly").next(after: date("2026-11-22T00:00:00Z")) == date("2026-12-01T00:00:00Z"))
        #expect(try CronSchedule("0 0 29 2 *").next(after: date("2026-03-01T00:00:00Z")) == date("2028-02-29T00:00:00Z"))
        // Day-of-month and day-of-week both restricted: either matches (Vixie cron).
        let either = try CronSchedule("0 12 1 * SUN")
        #expect(either.next(after: date("2026-11-22T13:00:00Z")) == date("2026-11-29T12:00:00Z"))
        #expect(either.matches(date("2026-12-01T12:00:00Z")))
    }

    @Test(arguments: [("0 25 * * *", "hour 25 is out of range 0–23"), ("* * *", "expected 5 fields"),
                      ("0 0 * FOO *", "month 'FOO' is not a number or a name"), ("0 0 31 2 *", "never occurs in February"),
                      ("*/0 * * * *", "minute step"), ("@sometimes", "unknown macro")])
    func invalidCronSaysWhy(_ text: String, _ message: String) {
        do {
            _ = try CronSchedule(text)
            Issue.record("\(text) parsed")
        } catch {
            #expect(error.description.contains(message), "\(error)")
        }
    }

    @Test func durations() {
        #expect(DurationText.seconds("1h30m") == 5400)
        #expect(DurationText.seconds("500ms") == 0.5)
        #expect(DurationText.seconds("45") == 45)
        #expect(DurationText.seconds("10 minutes") == nil)
        #expect(DurationText.seconds("5") == 5 && DurationText.seconds("m") == nil)
    }
}

/// The text and date functions that stage settings use inside `${…}` (and conditions anywhere).
@Suite struct ExpressionFunctionTests {
    func eval(_ text: String, _ fields: [String: Value] = [:]) throws -> Value {
        try Expression.parse(text).evaluate { fields[$0] }
    }

    @Test(arguments: [
        ("concat('batch-', 7, '-', true)", Value.string("batch-7-true")),
        ("concat('a', null, 'b')", "ab"),
        ("replace('a/b/c', '/', '_')", "a_b_c"),
        ("substring('2026-12-04', 5)", "12-04"),
        ("substring('2026-12-04', 0, 4)", "2026"),
        ("substring('abc', 9)", ""),
        ("trim('  x ')", "x"),
        ("to_date('2026-12-04T23:30:00-02:00')", "2026-12-05"),
        ("to_date('2026-12-04')", "2026-12-04"),
        ("date_add('2024-02-28', 1)", "2024-02-29"),
        ("date_add('2023-02-28', 1)", "2023-03-01"),
        ("date_add('2026-01-01', -1)", "2025-12-31"),
        ("date_add('2026-03-29T01:30:00Z', 400)", "2027-05-03"),
        ("date_add('1969-12-31', 1)", "1970-01-01"),
        ("format_date('2026-12-04T06:05:09Z', 'yyyy/MM/dd HH:mm:ss')", "2026/12/04 06:05:09"),
        ("format_date(date_add('2026-12-01', -1), 'yyyyMMdd')", "20261130"),
        ("format_date('2026-12-04', 'dd.MM.yyyy')", "04.12.2026"),
    ])
    func functions(_ text: String, _ expected: Value) throws {
        #expect(try eval(text) == expected, "\(text)")
    }

    @Test(arguments: ["date_add('2026-02-30', 1)", "date_add('yesterday', 1)", "to_date('2026-12-04T25:00:00Z')", "date_add('2026-12-04', 'x')",
                      "replace('a', '', 'b')", "substring('abc', -1)", "concat(params.list)", "format_date(3, 'yyyy')"])
    func wrongArgumentsGiveNull(_ text: String) throws {
        #expect(try eval(text, ["params.list": .array(["a"])]) == .null, "\(text)")
    }

    @Test func fieldsReachTheFunctions() throws {
        #expect(try eval("concat(params.day, '/', run.id)", ["params.day": "2026-12-04", "run.id": "12"]) == "2026-12-04/12")
        #expect(throws: ExpressionError.self) { try Expression.parse("date_add('2026-12-04')") }
    }
}

/// `${…}` in an etl stage's `filter` and `derive`: apply reads each as one literal, quoted or not
/// (the value is inserted as a literal when the stage runs), and still refuses what does not parse.
@Suite struct ExpressionPlaceholderApplyTests {
    static func job(filter: String) -> String {
        """
        kind: source
        name: rows
        type: csv
        path: rows.csv
        ---
        kind: job
        name: j
        parameters: {n: {type: int, default: 3}, label: {type: text, default: x}}
        stages:
          - {name: pick, type: etl, source: rows, filter: "\(filter)", derive: {tag: "'${params.label}'", limit: "${params.n} * 2"}}
        """
    }

    @Test func anUnquotedPlaceholderIsALiteralAtApply() {
        #expect(diagnose(Self.job(filter: "amount > ${params.n}")).isEmpty, "\(diagnose(Self.job(filter: "amount > ${params.n}")).map(\.description))")
        let bad = diagnose(Self.job(filter: "amount > > ${params.n}")).map(\.description)
        #expect(bad.count == 1 && bad[0].contains("does not parse"), "\(bad)")
        let undeclared = diagnose(Self.job(filter: "amount > ${params.m}")).map(\.description)
        #expect(undeclared.count == 1 && undeclared[0].contains("'m'"), "\(undeclared)")
    }
}
