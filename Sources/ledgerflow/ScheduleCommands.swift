import ArgumentParser
import Catalog
import Domain
import Foundation

/// `ledgerflow schedules`: when schedules fire.
struct Schedules: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules", abstract: "When schedules fire: preview a cron expression in a time zone.",
        subcommands: [SchedulesPreview.self])
}

struct SchedulesPreview: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preview",
        abstract: "The next fire times of a cron expression, strictly after a moment, in UTC and local time.",
        discussion: """
        The fields are local wall time in the time zone. A local time inside a spring-forward gap \
        fires at the first minute after the gap; a local time that occurs twice (fall back) fires \
        once, at its first occurrence. Both are marked in the list.
        """)
    @Argument(help: ArgumentHelp("A 5-field cron expression (minute hour day-of-month month day-of-week) or a macro such as @daily; quote it.", valueName: "cron"))
    var cron: String
    @Option(help: ArgumentHelp("An IANA time zone (Europe/Amsterdam); the fields are local time there.", valueName: "tz")) var timezone = "UTC"
    @Option(help: ArgumentHelp("List fire times strictly after this moment (RFC 3339, or a date meaning midnight UTC; default: now).", valueName: "time"))
    var after: String?
    @Option(help: "How many (1–1000).") var count = 5
    @Flag(help: "Print a JSON array of the fire times as UTC RFC 3339 strings.") var json = false

    func validate() throws {
        if !(1 ... 1000).contains(count) { throw ValidationError("--count must be between 1 and 1000") }
        if let after, Timestamp.parse(after) == nil {
            throw ValidationError("--after '\(after)' is not a time: write e.g. 2026-11-22T10:30:00Z or 2026-11-22")
        }
    }

    func run() throws {
        let schedule: CronSchedule
        let zone: TimeZone
        do throws(CronError) {
            schedule = try CronSchedule(cron)
        } catch {
            throw CommandFailure(message: "cron '\(cron)' is not valid: \(error); e.g. '30 2 * * *' is 02:30 every day")
        }
        do throws(CronError) { zone = try ScheduleTimeZone.named(timezone) } catch { throw CommandFailure(message: "--timezone: \(error)") }
        let start = after.flatMap(Timestamp.parse).map { Date(timeIntervalSince1970: Double($0) / 1e6) } ?? Date()
        let times = Array(schedule.fireTimes(after: start, in: zone).prefix(count))
        let iso = ISO8601DateFormatter()
        if json {
            Output.line(prettyJSON(.array(times.map { .string(iso.string(from: $0.instant)) })))
            return
        }
        if times.isEmpty {
            Output.line("'\(cron)' does not fire in the 8 years after \(iso.string(from: start))")
            return
        }
        Output.line("'\(cron)' in \(zone.identifier), after \(iso.string(from: start)):")
        for t in times {
            var note = ""
            switch t.adjustment {
            case .none: break
            case .shiftedPastGap: note = "  \(t.localText) does not exist (clocks spring forward): fires at the first minute after the gap"
            case .firstOfTwo: note = "  \(t.localText) occurs twice (clocks fall back): fires at the first"
            }
            Output.line("  \(iso.string(from: t.instant))  \(ScheduleTimeZone.localText(t.instant, in: zone))\(note)")
        }
    }
}
