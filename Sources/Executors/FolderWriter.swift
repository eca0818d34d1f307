import Domain
import EventLog
import Foundation

/// Writes rows as CSV or JSON Lines files into a folder, one file per partition (folders
/// `column=value/`, written in parallel), so that a failed attempt leaves nothing half-written:
/// - replace: everything goes to a hidden temporary folder next to the target, which then takes
///   the target's place (the old folder is renamed aside, then removed);
/// - append: files go to a hidden temporary folder inside the target, then each is renamed into
///   place (`part-run<R>-<stage>-a<N>.<ext>`, unique per attempt).
enum FolderWriter {
    struct Partition {
        var values: [(String, Value)]
        var rows: [Int]
        var folder: String { values.map { "\($0.0)=\(safe(Table.text($0.1)))" }.joined(separator: "/") }
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
        let parent = (e.path as NSString).deletingLastPathComponent
        let base = (e.path as NSString).lastPathComponent
        let tmp = e.mode == "append" ? (e.path as NSString).appendingPathComponent(".tmp-\(context.token)")
                                     : (parent as NSString).appendingPathComponent(".\(base).tmp-\(context.token)")
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
                    try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
                    let from = ((p.folder.isEmpty ? tmp : (tmp as NSString).appendingPathComponent(p.folder)) as NSString).appendingPathComponent(file)
                    let to = (dir as NSString).appendingPathComponent(file)
                    try? fm.removeItem(atPath: to)
                    try fm.moveItem(atPath: from, toPath: to)
                }
                try fm.removeItem(atPath: tmp)
            } else {
                try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
                let old = (parent as NSString).appendingPathComponent(".\(base).old-\(context.token)")
                if fm.fileExists(atPath: e.path) { try fm.moveItem(atPath: e.path, toPath: old) }
                try fm.moveItem(atPath: tmp, toPath: e.path)
                try? fm.removeItem(atPath: old)
            }
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw StageError("cannot move the written files into \(e.path): \(error.localizedDescription)")
        }
        return partitions.filter { !$0.values.isEmpty }.map { p in
            WrittenPartition(values: .object(p.values), location: (e.path as NSString).appendingPathComponent(p.folder), rows: Int64(p.rows.count))
        }
    }
}
