import Catalog
import Domain
import EventLog
import Foundation

/// etl and storage stages: read rows from the stage's sources, transform them, write them to
/// its destinations. Sources: `source:`, else `inputs:` (source or output definitions, read from
/// where they are), else the seed stage's `source` system and `object` (the previous seed stage's
/// object when this stage's source is where that stage wrote). Destinations:
/// `destination:`, else the output definitions in `outputs:`, else the seed stage's
/// `destination` system and `table` (else `object`).
public struct ETLExecutor: StageExecutor {
    public init() {}

    public func run(_ ctx: StageContext) throws(StageError) -> StageResult {
        let stage = try ctx.stageSpec()
        let sources = try self.sources(ctx, stage)
        let destinations = try self.destinations(ctx, stage)
        guard !sources.isEmpty else { throw StageError("stage '\(ctx.stage)' names nothing to read; give it `source:` or `inputs:`") }
        guard !destinations.isEmpty else { throw StageError("stage '\(ctx.stage)' names nothing to write; give it `destination:` or `outputs:`") }
        let input = try read(sources, ctx)
        let transform = try Transform(ctx.transformWithValues(stage.transform), stage: ctx.stage) { name throws(StageError) in
            try Secrets.resolve(name, ctx: ctx, use: "hash salt of stage '\(ctx.stage)'")
        }
        let out = try transform.apply(input.table, cancellation: ctx.cancellation)
        let written = try write(out, to: destinations, ctx, stage)
        var flow = input.flow
        transform.flow(&flow)
        return StageResult(datasets: written, outputs: .object([("rows_read", .int(Int64(input.table.rows.count))),
                                                                ("rows_written", .int(Int64(out.rows.count)))]),
                           inputs: input.inputs, columns: flow)
    }

    /// Writes `out` to every destination (folders partitioned by the stage's `partition_by`, when
    /// it has one); returns one dataset version per destination.
    func write(_ out: Table, to destinations: [Endpoint], _ ctx: StageContext, _ stage: StageSpec) throws(StageError) -> [WrittenDataset] {
        var written: [WrittenDataset] = []
        let hash = out.contentHash
        let schema = out.schema
        let stagePartitions = stage.transform.partitionBy
        for var d in destinations {
            try ctx.cancellation.check()
            if !stagePartitions.isEmpty && d.format != .sqlite { d.partitionBy = stagePartitions }
            var partitions: [WrittenPartition] = []
            switch d.format {
            case .sqlite:
                guard let table = d.table else { throw StageError("output '\(d.name)' names no table") }
                // The database and the files SQLite keeps beside it.
                for p in [d.path, d.path + "-journal", d.path + "-wal", d.path + "-shm"] { try ctx.checkWrite(p, for: "output '\(d.name)'") }
                if !out.columns.isEmpty {
                    try SQLite.write(out, database: d.path, table: table, mode: d.mode, keys: d.keys, cancellation: ctx.cancellation)
                }
            case .csv, .jsonl:
                partitions = try FolderWriter.write(out, to: d, context: ctx)
                try DeltaTable.mark(d, context: ctx)
            case .parquet:
                throw StageError("output '\(d.name)' is Parquet, which spark stages write; stage '\(ctx.stage)' runs in process, where outputs are csv, jsonl or sqlite: write it from a spark stage, or give this stage a csv or jsonl output")
            }
            written.append(WrittenDataset(dataset: d.name, location: d.location, format: d.format.rawValue, mode: d.mode,
                                          rows: Int64(out.rows.count), schema: schema, contentHash: hash, partitions: partitions))
        }
        return written
    }

    /// What a stage read: the rows of every source in one table, each source as a dataset read,
    /// and the columns' lineage so far (each column its sources' identity).
    struct Input {
        var table = Table(columns: [])
        var inputs: [ReadDataset] = []
        var flow = ColumnFlow()
    }

    /// Reads every source into one table.
    func read(_ sources: [Endpoint], _ ctx: StageContext) throws(StageError) -> Input {
        var input = Input()
        for s in sources {
            try ctx.cancellation.check()
            let t = try s.read(cancellation: ctx.cancellation) { (f: String) throws(StageError) in try ctx.checkRead(f, for: "source '\(s.name)'") }
            if let p = s.pinned { try p.check(t, of: s, ctx) }
            input.inputs.append(ReadDataset(dataset: s.name, version: s.pinned?.version ?? ctx.versionRead(s.name, at: s.location), location: s.location, format: s.format.rawValue,
                                            rows: Int64(t.rows.count), schema: t.schema, contentHash: t.contentHash))
            input.flow.read(s.name, columns: t.columns)
            input.table.append(t)
        }
        return input
    }

    /// Where the stage reads: its `source`, else its `inputs`, else its seed row's source system.
    func sources(_ ctx: StageContext, _ stage: StageSpec) throws(StageError) -> [Endpoint] {
        if let text = stage.source {
            let s = DatasetReference.name(of: text)
            guard let def = try ctx.definition(SourceSpec.self, s) else { throw StageError("source '\(s)' is not defined in the run's catalog (seq \(ctx.catalog.lastChangeSeq))") }
            return [s == text ? try Endpoint.from(source: s, def, context: ctx) : try endpoint(reading: text, ctx)]
        }
        if !stage.inputs.isEmpty {
            var out: [Endpoint] = []
            for i in stage.inputs { out.append(try endpoint(reading: i, ctx)) }
            return out
        }
        if let seed = stage.seed, let system = seed.source, let object = try seedInput(ctx, stage, system: system) ?? seed.object {
            return [try Endpoint.seed(system: system, object: object, context: ctx, isOutput: false)]
        }
        return []
    }

    /// What a seed stage reads when its source system is where the stage before it wrote: that
    /// stage's object (seed job 101: Inference reads the lake's customer_transactions that ETL
    /// wrote, Storage the churn_scores that Inference wrote). Nil: the stage's own object.
    func seedInput(_ ctx: StageContext, _ stage: StageSpec, system: String) throws(StageError) -> String? {
        guard let previous = stage.after.first,
              let before = try ctx.definition(JobSpec.self, ctx.job)?.stage(named: previous),
              let seed = before.seed, seed.destination?.lowercased() == system.lowercased() else { return nil }
        return seed.written
    }

    /// Where the dataset `text` names (a source or an output definition; `NAME@N`: version N of
    /// dataset NAME, see `pinnedEndpoint`) is read from. An output whose path holds a fact of the
    /// writing attempt (`${run}`, `${run.id}`, `${stage}`, `${attempt}`) is read where its newest
    /// version was written, as the log says.
    func endpoint(reading text: String, _ ctx: StageContext) throws(StageError) -> Endpoint {
        guard let ref = DatasetReference(text) else {
            throw StageError("input '\(text)' of stage '\(ctx.stage)' names no version that reads; \(DatasetReference.versionFix)")
        }
        if let version = ref.version { return try pinnedEndpoint(ref.name, version: version, ctx) }
        let name = ref.name
        if let def = try ctx.definition(SourceSpec.self, name) {
            return try Endpoint.from(source: name, def, context: ctx)
        }
        if let def = try ctx.definition(OutputSpec.self, name) {
            var e = Endpoint.from(output: name, def, context: ctx)
            if def.pathNamesWriter, let newest = ctx.datasetLocations[name] { e.place(at: newest) }
            if e.format != .sqlite { e.pattern = "*.\(e.format.rawValue)" }
            return e
        }
        throw StageError("input '\(name)' of stage '\(ctx.stage)' is neither a source nor an output definition; define it (kind: source or output)")
    }

    /// Where the stage writes: its `destination`, else the output definitions in its `outputs`,
    /// else its seed row's destination system.
    func destinations(_ ctx: StageContext, _ stage: StageSpec) throws(StageError) -> [Endpoint] {
        let names = stage.destination.map { [$0] } ?? stage.outputs
        if !names.isEmpty {
            var out: [Endpoint] = []
            for n in names {
                guard let def = try ctx.definition(OutputSpec.self, n) else {
                    throw StageError("output '\(n)' of stage '\(ctx.stage)' is not an output definition in the run's catalog; define it (kind: output)")
                }
                out.append(Endpoint.from(output: n, def, context: ctx))
            }
            return out
        }
        if let seed = stage.seed, let system = seed.destination, let object = seed.written {
            return [try Endpoint.seed(system: system, object: object, context: ctx, isOutput: true)]
        }
        return []
    }
}

extension ETLExecutor {
    /// The rows a for_each stage loops over (`items: {source: NAME}`): those of a source
    /// definition, an output's newest version or `NAME@N`, each an object of its columns.
    public func rows(of text: String, _ ctx: StageContext) throws(StageError) -> [Value] {
        let source = try endpoint(reading: text, ctx)
        let table = try read([source], ctx).table
        return table.rows.map { row in .object(zip(table.columns, row).map { ($0, $1) }) }
    }
}
