import Foundation

/// A day of the proleptic Gregorian calendar, without a time zone.
struct LocalDay: Hashable, Comparable {
    var year: Int, month: Int, day: Int

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    var ordinal: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The day `ordinal` days after 1970-01-01.
    init(ordinal z0: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday).
    var weekday: Int { ((ordinal % 7) + 11) % 7 }

    static func daysIn(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func < (a: LocalDay, b: LocalDay) -> Bool { a.ordinal < b.ordinal }
}

/// One time a cron schedule fires in a time zone.
public struct CronFireTime: Sendable, Hashable {
    /// How the nominal local time became `instant`.
    public enum Adjustment: Sendable, Hashable {
        /// The local time exists once: it is the instant.
        case none
        /// The local time falls in a spring-forward gap (it does not exist): the schedule fires at
        /// the first minute after the gap.
        case shiftedPastGap
        /// The local time occurs twice (fall back): the schedule fires once, at its first occurrence.
        case firstOfTwo
    }

    /// When it fires.
    public let instant: Date
    /// The nominal local time that matched the expression: year, month, day, hour, minute.
    public let year: Int, month: Int, day: Int, hour: Int, minute: Int
    /// How the local time was resolved to the instant.
    public let adjustment: Adjustment

    /// `2026-03-29 02:30`, the nominal local time.
    public var localText: String { String(format: "%04d-%02d-%02d %02d:%02d", year, month, day, hour, minute) }
}

extension CronSchedule {
    /// The times the expression fires strictly after `instant`, reading its fields as local time
    /// in `zone`, in order, for `limitYears` (lazily: take what you need).
    ///
    /// Daylight saving: a local time inside a spring-forward gap fires at the first minute after
    /// the gap (once, however many matching times fall in the gap); a local time that occurs twice
    /// fires once, at its first occurrence. So the instants strictly increase and no nominal tick
    /// fires twice or is dropped.
    public func fireTimes(after instant: Date, in zone: TimeZone, limitYears: Int = 8) -> CronFireTimes {
        CronFireTimes(schedule: self, zone: zone, after: instant, limitYears: limitYears)
    }
}

/// The lazy sequence of `CronSchedule.fireTimes(after:in:)`.
public struct CronFireTimes: Sequence, IteratorProtocol {
    let schedule: CronSchedule
    let zone: TimeZone
    /// The last instant returned (or the start): the next one is strictly after it.
    var floor: Date
    /// The local day being scanned, and the (hour, minute) pairs of it left to look at.
    var day: LocalDay
    var pending: [(hour: Int, minute: Int)] = []
    var nextPending = 0
    let lastDay: Int
    let sortedHours: [Int], sortedMinutes: [Int]

    init(schedule: CronSchedule, zone: TimeZone, after: Date, limitYears: Int) {
        self.schedule = schedule
        self.zone = zone
        floor = after
        // Start a day before the local day of `after`: offsets move wall time by up to a day.
        let localSeconds = Int((after.timeIntervalSince1970).rounded(.down)) + zone.secondsFromGMT(for: after)
        let today = Int((Double(localSeconds) / 86_400).rounded(.down))
        day = LocalDay(ordinal: today - 1)
        lastDay = today + limitYears * 366
        sortedHours = schedule.hours.sorted()
        sortedMinutes = schedule.minutes.sorted()
        pending = times(on: day)
    }

    public mutating func next() -> CronFireTime? {
        while true {
            while nextPending < pending.count {
                let (h, m) = pending[nextPending]
                nextPending += 1
                let (instant, adjustment) = resolve(day, h, m)
                if instant > floor {
                    floor = instant
                    return CronFireTime(instant: instant, year: day.year, month: day.month, day: day.day, hour: h, minute: m, adjustment: adjustment)
                }
            }
            guard day.ordinal < lastDay else { return nil }
            day = LocalDay(ordinal: day.ordinal + 1)
            pending = times(on: day)
            nextPending = 0
        }
    }

    /// The matching (hour, minute) pairs of `day` in order, or none when the day does not match;
    /// pairs whose local time is more than a day before `floor` are left out (they cannot fire
    /// after it), which keeps a scan of the first day short.
    func times(on day: LocalDay) -> [(hour: Int, minute: Int)] {
        guard schedule.months.contains(day.month),
              schedule.dayMatches(day.day, day.weekday, daysInMonth: LocalDay.daysIn(day.year, day.month)) else { return [] }
        // instant = local - offset with |offset| ≤ 14 h, so a local time before floor - 14 h cannot
        // come after floor.
        let earliest = Int(floor.timeIntervalSince1970.rounded(.down)) - 14 * 3_600 - 60 - day.ordinal * 86_400
        var out: [(hour: Int, minute: Int)] = []
        for h in sortedHours {
            for m in sortedMinutes where h * 3_600 + m * 60 >= earliest {
                out.append((h, m))
            }
        }
        return out
    }

    /// The instant of local time `day` `h`:`m` in the zone, with the DST rules above.
    func resolve(_ day: LocalDay, _ h: Int, _ m: Int) -> (Date, CronFireTime.Adjustment) {
        let local = Double(day.ordinal * 86_400 + h * 3_600 + m * 60)
        // The offsets in force a day before and a day after bracket every offset the wall time
        // can have (zones change offset at most once a day).
        let before = Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: local - 86_400 - 14 * 3_600)))
        let after = Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: local + 86_400 + 14 * 3_600)))
        var valid: [Double] = []
        for offset in Set([before, after]) {
            let t = local - offset
            if Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: t))) == offset { valid.append(t) }
        }
        valid.sort()
        if let first = valid.first {
            return (Date(timeIntervalSince1970: first), valid.count > 1 ? .firstOfTwo : .none)
        }
        // In a gap (the offset grows from `before` to `after` across it): the schedule fires at
        // the transition, the first instant of the new offset. It lies after local - after (still
        // the old offset there) and at or before local - before (already the new one); found by
        // bisection, to the second.
        var lo = local - after, hi = local - before
        while hi - lo > 1 {
            let mid = ((lo + hi) / 2).rounded(.down)
            if Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: mid))) == after { hi = mid } else { lo = mid }
        }
        return (Date(timeIntervalSince1970: hi), .shiftedPastGap)
    }
}

/// IANA time zones as schedules name them.
public enum ScheduleTimeZone {
    /// The zone named `name` (`UTC`, `Europe/Amsterdam`, …); the error says what to write.
    public static func named(_ name: String) throws(CronError) -> TimeZone {
        // Foundation also takes abbreviations and offsets ("CET", "GMT+1"); a schedule takes
        // Area/Location names of the tz database (or UTC), so that its rules are the database's.
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        let wellFormed = name == "UTC" || (parts.count >= 2 && parts.allSatisfy { p in
            !p.isEmpty && p.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_+-".contains($0)) } })
        guard wellFormed, let zone = TimeZone(identifier: name), zone.identifier == name || name == "UTC" else {
            throw CronError("unknown time zone '\(name)': use an IANA name such as UTC, Europe/Amsterdam or America/New_York")
        }
        return zone
    }
}

extension ScheduleTimeZone {
    /// `2026-03-29 03:00 +02:00`: `instant` as wall time in `zone`, with the offset in force.
    public static func localText(_ instant: Date, in zone: TimeZone) -> String {
        let offset = zone.secondsFromGMT(for: instant)
        let local = Int(instant.timeIntervalSince1970.rounded(.down)) + offset
        let days = Int((Double(local) / 86_400).rounded(.down))
        let day = LocalDay(ordinal: days)
        let seconds = local - days * 86_400
        let sign = offset < 0 ? "-" : "+"
        return String(format: "%04d-%02d-%02d %02d:%02d %@%02d:%02d", day.year, day.month, day.day, seconds / 3_600, seconds % 3_600 / 60,
                      sign, abs(offset) / 3_600, abs(offset) % 3_600 / 60)
    }
}
