import Foundation

/// A 5-field cron expression: minute hour day-of-month month day-of-week, in UTC or, with
/// `fireTimes(after:in:)`, in the local time of an IANA time zone.
///
/// Fields take `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, and lists `a,b`; months
/// `JAN`–`DEC` and days `SUN`–`SAT` by name; day-of-week 0–7 (0 and 7 are Sunday); `L` in
/// day-of-month is the month's last day (alone or in a list: `L`, `1,15,L`). Macros:
/// `@yearly`, `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`. As in Vixie cron, when
/// both day-of-month and day-of-week are restricted, a day matching either is a match.
public struct CronSchedule: Sendable, Hashable, CustomStringConvertible {
    public let minutes: Set<Int>, hours: Set<Int>, daysOfMonth: Set<Int>, months: Set<Int>, daysOfWeek: Set<Int>
    /// `L` in day-of-month: the month's last day matches.
    public let lastDayOfMonth: Bool
    let domRestricted: Bool, dowRestricted: Bool
    public let description: String

    static let macros = ["@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
                         "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"]
    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// Parses `text`; the error says which field is wrong and why.
    public init(_ text: String) throws(CronError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expanded: String
        if trimmed.hasPrefix("@") {
            guard let m = CronSchedule.macros[trimmed.lowercased()] else {
                throw CronError("unknown macro '\(trimmed)' (use @yearly, @monthly, @weekly, @daily or @hourly)")
            }
            expanded = m
        } else {
            expanded = trimmed
        }
        let parts = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 5 else {
            throw CronError("expected 5 fields (minute hour day-of-month month day-of-week), got \(parts.count)")
        }
        minutes = try CronSchedule.field(parts[0], "minute", 0 ... 59, names: [])
        hours = try CronSchedule.field(parts[1], "hour", 0 ... 23, names: [])
        // `L` items of day-of-month are taken out before the field is read as numbers.
        let domItems = parts[2].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        lastDayOfMonth = domItems.contains { $0.uppercased() == "L" }
        let numericDom = domItems.filter { $0.uppercased() != "L" }
        if let bad = domItems.first(where: { $0.uppercased().contains("L") && $0.uppercased() != "L" }) {
            throw CronError("day-of-month '\(bad)': L (the last day of the month) stands alone or as a list item (L, 1,15,L)")
        }
        daysOfMonth = numericDom.isEmpty ? [] : try CronSchedule.field(numericDom.joined(separator: ","), "day-of-month", 1 ... 31, names: [])
        months = try CronSchedule.field(parts[3], "month", 1 ... 12, names: CronSchedule.monthNames, nameBase: 1)
        var dow = try CronSchedule.field(parts[4], "day-of-week", 0 ... 7, names: CronSchedule.dayNames)
        if dow.contains(7) { dow.remove(7); dow.insert(0) }
        daysOfWeek = dow
        domRestricted = parts[2] != "*" && parts[2] != "?"
        dowRestricted = parts[4] != "*" && parts[4] != "?"
        description = trimmed
        if !lastDayOfMonth && daysOfMonth.allSatisfy({ $0 > 29 }) && months.allSatisfy({ $0 == 2 }) && !dowRestricted {
            throw CronError("day-of-month \(parts[2]) never occurs in February")
        }
    }

    private static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String], nameBase: Int = 0) throws(CronError) -> Set<Int> {
        var out = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !item.isEmpty else { throw CronError("\(name) field '\(text)' has an empty list item") }
            var base = item
            var step = 1
            if let slash = item.firstIndex(of: "/") {
                base = String(item[..<slash])
                guard let s = Int(item[item.index(after: slash)...]), s > 0 else {
                    throw CronError("\(name) step in '\(item)' must be a positive number")
                }
                step = s
            }
            var lo = range.lowerBound, hi = range.upperBound
            if base == "*" || base == "?" {
                // the whole range
            } else if let dash = base.firstIndex(of: "-") {
                lo = try value(String(base[..<dash]), name, range, names, nameBase)
                hi = try value(String(base[base.index(after: dash)...]), name, range, names, nameBase)
                guard lo <= hi else { throw CronError("\(name) range '\(base)' runs backwards") }
            } else {
                lo = try value(base, name, range, names, nameBase)
                hi = item.contains("/") ? range.upperBound : lo
            }
            for v in stride(from: lo, through: hi, by: step) { out.insert(v) }
        }
        return out
    }

    private static func value(_ s: String, _ name: String, _ range: ClosedRange<Int>, _ names: [String], _ nameBase: Int) throws(CronError) -> Int {
        if let v = Int(s) {
            guard range.contains(v) else { throw CronError("\(name) \(v) is out of range \(range.lowerBound)–\(range.upperBound)") }
            return v
        }
        if let i = names.firstIndex(of: s.uppercased()) { return i + nameBase }
        throw CronError("\(name) '\(s)' is not a number\(names.isEmpty ? "" : " or a name (\(names.first!)…)")")
    }

    /// Whether the minute starting at `date` (UTC) matches.
    public func matches(_ date: Date) -> Bool {
        let c = CronSchedule.utc.dateComponents([.minute, .hour, .day, .month, .year, .weekday], from: date)
        guard let mi = c.minute, let h = c.hour, let d = c.day, let mo = c.month, let y = c.year, let wd = c.weekday else { return false }
        return minutes.contains(mi) && hours.contains(h) && months.contains(mo) && dayMatches(d, wd - 1, daysInMonth: LocalDay.daysIn(y, mo))
    }

    func dayMatches(_ dom: Int, _ dow: Int, daysInMonth: Int) -> Bool {
        let domMatch = daysOfMonth.contains(dom) || (lastDayOfMonth && dom == daysInMonth)
        if domRestricted && dowRestricted { return domMatch || daysOfWeek.contains(dow) }
        return (domMatch || !domRestricted) && daysOfWeek.contains(dow)
    }

    /// The first matching minute (UTC) strictly after `date`, within `limitYears` (nil if none).
    public func next(after date: Date, limitYears: Int = 8) -> Date? {
        var times = fireTimes(after: date, in: CronSchedule.utc.timeZone, limitYears: limitYears)
        return times.next()?.instant
    }

    static let utc: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()
}

/// Why a cron expression is invalid.
public struct CronError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// Durations written as `500ms`, `30s`, `5m`, `1h30m`, `2d`, or a plain number of seconds.
public enum DurationText {
    /// Seconds, or nil if `text` is not a duration.
    public static func seconds(_ text: String) -> Double? {
        let s = text.trimmingCharacters(in: .whitespaces)
        if let v = Double(s), v >= 0, v.isFinite { return v }
        var total = 0.0
        var number = ""
        var i = s.startIndex
        var sawUnit = false
        while i < s.endIndex {
            let c = s[i]
            if c.isNumber || c == "." {
                number.append(c)
                i = s.index(after: i)
                continue
            }
            guard let n = Double(number) else { return nil }
            let rest = s[i...]
            let unit: Double, len: Int
            if rest.hasPrefix("ms") { unit = 0.001; len = 2 } else if c == "s" { unit = 1; len = 1 } else if c == "m" { unit = 60; len = 1 }
            else if c == "h" { unit = 3_600; len = 1 } else if c == "d" { unit = 86_400; len = 1 } else { return nil }
            total += n * unit
            number = ""
            sawUnit = true
            i = s.index(i, offsetBy: len)
        }
        return number.isEmpty && sawUnit ? total : nil
    }
}
