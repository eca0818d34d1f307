import Foundation

/// The seed system `Delta Table`, stood in locally: a versioned table folder
/// `data/delta/<table>/` (next to the store) whose versions are the log's versions of dataset
/// `<table>`. Version N is the folder `v<N>/` (JSON Lines part files, each version written whole
/// into a folder of its own: a later version never changes an earlier one), and
/// `_ledgerflow_version` holds the number of the newest version written. A write makes the
/// version after the dataset's newest in the log when the attempt started, and its
/// `DatasetVersionWritten` (the dataset stream's next version) names the `v<N>` folder as its
/// location; a read takes the newest version the log records, at its location.
enum DeltaTable {
    /// The seed system's name, lowercased.
    static let system = "delta table"
    /// Where the tables are, relative to the project folder.
    static let place = "data/delta"
    /// The file in a table folder that holds the newest version written.
    static let marker = "_ledgerflow_version"

    /// The endpoint of table `table`: its next version (an output) or its newest (a source).
    static func endpoint(table: String, context: StageContext, isOutput: Bool) throws(StageError) -> Endpoint {
        let folder = context.resolve("\(place)/\(table)")
        if isOutput {
            let version = (context.datasetVersions[table] ?? 0) + 1
            var e = Endpoint(name: table, format: .jsonl, path: (folder as NSString).appendingPathComponent("v\(version)"), mode: "replace")
            e.deltaVersion = version
            return e
        }
        guard let location = context.datasetLocations[table], location.hasPrefix(folder + "/v") else {
            throw StageError("Delta table '\(table)' has no version in the log yet (its folder: \(folder)); run the stage that writes it first")
        }
        return Endpoint(name: table, format: .jsonl, path: location, pattern: "*.jsonl", mode: "replace")
    }

    /// After version `e.deltaVersion` of a table was written: its number into the table's marker
    /// (a temporary file renamed over the old one).
    static func mark(_ e: Endpoint, context: StageContext) throws(StageError) {
        guard let version = e.deltaVersion else { return }
        let folder = (e.path as NSString).deletingLastPathComponent
        let path = (folder as NSString).appendingPathComponent(marker)
        try context.checkWrite(path, for: "Delta table '\(e.name)'")
        do {
            try Data("\(version)\n".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw StageError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
