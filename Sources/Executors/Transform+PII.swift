import Catalog
import Crypto
import Domain

extension Transform {
    /// A PII transform of one column, resolved for running: what becomes of each value.
    public enum Protection: Sendable {
        /// Every character but the last `keep` replaced by `with`.
        case mask(keep: Int, with: Character)
        /// The lowercase hex SHA-256 of `salt` followed by the value as text; `secret` names the
        /// salt's definition (for lineage), never its value.
        case hash(salt: [UInt8], secret: String)
        /// Replaced by this value (a text, or null).
        case redact(Value)
        /// The column removed.
        case drop

        /// The transform's name in the stage spec.
        public var name: String {
            switch self {
            case .mask: return "mask"
            case .hash: return "hash"
            case .redact: return "redact"
            case .drop: return "drop"
            }
        }

        /// How column lineage records it (nil for drop: a dropped column has no output lineage).
        public var masking: ColumnMasking? {
            switch self {
            case .mask: return .mask
            case .hash: return .hash
            case .redact: return .redact
            case .drop: return nil
            }
        }

        /// In words, for column lineage (never holding the salt).
        public var phrase: String {
            switch self {
            case .mask(let keep, let with): return "mask (all but the last \(keep) characters replaced by \(with))"
            case .hash(_, let secret): return "hash (SHA-256 salted with secret \(secret))"
            case .redact(.null): return "redact (to null)"
            case .redact(let v): return "redact (to \(v.jsonString))"
            case .drop: return "drop"
            }
        }

        /// `v` protected (null stays null); nil for drop.
        public func apply(_ v: Value) -> Value? {
            if case .drop = self { return nil }
            if v == .null { return .null }
            switch self {
            case .mask(let keep, let with): return .string(Transform.mask(Transform.text(v), keep: keep, with: with))
            case .hash(let salt, _): return .string(Transform.hash(Transform.text(v), salt: salt))
            case .redact(let r): return r
            case .drop: return nil
            }
        }
    }

    /// The resolved PII transforms of `spec`, in the order they apply; `secret` reads the value
    /// of a salt's secret definition.
    static func protections(_ spec: TransformSpec, secret: (String) throws(StageError) -> String) throws(StageError) -> [(column: String, protection: Protection)] {
        var out: [(column: String, protection: Protection)] = []
        if let m = spec.mask {
            guard let with = m.with.first, m.with.count == 1, m.keep >= 0 else {
                throw StageError("mask: the mask character must be one character and keep at least 0; fix the stage's mask")
            }
            out += m.columns.map { ($0, .mask(keep: Int(clamping: m.keep), with: with)) }
        }
        if let h = spec.hash {
            let salt = Array(try secret(h.salt).utf8)
            out += h.columns.map { ($0, .hash(salt: salt, secret: h.salt)) }
        }
        if let r = spec.redact {
            let with: Value = r.with.map { .string($0) } ?? .null
            out += r.columns.map { ($0, .redact(with)) }
        }
        out += spec.drop.map { ($0, .drop) }
        return out
    }

    /// Applies the PII transforms to `t`; a column the rows do not have fails naming it and the stage.
    func protect(_ t: inout Table, cancellation: Cancellation) throws(StageError) {
        for (column, p) in protect {
            guard let c = t.columns.firstIndex(of: column) else {
                throw StageError("\(p.name) of stage '\(stage)': no column '\(column)' in \(columnsPhrase(t)); name a column the stage's rows have (after its rename)")
            }
            if case .drop = p {
                t.columns.remove(at: c)
                for r in t.rows.indices {
                    if r % 8192 == 0 { try cancellation.check() }
                    t.rows[r].remove(at: c)
                }
                continue
            }
            for r in t.rows.indices {
                if r % 8192 == 0 { try cancellation.check() }
                t.rows[r][c] = p.apply(t.rows[r][c]) ?? .null
            }
        }
    }

    /// A value as the text PII transforms work on: a text as is, anything else as CSV writes it.
    static func text(_ v: Value) -> String { v.stringValue ?? Table.text(v) }

    /// `text` with every character (grapheme) but the last `keep` replaced by `with`; a text of
    /// `keep` characters or fewer is replaced whole (keeping it would keep all of it).
    public static func mask(_ text: String, keep: Int, with: Character) -> String {
        let n = text.count
        guard n > keep else { return String(repeating: with, count: n) }
        return String(repeating: with, count: n - keep) + text.suffix(keep)
    }

    /// The lowercase hex SHA-256 of `salt` followed by `text`'s UTF-8.
    public static func hash(_ text: String, salt: [UInt8]) -> String {
        var h = SHA256()
        h.update(data: salt)
        h.update(data: Array(text.utf8))
        return Hex.lowercase(h.finalize())
    }
}
