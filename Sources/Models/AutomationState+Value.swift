import Domain

/// The automation state as a value (projection snapshots) and back.
extension AutomationState {
    public var value: Value {
        .object([("keys", .object(keys.sorted { $0.key < $1.key }.map { ($0.key, .array($0.value.sorted().map { .string($0) })) })),
                 ("stream_versions", .object(streamVersions.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
                 ("pending", .array(pending.values.sorted { $0.crossing < $1.crossing }.map(\.value))),
                 ("consumed_sources", .object(consumedSources.sorted { $0.key < $1.key }.map { ($0.key, .array($0.value.sorted().map { .int(Int64($0)) })) })),
                 ("last_seq", .int(Int64(lastSeq)))])
    }

    /// What snapshot decoding failures name as the owner.
    public static let snapshotOwner = "automation snapshot"

    /// The state from a snapshot value; fails naming the field that is missing or of the wrong
    /// shape (nothing defaults: a malformed snapshot is not an automation state).
    public init(value v: Value) throws(DecodingFailure) {
        self.init()
        let f = try Fields(AutomationState.snapshotOwner, v)
        let k = try f.object("keys")
        for m in k.members { keys[m.key] = Set(try k.strings(m.key)) }
        let s = try f.object("stream_versions")
        for m in s.members { streamVersions[m.key] = try s.uint(m.key) }
        for p in try f.objects("pending") {
            let a = try PendingAction(p)
            pending[a.crossing] = a
        }
        let c = try f.object("consumed_sources")
        for m in c.members {
            var seqs: Set<UInt64> = []
            for (i, x) in try c.array(m.key).enumerated() {
                guard case .int(let n) = x, n >= 0 else { throw c.failure("\(m.key)[\(i)]", expected: "a seq", found: x) }
                seqs.insert(UInt64(n))
            }
            consumedSources[m.key] = seqs
        }
        lastSeq = try f.uint("last_seq")
    }
}

extension PendingAction {
    var value: Value {
        var m: [(String, Value)] = [("stream", .string(stream)), ("crossing", .int(Int64(crossing))), ("correlation", .int(Int64(correlation))),
                                    ("rule", rule.value), ("parameters", parameters), ("message", .string(message))]
        if let job { m.append(("job", .string(job))) }
        if let team { m.append(("team", .string(team))) }
        return .object(m)
    }

    init(_ f: Fields) throws(DecodingFailure) {
        self.init(stream: try f.string("stream"), crossing: try f.uint("crossing"), correlation: try f.uint("correlation"),
                  rule: try RuleRef(try f.object("rule")), job: try f.string(opt: "job"), parameters: try f.any("parameters"),
                  team: try f.string(opt: "team"), message: try f.string("message"))
    }
}
