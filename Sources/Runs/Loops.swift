import Domain

/// for_each stages (issue 18, loops): which items start next and when the stage ends, decided
/// from what the log says of each item's child run. Pure and level-triggered: deciding again on
/// the same item states gives the same answer, so an item whose child run is recorded is never
/// started twice.
///
/// Not yet wired into the engine (see ARCHITECTURE.md, "Job stages").
public enum Loops {
    /// One item's child run as the log records it.
    public enum ItemState: Sendable, Hashable {
        /// No child run requested yet.
        case pending
        /// Child run `run` requested and not ended.
        case running(run: String)
        /// Child run `run` ended with `status` (a `RunStatus` raw value), its outputs.
        case ended(run: String, succeeded: Bool, status: String, outputs: Value)
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
    public static func decide(_ items: [ItemState], maxParallel: Int, continueOnError: Bool) -> Decision {
        let running = items.filter { if case .running = $0 { return true } else { return false } }.count
        let failed = items.contains { if case .ended(_, false, _, _) = $0 { return true } else { return false } }
        var start: [Int] = []
        if continueOnError || !failed {
            let free = max(0, max(1, maxParallel) - running)
            start = Array(items.indices.filter { items[$0] == .pending }.prefix(free))
        }
        let done = running == 0 && start.isEmpty
        return Decision(start: start, end: done ? end(items) : nil)
    }

    /// The stage's end over items that no longer run (pending items, skipped by fail fast, are
    /// counted among `items` and appear in no run).
    static func end(_ items: [ItemState]) -> End {
        var runs: [Value] = []
        var succeeded = 0
        var failedItems: [Int] = []
        for (i, s) in items.enumerated() {
            guard case .ended(let run, let ok, let status, let outputs) = s else { continue }
            if ok { succeeded += 1 } else { failedItems.append(i) }
            runs.append(.object([("item", .int(Int64(i))), ("run", .string(run)), ("status", .string(status)), ("outputs", outputs)]))
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
