import Domain

extension Validator {
    /// The PII transforms of etl or storage stage `stage` (at `path` in job `d`): a mask character
    /// of one character, a redaction that is text or null, each column protected once and by its
    /// name after `rename`, and no later transform or partition naming a column the stage drops.
    /// (Whether the columns exist is known only when the stage reads its rows.)
    mutating func checkProtections(_ d: Definition, _ stage: String, _ t: TransformSpec, _ path: String) {
        let phrase = "stage '\(stage)' of job '\(d.name)'"
        if let m = t.mask, m.with.count != 1 {
            error(d, "\(path).mask.with", "the mask character of \(phrase) must be one character, got '\(Diagnostic.excerpt(m.with))'", fix: "write e.g. with: '#'")
        }
        if let r = t.redact, let bad = r.malformed {
            error(d, "\(path).redact.with", "redact.with of \(phrase) must be text or null, got \(Fields.describe(bad))",
                  fix: "write a text such as '[REDACTED]', or null")
        }
        var first: [String: TransformSpec.Protection] = [:]
        var index: [TransformSpec.Protection: Int] = [:]
        let renamed = Dictionary(t.rename.map { ($0.from, $0.to) }, uniquingKeysWith: { a, _ in a })
        let renamedTo = Set(t.rename.map(\.to))
        for (column, protection) in t.protectedColumns {
            let j = index[protection, default: 0]
            index[protection] = j + 1
            let at = protection == .drop ? "\(path).drop[\(j)]" : "\(path).\(protection.rawValue).columns[\(j)]"
            if let earlier = first[column] {
                let both = earlier == protection ? "twice in \(protection.rawValue)" : "in both \(earlier.rawValue) and \(protection.rawValue)"
                error(d, at, "\(phrase) names column '\(column)' \(both)", fix: "protect each column with one transform, once")
                continue
            }
            first[column] = protection
            if let to = renamed[column], !renamedTo.contains(column) {
                error(d, at, "\(protection.rawValue) of \(phrase) names '\(column)', which rename turns into '\(to)' before the PII transforms run",
                      fix: "name '\(to)'")
            }
        }
        let dropped = Set(t.drop).subtracting(t.derive.map(\.column))
        guard !dropped.isEmpty else { return }
        func checkUse(_ column: String, _ at: String, _ what: String) {
            if dropped.contains(column) {
                error(d, at, "\(what) of \(phrase) uses column '\(column)', which the stage drops", fix: "remove it from drop, or from \(what)")
            }
        }
        for c in t.cast { checkUse(c.column, "\(path).cast.\(c.column)", "cast") }
        for e in t.derive {
            for f in (try? Expression.parse(e.expression))?.fields ?? [] { checkUse(f, "\(path).derive.\(e.column)", "derive '\(e.column)'") }
        }
        if let filter = t.filter {
            for f in (try? Expression.parse(filter))?.fields ?? [] { checkUse(f, "\(path).filter", "filter") }
        }
        for (k, c) in (t.select ?? []).enumerated() { checkUse(c, "\(path).select[\(k)]", "select") }
        for (k, c) in t.partitionBy.enumerated() { checkUse(c, "\(path).partition_by[\(k)]", "partition_by") }
    }
}
