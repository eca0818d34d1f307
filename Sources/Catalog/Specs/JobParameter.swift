import Domain
import Foundation

/// One parameter of a job, as its `parameters` mapping declares it. Two forms:
///
/// ```yaml
/// parameters:
///   marker: ""                         # untyped: a default, taken as given (the form of old jobs)
///   day: {type: date, required: true}  # typed: text, int, number, bool, date or list
///   limit: {type: int, default: 100, description: rows per batch}
/// ```
///
/// A member is a declaration when its value is an object with a `type` and no other keys than
/// `type`, `default`, `required` and `description`. A typed parameter's value is checked and
/// converted when a run is requested (`coerce`): a request that lacks a required one, or gives one
/// that does not convert, is refused with one line naming the job, the parameter, its type and the
/// value. Untyped parameters are not checked (as before).
public struct JobParameter: Sendable, Hashable {
    /// What a typed parameter holds.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Text; a number or boolean given is taken as its text.
        case text
        /// A whole number (64-bit); text of one is converted.
        case int
        /// A number; text of one is converted.
        case number
        /// true or false; also yes/no, on/off, 1/0 as text.
        case bool
        /// A calendar date, `YYYY-MM-DD` (a real date: 2026-02-30 is refused).
        case date
        /// A list; text is read as a JSON array (`["a","b"]`) or as comma-separated items.
        case list

        /// How the type reads in messages ("a date (YYYY-MM-DD)").
        public var phrase: String {
            switch self {
            case .text: "text"
            case .int: "a whole number"
            case .number: "a number"
            case .bool: "true or false"
            case .date: "a date (YYYY-MM-DD)"
            case .list: "a list"
            }
        }
    }

    public var name: String
    /// nil: untyped (a default taken as given).
    public var kind: Kind?
    /// The default (converted to the type); nil when there is none.
    public var defaultValue: Value?
    /// A run cannot be requested without it.
    public var required: Bool
    public var description: String?

    static let declarationKeys: Set<String> = ["type", "default", "required", "description"]

    /// Reads a member of a job's `parameters`; fails naming the parameter's field on an unknown
    /// type, a default that does not convert, or a required parameter with a default.
    public init(_ member: Value.Member, owner: String) throws(DecodingFailure) {
        name = member.key
        guard case .members(let fields) = member.value, fields.contains(where: { $0.key == "type" }),
              fields.allSatisfy({ JobParameter.declarationKeys.contains($0.key) }) else {
            kind = nil
            defaultValue = member.value
            required = false
            description = nil
            return
        }
        let f = try Fields(owner, member.value, path: "parameters.\(name).")
        let type = try f.string("type")
        guard let k = Kind(rawValue: type) else {
            throw f.failure("type", expected: "one of " + Kind.allCases.map(\.rawValue).joined(separator: ", "), found: .string(type))
        }
        kind = k
        required = try f.bool(opt: "required") ?? false
        description = try f.string(opt: "description")
        if let d = f.value("default"), d != .null {
            switch k.coerce(d) {
            case .success(let v): defaultValue = v
            case .failure: throw f.failure("default", expected: k.phrase, found: d)
            }
            if required { throw f.failure("required", expected: "false (or no default): a required parameter has no default", found: .bool(true)) }
        } else {
            defaultValue = nil
        }
    }

    /// The declarations of a job's `parameters`, in name order.
    public static func declarations(_ members: [Value.Member], owner: String) throws(DecodingFailure) -> [JobParameter] {
        var out: [JobParameter] = []
        for m in members { out.append(try JobParameter(m, owner: owner)) }
        return out
    }

    /// The value a run gets for `given` (nil: the request does not give it), or why it cannot.
    public func resolve(_ given: Value?, job: String) -> Result<Value, ParameterProblem> {
        guard let kind else { return .success(given ?? defaultValue ?? .null) }
        guard let given, given != .null else {
            if let defaultValue { return .success(defaultValue) }
            if required { return .failure(ParameterProblem("job '\(job)' needs parameter '\(name)' (\(kind.phrase)), which the request does not give")) }
            return .success(.null)
        }
        switch kind.coerce(given) {
        case .success(let v): return .success(v)
        case .failure(let why):
            return .failure(ParameterProblem("job '\(job)': parameter '\(name)' must be \(kind.phrase); got \(Fields.describe(given))\(why.description.isEmpty ? "" : " (\(why.description))")"))
        }
    }
}

/// Why a parameter's value was refused: one line naming the job, the parameter, its type and the value.
public struct ParameterProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension JobParameter.Kind {
    /// `v` converted to this type, or what is wrong with it (may be empty).
    public func coerce(_ v: Value) -> Result<Value, ParameterProblem> {
        switch (self, v) {
        case (.text, .string), (.int, .int), (.bool, .bool), (.list, .array): return .success(v)
        case (.text, .int(let i)): return .success(.string(String(i)))
        case (.text, .double(let d)): return .success(.string(d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)))
        case (.text, .bool(let b)): return .success(.string(b ? "true" : "false"))
        case (.int, .double(let d)) where d.rounded() == d && abs(d) < 9.2e18: return .success(.int(Int64(d)))
        case (.int, .string(let s)):
            guard let i = Int64(s.trimmingCharacters(in: .whitespaces)) else { return .failure(ParameterProblem("")) }
            return .success(.int(i))
        case (.number, .int(let i)): return .success(.double(Double(i)))
        case (.number, .double): return .success(v)
        case (.number, .string(let s)):
            guard let d = Double(s.trimmingCharacters(in: .whitespaces)), d.isFinite else { return .failure(ParameterProblem("")) }
            return .success(.double(d))
        case (.bool, .string(let s)):
            switch s.lowercased() {
            case "true", "yes", "on", "1": return .success(.bool(true))
            case "false", "no", "off", "0": return .success(.bool(false))
            default: return .failure(ParameterProblem(""))
            }
        case (.bool, .int(let i)) where i == 0 || i == 1: return .success(.bool(i == 1))
        case (.date, .string(let s)):
            return JobParameter.Kind.isDate(s) ? .success(.string(s)) : .failure(ParameterProblem("not a calendar date"))
        case (.list, .string(let s)):
            let t = s.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("[") {
                guard let parsed = try? Value(json: t), case .array = parsed else { return .failure(ParameterProblem("not a JSON array")) }
                return .success(parsed)
            }
            if t.isEmpty { return .success(.array([])) }
            return .success(.array(t.split(separator: ",", omittingEmptySubsequences: false).map { .string($0.trimmingCharacters(in: .whitespaces)) }))
        default:
            return .failure(ParameterProblem(""))
        }
    }

    /// Whether `s` is `YYYY-MM-DD` naming a real date of the proleptic Gregorian calendar.
    static func isDate(_ s: String) -> Bool { s.count == 10 && CalendarDay(text: s) != nil }
}
