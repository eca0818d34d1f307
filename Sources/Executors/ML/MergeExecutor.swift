import Catalog
import Domain
import EventLog
import Foundation

/// merge stages: combine datasets of several products into one through column mappings. Each
/// input row's product is its `product_code` column, else the product of the stage's `mapping`;
/// the row's columns are renamed by the column mapping of that product (the stage's `mapping`
/// when its product matches, else the catalog's column_mapping for that product). The result has
/// `product_code` and the canonical columns (in mapping order); with `key`, rows with the same
/// key are combined (later inputs fill the columns earlier ones left empty). Source columns no
/// mapping names are reported as `unmapped`, canonical columns a product's data lacks as `missing`.
public struct MergeExecutor: StageExecutor {
    public init() {}

    struct Mapping { var name: String; var product: String; var columns: [(from: String, to: String)] }

    public func run(_ ctx: StageContext) throws(StageError) -> StageResult {
        let stage = try ctx.stageSpec()
        guard case .merge(let merge) = stage.variant, let spec = try ctx.definition(ColumnMappingSpec.self, merge.mapping) else {
            throw StageError("merge stage '\(ctx.stage)' names no column mapping of the run's catalog; add `mapping: NAME` (kind: column_mapping)")
        }
        let mappingName = merge.mapping
        let primary = mapping(mappingName, spec)
        var byProduct: [String: Mapping] = [:]
        for e in ctx.catalog.entries.values where e.key.kind == .columnMapping {
            let m = mapping(e.key.name, try ctx.read(e, as: ColumnMappingSpec.self))
            if byProduct[m.product] == nil || m.name == mappingName { byProduct[m.product] = m }
        }
        byProduct[primary.product] = primary
        let etl = ETLExecutor()
        let inputs = stage.inputs
        guard !inputs.isEmpty else { throw StageError("merge stage '\(ctx.stage)' has no inputs; list the datasets to merge in `inputs:`") }
        var canonical: [String] = primary.columns.map(\.to)
        for m in byProduct.values.sorted(by: { $0.product < $1.product }) { for c in m.columns.map(\.to) where !canonical.contains(c) { canonical.append(c) } }
        let key = merge.key
        for k in key where !canonical.contains(k) {
            throw StageError("merge key '\(k)' of stage '\(ctx.stage)' is no canonical column of the mappings; they give \(canonical.joined(separator: ", "))")
        }
        let columns = ["product_code"] + canonical
        let index = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) })
        var rows: [[Value]] = []
        var rowByKey: [[Value]: Int] = [:]
        var unmapped: [String: Set<String>] = [:]
        var missing: [String: Set<String>] = [:]
        var perInput: [(String, Value)] = []
        var read: [ReadDataset] = []
        var flow = ColumnFlow()
        for c in columns { flow.constant(c) }
        var lineage: [String: [ColumnSource]] = [:]
        for text in inputs {
            try ctx.cancellation.check()
            let source = try etl.endpoint(reading: text, ctx)
            let name = source.name
            let input = try etl.read([source], ctx)
            let t = input.table
            read += input.inputs
            perInput.append((name, .int(Int64(t.rows.count))))
            for m in byProduct.values.sorted(by: { $0.product < $1.product }) {
                for (from, to) in m.columns where t.columns.contains(from) {
                    let s = ColumnSource(dataset: name, field: from, subtype: from == to ? "IDENTITY" : "TRANSFORMATION",
                                         description: from == to ? nil : "column mapping \(m.name) (product \(m.product)): \(from) → \(to)")
                    if !lineage[to, default: []].contains(s) { lineage[to, default: []].append(s) }
                }
            }
            if t.columns.contains("product_code") { lineage["product_code", default: []].append(ColumnSource(dataset: name, field: "product_code")) }
            let productCol = t.columns.firstIndex(of: "product_code")
            for row in t.rows {
                let product = productCol.flatMap { row[$0].stringValue ?? (row[$0] == .null ? nil : Table.text(row[$0])) } ?? primary.product
                guard let m = byProduct[product] else {
                    throw StageError("input '\(name)' of merge stage '\(ctx.stage)' has rows of product '\(product)', which no column mapping covers; add a column_mapping with product: \(product)")
                }
                var out = [Value](repeating: .null, count: columns.count)
                out[0] = .string(product)
                let sourceIndex = Dictionary(t.columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
                if merge.strict {
                    let absent = m.columns.filter { sourceIndex[$0.from] == nil }.map(\.from)
                    if !absent.isEmpty {
                        throw StageError("input '\(name)' of merge stage '\(ctx.stage)' lacks column\(absent.count == 1 ? "" : "s") \(absent.joined(separator: ", ")) that column mapping \(m.name) (product \(product)) maps (strict); it has \(t.columns.joined(separator: ", "))")
                    }
                }
                for (from, to) in m.columns {
                    if let i = sourceIndex[from], let j = index[to] { out[j] = row[i] } else { missing[product, default: []].insert(to) }
                }
                for c in t.columns where c != "product_code" && !m.columns.contains(where: { $0.from == c }) { unmapped[product, default: []].insert("\(name).\(c)") }
                for c in canonical where !m.columns.contains(where: { $0.to == c }) { missing[product, default: []].insert(c) }
                if key.isEmpty {
                    rows.append(out)
                } else {
                    let k = key.compactMap { index[$0] }.map { out[$0] }
                    if let at = rowByKey[k] {
                        for j in out.indices where rows[at][j] == .null { rows[at][j] = out[j] }
                    } else {
                        rowByKey[k] = rows.count
                        rows.append(out)
                    }
                }
            }
        }
        let table = Table(columns: columns, rows: rows)
        let destinations = try etl.destinations(ctx, stage)
        guard !destinations.isEmpty else { throw StageError("merge stage '\(ctx.stage)' names nothing to write; give it `destination:` or `outputs:`") }
        let written = try etl.write(table, to: destinations, ctx, stage)
        for c in columns { flow.derive(c, sources: lineage[c] ?? []) }
        if !key.isEmpty {
            var keyed = ColumnFlow()
            for c in key { keyed.derive(c, sources: lineage[c] ?? []) }
            keyed.filter(by: key, "merge rows with the same \(key.joined(separator: ", "))", subtype: "GROUP_BY")
            for s in keyed.indirect { flow.indirect(s) }
        }
        let report: (([String: Set<String>]) -> Value) = { d in .object(d.map { ($0.key, .array($0.value.sorted().map { .string($0) })) }) }
        return StageResult(datasets: written, outputs: .object([("rows_read", .object(perInput)), ("rows_written", .int(Int64(rows.count))),
                                                                ("unmapped", report(unmapped)), ("missing", report(missing))]),
                           inputs: read, columns: flow)
    }

    func mapping(_ name: String, _ spec: ColumnMappingSpec) -> Mapping {
        Mapping(name: name, product: spec.product, columns: spec.columns.map { ($0.from, $0.to) })
    }
}
