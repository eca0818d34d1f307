import Foundation

extension StoreGuard {
    /// The advice after a files operation's conflict with the store.
    public static let filesFix = "a files stage may not read, write or delete in the store — choose another folder"

    /// Every folder of a job's files operations (as far as it is known before a run, see
    /// `staticConflict`) that is the store or inside it. A folder holding the store is allowed:
    /// operations touch only regular files directly in their folders, never the store folder.
    static func filesDiagnostics(_ d: Definition, _ job: JobSpec, root: String, store: String) -> [Diagnostic] {
        var out: [Diagnostic] = []
        for (i, stage) in job.stages.enumerated() {
            guard case .files(let files) = stage.variant else { continue }
            for (j, op) in files.operations.enumerated() {
                for (field, folder) in [("from", op.from), ("to", op.to)] {
                    guard let folder, let c = staticConflict(folder, root: root, store: store), c != .holdsStore else { continue }
                    let path = "stages[\(i)].operations[\(j)].\(field)"
                    out.append(Diagnostic(d.location(of: path), "\(d.key.phrase): stage '\(stage.name)' \(op.op.rawValue) \(field) '\(folder)' \(c.phrase)", fix: filesFix))
                }
            }
        }
        return out
    }
}
