import Domain

/// for_each stages (issue 18, loops): which items start next and when the stage ends, decided
/// from what the log says of each item's child run. Pure and level-triggered: deciding again on
/// the same item states gives the same answer, so an item whose child run is recorded is never
/// started twice.
///
/// The engine (Engine+Loops) resolves an attempt's items into its `StageStarted`, and requests
/// each item's child run in the same append as the `StageItemStarted` naming it.
public enum Loops {
    /// The type of a for_each stage.
    public static let stageType = "for_each"

    /// One item's child run as the log records it.
    public enum ItemState: Sendable, Hashable {
        /// No child run requested yet.
        case pending
        /// Child run `run` requested and not ended.
        case running(run: String)
        /// Child run `run` ended with `status` (a `RunStatus` raw value), its outputs.
        case ended(run: String, succeeded: Bool, status: String, outputs: Value)
        /// No child run could be requested (`StageItemStarted.error`): the item failed.
        case refused(error: String)

        var isFailure: Bool {
            switch self {
            case .ended(_, let ok, _, _): return !ok
            case .refused: return true
            case .pending, .running: return false
            }
        }
    }

    /// A for_each stage's running attempt, its items and what each item's start recorded.
    public struct Looping: Sendable, Hashable {
        public var stage: String
        public var attempt: Int
        public var items: [Value]
        public var starts: [Int: ItemStart]

        public init(stage: String, attempt: Int, items: [Value], starts: [Int: ItemStart]) {
            self.stage = stage
            self.attempt = attempt
            self.items = items
            self.starts = starts
        }
    }

    /// The for_each stages of `run` whose running attempt has resolved its items.
    public static func looping(_ run: RunState) -> [Looping] {
        run.stages.compactMap { s in
            guard s.plan.type == stageType, let a = s.running, let items = a.items else { return nil }
            return Looping(stage: s.name, attempt: a.number, items: items, starts: a.itemStarts)
        }
    }

    /// An item in a line: `k=v` of an object's non-null fields (texts first: they name things),
    /// else the value (at most 60 characters).
    public static func describe(_ item: Value) -> String {
        let full: String
        if let members = item.objectMembers {
            let shown = members.filter { $0.value != .null }
            full = (shown.filter { $0.value.stringValue != nil } + shown.filter { $0.value.stringValue == nil }).map { "\($0.key)=\($0.value.stringValue ?? $0.value.jsonString)" }.joined(separator: " ")
        } else {
            full = item.stringValue ?? item.jsonString
        }
        return full.count > 60 ? String(full.prefix(59)) + "…" : full
    }

    /// A rerun from failure's loop over `items`: for each item, the succeeded run the rerun run's
    /// loop (`previous`: its stage's last attempt) had for an equal item, to take over (items
    /// whose earlier run failed, or that are new, run again).
    public static func reusable(_ items: [Value], previous: Attempt?, child: (String) throws -> RunState?) rethrows -> [Int: String] {
        guard let previous, let old = previous.items else { return [:] }
        var succeeded: [Value: String] = [:]
        for (j, item) in old.enumerated() {
            guard let id = previous.itemStarts[j]?.childRun, succeeded[item] == nil, try child(id)?.status == .succeeded else { continue }
            succeeded[item] = id
        }
        var out: [Int: String] = [:]
        for (i, item) in items.enumerated() { if let id = succeeded[item] { out[i] = id } }
        return out
    }

    /// Each item's state, from what its start recorded and its child run (`child` returns the run
    /// as the log has it; nil, a run the log does not have yet, counts as running).
    public static func states(_ l: Looping, child: (String) throws -> RunState?) rethrows -> [ItemState] {
        try l.items.indices.map { i in
            guard let start = l.starts[i] else { return .pending }
            guard let id = start.childRun else { return .refused(error: start.error ?? "no child run") }
            guard let run = try child(id), run.status.isFinished else { return .running(run: id) }
            return .ended(run: id, succeeded: run.status == .succeeded, status: run.status.rawValue, outputs: ChildRuns.outputs(of: run))
        }
    }

    /// What to do now.
    public struct Decision: Sendable, Hashable {
        /// Items (by index) whose child run to request in this step.
        public var start: [Int]
        /// The stage's end, once no item runs and none will start: succeeded or failed, with outputs.
        public var end: End?
    }

    /// How a for_each stage ends.
    public struct End: Sendable, Hashable {
        public var succeeded: Bool
        /// `{items, succeeded, failed, runs: [{item, run, status, outputs}]}`.
        public var outputs: Value
        /// Why it failed (nil when it succeeded).
        public var error: String?
    }

    /// The next step of a for_each stage over `items`: pending items start, in order, while
    /// fewer than `maxParallel` run; with `continueOnError` false a failed item starts no more
    /// (fail fast) and the stage fails once the running ones end; with true every item runs and
    /// the stage fails if any failed.
    /// `values` (the items themselves) are shown in the outputs' runs.
    public static func decide(_ items: [ItemState], values: [Value] = [], maxParallel: Int, continueOnError: Bool) -> Decision {
        let running = items.filter { if case .running = $0 { return true } else { return false } }.count
        let failed = items.contains { $0.isFailure }
        var start: [Int] = []
        if continueOnError || !failed {
            let free = max(0, max(1, maxParallel) - running)
            start = Array(items.indices.filter { items[$0] == .pending }.prefix(free))
        }
        let done = running == 0 && start.isEmpty
        return Decision(start: start, end: done ? end(items, values: values) : nil)
    }

    /// The stage's end over items that no longer run (pending items, skipped by fail fast, are
    /// counted among `items` and appear in no run).
    static func end(_ items: [ItemState], values: [Value] = []) -> End {
        var runs: [Value] = []
        var succeeded = 0
        var failedItems: [Int] = []
        for (i, s) in items.enumerated() {
            var entry: [(String, Value)] = [("item", .int(Int64(i)))]
            if i < values.count { entry.append(("value", values[i])) }
            switch s {
            case .ended(let run, let ok, let status, let outputs):
                if ok { succeeded += 1 } else { failedItems.append(i) }
                entry += [("run", .string(run)), ("status", .string(status)), ("outputs", outputs)]
            case .refused(let error):
                failedItems.append(i)
                entry += [("run", .null), ("status", .string("failed")), ("error", .string(error))]
            case .pending, .running:
                continue
            }
            runs.append(.object(entry))
        }
        let outputs = Value.object([("items", .int(Int64(items.count))), ("succeeded", .int(Int64(succeeded))),
                                    ("failed", .int(Int64(failedItems.count))), ("runs", .array(runs))])
        guard !failedItems.isEmpty else { return End(succeeded: true, outputs: outputs, error: nil) }
        let skipped = items.filter { $0 == .pending }.count
        return End(succeeded: false, outputs: outputs,
                   error: "\(failedItems.count) of \(items.count) items failed (item\(failedItems.count == 1 ? "" : "s") \(failedItems.map(String.init).joined(separator: ", ")))"
                       + (skipped > 0 ? "; \(skipped) not started" : ""))
    }
}
