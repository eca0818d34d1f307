import Catalog
import Foundation
import Testing

/// Cron in a time zone: local wall time, `L`, and the daylight-saving rules (a time in a
/// spring-forward gap fires at the first instant after the gap; a time that occurs twice fires
/// once, at its first occurrence).
@Suite struct CronCalendarTests {
    let iso: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }()

    func date(_ s: String) -> Date { iso.date(from: s)! }
    func fires(_ cron: String, _ zone: String, after: String, count: Int) throws -> [CronFireTime] {
        Array(try CronSchedule(cron).fireTimes(after: date(after), in: try ScheduleTimeZone.named(zone)).prefix(count))
    }
    func instants(_ times: [CronFireTime]) -> [String] { times.map { iso.string(from: $0.instant) } }

    @Test func aTimeInTheSpringForwardGapFiresAtTheFirstInstantAfterIt() throws {
        // Amsterdam, 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC); 02:30 does not exist.
        let t = try fires("30 2 * * *", "Europe/Amsterdam", after: "2026-03-28T12:00:00Z", count: 2)
        #expect(instants(t) == ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"])
        #expect(t.map(\.adjustment) == [.shiftedPastGap, .none])
        #expect(t[0].localText == "2026-03-29 02:30")
        // New York, 2026-03-08: three matching times in the gap fire once, at 03:00 EDT.
        let ny = try fires("*/20 2 * * *", "America/New_York", after: "2026-03-07T12:00:00Z", count: 3)
        #expect(instants(ny) == ["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z", "2026-03-09T06:20:00Z"])
    }

    @Test func aTimeThatOccursTwiceFiresOnceAtItsFirstOccurrence() throws {
        // Amsterdam, 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:30 occurs twice.
        let t = try fires("30 2 * * *", "Europe/Amsterdam", after: "2026-10-24T12:00:00Z", count: 2)
        #expect(instants(t) == ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"])
        #expect(t.map(\.adjustment) == [.firstOfTwo, .none])
        // Hourly: the second 02:00 (01:00 UTC) does not fire.
        let hourly = try fires("0 * * * *", "Europe/Amsterdam", after: "2026-10-24T22:30:00Z", count: 4)
        #expect(instants(hourly) == ["2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"])
    }

    @Test func lIsTheLastDayOfTheMonth() throws {
        let t = try fires("0 0 L * *", "UTC", after: "2028-01-15T00:00:00Z", count: 4)
        #expect(instants(t) == ["2028-01-31T00:00:00Z", "2028-02-29T00:00:00Z", "2028-03-31T00:00:00Z", "2028-04-30T00:00:00Z"])
        #expect(try CronSchedule("0 0 1,15,L * *").next(after: date("2026-11-20T00:00:00Z")) == date("2026-11-30T00:00:00Z"))
        #expect(throws: CronError.self) { try CronSchedule("0 0 L2 * *") }
        #expect(try CronSchedule("0 0 L 2 *").next(after: date("2027-01-01T00:00:00Z")) == date("2027-02-28T00:00:00Z"))
    }

    @Test func timeZonesAreIANANames() throws {
        #expect(throws: CronError.self) { try ScheduleTimeZone.named("Mars/Olympus") }
        #expect(throws: CronError.self) { try ScheduleTimeZone.named("CET+1") }
        #expect(try ScheduleTimeZone.named("Asia/Kolkata").identifier == "Asia/Kolkata")
    }

    /// `tools/cron-reference.py`, written apart from this code on Python's zoneinfo, gives the
    /// first 40 fire times of 6 expressions in 6 zones (30-minute DST in Lord Howe, no DST in
    /// Kolkata, southern-hemisphere DST in Santiago) after 5 moments around the 2026 transitions.
    @Test func fireTimesMatchTheIndependentReference() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixturePath("fixtures/cron/reference.json")))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try #require(root["cases"] as? [[String: Any]])
        #expect(cases.count == 180)
        for c in cases {
            let zone = c["zone"] as! String, cron = c["cron"] as! String, after = c["after"] as! String
            let expected = c["fires"] as! [String]
            let got = instants(try fires(cron, zone, after: after, count: expected.count))
            #expect(got == expected, "\(cron) in \(zone) after \(after)")
        }
    }
}
