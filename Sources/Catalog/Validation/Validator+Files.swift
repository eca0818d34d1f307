import Domain

extension Validator {
    /// A files stage's own rules, per operation: a pattern that can match a file name; folders
    /// written without `..` (a path may not leave the folder it names); no copy or move onto its
    /// own `from` folder; `${params.NAME}` only for parameters the job declares. How its folders
    /// meet the store is checked with the store (`StoreGuard.diagnostics`).
    mutating func checkFiles(_ d: Definition, _ s: StageSpec, _ files: StageSpec.Files, _ i: Int) {
        for (j, op) in files.operations.enumerated() {
            let path = "stages[\(i)].operations[\(j)]"
            let what = "\(op.op.rawValue) operation \(j + 1) of stage '\(s.name)' in job '\(d.name)'"
            if op.op != .mkdir {
                do throws(FileGlob.Problem) {
                    _ = try FileGlob(op.glob)
                } catch {
                    self.error(d, path + ".pattern", "pattern '\(Diagnostic.excerpt(op.glob))' of \(what) \(error.description)", fix: error.fix)
                }
            }
            for (field, folder) in [("from", op.from), ("to", op.to)] {
                guard let folder else { continue }
                if folder.isEmpty {
                    error(d, "\(path).\(field)", "\(field) of \(what) is empty", fix: "name a folder (relative to the project folder)")
                }
                if folder.split(separator: "/").contains("..") {
                    error(d, "\(path).\(field)", "\(field) '\(Diagnostic.excerpt(folder))' of \(what) holds '..', so it could reach outside the folder it names",
                          fix: "write the folder without '..' (an absolute path if it lies outside the project folder)")
                }
                // `${params.X}` the job does not declare: checked for every stage (Validator.checkStageCondition).
            }
            if op.op == .copy || op.op == .move, let from = op.from, let to = op.to,
               FileOperationPaths.lexical(from) == FileOperationPaths.lexical(to) {
                error(d, path + ".to", "\(what) copies '\(Diagnostic.excerpt(from))' onto itself, so it would overwrite its own sources",
                      fix: "write the files to another folder")
            }
        }
    }
}

/// What the catalog and the files executor both read from an operation's folder as written.
public enum FileOperationPaths {
    /// `path` with `.` and empty components dropped and no trailing `/` (`a/./b/` → `a/b`).
    public static func lexical(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    /// The folder of `written` that no substitution changes: all of it without `${`, else the
    /// part before the `/` that precedes the first `${` (empty: the project folder itself).
    public static func fixedFolder(_ written: String) -> String {
        guard let dollar = written.range(of: "${") else { return written }
        let prefix = written[..<dollar.lowerBound]
        guard let slash = prefix.lastIndex(of: "/") else { return "" }
        return slash == prefix.startIndex ? "/" : String(prefix[..<slash])
    }
}
