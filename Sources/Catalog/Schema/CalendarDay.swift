import Domain

/// A calendar day of the proleptic Gregorian calendar as days since 1970-01-01 (`LocalDay`'s
/// civil-date arithmetic), for the date
/// functions of expressions (`to_date`, `date_add`, `format_date`): a `YYYY-MM-DD` text or the
/// date of an RFC 3339 timestamp (`2026-12-04T06:00:00Z`; with an offset, the UTC date).
struct CalendarDay: Sendable, Hashable {
    var days: Int64

    init(days: Int64) { self.days = days }

    init?(text: String) {
        guard let m = CalendarDay.moment(text) else { return nil }
        days = m.day.days
    }

    /// A civil date, when it names a real day (the arithmetic is `LocalDay`'s, the cron calendar's).
    init?(year: Int64, month: Int64, day: Int64) {
        guard (1 ... 12).contains(month), day >= 1, year > -1_000_000, year < 1_000_000,
              day <= Int64(LocalDay.daysIn(Int(year), Int(month))) else { return nil }
        days = Int64(LocalDay(year: Int(year), month: Int(month), day: Int(day)).ordinal)
    }

    /// The civil date.
    var civil: (year: Int64, month: Int64, day: Int64) {
        let d = LocalDay(ordinal: Int(days))
        return (Int64(d.year), Int64(d.month), Int64(d.day))
    }

    /// `YYYY-MM-DD`.
    var text: String {
        let c = civil
        return CalendarDay.pad(c.year, 4) + "-" + CalendarDay.pad(c.month, 2) + "-" + CalendarDay.pad(c.day, 2)
    }

    static func pad(_ n: Int64, _ width: Int) -> String {
        let t = String(n)
        return String(repeating: "0", count: Swift.max(0, width - t.count)) + t
    }

    /// A day and a time of day in UTC.
    struct Moment {
        var day: CalendarDay
        var seconds: Int64

        /// `pattern` with `yyyy`, `MM`, `dd`, `HH`, `mm`, `ss` replaced (other text kept).
        func formatted(_ pattern: String) -> String {
            let c = day.civil
            let tokens: [(String, String)] = [("yyyy", pad(c.year, 4)), ("MM", pad(c.month, 2)), ("dd", pad(c.day, 2)),
                                              ("HH", pad(seconds / 3600, 2)), ("mm", pad(seconds / 60 % 60, 2)), ("ss", pad(seconds % 60, 2))]
            var out = ""
            var rest = Substring(pattern)
            outer: while !rest.isEmpty {
                for (token, value) in tokens where rest.hasPrefix(token) {
                    out += value
                    rest = rest.dropFirst(token.count)
                    continue outer
                }
                out.append(rest.removeFirst())
            }
            return out
        }

        private func pad(_ n: Int64, _ w: Int) -> String { CalendarDay.pad(n, w) }
    }

    /// A `YYYY-MM-DD` text (midnight) or an RFC 3339 timestamp, in UTC.
    static func moment(_ text: String) -> Moment? {
        let chars = Array(text)
        func number(_ r: Range<Int>) -> Int64? {
            guard r.upperBound <= chars.count, chars[r].allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int64(String(chars[r]))
        }
        guard chars.count >= 10, chars[4] == "-", chars[7] == "-", let y = number(0 ..< 4), let m = number(5 ..< 7), let d = number(8 ..< 10),
              let day = CalendarDay(year: y, month: m, day: d) else { return nil }
        if chars.count == 10 { return Moment(day: day, seconds: 0) }
        guard chars.count >= 20, chars[10] == "T" || chars[10] == " ", chars[13] == ":", chars[16] == ":",
              let hh = number(11 ..< 13), let mm = number(14 ..< 16), let ss = number(17 ..< 19), hh < 24, mm < 60, ss < 61 else { return nil }
        var i = 19
        if i < chars.count, chars[i] == "." {
            i += 1
            while i < chars.count, chars[i].isASCII, chars[i].isNumber { i += 1 }
        }
        var offset: Int64 = 0
        if i < chars.count, chars[i] == "Z" || chars[i] == "z" {
            i += 1
        } else if i + 6 == chars.count, chars[i] == "+" || chars[i] == "-", chars[i + 3] == ":", let oh = number(i + 1 ..< i + 3), let om = number(i + 4 ..< i + 6) {
            offset = (chars[i] == "+" ? 1 : -1) * (oh * 3600 + om * 60)
            i += 6
        } else {
            return nil
        }
        guard i == chars.count else { return nil }
        let total = day.days * 86_400 + hh * 3600 + mm * 60 + Swift.min(ss, 59) - offset
        let days = total >= 0 ? total / 86_400 : (total - 86_399) / 86_400
        return Moment(day: CalendarDay(days: days), seconds: total - days * 86_400)
    }
}
