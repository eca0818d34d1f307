import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Keeps pipelines out of the store: no output may write into, over or above the store folder
/// (a `replace` of the store's parent would swap the log away), and no source may read from
/// inside it (reading LMDB's files in the engine's process would drop the engine's locks on them).
/// Checked on apply where a path is static, and by the executors on every write and read (after
/// `${params.X}` substitution, with symlinks and `..` resolved).
public enum StoreGuard {
    /// How a path meets the store.
    public enum Conflict: Sendable, Hashable {
        case isStore, holdsStore, insideStore

        /// `is the store`, `holds the store`, `is inside the store`.
        public var phrase: String {
            switch self {
            case .isStore: return "is the store"
            case .holdsStore: return "holds the store"
            case .insideStore: return "is inside the store"
            }
        }
    }

    /// The advice after an output's conflict.
    public static let outputFix = "an output may not write into, over or above the store — choose another folder"
    /// The advice after a source's conflict.
    public static let sourceFix = "a source may not read from the store — choose another folder"

    /// `path` made absolute against `root`, with `.`, `..` and the symlinks of its existing part
    /// resolved (the part that does not exist yet is taken as written).
    public static func canonical(_ path: String, relativeTo root: String) -> String {
        let absolute = path.hasPrefix("/") ? path : (root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root) + "/" + path
        return resolve(absolute, depth: 0)
    }

    private static func resolve(_ absolute: String, depth: Int) -> String {
        var current: [Substring] = []
        var exists = true
        for comp in absolute.split(separator: "/", omittingEmptySubsequences: true) {
            if comp == "." { continue }
            if comp == ".." { if !current.isEmpty { current.removeLast() }; continue }
            current.append(comp)
            guard exists else { continue }
            let here = "/" + current.joined(separator: "/")
            var st = stat()
            guard lstat(here, &st) == 0 else { exists = false; continue }
            guard (st.st_mode & S_IFMT) == S_IFLNK, depth < 32 else { continue }
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: here) else { continue }
            let parent = "/" + current.dropLast().joined(separator: "/")
            let resolved = resolve(target.hasPrefix("/") ? target : parent + "/" + target, depth: depth + 1)
            current = resolved.split(separator: "/", omittingEmptySubsequences: true)
        }
        return "/" + current.joined(separator: "/")
    }

    /// How `path` meets `store` (both canonical), or nil when it does not.
    public static func conflict(_ path: String, store: String) -> Conflict? {
        if path == store { return .isStore }
        if path == "/" || store.hasPrefix(path + "/") { return .holdsStore }
        if path.hasPrefix(store + "/") { return .insideStore }
        return nil
    }

    /// How the path written in a definition (relative to `root`) meets the store, as far as it can
    /// be told before a run: a path with `${…}` is checked by the folder before its first `${`
    /// (inside or being the store), the rest at run time.
    public static func staticConflict(_ written: String, root: String, store: String) -> Conflict? {
        guard let dollar = written.range(of: "${") else {
            return conflict(canonical(written, relativeTo: root), store: store)
        }
        let prefix = written[..<dollar.lowerBound]
        guard let slash = prefix.lastIndex(of: "/") else { return nil }
        let folder = String(prefix[..<slash])
        let c = conflict(canonical(folder.isEmpty ? "/" : folder, relativeTo: root), store: store)
        return c == .holdsStore ? nil : c == .isStore ? .insideStore : c
    }

    /// Every output and source definition whose static path meets the store at `store` (the
    /// project folder, against which definitions' relative paths resolve, is the store's parent).
    public static func diagnostics(_ definitions: [Definition], store: String) -> [Diagnostic] {
        let absolute = URL(fileURLWithPath: store).standardizedFileURL.path
        let root = (absolute as NSString).deletingLastPathComponent
        let storeC = canonical(absolute, relativeTo: "/")
        var out: [Diagnostic] = []
        for d in definitions {
            guard let spec = try? d.typedSpec else { continue }
            let paths: [(field: String, path: String)]
            let isOutput: Bool
            switch spec {
            case .output(let o):
                isOutput = true
                switch o.sink {
                case .sqlite(let t): paths = [("database", t.database)]
                case .csv(let f), .jsonl(let f), .parquet(let f): paths = [("path", f.path)]
                }
            case .source(let s):
                isOutput = false
                switch s.input {
                case .sqlite(let r): paths = [("database", r.database)]
                case .csv(let f): paths = [("path", f.path)]
                case .jsonl(let f): paths = [("path", f.path)]
                case .parquet(let path): paths = [("path", path)]
                }
            case .job(let j):
                out += filesDiagnostics(d, j, root: root, store: storeC)
                // Seed rows write lake, blob and Delta stand-ins under `data/` (see Executors' seed systems).
                isOutput = true
                paths = j.stages.enumerated().compactMap { i, stage in
                    guard let seed = stage.seed, let object = seed.written,
                          let place = ["adls gen2": "data/lake", "blob storage": "data/blob", "delta table": "data/delta"][seed.destination?.lowercased() ?? ""]
                    else { return nil }
                    return ("stages[\(i)] destination", "\(place)/\(object)")
                }
            case .sensor(let s):
                out += sensorDiagnostics(d, s, root: root, store: storeC)
                continue
            default: continue
            }
            for (field, path) in paths {
                guard let c = staticConflict(path, root: root, store: storeC) else { continue }
                if !isOutput && c == .holdsStore { continue }
                out.append(Diagnostic(d.location(of: field.hasSuffix(" destination") ? String(field.dropLast(" destination".count)) : field), "\(d.key.phrase): \(field) '\(path)' \(c.phrase)",
                                      fix: isOutput ? outputFix : sourceFix))
            }
        }
        return out
    }
}
