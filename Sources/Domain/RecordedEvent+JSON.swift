import Foundation

extension RecordedEvent {
    /// The envelope and payload as one JSON object (the form `ledgerflow events --json` prints and
    /// audit exports use). Keys: seq, recordedAt (RFC 3339, µs, UTC), stream, streamVersion, type,
    /// schemaVersion, causation (null when none), correlation, actor, hash (when read with hashes),
    /// payload.
    public var envelopeValue: Value {
        var members: [String: Value] = [
            "seq": .int(Int64(seq)),
            "recordedAt": .string(Timestamp.rfc3339(micros: recordedAtMicros)),
            "stream": .string(stream),
            "streamVersion": .int(Int64(streamVersion)),
            "type": .string(type),
            "schemaVersion": .int(Int64(schemaVersion)),
            "causation": causation.map { .int(Int64($0)) } ?? .null,
            "correlation": .int(Int64(correlation)),
            "actor": .string(actor),
            "payload": payload,
        ]
        if storedSchemaVersion != schemaVersion { members["storedSchemaVersion"] = .int(Int64(storedSchemaVersion)) }
        if let hash { members["hash"] = .string(hash.hex) }
        return .object(members)
    }
}

/// RFC 3339 timestamps with microseconds, in UTC.
public enum Timestamp {
    /// Formats µs since 1970 as `2026-11-22T02:31:07.123456Z`.
    public static func rfc3339(micros: Int64) -> String {
        var seconds = time_t(micros / 1_000_000)
        var frac = micros % 1_000_000
        if frac < 0 { frac += 1_000_000; seconds -= 1 }
        var t = tm()
        gmtime_r(&seconds, &t)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let f = String(frac)
        return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2)).\(String(repeating: "0", count: 6 - f.count))\(f)Z"
    }

    /// Parses an RFC 3339 time (`2026-11-22T02:31:07Z`, with up to 6 fractional digits and a `Z` or
    /// `±HH:MM` offset), or a bare date `2026-11-22` meaning midnight UTC, into µs since 1970.
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func digits(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            var v = 0
            for i in at ..< at + n {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard let year = digits(0, 4), b.count >= 10, b[4] == UInt8(ascii: "-"), let month = digits(5, 2), b[7] == UInt8(ascii: "-"),
              let day = digits(8, 2), (1 ... 12).contains(month), (1 ... 31).contains(day) else { return nil }
        var t = tm()
        t.tm_year = Int32(year - 1900)
        t.tm_mon = Int32(month - 1)
        t.tm_mday = Int32(day)
        var micros: Int64 = 0
        var offsetSeconds = 0
        if b.count > 10 {
            guard b.count >= 20, b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "), let h = digits(11, 2), b[13] == UInt8(ascii: ":"),
                  let m = digits(14, 2), b[16] == UInt8(ascii: ":"), let sec = digits(17, 2), h < 24, m < 60, sec < 61 else { return nil }
            t.tm_hour = Int32(h)
            t.tm_min = Int32(m)
            t.tm_sec = Int32(sec)
            var i = 19
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                var n = 0
                var frac: Int64 = 0
                while i < b.count, b[i] >= 48 && b[i] <= 57 {
                    if n < 6 { frac = frac * 10 + Int64(b[i] - 48); n += 1 }
                    i += 1
                }
                guard n > 0 else { return nil }
                while n < 6 { frac *= 10; n += 1 }
                micros = frac
            }
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                guard i + 1 == b.count else { return nil }
            } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                guard i + 6 == b.count, let oh = digits(i + 1, 2), b[i + 3] == UInt8(ascii: ":"), let om = digits(i + 4, 2) else { return nil }
                offsetSeconds = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            } else {
                return nil
            }
        }
        let seconds = Int64(timegm(&t)) - Int64(offsetSeconds)
        return seconds * 1_000_000 + micros
    }
}
