import ArgumentParser
import Domain
import EventLog
import Foundation
import Lineage

/// `lineage NODE`: where a node's data came from and where it went, from the lineage graph.
struct LineageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lineage",
        abstract: "Where a dataset, run, attempt or model version came from (upstream) and what came of it (downstream).",
        discussion: """
        NODE is one of \(LineageQuery.syntax). dataset:X without a version is its newest version \
        (or the source X when ledgerflow only reads it); model:M, definition:KIND/NAME and rule:KIND/NAME are their newest versions. \
        With --column C, traces one column of a dataset version back through the stages that computed it. \
        Read-only: works while an engine runs.
        """)
    @OptionGroup var store: StoreOptions
    @Argument(help: ArgumentHelp("The node, e.g. dataset:churn_predictions, dataset:churn_predictions@3, run:ID, model:churn@2.", valueName: "node"))
    var node: String
    @Flag(help: "Only what the node came from.") var upstream = false
    @Flag(help: "Only what came of the node.") var downstream = false
    @Option(parsing: .unconditional, help: "How many edges away to go (default 5).") var depth = 5
    @Option(parsing: .unconditional, help: "At most this many neighbours of each node (the rest are counted).") var limit = 25
    @Option(help: ArgumentHelp("Trace this column of a dataset version instead.", valueName: "column")) var column: String?
    @Option(help: "text (an indented tree), json, or dot (Graphviz: `dot -Tsvg`).") var format = "text"
    @Flag(help: "Print JSON (the same as --format json).") var json = false
    @Option(name: .customLong("at-seq"), parsing: .unconditional, help: "The graph as of this seq (default: now).") var atSeq: UInt64?

    func validate() throws {
        if upstream && downstream { throw ValidationError("use --upstream or --downstream, or neither for both") }
        if depth < 1 || depth > 50 { throw ValidationError("--depth must be between 1 and 50 (got \(depth))") }
        if limit < 1 { throw ValidationError("--limit must be at least 1 (got \(limit))") }
        guard ["text", "json", "dot"].contains(format) else { throw ValidationError("--format '\(format)' is not known; use text, json or dot") }
        if json && format == "dot" { throw ValidationError("use --json or --format dot, not both") }
        if column != nil && format == "dot" { throw ValidationError("--column prints a text or JSON trace; --format dot is for the graph") }
        if column != nil && downstream { throw ValidationError("--column traces a column upstream; leave out --downstream") }
    }

    func run() throws {
        let log = try store.openForReading()
        let asJSON = json || format == "json"
        let query: LineageQuery
        do { query = try LineageQuery.at(log, seq: atSeq) } catch let e as LineageError { throw CommandFailure(message: e.description) }
        do {
            let root = try query.resolve(node)
            if let column {
                let trace = try query.column(column, of: root, depth: depth)
                Output.line(asJSON ? trace.value.jsonString : trace.text)
                return
            }
            let answer = try query.answer(root: root, upstream: !downstream, downstream: !upstream, depth: depth, limit: limit)
            switch format {
            case "dot" where !json: Output.line(answer.dot)
            default: Output.line(asJSON ? answer.value.jsonString : answer.text)
            }
        } catch let e as LineageError {
            throw CommandFailure(message: "lineage: \(e.description)")
        }
    }
}
