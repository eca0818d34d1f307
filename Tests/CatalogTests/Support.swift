import Foundation
@testable import Catalog
import Domain
import Testing

/// The repository's root (tests read fixtures from it).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0 ..< 3 { url.deleteLastPathComponent() }
    return url.path
}()

func fixturePath(_ relative: String) -> String { (repositoryRoot as NSString).appendingPathComponent(relative) }

/// Loads and validates one file's text as `file` (against an empty catalog); every diagnostic.
func diagnose(_ text: String, file: String = "test.yaml", catalog: [DefinitionKey: Value] = [:], prune: Bool = false) -> [Diagnostic] {
    let (defs, errors) = DefinitionLoader.load(text: text, file: file)
    return (errors + Validator.validate(defs, catalog: catalog, prune: prune)).sorted()
}

/// Definitions from YAML text that must be valid.
func definitions(_ text: String, file: String = "test.yaml") throws -> [Definition] {
    let (defs, errors) = DefinitionLoader.load(text: text, file: file)
    let all = errors + Validator.validate(defs)
    if !all.isEmpty { throw DefinitionErrors(all) }
    return defs
}

/// What `StoreGuard` says of the definitions in `text` (which must load without errors) with the
/// store at `store`, one line each.
func storeGuardLines(_ text: String, file: String, store: String) -> [String] {
    let (defs, errors) = DefinitionLoader.load(text: text, file: file)
    #expect(errors.isEmpty, "\(errors)")
    return StoreGuard.diagnostics(defs, store: store).map(\.description)
}

/// A recorded catalog event (for given/when/then tests without storage).
func recorded(_ e: NewEvent, seq: UInt64, stream: String, version: UInt64, actor: String = "test") -> RecordedEvent {
    RecordedEvent(seq: seq, recordedAtMicros: Int64(seq) * 1_000_000, stream: stream, streamVersion: version, type: e.type,
                  schemaVersion: e.schemaVersion, storedSchemaVersion: e.schemaVersion, causation: nil, correlation: seq,
                  actor: actor, payload: e.payload, dictionaryID: 0, hash: nil)
}

/// Folds the events a plan would append, numbering them from `firstSeq`.
func fold(_ plan: ApplyPlan, into state: inout CatalogState, firstSeq: UInt64) {
    var seq = firstSeq
    for a in plan.appends {
        for e in a.events {
            let version: UInt64
            switch a.expectedVersion {
            case .exact(let v): version = v + 1
            default: version = 1
            }
            state.evolve(recorded(e, seq: seq, stream: a.stream, version: version))
            seq += 1
        }
    }
}
