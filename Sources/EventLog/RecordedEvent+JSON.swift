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

    /// Parses an RFC 3339 / ISO 8601 time (`2026-11-22T02:31:07Z`, fractional seconds and offsets
    /// allowed, or a bare date `2026-11-22` meaning midnight UTC) into µs since 1970.
    public static func parse(_ text: String) -> Int64? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return Int64((d.timeIntervalSince1970 * 1_000_000).rounded()) }
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return Int64(d.timeIntervalSince1970) * 1_000_000 }
        f.formatOptions = [.withFullDate]
        if let d = f.date(from: text) { return Int64(d.timeIntervalSince1970) * 1_000_000 }
        return nil
    }
}
