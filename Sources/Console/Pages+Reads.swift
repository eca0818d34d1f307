import Catalog
import Domain
import Engine
import EventLog
import Foundation
import Hummingbird
import Lineage
import Projections

/// The pages over the API's other reads: schedules and their ticks, sensors and their arrivals,
/// notifications, the catalog (as of any moment) and a definition's history, models and one
/// model's versions with its metrics over time, the lineage graph, health and the audit head.
/// Each shows the value its API route answers (the CLI's `--json`), as tables.
extension ConsoleServer {
    func readPages(_ router: Router<BasicRequestContext>) {
        func page(_ path: String, _ title: @escaping @Sendable (Request, BasicRequestContext) throws -> String,
                  _ body: @escaping @Sendable (Request, BasicRequestContext) async throws -> String) {
            router.get(RouterPath(path)) { request, context in
                Reply.html(Pages.page(title: try title(request, context), head: try self.log.lastSeq(), body: try await body(request, context)))
            }
        }
        page("/schedules", { _, _ in "Schedules" }) { _, _ in
            let items = try ScheduleBook(self.log).list(next: 3, now: Int64(Date().timeIntervalSince1970 * 1e6)).items
            return "<h1>Schedules</h1>\n" + Pages.render(.array(items), links: ["name": { "/schedules/" + HTML.component($0) }, "job": { "/jobs/" + HTML.component($0) }])
        }
        page("/schedules/:name", { _, c in "Schedule \(try Self.path(c, "name"))" }) { _, c in
            let name = try Self.path(c, "name")
            let ticks = try Self.answering { try ScheduleBook(self.log).ticks(name, last: 200).items }
            return "<h1>Schedule \(HTML.escape(name))</h1>\n<p>Its newest 200 ticks, skips (with why) and releases.</p>\n" + Pages.render(.array(ticks), links: ["run": { "/runs/" + HTML.component($0) }])
        }
        page("/sensors", { _, _ in "Sensors" }) { _, _ in
            let runs = try self.runs.current()
            let all = try SensorReport.all(self.log, store: self.store, catalog: try RunCommands.catalog(self.log)).map { $0.value(store: self.store, runs: runs) }
            return "<h1>Sensors</h1>\n" + Pages.render(.array(all), links: ["name": { "/sensors/" + HTML.component($0) }, "job": { "/jobs/" + HTML.component($0) }])
        }
        page("/sensors/:name", { _, c in "Sensor \(try Self.path(c, "name"))" }) { _, c in
            let name = try Self.path(c, "name")
            let report = try Self.answering { try SensorReport.named(self.log, store: self.store, name: name, catalog: try RunCommands.catalog(self.log)) }
            let runs = try self.runs.current()
            return "<h1>Sensor \(HTML.escape(name))</h1>\n" + Pages.render(.array(report.history.arrivals.suffix(500).map { SensorReport.arrivalValue($0, runs: runs) }),
                                                                            links: ["run": { "/runs/" + HTML.component($0) }])
        }
        page("/notifications", { _, _ in "Notifications" }) { request, _ in
            let entries = try Self.answering { try NotificationViews.entries(self.log, run: Self.text(request, "run")) }.map(\.value)
            return "<h1>Notifications</h1>\n<p>The outbox: each message requested once per team and run, with its delivery attempts.</p>\n"
                + Pages.render(.array(entries), links: ["run": { "/runs/" + HTML.component($0) }])
        }
        page("/catalog", { _, _ in "Catalog" }) { request, _ in
            let (seq, phrase, state) = try self.catalogMoment(request)
            let entries = CatalogViews.show(state, seq: seq, kind: nil)
            var h = "<h1>Catalog</h1>\n<form method=\"get\" action=\"/catalog\"><label>as of <input name=\"as_of\" value=\"\(HTML.escape(Self.text(request, "as_of") ?? ""))\" placeholder=\"seq or 2026-11-22T10:30:00Z\"></label> <button>show</button></form>\n"
            h += "<p>\(HTML.escape(phrase)) (seq \(seq)).</p>\n"
            let defs = entries["definitions"]?.arrayValue ?? entries.arrayValue ?? []
            h += Pages.render(.array(defs.map { d in d.removing("spec") }), links: [:], rowLink: { d in
                guard let k = d["kind"]?.stringValue, let n = d["name"]?.stringValue else { return nil }
                return "/catalog/\(HTML.component(k))/\(HTML.component(n))"
            })
            return h
        }
        page("/catalog/:kind/:name", { _, c in "\(try Self.path(c, "kind")) \(try Self.path(c, "name"))" }) { _, c in
            let kind = try Self.path(c, "kind"), name = try Self.path(c, "name")
            let key = DefinitionKey(try Self.kind(kind), name)
            let history = CatalogViews.historyValue(key, try Self.answering { try CatalogViews.history(self.log, key) })
            return "<h1>\(HTML.escape(kind)) \(HTML.escape(name))</h1>\n<p>Every version, with what changed from the one before.</p>\n" + Pages.render(history)
        }
        page("/models", { _, _ in "Models" }) { _, _ in
            let list = ModelViews.list(try ModelViews.registry(self.log))
            return "<h1>Models</h1>\n" + Pages.render(list["models"] ?? list, links: ["name": { "/models/" + HTML.component($0) }])
        }
        page("/models/:name", { _, c in "Model \(try Self.path(c, "name"))" }) { _, c in
            let name = try Self.path(c, "name")
            let value: Value
            let state = try ModelViews.registry(self.log)
            do { value = try ModelViews.model(state, name).value } catch { throw ConsoleError(.notFound, "\(error)") }
            return "<h1>Model \(HTML.escape(name))</h1>\n" + (try self.metricsOverTime(name)) + Pages.render(value)
        }
        page("/lineage", { r, _ in "Lineage of \(Self.text(r, "node") ?? "?")" }) { request, _ in
            let r = try LineageRequest(request)
            let answer = try r.run(self.log) { query in
                let root = try query.resolve(r.node)
                if let column = r.column { return Pages.columnGraph(try query.column(column, of: root, depth: r.depth).value) }
                return try query.answer(root: root, upstream: r.upstream, downstream: r.downstream, depth: r.depth, limit: r.limit).value
            }
            var h = "<h1>Lineage of \(HTML.escape(r.node))\(r.column.map { " column " + HTML.escape($0) } ?? "")</h1>\n<form method=\"get\" action=\"/lineage\"><label>node <input name=\"node\" value=\"\(HTML.escape(r.node))\"></label> <button>show</button></form>\n"
            let svg = "/api/lineage/svg?node=\(HTML.component(r.node))&depth=\(r.depth)&limit=\(r.limit)" + (r.column.map { "&column=\(HTML.component($0))" } ?? "")
            h += "<div class=\"graph\" id=\"graph\">" + Pages.graphSVG(answer, root: answer["root"]?.stringValue ?? r.node) + "</div>\n"
            h += "<p><small>Drag to pan, wheel to zoom, click a node for its own lineage. As laid out by Graphviz: <a href=\"\(HTML.escape(svg))\">SVG</a>; as data: <a href=\"/api/lineage?node=\(HTML.escape(HTML.component(r.node)))\">JSON</a>.</small></p>\n"
            var nodes: [String] = []
            func collect(_ v: Value) {
                if let id = v["node"]?.stringValue ?? v["id"]?.stringValue, !nodes.contains(id) { nodes.append(id) }
                for m in v.objectMembers ?? [] { collect(m.value) }
                for x in v.arrayValue ?? [] { collect(x) }
            }
            collect(answer)
            h += "<h2>Nodes</h2>\n<ul class=\"nodes\">" + nodes.map { "<li><a href=\"/lineage?node=\(HTML.component($0))\">\(HTML.escape($0))</a></li>" }.joined() + "</ul>\n"
            return h
        }
        page("/health", { _, _ in "Health" }) { _, _ in
            let head = try self.log.head()
            let health = try self.healthValue()
            var h = "<h1>Health: \(health.healthy ? "<span class=\"status succeeded\">healthy</span>" : "<span class=\"status failed\">unhealthy</span>")</h1>\n"
            h += "<pre class=\"health\">\(HTML.escape(health.text.joined(separator: "\n")))</pre>\n"
            h += "<p>Log head: seq \(head.seq), recorded \(RunViews.timestamp(head.recordedAtMicros)).</p>\n"
            h += "<p>Audit anchor: <code id=\"anchor\">\(HTML.escape(head.anchorValue["anchor"]?.stringValue ?? "\(head.seq):\(head.hash.hex)"))</code> "
            h += "<button class=\"verify\" data-get=\"/api/audit/verify\">verify the chain</button> <span id=\"verify-result\"></span></p>\n"
            h += "<h2>Runs</h2>\n" + Pages.render(health.value["runs"] ?? .null)
            return h
        }
    }
}

extension ConsoleServer {
    /// A model's metrics over time (its `metrics/<model>` stream: holdout, labels, drift), a
    /// chart per metric (and per feature for PSI), with the thresholds of the monitors on it.
    func metricsOverTime(_ model: String) throws -> String {
        var series: [String: [(at: Int64, value: Double)]] = [:]
        for (e, m) in try metricObservations(model) {
            series[m.feature.map { "\(m.metric):\($0)" } ?? m.metric, default: []].append((e.recordedAtMicros, m.value))
        }
        guard !series.isEmpty else { return "" }
        var thresholds: [String: [(value: Double, above: Bool, monitor: String)]] = [:]
        for (key, entry) in try RunCommands.catalog(log).entries where key.kind == .monitor {
            guard let m = try? entry.spec(as: MonitorSpec.self), m.model == model else { continue }
            let name = m.feature.map { "\(m.metric.rawValue):\($0)" } ?? m.metric.rawValue
            if let a = m.above { thresholds[name, default: []].append((a, true, key.name)) }
            if let b = m.below { thresholds[name, default: []].append((b, false, key.name)) }
        }
        return "<h2>Metrics over time</h2>\n<div class=\"charts\">" + series.keys.sorted().map { Pages.chart($0, series[$0] ?? [], thresholds: thresholds[$0] ?? []) }.joined() + "</div>\n"
    }
}

extension ConsoleServer {
    /// Every metric observed for `model`, oldest first (its `metrics/<model>` stream).
    func metricObservations(_ model: String) throws -> [(RecordedEvent, MetricObserved)] {
        try log.read(stream: MLEvents.stream(metricsOf: model)).compactMap { e in
            guard e.type == MetricObserved.type, let m = try? e.decode(MetricObserved.self) else { return nil }
            return (e, m)
        }
    }

    /// `GET /api/models/{name}/metrics`: each observation with its time, seq, version and source,
    /// and the thresholds of the monitors on the model.
    func modelMetrics(_ name: String) throws -> Response {
        let state = try ModelViews.registry(log)
        guard state.models[name] != nil else { throw ConsoleError(.notFound, "no model '\(name)'; GET /api/models lists them") }
        let observed = try metricObservations(name).map { e, m in
            Value.object([("seq", .int(Int64(e.seq))), ("at", .string(Timestamp.rfc3339(micros: e.recordedAtMicros))), ("metric", .string(m.metric)),
                          ("feature", m.feature.map(Value.string) ?? .null), ("value", .double(m.value)), ("model_version", .int(Int64(m.modelVersion))),
                          ("source", .string(m.source)), ("n", .int(Int64(m.n))), ("run", m.run.map(Value.string) ?? .null)])
        }
        var monitors: [Value] = []
        for (key, entry) in try RunCommands.catalog(log).entries where key.kind == .monitor {
            guard let m = try? entry.spec(as: MonitorSpec.self), m.model == name else { continue }
            monitors.append(.object([("name", .string(key.name)), ("metric", .string(m.metric.rawValue)), ("feature", m.feature.map(Value.string) ?? .null),
                                     ("below", m.below.map(Value.double) ?? .null), ("above", m.above.map(Value.double) ?? .null)]))
        }
        return Reply.json(.object([("model", .string(name)), ("observations", .array(observed)), ("monitors", .array(monitors.sorted { ($0["name"]?.stringValue ?? "") < ($1["name"]?.stringValue ?? "") }))]))
    }
}

extension Value {
    /// The object without `key`.
    func removing(_ key: String) -> Value {
        guard let m = objectMembers else { return self }
        return .members(m.filter { $0.key != key })
    }
}

extension Pages {
    /// A value as HTML: an array of objects as a table (columns in first-seen order), an object
    /// as a definition list, other values as escaped text. `links` turns a column's text into a
    /// link; `rowLink` links a row's first cell.
    static func render(_ v: Value, links: [String: (String) -> String] = [:], rowLink: ((Value) -> String?)? = nil, depth: Int = 0) -> String {
        switch v {
        case .array(let items) where !items.isEmpty && items.allSatisfy({ $0.objectMembers != nil }):
            var columns: [String] = []
            for i in items { for m in i.objectMembers ?? [] where !columns.contains(m.key) { columns.append(m.key) } }
            var h = "<table class=\"data\"><tr>" + columns.map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr>\n"
            for i in items {
                h += "<tr>"
                for (n, c) in columns.enumerated() {
                    let cell = i[c] ?? .null
                    var text = compact(cell, depth: depth + 1)
                    if let link = links[c], let s = cell.stringValue { text = "<a href=\"\(HTML.escape(link(s)))\">\(HTML.escape(s))</a>" }
                    if n == 0, let url = rowLink?(i) { text = "<a href=\"\(HTML.escape(url))\">\(text)</a>" }
                    h += "<td>\(text)</td>"
                }
                h += "</tr>\n"
            }
            return h + "</table>\n"
        case .array(let items):
            return items.isEmpty ? "<p><i>none</i></p>\n" : "<ul>" + items.map { "<li>\(compact($0, depth: depth + 1))</li>" }.joined() + "</ul>\n"
        case .members(let members):
            return "<dl class=\"data\">" + members.map { m in
                var text = depth < 3 ? render(m.value, links: links, depth: depth + 1) : compact(m.value, depth: depth + 1)
                if let link = links[m.key], let s = m.value.stringValue { text = "<a href=\"\(HTML.escape(link(s)))\">\(HTML.escape(s))</a>" }
                return "<dt>\(HTML.escape(m.key))</dt><dd>\(text)</dd>"
            }.joined() + "</dl>\n"
        default:
            return compact(v, depth: depth)
        }
    }

    /// A value in a cell: text as is, numbers and booleans, short JSON for the rest (escaped).
    static func compact(_ v: Value, depth: Int) -> String {
        switch v {
        case .null: return ""
        case .string(let s): return HTML.escape(s)
        case .array, .members:
            let json = v.jsonString
            return "<code>\(HTML.escape(json.count > 400 ? String(json.prefix(399)) + "…" : json))</code>"
        default: return HTML.escape(v.jsonString)
        }
    }

    /// One metric's observations over time as a small line chart, with the monitors'
    /// thresholds on it as dashed lines (red: above it alerts; orange: below it alerts).
    static func chart(_ title: String, _ points: [(at: Int64, value: Double)], thresholds: [(value: Double, above: Bool, monitor: String)]) -> String {
        guard let first = points.first else { return "" }
        let values = points.map(\.value) + thresholds.map(\.value)
        let lo = values.min() ?? 0, hi = values.max() ?? 1
        let span = hi - lo == 0 ? 1 : hi - lo
        let t0 = first.at, t1 = max(first.at + 1, points.last?.at ?? first.at + 1)
        let w = 280.0, hgt = 90.0
        func y(_ v: Double) -> Double { hgt - 10 - (v - lo) / span * (hgt - 20) }
        func x(_ t: Int64) -> Double { 5 + Double(t - t0) / Double(t1 - t0) * (w - 10) }
        let coords = points.map { String(format: "%.1f,%.1f", points.count == 1 ? w / 2 : x($0.at), y($0.value)) }
        var h = "<figure class=\"chart\"><svg width=\"\(Int(w))\" height=\"\(Int(hgt))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">"
        for t in thresholds {
            h += String(format: "<line class=\"threshold\" x1=\"0\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-dasharray=\"4 3\"><title>%@</title></line>",
                        w, y(t.value), y(t.value), t.above ? "#cf222e" : "#bf8700", HTML.escape("monitor \(t.monitor): \(t.above ? "above" : "below") \(t.value)"))
        }
        h += "<polyline fill=\"none\" stroke=\"#0969da\" stroke-width=\"2\" points=\"\(coords.joined(separator: " "))\"/>"
        h += coords.map { c in let p = c.split(separator: ","); return "<circle cx=\"\(p[0])\" cy=\"\(p[1])\" r=\"2.5\" fill=\"#0969da\"/>" }.joined()
        h += "</svg><figcaption>\(HTML.escape(title)): \(String(format: "%.4g", points.last?.value ?? 0)) now, \(points.count) observation\(points.count == 1 ? "" : "s")"
        h += thresholds.map { "; \($0.above ? "alerts above" : "alerts below") \(String(format: "%.4g", $0.value))" }.joined() + "</figcaption></figure>"
        return h
    }
}

extension Pages {
    /// A column's trace (`{column, dataset, inputs: [...]}`) as a lineage answer: a node per
    /// dataset column, an edge from each input to the column it feeds.
    static func columnGraph(_ trace: Value) -> Value {
        var nodes: [Value] = []
        var seen: Set<String> = []
        var edges: [Value] = []
        func id(_ v: Value) -> String { "\(v["dataset"]?.stringValue ?? "?").\(v["column"]?.stringValue ?? "?")" }
        func walk(_ v: Value) {
            let me = id(v)
            if seen.insert(me).inserted {
                let label = [v["subtype"]?.stringValue, v["description"]?.stringValue, v["note"]?.stringValue].compactMap { $0 }.joined(separator: ", ")
                nodes.append(.object([("id", .string(me)), ("kind", "column"), ("label", .string(label)),
                                      ("dataset", v["dataset"] ?? .null), ("column", v["column"] ?? .null)]))
            }
            for input in v["inputs"]?.arrayValue ?? [] {
                edges.append(.object([("from", .string(id(input))), ("to", .string(me)), ("kind", .string(input["type"]?.stringValue ?? ""))]))
                walk(input)
            }
        }
        walk(trace)
        return .object([("nodes", .array(nodes)), ("edges", .array(edges)), ("root", .string(id(trace)))])
    }

    /// A lineage answer (`nodes`, `edges`) drawn as an inline SVG: nodes in columns by their
    /// depth from the sources (left to right, the way data flows), each a link to its own lineage,
    /// edges as arrows; every label escaped. The page's script pans and zooms its viewport.
    static func graphSVG(_ answer: Value, root: String, standalone: Bool = false) -> String {
        let nodes = answer["nodes"]?.arrayValue ?? []
        let edges = (answer["edges"]?.arrayValue ?? []).compactMap { e -> (String, String, String)? in
            guard let f = e["from"]?.stringValue, let t = e["to"]?.stringValue else { return nil }
            return (f, t, e["kind"]?.stringValue ?? "")
        }
        let ids = nodes.compactMap { $0["id"]?.stringValue }
        guard !ids.isEmpty else { return "<p><i>no lineage</i></p>\n" }
        let known = Set(ids)
        var level: [String: Int] = Dictionary(uniqueKeysWithValues: ids.map { ($0, 0) })
        // Longest path from a source, bounded by the node count (a cycle cannot loop forever).
        for _ in 0 ..< ids.count {
            var changed = false
            for (f, t, _) in edges where known.contains(f) && known.contains(t) {
                let l = (level[f] ?? 0) + 1
                if l > (level[t] ?? 0) && l < ids.count { level[t] = l; changed = true }
            }
            if !changed { break }
        }
        var columns: [Int: [String]] = [:]
        for id in ids { columns[level[id] ?? 0, default: []].append(id) }
        let boxW = 250.0, boxH = 38.0, gapX = 70.0, gapY = 18.0
        var at: [String: (x: Double, y: Double)] = [:]
        for (l, list) in columns {
            for (i, id) in list.sorted().enumerated() { at[id] = (Double(l) * (boxW + gapX) + 10, Double(i) * (boxH + gapY) + 10) }
        }
        let width = Double((columns.keys.max() ?? 0) + 1) * (boxW + gapX) + 20
        let height = Double(columns.values.map(\.count).max() ?? 1) * (boxH + gapY) + 20
        var h = "<svg class=\"lineage\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(standalone ? String(Int(width)) : "100%")\" height=\"\(Int(min(height, 2000)))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">"
        h += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#57606a\"/></marker></defs>"
            + (standalone ? "<style>rect { fill: #f6f8fa; stroke: #57606a; } .root rect { fill: #ddf4ff; stroke: #0969da; } text { font: 12px sans-serif; } text.sub { font-size: 10px; fill: #57606a; }</style>" : "")
            + "<g class=\"viewport\">"
        for (f, t, kind) in edges {
            guard let a = at[f], let b = at[t] else { continue }
            h += String(format: "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#8c959f\" marker-end=\"url(#arrow)\"><title>%@</title></line>",
                        a.x + boxW, a.y + boxH / 2, b.x, b.y + boxH / 2, HTML.escape("\(f) \(kind) \(t)"))
        }
        for n in nodes {
            guard let id = n["id"]?.stringValue, let p = at[id] else { continue }
            let kind = n["kind"]?.stringValue ?? ""
            let label = n["label"]?.stringValue ?? ""
            let short = { (s: String, k: Int) in s.count > k ? String(s.prefix(k - 1)) + "…" : s }
            var href = "/lineage?node=\(HTML.component(id))"
            if kind == "column", let d = n["dataset"]?.stringValue, let c = n["column"]?.stringValue {
                href = "/lineage?node=\(HTML.component("dataset:" + d))&column=\(HTML.component(c))"
            }
            h += "<a href=\"\(HTML.escape(href))\"><g class=\"node \(HTML.escape(kind))\(id == root ? " root" : "")\">"
            h += String(format: "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" rx=\"4\"/>", p.x, p.y, boxW, boxH)
            h += String(format: "<text x=\"%.0f\" y=\"%.0f\">%@</text>", p.x + 6, p.y + 15, HTML.escape(short(id, 40)))
            h += String(format: "<text class=\"sub\" x=\"%.0f\" y=\"%.0f\">%@</text>", p.x + 6, p.y + 31, HTML.escape(short(label, 44)))
            h += "<title>\(HTML.escape(id)): \(HTML.escape(label))</title></g></a>"
        }
        return h + "</g></svg>\n"
    }
}
