import Domain
import EventLog
import ML

/// One dataset an attempt read: what it was (name, and the version ledgerflow wrote of it when it
/// is a dataset ledgerflow writes), where it was read from, and what was read (rows, schema,
/// content hash of the rows as read — so an auditor can tell which data a run saw even for
/// sources written by someone else). It is the `StageSucceeded.inputs` item itself.
public typealias ReadDataset = StageInput

extension StageInput {
    /// A dataset read, with its schema as (name, type) pairs (as tables give them).
    public init(dataset: String, version: UInt64?, location: String, format: String, rows: Int64?,
                schema: [(name: String, type: String)], contentHash: String?) {
        self.init(dataset: dataset, version: version, location: location, format: format, rows: rows,
                  schema: schema.map { SchemaColumn(name: $0.name, type: $0.type) }, contentHash: contentHash)
    }
}

/// Where an output column's values come from: a field of an input dataset and how it became the
/// column (the `StageSucceeded.column_lineage` item, in OpenLineage's vocabulary).
public typealias ColumnSource = ColumnOrigin

/// Column-level lineage, tracked by name alongside the operations a stage applies to its rows:
/// each current column's sources, and the fields that decide which rows there are (filters,
/// merge keys). Pure: it sees column names and expressions, never rows.
public struct ColumnFlow: Sendable, Hashable {
    public private(set) var columns: [String] = []
    public private(set) var sources: [String: [ColumnSource]] = [:]
    public private(set) var indirect: [ColumnSource] = []

    public init() {}

    /// Columns read from `dataset`, each its own identity (as `Table.append` unions them: a
    /// column several datasets have comes from each of them).
    public mutating func read(_ dataset: String, columns names: [String]) {
        for c in names {
            if sources[c] == nil { columns.append(c) }
            sources[c, default: []].append(ColumnSource(dataset: dataset, field: c))
        }
    }

    public mutating func rename(_ from: String, to: String) {
        guard let i = columns.firstIndex(of: from) else { return }
        columns[i] = to
        sources[to] = sources.removeValue(forKey: from)
    }

    /// The values of `column` were changed by `description` (a cast, a scaling…).
    public mutating func transform(_ column: String, _ description: String) {
        guard let s = sources[column] else { return }
        sources[column] = s.map { var c = $0; c.subtype = c.subtype == "IDENTITY" ? "TRANSFORMATION" : c.subtype
            c.description = c.description.map { "\($0), then \(description)" } ?? description; return c }
    }

    /// The values of `column` were masked by a PII transform: each source is marked with how,
    /// and so is every column later computed from it.
    public mutating func mask(_ column: String, _ masking: ColumnMasking, _ description: String) {
        transform(column, description)
        sources[column] = sources[column]?.map { var c = $0; c.masking = masking; return c }
    }

    /// `column` is removed: it has no output lineage.
    public mutating func drop(_ column: String) {
        guard sources.removeValue(forKey: column) != nil else { return }
        columns.removeAll { $0 == column }
    }

    /// `column` is computed from `fields` (replacing it when it exists).
    public mutating func derive(_ column: String, from fields: [String], _ description: String, subtype: String = "TRANSFORMATION") {
        var out: [ColumnSource] = []
        for f in fields {
            for s in sources[f] ?? [] {
                var c = s
                c.subtype = subtype
                c.description = s.description.map { "\($0), then \(description)" } ?? description
                if !out.contains(c) { out.append(c) }
            }
        }
        if sources[column] == nil { columns.append(column) }
        sources[column] = out
    }

    /// `column` has exactly `sources` (a merge's mapped columns).
    public mutating func derive(_ column: String, sources given: [ColumnSource]) {
        if sources[column] == nil { columns.append(column) }
        sources[column] = given
    }

    /// A field that decides the rows, given as is.
    public mutating func indirect(_ s: ColumnSource) {
        if !indirect.contains(s) { indirect.append(s) }
    }

    /// Rows were kept or dropped by `fields` (a filter's fields, a merge key).
    public mutating func filter(by fields: [String], _ description: String, subtype: String = "FILTER") {
        for f in fields {
            for s in sources[f] ?? [] {
                let c = ColumnSource(dataset: s.dataset, field: s.field, type: "INDIRECT", subtype: subtype, description: description, masking: s.masking)
                if !indirect.contains(c) { indirect.append(c) }
            }
        }
    }

    /// Only `names` remain, in that order.
    public mutating func select(_ names: [String]) {
        columns = names.filter { sources[$0] != nil }
        sources = sources.filter { names.contains($0.key) }
    }

    /// `column` gives way to `replacements`, each computed from it (one-hot).
    public mutating func expand(_ column: String, into replacements: [String], _ description: String) {
        guard let i = columns.firstIndex(of: column) else { return }
        let base = sources[column] ?? []
        columns.replaceSubrange(i...i, with: replacements)
        sources.removeValue(forKey: column)
        for r in replacements {
            sources[r] = base.map { var c = $0; c.subtype = "TRANSFORMATION"; c.description = c.description.map { "\($0), then \(description)" } ?? description; return c }
        }
    }

    /// `column` is added with no input field behind it (a constant such as the model version).
    public mutating func constant(_ column: String) {
        if sources[column] == nil { columns.append(column) }
        sources[column] = []
    }

    /// `StageSucceeded.column_lineage` of one written dataset (schema 2): `fields` (output column
    /// → its sources) and `dataset` (the fields that decide the rows).
    public var lineage: DatasetColumnLineage {
        DatasetColumnLineage(fields: columns.map { ($0, sources[$0] ?? []) }, dataset: indirect)
    }
}

extension Transform {
    /// The column lineage of `apply`: the same steps in the same order, on names.
    public func flow(_ f: inout ColumnFlow) {
        for (from, to) in rename { f.rename(from, to: to) }
        for (column, p) in protect {
            if let masking = p.masking { f.mask(column, masking, p.phrase) } else { f.drop(column) }
        }
        for (column, type) in cast { f.transform(column, "cast to \(type)") }
        for (column, e) in derive { f.derive(column, from: e.fields, "derive \(column) = \(e)") }
        if let filter { f.filter(by: filter.fields, "filter \(filter)") }
        if let select { f.select(select) }
    }
}

extension FittedFeatures {
    /// The column lineage of `transform`: each step's effect on names.
    public func flow(_ f: inout ColumnFlow, spec: String) {
        for step in steps {
            switch step {
            case .standardScale(let columns, _, _): for c in columns { f.transform(c, "standard_scale (feature spec \(spec))") }
            case .minMaxScale(let columns, _, _, _): for c in columns { f.transform(c, "minmax_scale (feature spec \(spec))") }
            case .impute(let columns, _): for c in columns { f.transform(c, "impute (feature spec \(spec))") }
            case .log(let columns, _): for c in columns { f.transform(c, "log (feature spec \(spec))") }
            case .cast(let pairs): for p in pairs { f.transform(p.column, "cast to \(p.type.rawValue) (feature spec \(spec))") }
            case .rename(let pairs): for p in pairs { f.rename(p.from, to: p.to) }
            case .select(let columns): f.select(columns)
            case .oneHot(let columns, let categories, let unknown):
                for (c, cats) in zip(columns, categories) {
                    var names = cats.map { "\(c)=\($0)" }
                    if unknown == .other { names.append("\(c)=\(FittedStep.otherCategory)") }
                    f.expand(c, into: names, "one_hot (feature spec \(spec))")
                }
            }
        }
    }
}
