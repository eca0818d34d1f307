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
            let how = [t.type.map { "\($0)" }, t.subtype, t.description].compactMap { $0 }.joined(separator: " ")
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
        if let written = try written(name, version), let schema = written.payload["schema"]?.arrayValue, !schema.isEmpty,
           !schema.contains(where: { $0["name"]?.stringValue == column }) {
            throw LineageError("dataset \(name) v\(version) has no column '\(column)'; it has \(schema.compactMap { $0["name"]?.stringValue }.joined(separator: ", "))")
        }
        var trace = try trace(dataset: name, version: version, column: column, depth: depth)
        trace.type = nil
        return trace
    }

    func written(_ name: String, _ version: UInt64) throws -> RecordedEvent? {
        guard let w = try log.read(stream: RunEvents.stream(dataset: name), fromVersion: version, limit: 1).first, w.seq <= graph.asOf else { return nil }
        return w
    }

    func trace(dataset name: String, version: UInt64?, column: String, depth: Int) throws -> ColumnTrace {
        var t = ColumnTrace(dataset: version.map { "\(name)@\($0)" } ?? name, column: column)
        guard let version, let w = try written(name, version) else {
            t.note = "source: not written by ledgerflow"
            return t
        }
        guard let run = w.payload["run"]?.stringValue, let stage = w.payload["stage"]?.stringValue, let attempt = w.payload["attempt"]?.intValue else { return t }
        t.writtenBy = LineageEdges.attempt(run, stage, attempt)
        guard let done = try runStream(run).first(where: { $0.type == RunEvents.stageSucceeded && $0.payload["stage"]?.stringValue == stage && $0.payload["attempt"]?.intValue == attempt }) else {
            t.note = "the attempt's outcome is not in the log"
            return t
        }
        guard let lineage = done.payload["column_lineage"]?[name] else {
            t.note = done.schemaVersion < StageSucceeded.schema || done.payload["inputs"] == nil
                ? "column lineage not recorded (written before ledgerflow recorded it)" : "column lineage not known for this stage type"
            return t
        }
        guard depth > 0 else { t.note = "depth limit"; return t }
        let versions = Dictionary((done.payload["inputs"]?.arrayValue ?? []).compactMap { i in i["dataset"]?.stringValue.map { ($0, i["version"]?.intValue) } },
                                  uniquingKeysWith: { a, _ in a })
        func child(_ s: Value) throws -> ColumnTrace {
            let d = s["dataset"]?.stringValue ?? "?", f = s["field"]?.stringValue ?? "?"
            var c = try trace(dataset: d, version: versions[d].flatMap { $0 }.map { UInt64($0) }, column: f, depth: depth - 1)
            c.type = s["type"]?.stringValue
            c.subtype = s["subtype"]?.stringValue
            c.description = s["description"]?.stringValue
            return c
        }
        guard let sources = lineage["fields"]?[column]?.arrayValue else {
            t.note = "no column '\(column)' in what this attempt wrote"
            return t
        }
        if sources.isEmpty { t.note = "a constant (no input field)" }
        t.inputs = try sources.map(child)
        t.rowFilters = try (lineage["dataset"]?.arrayValue ?? []).map(child)
        return t
    }
}
