import Domain
import Engine
import Foundation
import Hummingbird
import Runs

/// The cross-job timeline and a job's history grid.
extension ConsoleServer {
    /// The last `limit` runs (default 50) as bars on one time axis, a lane per run, grouped by job.
    func timelinePage(_ request: Request) throws -> String {
        let limit = try ConsoleServer.integer(request.uri.queryParameters["limit"], "limit", default: 50, in: 1...500)
        let state = try runs.current()
        let recent = Array(state.newest(limit: limit) { _ in true }.runs.reversed())
        var h = "<h1>Timeline</h1>\n<p>The last \(recent.count) runs on one time axis (<a href=\"/timeline?limit=\(min(500, limit * 2))\">more</a>).</p>\n"
        guard let start = recent.map(\.requestedAtMicros).min() else { return Pages.page(title: "Timeline", head: try log.lastSeq(), body: h + "<p>No runs.</p>\n") }
        let now = Int64(Date().timeIntervalSince1970 * 1e6)
        let end = max(start + 1, recent.map { $0.finishedAtMicros ?? now }.max() ?? now)
        let span = Double(end - start)
        h += "<p class=\"axis\">\(RunViews.timestamp(start)) → \(RunViews.timestamp(end))</p>\n<div class=\"timeline\">\n"
        for job in Set(recent.map(\.job)).sorted() {
            h += "<div class=\"lane-group\"><a href=\"/jobs/\(HTML.component(job))\">\(HTML.escape(job))</a></div>\n"
            for r in recent where r.job == job {
                let from = Double(r.requestedAtMicros - start) / span * 100
                let to = Double((r.finishedAtMicros ?? now) - start) / span * 100
                h += "<div class=\"lane\"><span class=\"lane-name\"><a href=\"/runs/\(HTML.component(r.id))\">run \(HTML.escape(r.id))</a></span><span class=\"lane-bars\">"
                h += "<span class=\"bar \(r.status.rawValue)\" data-left=\"\(String(format: "%.2f", max(0, from)))\" data-width=\"\(String(format: "%.2f", max(0.5, to - from)))\" title=\"run \(HTML.escape(r.id)): \(r.status.rawValue), \(Pages.duration(r))\"></span></span></div>\n"
            }
        }
        return Pages.page(title: "Timeline", head: try log.lastSeq(), body: h + "</div>\n")
    }

    /// A job's last `limit` runs (default 30) × its stages: each cell a stage's outcome and
    /// duration; above, the runs' durations as a trend line.
    func jobPage(_ job: String, _ request: Request) throws -> String {
        let limit = try ConsoleServer.integer(request.uri.queryParameters["limit"], "limit", default: 30, in: 1...200)
        let state = try runs.current()
        let recent = Array(state.newest(limit: limit) { $0.job == job }.runs.reversed())
        guard !recent.isEmpty else { throw ConsoleError(.notFound, "job '\(job)' has no runs") }
        var stages: [String] = []
        for r in recent { for s in r.stages where !stages.contains(s.name) { stages.append(s.name) } }
        var h = "<h1>Job \(HTML.escape(job))</h1>\n<p>The last \(recent.count) runs, oldest first.</p>\n"
        h += Pages.trend(recent)
        h += "<table class=\"grid\"><tr><th>stage</th>" + recent.map { "<th><a href=\"/runs/\(HTML.component($0.id))\">\(HTML.escape($0.id))</a></th>" }.joined() + "</tr>\n"
        for name in stages {
            h += "<tr><td>\(HTML.escape(name))</td>"
            for r in recent {
                guard let s = r.stage(name) else { h += "<td></td>"; continue }
                let ms = s.attempts.last?.durationMs.map { $0 < 1000 ? "\($0) ms" : String(format: "%.1f s", Double($0) / 1000) } ?? ""
                h += "<td class=\"cell \(s.status.rawValue)\" title=\"\(HTML.escape(name)) in run \(HTML.escape(r.id)): \(s.status.rawValue)\">\(ms)</td>"
            }
            h += "</tr>\n"
        }
        h += "<tr><td><b>run</b></td>" + recent.map { "<td class=\"cell \($0.status.rawValue)\">\(Pages.duration($0))</td>" }.joined() + "</tr>\n</table>\n"
        return Pages.page(title: "Job \(job)", head: try log.lastSeq(), body: h)
    }
}

extension Pages {
    /// The finished runs' durations as an SVG line (oldest left), with the longest marked.
    static func trend(_ runs: [RunState]) -> String {
        let points = runs.compactMap { r in r.finishedAtMicros.map { (r.id, Double($0 - r.requestedAtMicros) / 1000) } }
        guard points.count >= 2, let most = points.map(\.1).max(), most > 0 else { return "" }
        let w = 600.0, hgt = 80.0
        let coords = points.enumerated().map { i, p in
            String(format: "%.1f,%.1f", Double(i) / Double(points.count - 1) * w, hgt - p.1 / most * (hgt - 10))
        }.joined(separator: " ")
        return "<figure class=\"trend\"><svg width=\"\(Int(w))\" height=\"\(Int(hgt))\" viewBox=\"0 0 \(Int(w)) \(Int(hgt))\" role=\"img\" aria-label=\"run durations\">"
            + "<polyline fill=\"none\" stroke=\"#0969da\" stroke-width=\"2\" points=\"\(coords)\"/></svg>"
            + "<figcaption>run duration, longest \(String(format: most < 1000 ? "%.0f ms" : "%.1f s", most < 1000 ? most : most / 1000))</figcaption></figure>\n"
    }
}
