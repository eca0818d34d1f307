import Domain
import EventLog
import Runs

/// Where one column of a dataset version came from: the stage attempt that wrote it, the input
/// fields its values were computed from (and how), and for each of those, where *it* came from.
public struct ColumnTrace: Sendable {
    public var dataset: String
    public var column: String
    /// How the parent was computed from this field (DIRECT/INDIRECT and subtype, description);
    /// nil for the column asked about.
    public var type: String?
    public var subtype: String?
    public var description: String?
    /// How a PII transform masked the field's values on their way (nil: not masked).
    public var masking: ColumnMasking?
    /// The attempt that wrote this dataset version, when ledgerflow wrote it.
    public var writtenBy: String?
    /// Why the trace stops here (a source, not recorded, depth).
    public var note: String?
    public var inputs: [ColumnTrace] = []
    /// Fields that decided which rows the dataset has (filters, merge keys).
    public var rowFilters: [ColumnTrace] = []

    public var value: Value {
        var m: [(String, Value)] = [("dataset", .string(dataset)), ("column", .string(column))]
        if let type { m.append(("type", .string(type))) }
        if let subtype { m.append(("subtype", .string(subtype))) }
        if let description { m.append(("description", .string(description))) }
        if let masking { m.append(("masking", .string(masking.rawValue))) }
        if let writtenBy { m.append(("written_by", .string(writtenBy))) }
        if let note { m.append(("note", .string(note))) }
        m.append(("inputs", .array(inputs.map(\.value))))
        if !rowFilters.isEmpty { m.append(("row_filters", .array(rowFilters.map(\.value)))) }
        return .object(m)
    }

    /// An indented tree, a field per line.
    public var text: String {
        var lines: [String] = []
        func walk(_ t: ColumnTrace, _ indent: String, last: Bool, top: Bool) {
            let how = [t.type.map { "\($0)" }, t.subtype, t.description, t.masking.map { "[masked: \($0.rawValue)]" }].compactMap { $0 }.joined(separator: " ")
            let by = t.writtenBy.map { "  (written by \($0))" } ?? ""
            let note = t.note.map { "  [\($0)]" } ?? ""
            if top { lines.append("\(t.dataset).\(t.column)\(by)\(note)") } else {
                lines.append("\(indent)\(last ? "└─" : "├─") ← \(t.dataset).\(t.column)  \(how)\(by)\(note)")
            }
            let childIndent = top ? "" : indent + (last ? "   " : "│  ")
            let all = t.inputs + t.rowFilters
            for (i, c) in all.enumerated() { walk(c, childIndent, last: i == all.count - 1, top: false) }
        }
        walk(self, "", last: true, top: true)
        return lines.joined(separator: "\n")
    }
}

extension LineageQuery {
    /// The trace of `column` of the dataset version `node` (resolved: `dataset:X@V`), `depth`
    /// stages back.
    public func column(_ column: String, of node: String, depth: Int) throws -> ColumnTrace {
        guard node.hasPrefix("dataset:"), let at = node.lastIndex(of: "@"), let version = UInt64(node[node.index(after: at)...]) else {
            throw LineageError("column lineage is for a dataset ledgerflow wrote (dataset:NAME or dataset:NAME@VERSION); \(node) is not one")
        }
        let name = String(node[node.index(node.startIndex, offsetBy: 8) ..< at])
        if let w = try written(name, version), case .success(let d) = w.written, !d.schema.isEmpty, !d.schema.contains(where: { $0.name == column }) {
            throw LineageError("dataset \(name) v\(version) has no column '\(column)'; it has \(d.schema.map(\.name).joined(separator: ", "))")
        }
        var trace = try trace(dataset: name, version: version, column: column, depth: depth)
        trace.type = nil
        return trace
    }

    func trace(dataset name: String, version: UInt64?, column: String, depth: Int) throws -> ColumnTrace {
        var t = ColumnTrace(dataset: version.map { "\(name)@\($0)" } ?? name, column: column)
        guard let version, let w = try written(name, version) else {
            t.note = "source: not written by ledgerflow"
            return t
        }
        let written: DatasetVersionWritten
        switch w.written {
        case .success(let d): written = d
        case .failure(let failure):
            t.note = "cannot be read: \(failure)"
            return t
        }
        let run = written.run, stage = written.stage, attempt = written.attempt
        t.writtenBy = LineageEdges.attempt(run, stage, Int64(attempt))
        let h = try history(run)
        guard let (done, succeeded) = h.succeeded(stage, attempt) else {
            if let failure = h.outcomes.failures.first(where: { $0.eventType == StageSucceeded.type }) {
                t.note = "the attempt's outcome is not in the log or cannot be read (\(failure))"
            } else {
                t.note = "the attempt's outcome is not in the log"
            }
            return t
        }
        let recorded: DatasetColumnLineage?
        do throws(DecodingFailure) { recorded = try succeeded.columnLineage(of: name) } catch {
            t.note = "the attempt's column lineage cannot be read (\(error))"
            return t
        }
        guard let lineage = recorded else {
            t.note = done.schemaVersion < StageSucceeded.schema || succeeded.inputs == nil
                ? "column lineage not recorded (written before ledgerflow recorded it)" : "column lineage not known for this stage type"
            return t
        }
        guard depth > 0 else { t.note = "depth limit"; return t }
        let versions = Dictionary((succeeded.inputs ?? []).map { ($0.dataset, $0.version) }, uniquingKeysWith: { a, _ in a })
        func child(_ s: ColumnOrigin) throws -> ColumnTrace {
            var c = try trace(dataset: s.dataset, version: versions[s.dataset] ?? nil, column: s.field, depth: depth - 1)
            c.type = s.type
            c.subtype = s.subtype
            c.description = s.description
            c.masking = s.masking
            return c
        }
        guard let sources = lineage.fields.first(where: { $0.column == column })?.origins else {
            t.note = "no column '\(column)' in what this attempt wrote"
            return t
        }
        if sources.isEmpty { t.note = "a constant (no input field)" }
        t.inputs = try sources.map(child)
        t.rowFilters = try lineage.dataset.map(child)
        return t
    }
}
