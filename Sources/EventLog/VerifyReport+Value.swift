import Domain

extension ChainHead {
    /// `{seq, hash}`: the anchor `audit head --json` prints and `audit verify --anchor` takes.
    public var anchorValue: Value { .object([("seq", .int(Int64(seq))), ("hash", .string(hash.hex))]) }

    /// An anchor written `SEQ:HASH` (64 hex digits), as `audit head` prints it; nil when it is not one.
    public static func parseAnchor(_ text: String) -> (seq: UInt64, hash: ChainHash)? {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let seq = UInt64(parts[0]), let hash = ChainHash(hex: parts[1]) else { return nil }
        return (seq, hash)
    }
}

extension VerifyReport {
    /// Whether the chain and (when checked) the indexes verified.
    public func ok(indexes: IndexReport?) -> Bool { ok && indexes?.ok != false }

    /// The verdict as JSON (`audit verify --json` and the console): ok, the chain's head and
    /// anchor, the first bad seq and why, and the indexes' report when they were checked.
    public func value(indexes: IndexReport?) -> Value {
        var v = PayloadBuilder([("ok", .bool(ok(indexes: indexes))), ("chain_ok", .bool(ok)), ("events_checked", .int(Int64(eventsChecked))),
                                ("last_seq", .int(Int64(lastSeq)))])
        v.set("head", head.map(\.anchorValue))
        v.set("anchor", anchor.map { Value.object([("seq", .int(Int64($0.seq))), ("hash", .string($0.hash.hex))]) })
        v.set("first_bad_seq", problem.map { Int64($0.seq) })
        v.set("reason", problem?.reason)
        if let indexes {
            v.set("indexes", Value.object([("ok", .bool(indexes.ok)), ("events_indexed", .int(Int64(indexes.eventsIndexed))),
                                           ("problems", .array(indexes.problems.map { .object([("database", .string($0.database)), ("reason", .string($0.reason))]) }))]))
        }
        return v.value
    }
}
