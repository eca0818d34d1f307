import ArgumentParser
import Catalog
import Domain
import Engine
import EventLog
import Foundation
import Models
import Projections
import Runs

/// `ledgerflow schedules`: the schedules, their ticks and the runs they requested; when a cron
/// expression fires.
struct Schedules: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules", abstract: "Schedules: when each ticks next, what its ticks ran; preview a cron expression in a time zone.",
        subcommands: [SchedulesList.self, SchedulesTicks.self, SchedulesPreview.self], defaultSubcommand: SchedulesList.self)
}

struct SchedulesList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Each schedule (and model retraining schedule): its job, cron or interval, time zone, next ticks in UTC and local time, last tick, its run and that run's status.")
    @OptionGroup var store: StoreOptions
    @Option(help: "Next ticks shown per schedule (0–100).") var next = 3
    @Flag(help: "Print a JSON array.") var json = false

    func validate() throws {
        if !(0 ... 100).contains(next) { throw ValidationError("--next must be between 0 and 100") }
    }

    func run() throws {
        let (items, blocks) = try ScheduleBook(try store.openForReading()).list(next: next, now: Int64(Date().timeIntervalSince1970 * 1e6))
        if json {
            Output.line(prettyJSON(.array(items)))
            return
        }
        if blocks.isEmpty { Output.line("no schedules; define one with `kind: schedule` (see docs/metadata.md)") }
        for (i, b) in blocks.enumerated() {
            if i > 0 { Output.line("") }
            b.forEach(Output.line)
        }
    }
}

struct SchedulesTicks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ticks",
        abstract: "A schedule's history: its ticks with their runs and the runs' status, skipped ticks and why, queued ticks and when they ran.")
    @OptionGroup var store: StoreOptions
    @Argument(help: ArgumentHelp("The schedule (model:M for model M's retraining schedule).", valueName: "name")) var name: String
    @Option(help: "The newest N events of the schedule's stream (0: all).") var last = 100
    @Flag(help: "Print a JSON array, oldest first.") var json = false

    func validate() throws {
        if last < 0 { throw ValidationError("--last must be 0 or more") }
    }

    func run() throws {
        let (items, lines, from): ([Value], [String], UInt64)
        do { (items, lines, from) = try ScheduleBook(try store.openForReading()).ticks(name, last: last) } catch let e as ReadFailure {
            throw CommandFailure(message: e.description)
        }
        if json {
            Output.line(prettyJSON(.array(items)))
            return
        }
        if lines.isEmpty { Output.line("schedule \(name) has not ticked yet") }
        if from > 1 { Output.line("(the newest \(last) events; --last 0 shows all)") }
        lines.forEach(Output.line)
    }
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
