import Foundation
import TestSupport
import Testing

/// `ledgerflow schedules preview` through the built binary.
@Suite(.timeLimit(.minutes(1))) struct SchedulesCLITests {
    @Test func previewListsFireTimesInUTCAndLocalTimeWithTheDSTRules() throws {
        let json = try ledgerflow(["schedules", "preview", "30 2 * * *", "--timezone", "Europe/Amsterdam",
                                   "--after", "2026-10-24T12:00:00Z", "--count", "3", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        #expect(json.stdout.filter { !$0.isWhitespace } == #"["2026-10-25T00:30:00Z","2026-10-26T01:30:00Z","2026-10-27T01:30:00Z"]"#)

        let text = try ledgerflow(["schedules", "preview", "30 2 * * *", "--timezone", "Europe/Amsterdam",
                                   "--after", "2026-03-28T12:00:00Z", "--count", "2"])
        #expect(text.status == 0)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[1].contains("2026-03-29T01:00:00Z  2026-03-29 03:00 +02:00") && lines[1].contains("02:30 does not exist"))
        #expect(lines[2] == "  2026-03-30T00:30:00Z  2026-03-30 02:30 +02:00")
    }

    @Test func anInvalidExpressionOrTimeZoneIsOneLineAndExit1() throws {
        let cron = try ledgerflow(["schedules", "preview", "0 25 * * *"])
        #expect(cron.status == 1 && !cron.signalled)
        #expect(cron.stderr == "ledgerflow: cron '0 25 * * *' is not valid: hour 25 is out of range 0–23; e.g. '30 2 * * *' is 02:30 every day\n")
        let zone = try ledgerflow(["schedules", "preview", "@daily", "--timezone", "Europe/Atlantis"])
        #expect(zone.status == 1)
        #expect(zone.stderr.split(separator: "\n").count == 1 && zone.stderr.contains("unknown time zone 'Europe/Atlantis'"))
        let usage = try ledgerflow(["schedules", "preview", "@daily", "--after", "yesterday"])
        #expect(usage.status == 2)
    }
}
