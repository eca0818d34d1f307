import Domain

extension TransformSpec {
    /// `mask`: each value of `columns` as text, every character but the last `keep` replaced by
    /// `with` (a value of `keep` characters or fewer is masked whole); null stays null.
    public struct Mask: Sendable, Hashable {
        /// The mask character when none is given.
        public static let defaultCharacter: Character = "*"
        /// The characters kept when `keep` is not given.
        public static let defaultKeep: Int64 = 4

        /// The columns masked.
        public var columns: [String]
        /// Characters kept at the end (≥ 0; validation refuses less).
        public var keep: Int64
        /// The mask character as written (validation requires exactly one character).
        public var with: String

        /// A value with these fields.
        public init(columns: [String], keep: Int64 = Mask.defaultKeep, with: String = String(Mask.defaultCharacter)) {
            self.columns = columns
            self.keep = keep
            self.with = with
        }

        init(_ f: Fields) throws(DecodingFailure) {
            columns = try f.strings("columns")
            keep = try f.int(opt: "keep") ?? Mask.defaultKeep
            with = try f.string(opt: "with") ?? String(Mask.defaultCharacter)
        }
    }

    /// `hash`: each value of `columns` replaced by the lowercase hex SHA-256 of the secret `salt`'s
    /// value followed by the value as text; null stays null. The salt is read only when the stage
    /// runs and is never recorded.
    public struct Hash: Sendable, Hashable {
        /// The columns hashed.
        public var columns: [String]
        /// The secret definition whose value salts the hash.
        public var salt: String

        /// A value with these fields.
        public init(columns: [String], salt: String) {
            self.columns = columns
            self.salt = salt
        }

        init(_ f: Fields) throws(DecodingFailure) {
            columns = try f.strings("columns")
            salt = try f.string("salt")
        }
    }

    /// `redact`: each value of `columns` replaced by a fixed text, or by null; null stays null.
    public struct Redact: Sendable, Hashable {
        /// The text that replaces a value when none is given.
        public static let defaultText = "[REDACTED]"

        /// The columns redacted.
        public var columns: [String]
        /// What replaces a value: a text, or nil for null.
        public var with: String?
        /// `with` as written when it is neither text nor null (validation refuses it).
        public var malformed: Value?

        /// A value with these fields.
        public init(columns: [String], with: String? = Redact.defaultText) {
            self.columns = columns
            self.with = with
        }

        init(_ f: Fields) throws(DecodingFailure) {
            columns = try f.strings("columns")
            switch f.written("with") {
            case nil: with = Redact.defaultText
            case .null?: with = nil
            case .string(let s)?: with = s
            case let other?:
                with = Redact.defaultText
                malformed = other
            }
        }
    }

    /// How a PII transform protects a column.
    public enum Protection: String, Sendable, Hashable, CaseIterable {
        case mask, hash, redact, drop
    }

    /// Every column a PII transform names, with the transform, in the order they are applied
    /// (mask, hash, redact, drop; each transform's columns as listed).
    public var protectedColumns: [(column: String, protection: Protection)] {
        (mask?.columns ?? []).map { ($0, .mask) } + (hash?.columns ?? []).map { ($0, .hash) }
            + (redact?.columns ?? []).map { ($0, .redact) } + drop.map { ($0, .drop) }
    }

    /// Whether the stage has a PII transform.
    public var hasProtections: Bool { mask != nil || hash != nil || redact != nil || !drop.isEmpty }
}
