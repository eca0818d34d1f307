import Domain

/// Field-level differences between two specs, for plans and history.
public enum SpecDiff {
    /// One changed path.
    public struct Change: Sendable, Hashable, CustomStringConvertible {
        public enum Kind: String, Sendable { case added, removed, changed }
        public let kind: Kind
        /// `stages[score].retry.attempts` (list items that have a `name` are named).
        public let path: String
        public let old: Value?
        public let new: Value?

        public var description: String {
            let p = path.isEmpty ? "(whole spec)" : path
            switch kind {
            case .added: return "+ \(p): \(SpecDiff.show(new))"
            case .removed: return "- \(p): \(SpecDiff.show(old))"
            case .changed: return "~ \(p): \(SpecDiff.show(old)) → \(SpecDiff.show(new))"
            }
        }
    }

    static func show(_ v: Value?) -> String {
        guard let v else { return "" }
        let s = v.jsonString
        return s.count > 160 ? String(s.prefix(157)) + "…" : s
    }

    /// The changes from `old` to `new` (nil: absent). A whole new or removed spec lists its
    /// top-level fields.
    public static func changes(from old: Value?, to new: Value?) -> [Change] {
        var out: [Change] = []
        diff(old, new, path: "", into: &out)
        return out
    }

    static func diff(_ a: Value?, _ b: Value?, path: String, into out: inout [Change]) {
        switch (a, b) {
        case (nil, nil): return
        case (nil, let b?):
            if path.isEmpty, let members = b.objectMembers {
                for m in members { out.append(Change(kind: .added, path: m.key, old: nil, new: m.value)) }
            } else {
                out.append(Change(kind: .added, path: path, old: nil, new: b))
            }
        case (let a?, nil):
            if path.isEmpty, let members = a.objectMembers {
                for m in members { out.append(Change(kind: .removed, path: m.key, old: m.value, new: nil)) }
            } else {
                out.append(Change(kind: .removed, path: path, old: a, new: nil))
            }
        case (let a?, let b?):
            if a == b { return }
            if let x = a.objectMembers, let y = b.objectMembers {
                let keys = (x.map(\.key) + y.map(\.key)).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
                for k in keys.sorted(by: Value.keyPrecedes) { diff(a[k], b[k], path: join(path, k), into: &out) }
            } else if let x = a.arrayValue, let y = b.arrayValue {
                if let xn = names(x), let yn = names(y) {
                    // Match items by name, in the new order, then the removed ones.
                    for (i, n) in yn.enumerated() {
                        let old = xn.firstIndex(of: n).map { x[$0] }
                        diff(old, y[i], path: "\(path)[\(n)]", into: &out)
                    }
                    for (i, n) in xn.enumerated() where !yn.contains(n) { diff(x[i], nil, path: "\(path)[\(n)]", into: &out) }
                    if xn.filter(yn.contains) != yn.filter(xn.contains) {
                        out.append(Change(kind: .changed, path: "\(path) order", old: .array(xn.map(Value.string)), new: .array(yn.map(Value.string))))
                    }
                } else if x.allSatisfy(isScalar) && y.allSatisfy(isScalar) {
                    out.append(Change(kind: .changed, path: path, old: a, new: b))
                } else {
                    for i in 0 ..< max(x.count, y.count) {
                        let old: Value? = x.indices.contains(i) ? x[i] : Optional.none
                        let new: Value? = y.indices.contains(i) ? y[i] : Optional.none
                        diff(old, new, path: "\(path)[\(i)]", into: &out)
                    }
                }
            } else {
                out.append(Change(kind: .changed, path: path, old: a, new: b))
            }
        }
    }

    static func isScalar(_ v: Value) -> Bool { v.objectMembers == nil && v.arrayValue == nil }

    static func join(_ p: String, _ k: String) -> String { p.isEmpty ? k : "\(p).\(k)" }

    /// The `name`s of a list's items when every item is an object with a unique name.
    static func names(_ items: [Value]) -> [String]? {
        var out: [String] = []
        for v in items {
            guard let n = v["name"]?.stringValue, !out.contains(n) else { return nil }
            out.append(n)
        }
        return out.isEmpty ? nil : out
    }
}
