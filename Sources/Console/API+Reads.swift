import Catalog
import Domain
import Engine
import EventLog
import Foundation
import HTTPTypes
import Hummingbird
import Lineage
import Models
import Projections

/// The API's reads beyond runs, events and health: each answers what the CLI's `--json` prints
/// for the same read, from the same views (`CatalogViews`, `ModelViews`, `LineageQuery`, `Why`,
/// `ScheduleBook`, `SensorReport`, `NotificationViews`, the log's verify report).
extension ConsoleServer {
    /// The read routes (appended to `apiRoutes()`).
    func readRoutes() -> [Route] {
        [
            ("/api/catalog", { request, _ in try self.catalogShow(request) }),
            ("/api/catalog/:kind/:name", { request, context in try self.catalogDefinition(try Self.path(context, "kind"), try Self.path(context, "name"), request) }),
            ("/api/catalog/:kind/:name/history", { _, context in try self.catalogHistory(try Self.path(context, "kind"), try Self.path(context, "name")) }),
            ("/api/models", { _, _ in Reply.json(ModelViews.list(try ModelViews.registry(self.log))) }),
            ("/api/models/:name", { _, context in try self.model(try Self.path(context, "name")) }),
            ("/api/models/:name/diff", { request, context in try self.modelDiff(try Self.path(context, "name"), request) }),
            ("/api/models/:name/metrics", { _, context in try self.modelMetrics(try Self.path(context, "name")) }),
            ("/api/lineage", { request, _ in try self.lineage(request) }),
            ("/api/lineage/svg", { request, _ in try await self.lineageSVG(request) }),
            ("/api/runs/:id/why", { _, context in try self.why(try Self.path(context, "id")) }),
            ("/api/schedules", { request, _ in try self.schedules(request) }),
            ("/api/schedules/:name/ticks", { request, context in try self.scheduleTicks(try Self.path(context, "name"), request) }),
            ("/api/sensors", { _, _ in try self.sensors() }),
            ("/api/sensors/:name/arrivals", { request, context in try self.sensorArrivals(try Self.path(context, "name"), request) }),
            ("/api/notifications", { request, _ in try self.notifications(request) }),
            ("/api/audit/head", { _, _ in Reply.json(try self.log.head().anchorValue) }),
            ("/api/audit/verify", { request, _ in try self.auditVerify(request) }),
        ]
    }

    /// A path parameter, percent-decoded (the router leaves it encoded).
    static func path(_ context: BasicRequestContext, _ name: String) throws -> String {
        let raw = try context.parameters.require(name)
        return raw.removingPercentEncoding ?? raw
    }

    /// A query parameter's text; nil when absent or empty.
    static func text(_ request: Request, _ name: String) -> String? {
        request.uri.queryParameters[name[...]].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A view's `ReadFailure` as the console's error (400 or 404).
    static func answering<T>(_ read: () throws -> T) throws -> T {
        do { return try read() } catch let e as ReadFailure {
            throw ConsoleError(e.kind == .badRequest ? .badRequest : .notFound, e.description)
        }
    }

    // MARK: catalog

    static func kind(_ text: String) throws -> DefinitionKind {
        guard let k = DefinitionKind(rawValue: text) else {
            throw ConsoleError(.notFound, "unknown kind '\(text)'; \(Suggest.fix(for: text, in: DefinitionKind.allCases.map(\.name), noun: "one of the kinds"))")
        }
        return k
    }

    /// The catalog's seq and phrase as of `as_of` (a seq, or an RFC 3339 time or date; default now).
    func catalogMoment(_ request: Request) throws -> (seq: UInt64, phrase: String, state: CatalogState) {
        var atSeq: UInt64?, asOf: Int64?
        if let text = Self.text(request, "as_of") {
            if text.allSatisfy(\.isNumber) {
                guard let n = UInt64(text) else { throw ConsoleError(.badRequest, "as_of \(text) is not a seq; give a seq or a time such as 2026-11-22T10:30:00Z") }
                atSeq = n
            } else {
                guard let micros = Timestamp.parse(text) else {
                    throw ConsoleError(.badRequest, "as_of '\(text)' is neither a seq nor a time: write e.g. 1200, 2026-11-22T10:30:00Z or 2026-11-22")
                }
                asOf = micros
            }
        }
        let (seq, phrase) = try Self.answering { try CatalogViews.moment(log, atSeq: atSeq, asOfMicros: asOf, atSeqName: "as_of") }
        return (seq, phrase, try ProjectionRunner(log: log, projection: CatalogProjection()).state(at: seq).state)
    }

    /// The definitions in force as of `as_of`, of `kind` or all (`catalog show [KIND] --json`).
    func catalogShow(_ request: Request) throws -> Response {
        var kind: DefinitionKind?
        if let text = Self.text(request, "kind") {
            guard let k = DefinitionKind(rawValue: text) else {
                throw ConsoleError(.badRequest, "kind '\(text)' is not known; \(Suggest.fix(for: text, in: DefinitionKind.allCases.map(\.name), noun: "one of the kinds"))")
            }
            kind = k
        }
        let (seq, _, state) = try catalogMoment(request)
        return Reply.json(CatalogViews.show(state, seq: seq, kind: kind))
    }

    /// One definition as of `as_of` (`catalog show KIND NAME --json`).
    func catalogDefinition(_ kind: String, _ name: String, _ request: Request) throws -> Response {
        let key = DefinitionKey(try Self.kind(kind), name)
        let (_, phrase, state) = try catalogMoment(request)
        return Reply.json(CatalogProjection.entryValue(try Self.answering { try CatalogViews.entry(state, key, phrase: phrase) }))
    }

    /// Every version of a definition with its diff to the one before (`catalog history KIND NAME --json`).
    func catalogHistory(_ kind: String, _ name: String) throws -> Response {
        let key = DefinitionKey(try Self.kind(kind), name)
        return Reply.json(CatalogViews.historyValue(key, try Self.answering { try CatalogViews.history(log, key) }))
    }

    // MARK: models

    /// One model: versions, metrics, alias history (`models show NAME --json`).
    func model(_ name: String) throws -> Response {
        let state = try ModelViews.registry(log)
        do { return Reply.json(try ModelViews.model(state, name).value) } catch { throw ConsoleError(.notFound, error.description) }
    }

    /// What differs between versions `from` and `to` (numbers or aliases; `models diff NAME [FROM [TO]] --json`).
    func modelDiff(_ name: String, _ request: Request) throws -> Response {
        let state = try ModelViews.registry(log)
        let from = Self.text(request, "from"), to = Self.text(request, "to")
        if from == nil, to != nil { throw ConsoleError(.badRequest, "to needs from: give from=VERSION&to=VERSION, or neither for the newest against the one before") }
        do {
            _ = try ModelViews.model(state, name)
            return Reply.json(try ModelViews.diff(state, model: name, from: from, to: to).value)
        } catch { throw ConsoleError(.notFound, error.description) }
    }

    // MARK: lineage

    /// A lineage request's parameters, as `ledgerflow lineage` takes them.
    struct LineageRequest {
        var node: String
        var upstream = true
        var downstream = true
        var depth = 5
        var limit = 25
        var column: String?
        var atSeq: UInt64?

        init(_ request: Request) throws {
            guard let node = ConsoleServer.text(request, "node") else {
                throw ConsoleError(.badRequest, "node is required: name one as \(LineageQuery.syntax)")
            }
            self.node = node
            switch ConsoleServer.text(request, "direction") ?? "both" {
            case "both": break
            case "upstream": downstream = false
            case "downstream": upstream = false
            case let other: throw ConsoleError(.badRequest, "direction '\(other)' is not one of upstream, downstream, both")
            }
            let q = request.uri.queryParameters
            depth = try ConsoleServer.integer(q["depth"], "depth", default: 5, in: 1...50)
            limit = try ConsoleServer.integer(q["limit"], "limit", default: 25, in: 1...Int.max)
            column = ConsoleServer.text(request, "column")
            if column != nil && !upstream { throw ConsoleError(.badRequest, "column traces a column upstream; leave out direction=downstream") }
            if q["at_seq"] != nil { atSeq = UInt64(try ConsoleServer.integer(q["at_seq"], "at_seq", default: 0, in: 0...Int.max)) }
        }

        /// The query as of `at_seq`; a `LineageError` becomes 400 (how the node is written) or 404 (what it names is not there).
        func run<T>(_ log: EventLog, _ body: (LineageQuery) throws -> T) throws -> T {
            do {
                return try body(try LineageQuery.at(log, seq: atSeq, name: "at_seq"))
            } catch let e as LineageError {
                let malformed = ["name one as", "name it as", "is a number", "past the end of the log", "column lineage is for"].contains { e.description.contains($0) }
                throw ConsoleError(malformed ? .badRequest : .notFound, "lineage: \(e.description)")
            }
        }
    }

    /// Where a node came from and what came of it, or a column's trace (`lineage NODE --json`, `--column C`).
    func lineage(_ request: Request) throws -> Response {
        let r = try LineageRequest(request)
        return Reply.json(try r.run(log) { query in
            let root = try query.resolve(r.node)
            if let column = r.column { return try query.column(column, of: root, depth: r.depth).value }
            return try query.answer(root: root, upstream: r.upstream, downstream: r.downstream, depth: r.depth, limit: r.limit).value
        })
    }

    /// The lineage graph as SVG: `lineage NODE --format dot` laid out by Graphviz (`dot -Tsvg`, at most 10 s).
    func lineageSVG(_ request: Request) async throws -> Response {
        let r = try LineageRequest(request)
        if let column = r.column {
            // A column's trace has no Graphviz form in the CLI: the console draws it itself.
            let trace = try r.run(log) { query in try query.column(column, of: try query.resolve(r.node), depth: r.depth).value }
            let graph = Pages.columnGraph(trace)
            let svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + Pages.graphSVG(graph, root: graph["root"]?.stringValue ?? "", standalone: true)
            return Response(status: .ok, headers: [.contentType: "image/svg+xml"], body: ResponseBody(byteBuffer: ByteBuffer(string: svg)))
        }
        let dot = try r.run(log) { query in
            try query.answer(root: try query.resolve(r.node), upstream: r.upstream, downstream: r.downstream, depth: r.depth, limit: r.limit).dot
        }
        let svg = try await Graphviz.svg(dot)
        return Response(status: .ok, headers: [.contentType: "image/svg+xml"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: svg)))
    }

    // MARK: why

    /// A run's causal chain (`why RUN --json`).
    func why(_ id: String) throws -> Response {
        do { return Reply.json(try Why(log: log).explainValue(run: id)) } catch let e as WhyError { throw ConsoleError(.notFound, e.description) }
    }

    // MARK: automation

    /// Each schedule with its next `next` ticks (0–100, default 3) and last tick (`schedules list --json`).
    func schedules(_ request: Request) throws -> Response {
        let next = try ConsoleServer.integer(request.uri.queryParameters["next"], "next", default: 3, in: 0...100)
        let items = try ScheduleBook(log).list(next: next, now: Int64(Date().timeIntervalSince1970 * 1e6)).items
        return Reply.json(.array(items))
    }

    /// A schedule's newest `last` events (0: all; default 100) as ticks, skips and releases (`schedules ticks NAME --json`).
    func scheduleTicks(_ name: String, _ request: Request) throws -> Response {
        let last = try ConsoleServer.integer(request.uri.queryParameters["last"], "last", default: 100, in: 0...Int.max)
        let book = try ScheduleBook(log)
        return Reply.json(.array(try Self.answering { try book.ticks(name, last: last).items }))
    }

    /// Each sensor: folder, pattern, job, state, arrivals, polls (`sensors list --json`).
    func sensors() throws -> Response {
        let catalog = try RunCommands.catalog(log)
        let runs = try self.runs.current()
        return Reply.json(.array(try SensorReport.all(log, store: store, catalog: catalog).map { $0.value(store: store, runs: runs) }))
    }

    /// A sensor's arrivals, oldest first, the newest `limit` (default all) (`sensors arrivals NAME --json`).
    func sensorArrivals(_ name: String, _ request: Request) throws -> Response {
        let q = request.uri.queryParameters
        let limit = q["limit"] == nil ? nil : try ConsoleServer.integer(q["limit"], "limit", default: 1, in: 1...Int.max)
        let report = try Self.answering { try SensorReport.named(log, store: store, name: name, catalog: try RunCommands.catalog(log)) }
        let runs = try self.runs.current()
        let arrivals = limit.map { Array(report.history.arrivals.suffix($0)) } ?? report.history.arrivals
        return Reply.json(.array(arrivals.map { SensorReport.arrivalValue($0, runs: runs) }))
    }

    /// The notification outbox, of one `run` or all (`notifications [--run N] --json`).
    func notifications(_ request: Request) throws -> Response {
        let run = Self.text(request, "run")
        return Reply.json(.array(try Self.answering { try NotificationViews.entries(log, run: run) }.map(\.value)))
    }

    // MARK: audit

    /// The hash chain recomputed from seq 1 (and the indexes unless `indexes=false`), against an
    /// optional `anchor=SEQ:HASH` (`audit verify [--no-indexes] [--anchor] --json`); a failed
    /// verification is a 200 with `ok: false`, as the CLI prints it. Reads the whole log.
    func auditVerify(_ request: Request) throws -> Response {
        var anchor: (seq: UInt64, hash: ChainHash)?
        if let text = Self.text(request, "anchor") {
            guard let parsed = ChainHead.parseAnchor(text) else {
                throw ConsoleError(.badRequest, "anchor must be SEQ:HASH with a 64-digit hex hash, as GET /api/audit/head gives it (got '\(text)')")
            }
            anchor = parsed
        }
        let indexes: Bool
        switch Self.text(request, "indexes") ?? "true" {
        case "true": indexes = true
        case "false": indexes = false
        case let other: throw ConsoleError(.badRequest, "indexes must be true or false (got '\(other)')")
        }
        let report = try log.verify(anchor: anchor)
        return Reply.json(report.value(indexes: indexes ? try log.verifyIndexes() : nil))
    }
}

/// Graphviz as a subprocess: DOT in, SVG out, killed after a timeout.
enum Graphviz {
    /// `dot -Tsvg` of `dot` (through files, so no pipe can fill), given `seconds` at most.
    static func svg(_ dot: String, seconds: Int = 10) async throws -> [UInt8] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ledgerflow-dot-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let input = folder + "/graph.dot", output = folder + "/graph.svg", errors = folder + "/stderr"
        try dot.write(toFile: input, atomically: false, encoding: .utf8)
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    _ = FileManager.default.createFile(atPath: errors, contents: nil)
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                    process.arguments = ["timeout", "-s", "KILL", String(seconds), "dot", "-Tsvg", "-o", output, input]
                    process.standardInput = FileHandle.nullDevice
                    process.standardOutput = FileHandle.nullDevice
                    process.standardError = FileHandle(forWritingAtPath: errors)
                    try process.run()
                    process.waitUntilExit()
                    continuation.resume(returning: process.terminationStatus)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        switch status {
        case 0: return [UInt8](try Data(contentsOf: URL(fileURLWithPath: output)))
        case 124, 137: throw ConsoleError(.serviceUnavailable, "laying out the lineage graph took over \(seconds) s; ask for less (a smaller depth or limit)")
        case 127: throw ConsoleError(.serviceUnavailable, "Graphviz `dot` is not installed here; install graphviz, or read the graph as JSON from /api/lineage")
        default:
            let said = (try? String(contentsOfFile: errors, encoding: .utf8))?.split(separator: "\n").first.map(String.init) ?? ""
            throw ConsoleError(.internalServerError, "Graphviz dot failed (exit \(status)): \(said)")
        }
    }
}
