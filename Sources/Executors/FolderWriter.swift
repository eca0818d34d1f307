import Domain
import EventLog
import Foundation

/// Writes rows as CSV or JSON Lines files into a folder, one file per partition (folders
/// `column=value/`, written in parallel), so that a failed attempt leaves nothing half-written:
/// - replace: everything goes to a hidden temporary folder next to the target; then the files
///   ledgerflow wrote there before (`part-*.csv` / `part-*.jsonl`, at the top or in partition
///   folders) are moved aside, the new ones moved in, and the old ones removed. Anything else in
///   the folder (files people put there) is left alone;
/// - append: files go to a hidden temporary folder inside the target, then each is renamed into
///   place (`part-run<R>-<stage>-a<N>.<ext>`, unique per attempt).
/// The target, the temporary folders and every file moved must stay out of the store.
enum FolderWriter {
    struct Partition {
        var values: [(String, Value)]
        var rows: [Int]
        var folder: String { values.map { "\(safe($0.0))=\(safe(Table.text($0.1)))" }.joined(separator: "/") }
    }

    static func safe(_ s: String) -> String {
        let v = s.isEmpty ? "__null__" : s
        return String(v.map { "/\\\0".contains($0) ? "_" : $0 })
    }

    static func write(_ t: Table, to e: Endpoint, context: StageContext) throws(StageError) -> [WrittenPartition] {
        for c in e.partitionBy where !t.columns.contains(c) {
            throw StageError("partition column '\(c)' is not a column of the rows written to \(e.name) (columns: \(t.columns.joined(separator: ", ")))")
        }
        // Group rows by partition values, in first-seen order.
        var partitions: [Partition] = []
        if e.partitionBy.isEmpty {
            partitions = [Partition(values: [], rows: Array(t.rows.indices))]
        } else {
            let idx = e.partitionBy.map { t.columns.firstIndex(of: $0)! }
            var byKey: [[Value]: Int] = [:]
            for (r, row) in t.rows.enumerated() {
                let key = idx.map { row[$0] }
                if let p = byKey[key] { partitions[p].rows.append(r) } else {
                    byKey[key] = partitions.count
                    partitions.append(Partition(values: Array(zip(e.partitionBy, key)), rows: [r]))
                }
            }
        }
        let fm = FileManager.default
        let what = "output '\(e.name)'"
        try context.checkWrite(e.path, for: what)
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: e.path, isDirectory: &isDir), !isDir.boolValue {
            throw StageError("\(what): \(e.path) is a file, not a folder; \(e.format.rawValue) outputs write folders of part files — choose a folder")
        }
        let parent = (e.path as NSString).deletingLastPathComponent
        let base = (e.path as NSString).lastPathComponent
        let tmp = e.mode == "append" ? (e.path as NSString).appendingPathComponent(".tmp-\(context.token)")
                                     : (parent as NSString).appendingPathComponent(".\(base).tmp-\(context.token)")
        let old = (parent as NSString).appendingPathComponent(".\(base).old-\(context.token)")
        try context.checkWrite(tmp, for: what)
        try context.checkWrite(old, for: what)
        let ext = e.format == .csv ? "csv" : "jsonl"
        let file = "part-\(context.token).\(ext)"
        do {
            try? fm.removeItem(atPath: tmp)
            try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        } catch { throw StageError("cannot create \(tmp): \(error.localizedDescription)") }
        // Write the partitions in parallel.
        let failures = Locked<[String]>([])
        let parts = partitions
        DispatchQueue.concurrentPerform(iterations: partitions.count) { i in
            if context.cancellation.isCancelled { failures.withLock { $0.append("cancelled") }; return }
            let p = parts[i]
            let dir = p.folder.isEmpty ? tmp : (tmp as NSString).appendingPathComponent(p.folder)
            let data = e.format == .csv ? CSV.write(t, rows: p.rows) : JSONLines.write(t, rows: p.rows)
            do {
                try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try data.write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent(file)), options: .atomic)
            } catch { failures.withLock { $0.append("cannot write \(dir)/\(file): \(error.localizedDescription)") } }
        }
        if let f = failures.withLock({ $0.first }) {
            try? fm.removeItem(atPath: tmp)
            if let r = context.cancellation.reason { throw StageError.stopped(r, "the write to \(e.name)") }
            throw StageError(f + "; nothing was written")
        }
        // Put the files in place.
        do {
            if e.mode == "append" {
                for p in partitions {
                    let dir = p.folder.isEmpty ? e.path : (e.path as NSString).appendingPathComponent(p.folder)
                    try context.checkWrite((dir as NSString).appendingPathComponent(file), for: "output '\(e.name)'")
                }
                for p in partitions {
                    let dir = p.folder.isEmpty ? e.path : (e.path as NSString).appendingPathComponent(p.folder)
                    try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
                    let from = ((p.folder.isEmpty ? tmp : (tmp as NSString).appendingPathComponent(p.folder)) as NSString).appendingPathComponent(file)
                    let to = (dir as NSString).appendingPathComponent(file)
                    try context.checkWrite(to, for: "output '\(e.name)'")
                    try? fm.removeItem(atPath: to)
                    try fm.moveItem(atPath: from, toPath: to)
                }
                try fm.removeItem(atPath: tmp)
            } else if !fm.fileExists(atPath: e.path) {
                try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
                try fm.moveItem(atPath: tmp, toPath: e.path)
            } else {
                try replaceOwned(in: e.path, with: tmp, aside: old, context: context, what: what)
            }
        } catch {
            try? fm.removeItem(atPath: tmp)
            if let e = error as? StageError { throw e }
            throw StageError("cannot move the written files into \(e.path): \(error.localizedDescription)")
        }
        return partitions.filter { !$0.values.isEmpty }.map { p in
            WrittenPartition(values: .object(p.values), location: (e.path as NSString).appendingPathComponent(p.folder), rows: Int64(p.rows.count))
        }
    }

    /// Whether `rel` (relative to an output folder) is a file ledgerflow wrote there: a part file,
    /// at the top or in partition folders (`column=value`).
    static func isOwned(_ rel: String) -> Bool {
        let parts = rel.split(separator: "/")
        guard let name = parts.last, name.hasPrefix("part-"), name.hasSuffix(".csv") || name.hasSuffix(".jsonl") else { return false }
        return parts.dropLast().allSatisfy { $0.contains("=") && !$0.hasPrefix(".") }
    }

    /// The part files in `folder` (relative paths), symlinks not followed.
    static func ownedFiles(in folder: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: folder) else { return [] }
        var out: [String] = []
        for case let rel as String in e {
            let type = e.fileAttributes?[.type] as? FileAttributeType
            if type == .typeDirectory {
                if !(rel as NSString).lastPathComponent.contains("=") || rel.hasPrefix(".") || rel.contains("/.") { e.skipDescendants() }
                continue
            }
            if type == .typeRegular, isOwned(rel) { out.append(rel) }
        }
        return out
    }

    /// Replaces the part files of `target` with the files of `tmp`: the old ones are moved under
    /// `aside`, the new ones in, then `aside` is removed, and partition folders left empty too.
    /// On a failure the old files are put back. Files ledgerflow did not write are not touched.
    static func replaceOwned(in target: String, with tmp: String, aside: String, context: StageContext, what: String) throws {
        let fm = FileManager.default
        let old = ownedFiles(in: target)
        let new = ownedFiles(in: tmp)
        try? fm.removeItem(atPath: aside)
        func move(_ rel: String, from: String, to: String) throws {
            let dest = (to as NSString).appendingPathComponent(rel)
            try context.checkWrite(dest, for: what)
            try fm.createDirectory(atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try? fm.removeItem(atPath: dest)
            try fm.moveItem(atPath: (from as NSString).appendingPathComponent(rel), toPath: dest)
        }
        for rel in new { try context.checkWrite((target as NSString).appendingPathComponent(rel), for: what) }
        for rel in old { try context.checkWrite((aside as NSString).appendingPathComponent(rel), for: what) }
        var movedAside: [String] = []
        var movedIn: [String] = []
        do {
            for rel in old { try move(rel, from: target, to: aside); movedAside.append(rel) }
            for rel in new { try move(rel, from: tmp, to: target); movedIn.append(rel) }
        } catch {
            for rel in movedIn { try? fm.removeItem(atPath: (target as NSString).appendingPathComponent(rel)) }
            for rel in movedAside { try? move(rel, from: aside, to: target) }
            try? fm.removeItem(atPath: aside)
            throw error
        }
        try? fm.removeItem(atPath: aside)
        try? fm.removeItem(atPath: tmp)
        // Partition folders that held only old part files, deepest first.
        let newFolders = Set(new.map { ($0 as NSString).deletingLastPathComponent })
        var folders = Set<String>()
        for rel in old {
            var d = (rel as NSString).deletingLastPathComponent
            while !d.isEmpty { folders.insert(d); d = (d as NSString).deletingLastPathComponent }
        }
        for d in folders.subtracting(newFolders).sorted(by: { $0.count > $1.count }) {
            _ = rmdir((target as NSString).appendingPathComponent(d))   // only when empty
        }
    }
}
