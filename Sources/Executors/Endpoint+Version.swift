import Catalog
import Domain
import Foundation

/// A version of a dataset a stage reads by name and number (`NAME@N`): what the log recorded of
/// it, which the rows read must match (a later write to the same place changes them).
public struct PinnedVersion: Sendable, Hashable {
    /// The version (of stream `dataset/NAME`).
    public var version: UInt64
    /// Rows and content hash the version recorded.
    public var rows: Int64
    public var contentHash: String
    /// The version was written partitioned (`col=value/` folders): read back in another row
    /// order, so only its rows are counted.
    public var partitioned: Bool

    /// A value with these fields.
    public init(version: UInt64, rows: Int64, contentHash: String, partitioned: Bool) {
        self.version = version
        self.rows = rows
        self.contentHash = contentHash
        self.partitioned = partitioned
    }

    /// Fails when `table`, read from `endpoint`, is not what the version recorded: naming the
    /// later version written to the same place (it overwrote the files) when the log has one.
    func check(_ table: Table, of endpoint: Endpoint, _ ctx: StageContext) throws(StageError) {
        let hash = partitioned ? nil : table.contentHash
        guard Int64(table.rows.count) != rows || (hash != nil && hash != contentHash) else { return }
        let found = "read \(table.rows.count) rows" + (hash.map { ", hash \($0.prefix(12))…" } ?? "")
        let recorded = "version \(version) recorded \(rows) rows" + (partitioned ? "" : ", hash \(contentHash.prefix(12))…")
        let what = "dataset '\(endpoint.name)' version \(version) can no longer be read from \(endpoint.location)"
        if let later = laterWrite(to: endpoint, ctx) {
            throw StageError("\(what): its files were overwritten by version \(later) (\(found); \(recorded)); to keep every version, "
                             + "write the output to a path of its own per run (e.g. `path: data/out/${run}`) and read NAME@N")
        }
        throw StageError("\(what): its files no longer hold what the log recorded (\(found); \(recorded)); they were changed outside ledgerflow")
    }

    /// The first version after this one written to the endpoint's location (point reads of the
    /// dataset's stream, from this version to the newest the attempt knows), nil when none was.
    func laterWrite(to endpoint: Endpoint, _ ctx: StageContext) -> UInt64? {
        guard let lookup = ctx.datasetVersion, let newest = ctx.datasetVersions[endpoint.name], newest > version else { return nil }
        for v in (version + 1)...newest {
            if let w = try? lookup(endpoint.name, v), w.location == endpoint.location { return v }
        }
        return nil
    }
}

extension Endpoint {
    /// Points the endpoint at a location as events record it (`path`, or `database#table`).
    mutating func place(at location: String) {
        if format == .sqlite, let hash = location.lastIndex(of: "#") {
            path = String(location[..<hash])
            table = String(location[location.index(after: hash)...])
            query = nil
        } else {
            path = location
        }
    }
}

extension ETLExecutor {
    /// Where version `version` of dataset `name` was written, as its `DatasetVersionWritten` says
    /// (location, format; a definition of that name lends its reading settings, such as a CSV
    /// delimiter). Fails naming the dataset's newest version when it has no such version.
    func pinnedEndpoint(_ name: String, version: UInt64, _ ctx: StageContext) throws(StageError) -> Endpoint {
        guard let lookup = ctx.datasetVersion else {
            throw StageError("stage '\(ctx.stage)' reads '\(name)@\(version)', but this attempt runs without a log to look the version up in")
        }
        let found: DatasetVersionWritten?
        do { found = try lookup(name, version) } catch {
            throw StageError("stage '\(ctx.stage)' reads '\(name)@\(version)', but the log could not be read: \(error)")
        }
        guard let written = found else {
            let newest = ctx.datasetVersions[name].map { "its newest version is \($0); read NAME@1 to NAME@\($0), or '\(name)' for the newest" }
            throw StageError("stage '\(ctx.stage)' reads '\(name)@\(version)', but dataset '\(name)' has no version \(version): "
                             + (newest ?? "ledgerflow has written no version of it yet"))
        }
        guard let format = Endpoint.Format(rawValue: written.format) else {
            throw StageError("stage '\(ctx.stage)' reads '\(name)@\(version)', which was written as \(written.format) (by a files stage): it has no rows to read")
        }
        var e = (try? endpoint(reading: name, ctx)) ?? Endpoint(name: name, format: format, path: written.location, mode: written.mode)
        e.format = format
        e.pattern = format == .sqlite ? nil : "*.\(format.rawValue)"
        e.place(at: written.location)
        e.pinned = PinnedVersion(version: version, rows: written.rows, contentHash: written.contentHash, partitioned: !written.partitions.isEmpty)
        return e
    }
}
