import Domain

/// What an apply does to one definition.
public struct PlanItem: Sendable, Hashable {
    public enum Action: String, Sendable { case create, update, delete, unchanged }
    public let action: Action
    public let key: DefinitionKey
    /// Version before (0: none) and after the apply.
    public let fromVersion: UInt64
    public let toVersion: UInt64
    /// Field-level changes (empty for unchanged).
    public let diff: [SpecDiff.Change]
    /// The definition (nil for deletes).
    public let definition: Definition?
}

/// The plan of an apply: decided from the catalog's state and the files, purely.
public struct ApplyPlan: Sendable {
    /// Every definition touched or kept, sorted by kind and name.
    public let items: [PlanItem]
    public let message: String?

    public var changes: [PlanItem] { items.filter { $0.action != .unchanged } }
    public func count(_ a: PlanItem.Action) -> Int { items.filter { $0.action == a }.count }

    /// Decides the plan: `create` for new definitions, `update` when the spec changed, `unchanged`
    /// when it did not, and with `prune`, `delete` for catalog definitions absent from the files.
    public static func decide(catalog: CatalogState, definitions: [Definition], prune: Bool, message: String?) -> ApplyPlan {
        var items: [PlanItem] = []
        var inFiles: Set<DefinitionKey> = []
        for d in definitions {
            inFiles.insert(d.key)
            let stream = catalog.streamVersion(d.key)
            if let current = catalog.entries[d.key] {
                if current.specHash == d.specHash && current.spec == d.spec {
                    items.append(PlanItem(action: .unchanged, key: d.key, fromVersion: current.version, toVersion: current.version, diff: [], definition: d))
                } else {
                    items.append(PlanItem(action: .update, key: d.key, fromVersion: current.version, toVersion: stream + 1,
                                          diff: SpecDiff.changes(from: current.spec, to: d.spec), definition: d))
                }
            } else {
                items.append(PlanItem(action: .create, key: d.key, fromVersion: 0, toVersion: stream + 1,
                                      diff: SpecDiff.changes(from: nil, to: d.spec), definition: d))
            }
        }
        if prune {
            for (key, entry) in catalog.entries where !inFiles.contains(key) {
                items.append(PlanItem(action: .delete, key: key, fromVersion: entry.version, toVersion: entry.version + 1,
                                      diff: SpecDiff.changes(from: entry.spec, to: nil), definition: nil))
            }
        }
        return ApplyPlan(items: items.sorted { $0.key < $1.key }, message: message)
    }

    /// The appends that carry the plan out: one event per changed definition, each on its own
    /// stream with the version the plan was decided against (a concurrent change fails the
    /// whole apply instead of being overwritten).
    public var appends: [StreamAppend] {
        changes.compactMap { item -> StreamAppend? in
            let expected: ExpectedVersion = item.toVersion == 1 ? .noStream : .exact(item.toVersion - 1)
            let event: NewEvent
            switch (item.action, item.definition) {
            case (.delete, _):
                event = DefinitionRemoved(kind: item.key.kind.name, name: item.key.name, version: item.toVersion, message: message).event()
            case (_, let d?):
                event = DefinitionApplied(d, version: item.toVersion, message: message).event()
            case (_, nil):
                return nil // not reachable: create and update items carry their definition
            }
            return StreamAppend(stream: item.key.stream, expectedVersion: expected, events: [event])
        }
    }
}
