import Domain

extension SpecDiff.Change {
    /// The change as JSON (`apply --json`, `catalog history --json`, the console): change, path, old, new.
    public var value: Value {
        var v: [(String, Value)] = [("change", .string(kind.rawValue)), ("path", .string(path))]
        if let o = old { v.append(("old", o)) }
        if let n = new { v.append(("new", n)) }
        return .object(v)
    }
}
