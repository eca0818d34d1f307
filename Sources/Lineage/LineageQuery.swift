import Catalog
import Domain
import EventLog
import Foundation
import Models
import Runs

/// A node of a lineage answer: its id, its kind (the id's prefix), one line for people and the
/// facts behind it, read from the events that define it.
public struct LineageNode: Sendable, Hashable {
    public var id: String
    public var kind: String
    public var label: String
    public var data: Value

    public var value: Value {
        .object([("data", data), ("id", .string(id)), ("kind", .string(kind)), ("label", .string(label))])
    }
}

/// One branch of a lineage tree: the edge that leads to `node` from its parent, and its own
/// branches (empty at the depth limit, or when the node was shown earlier: `repeated`).
public struct LineageBranch: Sendable {
    public var node: String
    public var edge: String?
    public var seq: UInt64?
    public var repeated = false
    public var children: [LineageBranch] = []
    /// Neighbours not shown (over the per-node limit).
    public var more = 0
}

/// An answer to `ledgerflow lineage`: the trees up and/or down from a node, and every node in them.
public struct LineageAnswer: Sendable {
    public var root: String
    public var asOf: UInt64
    public var depth: Int
    public var upstream: LineageBranch?
    public var downstream: LineageBranch?
    public var nodes: [String: LineageNode]
    public var edges: [LineageEdge]
    /// Events the graph could not read (payloads that do not decode): they add no edge, so the
    /// answer may lack some; listed (JSON `undecodable`, a note after the text, comments in dot)
    /// when there are any.
    public var undecodable: [DecodingFailure] = []

    /// `--json`: root, as_of, depth, nodes (sorted by id), edges (sorted), and the trees.
    public var value: Value {
        func tree(_ b: LineageBranch) -> Value {
            var m: [(String, Value)] = [("node", .string(b.node))]
            if let e = b.edge { m.append(("edge", .string(e))) }
            if let s = b.seq { m.append(("seq", .int(Int64(s)))) }
            if b.repeated { m.append(("repeated", .bool(true))) }
            if b.more > 0 { m.append(("more", .int(Int64(b.more)))) }
            if !b.children.isEmpty { m.append(("children", .array(b.children.map(tree)))) }
            return .object(m)
        }
        var m: [(String, Value)] = [("root", .string(root)), ("as_of_seq", .int(Int64(asOf))), ("depth", .int(Int64(depth))),
                                    ("nodes", .array(nodes.keys.sorted().compactMap { nodes[$0]?.value })),
                                    ("edges", .array(edges.sorted { ($0.seq, $0.from, $0.to, $0.kind) < ($1.seq, $1.from, $1.to, $1.kind) }.map(\.value)))]
        if let upstream { m.append(("upstream", tree(upstream))) }
        if let downstream { m.append(("downstream", tree(downstream))) }
        if !undecodable.isEmpty { m.append(("undecodable", .array(undecodable.map { .string($0.description) }))) }
        return .object(m)
    }

    /// An indented tree per direction, a node per line: `edge ← node  label` upstream,
    /// `edge → node  label` downstream.
    public var text: String {
        var lines: [String] = []
        func walk(_ b: LineageBranch, _ indent: String, _ arrow: String, last: Bool, top: Bool) {
            let label = nodes[b.node]?.label ?? ""
            if top {
                lines.append("\(b.node)  \(label)")
            } else {
                let tail = b.repeated ? "  (shown elsewhere in this tree)" : label.isEmpty ? "" : "  \(label)"
                lines.append("\(indent)\(last ? "└─" : "├─") \(b.edge ?? "") \(arrow) \(b.node)\(tail)")
            }
            let childIndent = top ? "" : indent + (last ? "   " : "│  ")
            for (i, c) in b.children.enumerated() {
                walk(c, childIndent, arrow, last: i == b.children.count - 1 && b.more == 0, top: false)
            }
            if b.more > 0 { lines.append("\(childIndent)└─ … \(b.more) more (raise --limit)") }
        }
        if let upstream {
            lines.append("upstream of \(root) (depth \(depth)):")
            walk(upstream, "", "←", last: true, top: true)
        }
        if let downstream {
            if !lines.isEmpty { lines.append("") }
            lines.append("downstream of \(root) (depth \(depth)):")
            walk(downstream, "", "→", last: true, top: true)
        }
        if !undecodable.isEmpty {
            lines.append("")
            lines.append("note: \(undecodable.count) event\(undecodable.count == 1 ? "" : "s") cannot be read and add no edge (the answer may lack some):")
            for f in undecodable { lines.append("  \(f)") }
        }
        return lines.joined(separator: "\n")
    }

    /// Graphviz: one node per id (labelled), one edge per lineage edge, data flowing left to right.
    public var dot: String {
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        let shapes = ["dataset": "cylinder", "run": "box", "attempt": "box", "model": "component", "definition": "note", "rule": "diamond",
                      "crossing": "octagon", "catalog": "folder"]
        var out = ["digraph lineage {", "  rankdir=LR;", "  node [fontname=\"Helvetica\", fontsize=10];", "  edge [fontname=\"Helvetica\", fontsize=9];"]
        for f in undecodable { out.append("  // cannot be read, adds no edge: \(f)") }
        for id in nodes.keys.sorted() {
            let n = nodes[id]!
            let bold = id == root ? ", penwidth=2" : ""
            out.append("  \(q(id)) [label=\(q(id + "\n" + n.label)), shape=\(shapes[n.kind] ?? "ellipse")\(bold)];")
        }
        var seen: Set<LineageEdge> = []
        for e in edges.sorted(by: { ($0.seq, $0.from, $0.to) < ($1.seq, $1.from, $1.to) }) where seen.insert(e).inserted {
            out.append("  \(q(e.from)) -> \(q(e.to)) [label=\(q(e.kind))];")
        }
        out.append("}")
        return out.joined(separator: "\n")
    }
}

/// Why a lineage question cannot be answered (unknown node, bad syntax): one line.
public struct LineageError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Answers lineage questions by walking the graph from a node, reading each node's facts from
/// the events that define it (a handful of point reads per node, whatever the log's size).
public final class LineageQuery: @unchecked Sendable {
    // @unchecked Sendable: caches are used from one thread at a time (one query per instance).
    public let graph: LineageGraph
    public var log: EventLog { graph.log }
    var runs: [String: RunHistory] = [:]
    var writes: [DatasetVersion: WrittenVersion] = [:]

    public init(graph: LineageGraph) { self.graph = graph }

    /// A query over the graph as of seq `atSeq` (nil: now); fails when the seq is past the end of
    /// the log (`name` is how the caller spells the option).
    public static func at(_ log: EventLog, seq atSeq: UInt64?, name: String = "--at-seq") throws -> LineageQuery {
        let head = try log.lastSeq()
        if let atSeq, atSeq > head { throw LineageError("\(name) \(atSeq) is past the end of the log (last seq \(head))") }
        return LineageQuery(graph: try LineageGraph(log: log, asOf: atSeq))
    }

    public static let syntax = "dataset:NAME[@VERSION], run:ID, attempt:RUN/STAGE/N, model:NAME[@VERSION|@ALIAS], definition:KIND/NAME[@VERSION], rule:KIND/NAME[@VERSION], crossing:SEQ, catalog:SEQ"

    /// The node id `text` names, with versions filled in: `dataset:X` is its newest version (or
    /// the source X when ledgerflow never wrote it), `model:M` its newest version, `model:M@ALIAS`
    /// the version the alias points at.
    public func resolve(_ text: String) throws -> String {
        guard let colon = text.firstIndex(of: ":") else {
            throw LineageError("'\(text)' is not a lineage node; name one as \(Self.syntax)")
        }
        let kind = String(text[..<colon]), rest = String(text[text.index(after: colon)...])
        guard !rest.isEmpty else { throw LineageError("'\(text)' names no \(kind); name one as \(Self.syntax)") }
        switch kind {
        case "dataset":
            let (name, version) = split(rest)
            let head = try log.streamVersion(RunEvents.stream(dataset: name), asOf: graph.asOf)
            if let version {
                guard let v = UInt64(version), v >= 1 else { throw LineageError("'\(text)': the version of a dataset is a number (dataset:\(name)@3)") }
                guard v <= head else {
                    throw LineageError(head == 0 ? "ledgerflow has written no version of dataset '\(name)'; `ledgerflow lineage dataset:\(name)` shows it as a source"
                                                 : "dataset '\(name)' has versions 1–\(head); there is no version \(v)")
                }
                return "dataset:\(name)@\(v)"
            }
            if head > 0 { return "dataset:\(name)@\(head)" }
            try requireInGraph(text, "no dataset '\(name)' is written or read in the log (as of seq \(graph.asOf)); `ledgerflow catalog show source` and `catalog show output` list the declared ones")
            return text
        case "model":
            let (name, ref) = split(rest)
            // The newest registration, or why it cannot be read (which refuses all but a version named by number).
            let newest: Result<Int64?, DecodingFailure>
            do {
                newest = .success(try models.newestVersion(name))
            } catch let failure as DecodingFailure {
                newest = .failure(failure)
            }
            func unresolvable(_ failure: DecodingFailure) -> LineageError {
                LineageError("model '\(name)' cannot be resolved (as of seq \(graph.asOf)): \(failure)")
            }
            if let ref, let v = Int64(ref), case .failure(let failure) = newest {
                guard v >= 1, try registration(name, v) != nil else { throw unresolvable(failure) }
                return "model:\(name)@\(v)"
            }
            guard let newest = try newest.mapError(unresolvable).get() else {
                throw LineageError("model '\(name)' has no version in the log (as of seq \(graph.asOf)); `ledgerflow models list` lists them")
            }
            guard let ref else { return "model:\(name)@\(newest)" }
            if let v = Int64(ref) {
                guard v >= 1, v <= newest, try registration(name, v) != nil else {
                    throw LineageError("model '\(name)' has versions 1–\(newest); there is no version \(v)")
                }
                return "model:\(name)@\(v)"
            }
            let aliased: Int64?
            do {
                aliased = try models.aliasVersion(name, ref)
            } catch let failure as DecodingFailure {
                throw unresolvable(failure)
            }
            guard let v = aliased else {
                throw LineageError("model '\(name)' has no alias '\(ref)' (as of seq \(graph.asOf)); `ledgerflow models show \(name)` lists its aliases")
            }
            return "model:\(name)@\(v)"
        case "run":
            guard try !history(rest).events.isEmpty else { throw LineageError("no run '\(rest)' in the log (as of seq \(graph.asOf)); `ledgerflow runs` lists them") }
            return text
        case "definition" where !rest.contains("@"), "rule" where !rest.contains("@"):
            // Without a version: the newest one as of the moment.
            guard let slash = rest.firstIndex(of: "/") else {
                throw LineageError("'\(text)' names no definition; name it as \(kind):KIND/NAME[@VERSION] (e.g. definition:job/101, rule:trigger/high_churn@2)")
            }
            let defKind = String(rest[..<slash]), name = String(rest[rest.index(after: slash)...])
            let stream = CatalogEvents.streamPrefix + rest
            let head = try log.streamVersion(stream, asOf: graph.asOf)
            guard head > 0, let last = try log.read(stream: stream, fromVersion: head, limit: 1).first else {
                throw LineageError("no \(defKind) '\(name)' was applied (as of seq \(graph.asOf)); `ledgerflow catalog show \(defKind)` lists them")
            }
            guard last.type != CatalogEvents.removed else {
                throw LineageError("\(defKind) '\(name)' was removed at version \(head) (seq \(last.seq)); name an earlier version, e.g. \(kind):\(rest)@\(head - 1)")
            }
            return LineageEdges.definition(defKind, name, Int64(head))
        case "attempt", "definition", "rule", "crossing", "catalog":
            try requireInGraph(text, "'\(text)' is not in the lineage graph (as of seq \(graph.asOf)); check the id (`ledgerflow status RUN` shows a run's attempts)")
            return text
        default:
            throw LineageError("'\(kind)' is not a kind of lineage node; name one as \(Self.syntax)")
        }
    }

    /// Throws `message` when `node` has no edge either way.
    func requireInGraph(_ node: String, _ message: String) throws {
        if try graph.neighbours(of: node, upstream: true, limit: 1).total == 0, try graph.neighbours(of: node, upstream: false, limit: 1).total == 0 {
            throw LineageError(message)
        }
    }

    func split(_ s: String) -> (String, String?) {
        guard let at = s.lastIndex(of: "@") else { return (s, nil) }
        return (String(s[..<at]), String(s[s.index(after: at)...]))
    }

    /// The trees from `root` (already resolved) up to `depth` edges away, each node's neighbours
    /// capped at `limit` (the rest counted), and at most `maxNodes` nodes in all.
    public func answer(root: String, upstream: Bool, downstream: Bool, depth: Int, limit: Int = 25, maxNodes: Int = 2_000) throws -> LineageAnswer {
        var nodes: [String: LineageNode] = [:]
        var edges: [LineageEdge] = []
        func walk(_ up: Bool) throws -> LineageBranch {
            var shown: Set<String> = [root]
            var rootBranch = LineageBranch(node: root)
            // Breadth first, so that a node is expanded where it is nearest the root.
            var frontier: [[Int]] = [[]]
            for _ in 0 ..< depth {
                var next: [[Int]] = []
                for path in frontier {
                    let id = branch(&rootBranch, path).node
                    let (ns, total) = try graph.neighbours(of: id, upstream: up, limit: limit)
                    var children: [LineageBranch] = []
                    for n in ns {
                        edges.append(up ? LineageEdge(from: n.node, to: id, kind: n.kind, seq: n.seq) : LineageEdge(from: id, to: n.node, kind: n.kind, seq: n.seq))
                        let fresh = shown.count < maxNodes && shown.insert(n.node).inserted
                        children.append(LineageBranch(node: n.node, edge: n.kind, seq: n.seq, repeated: !fresh))
                        if fresh { next.append(path + [children.count - 1]) }
                    }
                    modify(&rootBranch, path) { $0.children = children; $0.more = max(0, total - ns.count) }
                }
                frontier = next
                if frontier.isEmpty { break }
            }
            for id in shown where nodes[id] == nil { nodes[id] = try describe(id) }
            return rootBranch
        }
        let up = upstream ? try walk(true) : nil
        let down = downstream ? try walk(false) : nil
        for e in edges {
            for id in [e.from, e.to] where nodes[id] == nil { nodes[id] = try describe(id) }
        }
        return LineageAnswer(root: root, asOf: graph.asOf, depth: depth, upstream: up, downstream: down, nodes: nodes, edges: edges,
                             undecodable: graph.undecodable)
    }

    func branch(_ b: inout LineageBranch, _ path: [Int]) -> LineageBranch {
        var cur = b
        for i in path { cur = cur.children[i] }
        return cur
    }

    func modify(_ b: inout LineageBranch, _ path: ArraySlice<Int>, _ body: (inout LineageBranch) -> Void) {
        guard let first = path.first else { body(&b); return }
        modify(&b.children[first], path.dropFirst(), body)
    }

    func modify(_ b: inout LineageBranch, _ path: [Int], _ body: (inout LineageBranch) -> Void) { modify(&b, path[...], body) }

    // MARK: - Node facts

    /// Run `id`'s events as of the moment (each decoded at most once, when a fact needs it).
    func history(_ id: String) throws -> RunHistory {
        if let c = runs[id] { return c }
        let h = RunHistory(try log.read(stream: RunEvents.stream(run: id)).filter { $0.seq <= graph.asOf })
        runs[id] = h
        return h
    }

    /// Version `version` of dataset `name` as written (its `DatasetVersionWritten`, decoded once),
    /// nil when it was not written by the moment.
    func written(_ name: String, _ version: UInt64) throws -> WrittenVersion? {
        let key = DatasetVersion(name: name, version: version)
        if let c = writes[key] { return c }
        guard let w = try log.read(stream: RunEvents.stream(dataset: name), fromVersion: version, limit: 1).first, w.seq <= graph.asOf else { return nil }
        let decoded = WrittenVersion(event: w, written: Result { () throws(DecodingFailure) in try w.decode(DatasetVersionWritten.self) })
        writes[key] = decoded
        return decoded
    }

    var models: ModelLookup { ModelLookup(log: log, asOf: graph.asOf) }

    /// The registration of version `version` of `model`, read by the seq of an edge into its node.
    func registration(_ model: String, _ version: Int64) throws -> Registration? {
        let seqs = try graph.neighbours(of: LineageEdges.model(model, version), upstream: true, limit: 1).nodes.map(\.seq)
        return try models.registered(model, version, edgeSeqs: seqs)
    }

    /// A node's line and facts, from the events that define it.
    public func describe(_ id: String) throws -> LineageNode {
        let colon = id.firstIndex(of: ":")!
        let kind = String(id[..<colon]), rest = String(id[id.index(after: colon)...])
        func node(_ label: String, _ data: [(String, Value)]) -> LineageNode { LineageNode(id: id, kind: kind, label: label, data: .object(data)) }
        switch kind {
        case "dataset":
            let (name, v) = split(rest)
            guard let v, let version = UInt64(v), let found = try written(name, version) else {
                return node("source \(name) (read, not written by ledgerflow)", [("dataset", .string(name))])
            }
            let w = found.event
            let d: DatasetVersionWritten
            switch found.written {
            case .success(let written): d = written
            case .failure(let failure):
                return node("\(name) v\(version): cannot be read (\(failure))",
                            [("dataset", .string(name)), ("version", .int(Int64(version))), ("seq", .int(Int64(w.seq))), ("error", .string(failure.description))])
            }
            var data: [(String, Value)] = [
                ("dataset", .string(name)), ("version", .int(Int64(version))), ("seq", .int(Int64(w.seq))), ("rows", .int(d.rows)),
                ("location", .string(d.location)), ("format", .string(d.format)), ("content_hash", .string(d.contentHash)),
                ("schema", Self.schema(d.schema)), ("run", .string(d.run)), ("stage", .string(d.stage)), ("attempt", .int(Int64(d.attempt))),
                ("recorded_at", .string(Timestamp.rfc3339(micros: w.recordedAtMicros)))]
            // A files stage's version: what it copied, moved or deleted.
            let what = d.files.isEmpty ? "\(d.rows) rows at" : "\(d.files.count) files (\(d.mode)) at"
            if !d.files.isEmpty { data.append(("files", .array(d.files.map(\.value)))) }
            return node("\(name) v\(version): \(what) \(d.location) (run \(d.run), \(Timestamp.rfc3339(micros: w.recordedAtMicros)))", data)
        case "run":
            let h = try history(rest)
            guard let req = h.events.first, let requested = h.requested else { return node("run \(rest) (not in the log)", [("run", .string(rest))]) }
            let status = Self.runStatus(h.events)
            let r: RunRequested
            switch requested {
            case .success(let decoded): r = decoded
            case .failure(let failure):
                return node("run \(rest) (\(status); its request cannot be read: \(failure))",
                            [("run", .string(rest)), ("status", .string(status)), ("seq", .int(Int64(req.seq))), ("error", .string(failure.description))])
            }
            let t = r.trigger
            return node("run \(rest) of job \(r.job) (\(status), \(t.kind.rawValue) by \(t.by ?? req.actor))",
                        [("run", .string(rest)), ("job", .string(r.job)), ("job_version", .int(Int64(r.jobVersion))),
                         ("catalog_seq", .int(Int64(r.catalogSeq))), ("status", .string(status)), ("trigger", t.value),
                         ("parameters", r.parameters), ("seq", .int(Int64(req.seq)))])
        case "attempt":
            let parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 3, let n = Int64(parts.last!) else { return node(rest, []) }
            let run = parts[0], stage = parts[1 ..< parts.count - 1].joined(separator: "/")
            let h = try history(run)
            // The attempt's last outcome: its success, failure or cancellation.
            var status = "running", durationMs: Int64?, outputs: Value?, error: String?
            for (_, event) in h.outcomes.decoded {
                switch event {
                case .succeeded(let s) where s.stage == stage && Int64(s.attempt) == n:
                    (status, durationMs, outputs, error) = ("succeeded", s.durationMs, s.outputs, nil)
                case .failed(let f) where f.stage == stage && Int64(f.attempt) == n:
                    (status, durationMs, outputs, error) = ("failed", f.durationMs, nil, f.error)
                case .cancelled(let c) where c.stage == stage && c.attempt.map({ Int64($0) }) == n:
                    (status, durationMs, outputs, error) = ("cancelled", nil, nil, nil)
                default: break
                }
            }
            var data: [(String, Value)] = [("run", .string(run)), ("stage", .string(stage)), ("attempt", .int(n)), ("status", .string(status)),
                                           ("duration_ms", durationMs.map { .int($0) } ?? .null), ("outputs", outputs ?? .null)]
            var extra = ""
            if let p = ReportedOutputs(outputs).predictionsRecorded, p > 0 {
                extra = ", \(p) predictions in predictions/\(run)"
                data.append(("predictions", .object([("stream", .string(MLEvents.stream(predictionsOfRun: run))), ("count", .int(p))])))
            }
            if let e = error { extra += ": \(e)" }
            var type = "stage"
            if case .success(let r)? = h.requested, let planned = r.stages.first(where: { $0.name == stage }) { type = planned.type }
            // What could not be read of what this reads: the run's request and its stage outcomes.
            var unreadable = h.outcomes.failures
            if case .failure(let f)? = h.requested { unreadable.insert(f, at: 0) }
            if !unreadable.isEmpty {
                extra += " [\(unreadable.count) event\(unreadable.count == 1 ? "" : "s") of the run cannot be read: \(unreadable[0])]"
                data.append(("unreadable", .array(unreadable.map { .string($0.description) })))
            }
            return node("\(type) stage \(stage) of run \(run), attempt \(n) (\(status)\(durationMs.map { " in \($0) ms" } ?? ""))\(extra)", data)
        case "model":
            let (name, v) = split(rest)
            guard let version = v.flatMap(Int64.init),
                  let r = try registration(name, version) else {
                return node("model \(rest) (not registered)", [("model", .string(name))])
            }
            let m = r.registered
            // The metrics are open (each type reports its own): shown as reported.
            let metrics = (m.metrics.objectMembers ?? []).filter { !$0.key.hasSuffix("_rows") }.prefix(3).map { "\($0.key) \(Why.short($0.value))" }.joined(separator: ", ")
            return node("model \(name) v\(version) (\(m.modelType)\(metrics.isEmpty ? "" : ", \(metrics)"))",
                        [("model", .string(name)), ("version", .int(version)), ("type", .string(m.modelType)), ("metrics", m.metrics),
                         ("artifact", m.artifact.value), ("training_dataset", m.trainingDataset.value), ("seq", .int(Int64(r.event.seq)))])
        case "definition", "rule":
            let (path, v) = split(rest)
            let stream = "definition/\(path)"
            if let v, let version = UInt64(v), let d = try log.read(stream: stream, fromVersion: version, limit: 1).first {
                // The version's DefinitionApplied, or its DefinitionRemoved (no spec).
                let kind: String, name: String, spec: Value?, specHash: String?, file: String?
                do throws(DecodingFailure) {
                    if let removed = try d.decodeIf(DefinitionRemoved.self) {
                        (kind, name, spec, specHash, file) = (removed.kind, removed.name, nil, nil, nil)
                    } else {
                        let applied = try d.decode(DefinitionApplied.self)
                        (kind, name, spec, specHash, file) = (applied.kind, applied.name, applied.spec, applied.specHash, applied.file)
                    }
                } catch {
                    return node("\(path.replacingOccurrences(of: "/", with: " ")) v\(version): cannot be read (\(error))",
                                [("definition", .string(path)), ("version", .int(Int64(version))), ("seq", .int(Int64(d.seq))), ("error", .string(error.description))])
                }
                var data: [(String, Value)] = [("kind", .string(kind)), ("name", .string(name)), ("version", .int(Int64(version))),
                                               ("spec_hash", specHash.map { .string($0) } ?? .null), ("seq", .int(Int64(d.seq))),
                                               ("file", file.map { .string($0) } ?? .null)]
                var what = ""
                if let spec, let defKind = DefinitionKind(rawValue: kind) {
                    do throws(DecodingFailure) {
                        let typed = try DefinitionSpec(defKind, spec)
                        what = (typed.condition ?? typed.summary).map { ": \($0)" } ?? ""
                    } catch {
                        what = " (its spec cannot be read: \(error))"
                        data.append(("error", .string(error.description)))
                    }
                }
                return node("\(path.replacingOccurrences(of: "/", with: " ")) v\(version)\(what)", data)
            }
            return node(path.replacingOccurrences(of: "/", with: " "), [("definition", .string(path))])
        case "crossing":
            guard let seq = UInt64(rest), let c = try log.event(at: seq) else { return node("crossing at seq \(rest)", []) }
            let crossed: ThresholdCrossed
            do throws(DecodingFailure) {
                crossed = try c.decode(ThresholdCrossed.self)
            } catch {
                return node("crossing at seq \(rest): cannot be read (\(error))", [("seq", .int(Int64(seq))), ("error", .string(error.description))])
            }
            return node("\(Why.ruleStep(crossed, c).text) for \(crossed.subject)", [("seq", .int(Int64(seq))), ("crossing", c.payload)])
        case "catalog":
            return node("the catalog as of seq \(rest)", [("seq", .int(Int64(rest) ?? 0))])
        default:
            return node(rest, [])
        }
    }

    /// A dataset's schema as its events store it (each column's members in canonical order).
    static func schema(_ columns: [SchemaColumn]) -> Value {
        .array(columns.map { .members([Value.Member("name", .string($0.name)), Value.Member("type", .string($0.type))]) })
    }

    static func runStatus(_ events: [RecordedEvent]) -> String {
        switch events.last?.type {
        case RunEvents.runSucceeded: return "succeeded"
        case RunEvents.runFailed: return "failed"
        case RunEvents.runCancelled: return "cancelled"
        default: return "running"
        }
    }
}

extension DefinitionSpec {
    /// A trigger's condition (what the lineage node of a trigger says).
    var condition: String? {
        if case .trigger(let t) = self { return t.condition }
        return nil
    }

    /// The definition's free-text description, for the kinds that have one.
    var summary: String? {
        switch self {
        case .job(let s): return s.description
        case .model(let s): return s.description
        case .features(let s): return s.description
        case .dependency(let s): return s.description
        case .trigger(let s): return s.description
        case .output(let s): return s.description
        case .source(let s): return s.description
        case .configTable(let s): return s.description
        case .columnMapping(let s): return s.description
        case .monitor(let s): return s.description
        case .schedule(let s): return s.description
        case .sensor(let s): return s.description
        case .team(let s): return s.description
        case .secret(let s): return s.description
        case .notifier(let s): return s.description
        }
    }
}

/// A run's events as of a moment, each decoded at most once and only when a fact needs it: the
/// request for the run's node, the stage outcomes for its attempts and for column lineage.
final class RunHistory {
    let events: [RecordedEvent]

    init(_ events: [RecordedEvent]) { self.events = events }

    /// The run's request (its first event), or why it cannot be read; nil when the run has no event.
    lazy var requested: Result<RunRequested, DecodingFailure>? = events.first.map { e in
        Result { () throws(DecodingFailure) in try e.decode(RunRequested.self) }
    }

    /// The stage outcomes (successes, failures, cancellations) in log order with their envelopes,
    /// and those that cannot be read.
    lazy var outcomes: (decoded: [(event: RecordedEvent, outcome: RunEvent)], failures: [DecodingFailure]) = {
        var decoded: [(event: RecordedEvent, outcome: RunEvent)] = [], failures: [DecodingFailure] = []
        for e in events where RunHistory.outcomeTypes.contains(e.type) {
            do throws(DecodingFailure) {
                if let outcome = try RunEvent(e) { decoded.append((e, outcome)) }
            } catch {
                failures.append(error)
            }
        }
        return (decoded, failures)
    }()

    static let outcomeTypes: Set<String> = [RunEvents.stageSucceeded, RunEvents.stageFailed, RunEvents.stageCancelled]

    /// The first success of `stage`'s attempt `attempt`, with its envelope.
    func succeeded(_ stage: String, _ attempt: Int) -> (event: RecordedEvent, succeeded: StageSucceeded)? {
        for (e, outcome) in outcomes.decoded {
            if case .succeeded(let s) = outcome, s.stage == stage, s.attempt == attempt { return (e, s) }
        }
        return nil
    }
}

/// A dataset version, as a key.
struct DatasetVersion: Hashable {
    let name: String
    let version: UInt64
}

/// A dataset version's `DatasetVersionWritten`, decoded once, or why it could not be.
struct WrittenVersion {
    let event: RecordedEvent
    let written: Result<DatasetVersionWritten, DecodingFailure>
}
