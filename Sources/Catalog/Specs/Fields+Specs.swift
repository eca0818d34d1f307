import Domain
import Foundation

/// The readers the typed specs need beyond `Fields`' own: choices, durations, mappings, one or
/// many. Each accepts exactly what the schema's conversion stores for its field type, so that a
/// spec that converted without errors always reads.
extension Fields {
    /// A text that is one of `E`'s values (a schema `choice`).
    func choice<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type = E.self) throws(DecodingFailure) -> E where E.RawValue == String {
        let text = try string(key)
        guard let e = E(rawValue: text) else {
            throw failure(key, expected: "one of " + E.allCases.map(\.rawValue).joined(separator: ", "), found: value(key))
        }
        return e
    }

    /// An optional `choice`.
    func choice<E: RawRepresentable & CaseIterable>(opt key: String, _: E.Type = E.self) throws(DecodingFailure) -> E? where E.RawValue == String {
        has(key) ? try choice(key, E.self) : nil
    }

    /// The member `key` as written, `null` included (nil only when absent): for `any` fields
    /// where an explicit null means something.
    func written(_ key: String) -> Value? { members.first { $0.key == key }?.value }

    /// A duration in seconds: a number of seconds, or text such as `30s`, `5m`, `1h30m`.
    func duration(opt key: String) throws(DecodingFailure) -> Double? {
        guard let v = value(key) else { return nil }
        if let d = v.doubleValue { return d }
        if let s = v.stringValue, let d = DurationText.seconds(s) { return d }
        throw failure(key, expected: "a duration such as 30s, 5m or 1h30m", found: v)
    }

    /// A mapping of names to any values (members in key order); empty when absent.
    func mapping(opt key: String) throws(DecodingFailure) -> [Value.Member] {
        guard has(key) else { return [] }
        return try object(key).members
    }

    /// A mapping of names to texts, as (name, text) pairs in key order; empty when absent.
    func textMapping(opt key: String) throws(DecodingFailure) -> [(name: String, text: String)] {
        guard has(key) else { return [] }
        return try object(key).texts()
    }

    /// This object's members as (name, text) pairs in key order: a mapping of names to texts.
    func texts() throws(DecodingFailure) -> [(name: String, text: String)] {
        var out: [(name: String, text: String)] = []
        for m in members { out.append((m.key, try string(m.key))) }
        return out
    }

    /// A text or a list of texts (a schema `oneOrMany`), as a list.
    func oneOrMany(_ key: String) throws(DecodingFailure) -> [String] {
        if case .string(let s)? = value(key) { return [s] }
        return try strings(key)
    }

    /// A list of numbers.
    func doubles(opt key: String) throws(DecodingFailure) -> [Double]? {
        guard let items = try array(opt: key) else { return nil }
        var out: [Double] = []
        for (i, item) in items.enumerated() {
            guard let d = item.doubleValue else { throw failure("\(key)[\(i)]", expected: "a number", found: item) }
            out.append(d)
        }
        return out
    }
}

extension Fields {
    /// An RFC 3339 time (a schema `time`), as µs since 1970.
    func time(opt key: String) throws(DecodingFailure) -> Int64? {
        guard let v = value(key) else { return nil }
        guard let s = v.stringValue, let t = Timestamp.parse(s) else {
            throw failure(key, expected: "an RFC 3339 time such as 2026-11-22T06:00:00Z", found: v)
        }
        return t
    }

    /// The name of an IANA time zone (a schema `timeZone`).
    func timeZoneName(opt key: String) throws(DecodingFailure) -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.stringValue, (try? ScheduleTimeZone.named(s)) != nil else {
            throw failure(key, expected: "an IANA time zone such as UTC or Europe/Amsterdam", found: v)
        }
        return s
    }
}
