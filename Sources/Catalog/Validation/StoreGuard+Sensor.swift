import Foundation

extension StoreGuard {
    /// The advice after a sensor's conflict with the store.
    public static let sensorFix = "a sensor may not watch or move markers into the store — choose another folder"

    /// How a sensor's folders meet the store and each other (paths canonical against `root`): the
    /// watched folder may not be or be inside the store, nor hold it when recursive (its files
    /// would be listed); the `after_run` move target may not be or be inside the store, may not
    /// be the watched folder itself, and — when recursive — may not be inside it (a moved marker
    /// would arrive again).
    static func sensorDiagnostics(_ d: Definition, _ s: SensorSpec, root: String, store: String) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let watched = canonical(s.path, relativeTo: root)
        if let c = conflict(watched, store: store), c != .holdsStore || s.isRecursive {
            out.append(Diagnostic(d.location(of: "path"), "\(d.key.phrase): path '\(s.path)' \(c.phrase)\(c == .holdsStore ? " and the sensor is recursive, so it would list the store's files" : "")",
                                  fix: c == .holdsStore ? "watch a folder that does not hold the store, or set recursive: false" : sensorFix))
        }
        guard case .move(let to) = s.afterRun else { return out }
        let target = canonical(to, relativeTo: root)
        if let c = conflict(target, store: store), c != .holdsStore {
            out.append(Diagnostic(d.location(of: "after_run.move"), "\(d.key.phrase): after_run move target '\(to)' \(c.phrase)", fix: sensorFix))
        }
        if target == watched {
            out.append(Diagnostic(d.location(of: "after_run.move"), "\(d.key.phrase): after_run move target '\(to)' is the watched folder, so a marker would stay where it is",
                                  fix: "move markers into another folder (e.g. a sibling such as processed/)"))
        } else if s.isRecursive, target.hasPrefix(watched == "/" ? "/" : watched + "/") {
            out.append(Diagnostic(d.location(of: "after_run.move"),
                                  "\(d.key.phrase): after_run move target '\(to)' is inside the watched folder '\(s.path)' and the sensor is recursive, so every moved marker would arrive again",
                                  fix: "move markers outside the watched folder, or set recursive: false"))
        }
        return out
    }
}
