/// An event type of the domain: its stored name and schema version in one place, a decoder that
/// names what is wrong, and the payload it writes.
///
/// Type names and payload fields are a storage format: never rename one that has shipped; a
/// changed payload gets a new `schema` and an upcaster (see `Upcasters`) that turns the stored
/// older payloads into the current one, so `init(_:)` only ever sees the current schema.
///
/// ```swift
/// let failed = try StageFailed(recorded.payload)      // or recorded.decode(StageFailed.self)
/// let new = StageFailed(...).event(causation: seq)    // a NewEvent to append
/// ```
public protocol DomainEvent: Sendable, Hashable {
    /// The stored type name.
    static var type: String { get }
    /// The schema version this type writes (and reads, after upcasting).
    static var schema: UInt32 { get }
    /// What the event means, where it is stored and what each field holds (the reference in
    /// `docs/events.md` is generated from this).
    static var documentation: EventDocumentation { get }
    /// An instance with every optional field set, for the reference and the round-trip tests.
    static var example: Self { get }
    /// Decodes a payload of the current schema; fails naming the type, the field and what was
    /// expected there.
    init(_ payload: Value) throws(DecodingFailure)
    /// The payload this event is stored with.
    var payload: Value { get }
}

extension DomainEvent {
    public static var schema: UInt32 { 1 }

    /// This event as a `NewEvent` to append.
    public func event(causation: UInt64? = nil, correlation: UInt64? = nil) -> NewEvent {
        NewEvent(type: Self.type, schemaVersion: Self.schema, payload: payload, causation: causation, correlation: correlation)
    }
}

extension RecordedEvent {
    /// The payload decoded as `E`; fails when the event is of another type or its payload is not
    /// a valid `E` (the failure names the seq, the type and the field).
    public func decode<E: DomainEvent>(_: E.Type) throws(DecodingFailure) -> E {
        guard type == E.type else {
            throw DecodingFailure(eventType: E.type, field: "", expected: "an event of type \(E.type)", found: "\(type) at seq \(seq)")
        }
        do throws(DecodingFailure) {
            return try E(payload)
        } catch {
            var e = error
            e.seq = seq
            throw e
        }
    }

    /// The payload decoded as `E` when the event is of that type, else nil.
    public func decodeIf<E: DomainEvent>(_: E.Type) throws(DecodingFailure) -> E? {
        type == E.type ? try decode(E.self) : nil
    }
}

extension NewEvent {
    /// The payload decoded as `E` (for deciders' tests and for folding a decision before it is
    /// committed).
    public func decode<E: DomainEvent>(_: E.Type) throws(DecodingFailure) -> E {
        guard type == E.type else {
            throw DecodingFailure(eventType: E.type, field: "", expected: "an event of type \(E.type)", found: type)
        }
        return try E(payload)
    }
}

/// A payload or spec that does not have the shape its type requires: which type, which field
/// (a dotted path, `[i]` for list items), what was expected and what was found.
public struct DecodingFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The event type (or spec kind, e.g. `job spec`) being decoded.
    public var eventType: String
    /// The field's path inside the payload (empty: the payload itself).
    public var field: String
    public var expected: String
    public var found: String
    /// The seq of the recorded event, when one was being decoded.
    public var seq: UInt64?

    public init(eventType: String, field: String, expected: String, found: String, seq: UInt64? = nil) {
        self.eventType = eventType
        self.field = field
        self.expected = expected
        self.found = found
        self.seq = seq
    }

    public var description: String {
        let at = seq.map { " at seq \($0)" } ?? ""
        let what = field.isEmpty ? "payload" : "field '\(field)'"
        return "\(eventType)\(at): \(what) should be \(expected), found \(found)"
    }
}

/// The reference of one event type: what it means, its stream, and its fields.
public struct EventDocumentation: Sendable, Hashable {
    public var summary: String
    /// The stream it is appended to, as a pattern (`run/<run>`).
    public var stream: String
    public var fields: [FieldDocumentation]

    public init(_ summary: String, stream: String, fields: [FieldDocumentation]) {
        self.summary = summary
        self.stream = stream
        self.fields = fields
    }
}

/// One payload field in the reference.
public struct FieldDocumentation: Sendable, Hashable {
    public var name: String
    /// The JSON shape: text, integer, number, boolean, object, list of …
    public var type: String
    public var required: Bool
    public var summary: String
    /// The fields of an object (or of each object of a list), when they are fixed.
    public var fields: [FieldDocumentation]

    public init(_ name: String, _ type: String, required: Bool = true, _ summary: String, fields: [FieldDocumentation] = []) {
        self.name = name
        self.type = type
        self.required = required
        self.summary = summary
        self.fields = fields
    }

    /// An optional field.
    public static func optional(_ name: String, _ type: String, _ summary: String, fields: [FieldDocumentation] = []) -> FieldDocumentation {
        FieldDocumentation(name, type, required: false, summary, fields: fields)
    }
}
