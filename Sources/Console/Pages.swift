import Domain
import Engine
import EventLog
import Executors
import Foundation
import HTTPTypes
import Hummingbird
import Lineage
import Runs

/// The server-rendered pages: plain HTML with every text escaped, a style sheet and one small
/// script (same origin, no build step, no CDN) that follows the event stream and refreshes the
/// page's main part as events arrive.
extension ConsoleServer {
    /// The runs, newest first, with counts per status and filters by job and status.
    func runsPage(_ request: Request) throws -> String {
        let query = try RunsQuery(request)
        let state = try runs.current()
        let (list, more) = query.select(state)
        var counts: [RunStatus: Int] = [:]
        for r in state.runs.values { counts[r.status, default: 0] += 1 }
        let jobs = Set(state.runs.values.map(\.job)).sorted()
        var h = "<h1>Runs</h1>\n<p class=\"counts\">"
        h += RunStatus.allCases.map { s in
            "<a class=\"status \(s.rawValue)\" href=\"/?status=\(s.rawValue)\">\(counts[s] ?? 0) \(s.rawValue)</a>"
        }.joined(separator: " ") + " <a href=\"/\">all \(state.runs.count)</a></p>\n"
        h += "<form method=\"get\" action=\"/\"><label>job <select name=\"job\"><option value=\"\">any</option>"
        for j in jobs { h += "<option\(j == query.job ? " selected" : "") value=\"\(HTML.escape(j))\">\(HTML.escape(j))</option>" }
        h += "</select></label> <label>status <select name=\"status\"><option value=\"\">any</option>"
        for s in RunStatus.allCases { h += "<option\(s == query.status ? " selected" : "")>\(s.rawValue)</option>" }
        h += "</select></label> <button>show</button></form>\n"
        h += "<table class=\"runs\"><tr><th>run</th><th>job</th><th>status</th><th>requested</th><th>duration</th><th>stages</th><th>trigger</th></tr>\n"
        for r in list {
            let ok = r.stages.filter { $0.status == .succeeded }.count
            h += "<tr id=\"run-\(HTML.escape(r.id))\"><td><a href=\"/runs/\(HTML.component(r.id))\">\(HTML.escape(r.id))</a></td><td><a href=\"/jobs/\(HTML.component(r.job))\">\(HTML.escape(r.job))</a></td>"
            h += "<td class=\"status \(r.status.rawValue)\">\(r.status.rawValue)</td><td>\(RunViews.timestamp(r.requestedAtMicros))</td>"
            h += "<td>\(Pages.duration(r))</td><td>\(ok)/\(r.stages.count)</td><td>\(HTML.escape(RunViews.triggerText(r.trigger)))</td></tr>\n"
        }
        h += "</table>\n"
        if list.isEmpty { h += "<p>No runs\(query.job.map { " of job \(HTML.escape($0))" } ?? "")\(query.status.map { " with status \($0.rawValue)" } ?? "").</p>\n" }
        if more, let last = list.last {
            var next = "/?before=\(HTML.component(last.id))"
            if let j = query.job { next += "&job=\(HTML.component(j))" }
            if let s = query.status { next += "&status=\(s.rawValue)" }
            h += "<p><a href=\"\(HTML.escape(next))\">older runs</a></p>\n"
        }
        return Pages.page(title: "Runs", head: try log.lastSeq(), body: h)
    }

    /// One run: its facts, a timeline of its attempts, its stages, a for_each's items, its child
    /// runs, errors and the logs its attempts kept.
    func runPage(_ id: String) throws -> String {
        let state = try runs.current()
        let r = try run(id, in: state)
        var h = "<h1>Run \(HTML.escape(r.id)) of job \(HTML.escape(r.job)) <span class=\"status \(r.status.rawValue)\">\(r.status.rawValue)</span></h1>\n"
        h += "<p>Requested \(RunViews.timestamp(r.requestedAtMicros)) by \(HTML.escape(RunViews.triggerText(r.trigger))); took \(Pages.duration(r)); job version \(r.jobVersion), catalog seq \(r.catalogSeq)."
        if let p = r.trigger.parentRun { h += " Parent: <a href=\"/runs/\(HTML.component(p))\">run \(HTML.escape(p))</a>." }
        if r.cancelRequested && r.status == .running { h += " <strong>Cancelling.</strong>" }
        h += "</p>\n"
        // Writes go through the API with a token (asked once, kept in this tab's session storage).
        var actions: [String] = []
        if r.status == .running && !r.cancelRequested { actions.append("<button class=\"write\" data-post=\"/api/runs/\(HTML.component(r.id))/cancel\">cancel</button>") }
        if r.status == .failed || r.status == .cancelled { actions.append("<button class=\"write\" data-post=\"/api/runs/\(HTML.component(r.id))/rerun\">rerun from failure</button>") }
        if !actions.isEmpty { h += "<p class=\"actions\">" + actions.joined(separator: " ") + "</p>\n" }
        if let params = r.parameters.objectMembers, !params.isEmpty {
            h += "<p>Parameters: " + params.map { "<code>\(HTML.escape($0.key))=\(HTML.escape($0.value.stringValue ?? $0.value.jsonString))</code>" }.joined(separator: " ") + "</p>\n"
        }
        h += Pages.timeline(r)
        h += whySection(r.id)
        h += "<h2>Stages</h2>\n<table class=\"stages\"><tr><th>stage</th><th>type</th><th>status</th><th>attempts</th><th>detail</th></tr>\n"
        for s in r.stages {
            var detail = ""
            if let e = s.error { detail = (s.reason.map { "[\($0)] " } ?? "") + e }
            if s.status == .skipped { detail = s.reason ?? "" }
            if let c = s.attempts.last?.childRun { detail = "child run <a href=\"/runs/\(HTML.component(c))\">\(HTML.escape(c))</a>" }
            else { detail = HTML.escape(detail) }
            if !s.datasets.isEmpty {
                detail += (detail.isEmpty ? "" : "; ") + s.datasets.map { "wrote \(HTML.escape($0.dataset)) v\($0.version) (\($0.rows) rows)" }.joined(separator: "; ")
            }
            h += "<tr id=\"stage-\(HTML.escape(s.name))\"><td>\(HTML.escape(s.name))</td><td>\(HTML.escape(s.plan.type))</td><td class=\"status \(s.status.rawValue)\">\(s.status.rawValue)</td>"
            h += "<td>\(s.attempts.count)</td><td>\(detail)</td></tr>\n"
        }
        h += "</table>\n"
        for s in r.stages {
            guard let items = RunViews.items(s, state), !items.isEmpty else { continue }
            h += "<h2>Items of \(HTML.escape(s.name))</h2>\n<table class=\"items\"><tr><th>item</th><th>value</th><th>run</th><th>status</th></tr>\n"
            for i in items {
                let run = i.run.map { "<a href=\"/runs/\(HTML.component($0))\">\(HTML.escape($0))</a>" } ?? "-"
                h += "<tr><td>\(i.index)</td><td>\(HTML.escape(i.text))</td><td>\(run)</td><td class=\"status \(HTML.escape(i.status))\">\(HTML.escape(i.status))\(i.reused ? " (reused)" : "")\(i.error.map { ": " + HTML.escape($0) } ?? "")</td></tr>\n"
            }
            h += "</table>\n"
        }
        let children = try runs.children(of: id).compactMap { state.runs[$0] }
        if !children.isEmpty {
            h += "<h2>Child runs</h2>\n<ul>" + children.map { c in
                "<li><a href=\"/runs/\(HTML.component(c.id))\">run \(HTML.escape(c.id))</a> of job \(HTML.escape(c.job)): <span class=\"status \(c.status.rawValue)\">\(c.status.rawValue)</span> (\(HTML.escape(RunViews.triggerText(c.trigger))))</li>"
            }.joined() + "</ul>\n"
        }
        let failures = r.stages.flatMap { s in s.attempts.filter { $0.outcome == .failed }.map { (s.name, $0) } }
        if !failures.isEmpty {
            h += "<h2>Errors</h2>\n<ul class=\"errors\">" + failures.map { name, a in
                "<li>\(HTML.escape(name)) attempt \(a.number) [\(HTML.escape(a.reason ?? "error"))]: <pre>\(HTML.escape(a.error ?? ""))</pre></li>"
            }.joined() + "</ul>\n"
        }
        h += try logsSection(r)
        return Pages.page(title: "Run \(r.id)", head: try log.lastSeq(), body: h)
    }

    /// Why the run ran: its causal chain to the root (`ledgerflow why`), each step with its seq.
    func whySection(_ id: String) -> String {
        guard let steps = try? Why(log: log).explain(run: id), !steps.isEmpty else { return "" }
        func list(_ steps: [WhyStep]) -> String {
            "<ol>" + steps.map { s in
                "<li><span class=\"kind\">\(HTML.escape(s.kind))</span> \(HTML.escape(s.text))" + (s.seq.map { " <small>(seq \($0))</small>" } ?? "")
                    + (s.branch.isEmpty ? "" : list(s.branch)) + "</li>"
            }.joined() + "</ol>"
        }
        return "<h2>Why it ran</h2>\n<div class=\"why\">" + list(steps) + "</div>\n"
    }

    /// The stdout and stderr each stage's last attempt kept (the first 64 KiB, masked), each
    /// linking to the whole log in the API.
    func logsSection(_ r: RunState) throws -> String {
        var h = ""
        var mask: SecretMask?
        for s in r.stages {
            guard let a = s.attempts.last else { continue }
            for stream in ["stdout", "stderr"] {
                guard let resolved = logPath(run: r.id, stage: s.name, attempt: a.number, stream: stream),
                      let handle = FileHandle(forReadingAtPath: resolved) else { continue }
                let bytes = [UInt8]((try? handle.read(upToCount: 64 << 10)) ?? Data())
                try? handle.close()
                if mask == nil { mask = try secretMask(for: r) }
                let text = String(decoding: mask?.mask(bytes) ?? bytes, as: UTF8.self)
                let api = "/api/runs/\(HTML.component(r.id))/logs/\(HTML.component(s.name))?attempt=\(a.number)&stream=\(stream)"
                h += "<h3 id=\"log-\(HTML.escape(s.name))-\(stream)\">\(HTML.escape(s.name)) attempt \(a.number) \(stream) <a href=\"\(HTML.escape(api))\">raw</a></h3>\n<pre class=\"log\">\(HTML.escape(text))</pre>\n"
            }
        }
        return h.isEmpty ? "" : "<h2>Logs</h2>\n" + h
    }
}

/// The page frame, the timeline, the style sheet and the script.
enum Pages {
    static func page(title: String, head: UInt64, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(HTML.escape(title)) · ledgerflow</title>
        <link rel="stylesheet" href="/static/console.css"></head>
        <body data-head="\(head)"><nav><a href="/">runs</a> <a href="/timeline">timeline</a> <a href="/catalog">catalog</a> <a href="/models">models</a> <a href="/schedules">schedules</a> <a href="/sensors">sensors</a> <a href="/notifications">notifications</a> <a href="/health">health</a> <span id="live" title="live: the page follows the log">●</span> <span id="write-result"></span></nav>
        <main>
        \(body)</main>
        <script src="/static/console.js"></script>
        </body></html>

        """
    }

    /// The sign-in form (`--auth read`): a token grants this browser reads (a cookie); writes
    /// still need the token as a header.
    static func loginPage(next: String?, failed: Bool) -> String {
        page(title: "Sign in", head: 0, body: "<h1>Sign in</h1>\n" + (failed ? "<p class=\"status failed\">That token is not one this console knows.</p>\n" : "")
            + "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"next\" value=\"\(HTML.escape(next ?? "/"))\">"
            + "<label>token <input type=\"password\" name=\"token\" autocomplete=\"off\"></label> <button>sign in</button></form>\n"
            + "<p><small>Reads only: cancel, rerun and other writes ask for the token again.</small></p>\n")
    }

    static func errorPage(_ status: HTTPResponse.Status, _ message: String) -> String {
        page(title: "\(status.code)", head: 0, body: "<h1>\(status.code) \(HTML.escape(status.reasonPhrase))</h1>\n<p>\(HTML.escape(message))</p>\n")
    }

    static func duration(_ r: RunState) -> String {
        let end = r.finishedAtMicros ?? Int64(Date().timeIntervalSince1970 * 1e6)
        let ms = (end - r.requestedAtMicros) / 1000
        return ms < 1000 ? "\(ms) ms" : String(format: "%.1f s", Double(ms) / 1000)
    }

    /// Each attempt as a bar from its start to its end (or now), on the run's time axis.
    static func timeline(_ r: RunState) -> String {
        let start = r.requestedAtMicros
        let now = Int64(Date().timeIntervalSince1970 * 1e6)
        let end = max(start + 1, r.finishedAtMicros ?? now)
        let span = Double(end - start)
        var h = "<h2>Timeline</h2>\n<div class=\"timeline\">\n"
        for s in r.stages {
            h += "<div class=\"lane\"><span class=\"lane-name\">\(HTML.escape(s.name))</span><span class=\"lane-bars\">"
            for a in s.attempts {
                let from = Double(a.startedAtMicros - start) / span * 100
                let to = Double((a.endedAtMicros ?? (r.status == .running ? now : end)) - start) / span * 100
                let outcome = a.outcome?.rawValue ?? "running"
                let title = "\(s.name) attempt \(a.number): \(outcome)" + (a.durationMs.map { ", \($0) ms" } ?? "")
                h += "<span class=\"bar \(outcome)\" data-left=\"\(String(format: "%.2f", max(0, from)))\" data-width=\"\(String(format: "%.2f", max(0.5, to - from)))\" title=\"\(HTML.escape(title))\"></span>"
            }
            h += "</span></div>\n"
        }
        return h + "</div>\n"
    }

    static let style = """
    body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }
    nav { margin-bottom: 1em; } nav a { margin-right: 1em; }
    #live { color: #bbb; } #live.on { color: #2a2; }
    table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
    .status.succeeded { color: #1a7f37; } .status.failed { color: #cf222e; } .status.running { color: #0969da; } .status.cancelled, .status.skipped { color: #777; }
    .timeline { border: 1px solid #ddd; padding: 4px; max-width: 60em; }
    .lane { display: flex; align-items: center; height: 20px; } .lane-name { width: 12em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .lane-bars { position: relative; flex: 1; height: 14px; background: #f6f8fa; }
    .bar { position: absolute; top: 0; height: 14px; background: #0969da; } .bar.succeeded { background: #2da44e; } .bar.failed { background: #cf222e; } .bar.cancelled { background: #999; }
    .lane-group { font-weight: bold; margin-top: 4px; }
    .graph { overflow: hidden; border: 1px solid #ddd; max-width: 100%; max-height: 600px; cursor: grab; }
    svg.lineage rect { fill: #f6f8fa; stroke: #57606a; } svg.lineage .root rect { fill: #ddf4ff; stroke: #0969da; stroke-width: 2; }
    svg.lineage text { font: 12px system-ui, sans-serif; fill: #24292f; } svg.lineage text.sub { font-size: 10px; fill: #57606a; }
    svg.lineage a:hover rect { stroke: #0969da; }
    dl.data dt { font-weight: bold; } dl.data dd { margin-left: 1.5em; } table.data code { font-size: 11px; }
    .charts { display: flex; flex-wrap: wrap; gap: 1em; } figure.chart { margin: 0; }
    table.grid td.cell { min-width: 3em; font-size: 12px; } td.cell.succeeded { background: #dafbe1; } td.cell.failed { background: #ffebe9; }
    td.cell.running { background: #ddf4ff; } td.cell.skipped, td.cell.cancelled { background: #eee; }
    pre { background: #f6f8fa; padding: 6px; overflow: auto; max-height: 30em; white-space: pre-wrap; }
    """

    /// Places the timeline's bars (the style sheet cannot read data attributes into `left`), and
    /// follows `/api/events/stream` after the page's head: on each event the page's main part is
    /// fetched again and swapped in, at most twice a second.
    static let script = """
    (function () {
      function place() {
        document.querySelectorAll('.bar').forEach(function (b) {
          b.style.left = b.dataset.left + '%'; b.style.width = b.dataset.width + '%';
        });
      }
      place();
      var graph = document.getElementById('graph');
      var view = graph && graph.querySelector('g.viewport');
      if (view) {
        var scale = 1, x = 0, y = 0, drag = null, moved = false;
        function apply() { view.setAttribute('transform', 'translate(' + x + ',' + y + ') scale(' + scale + ')'); }
        graph.addEventListener('wheel', function (e) { e.preventDefault(); scale = Math.min(8, Math.max(0.2, scale * (e.deltaY < 0 ? 1.1 : 0.9))); apply(); });
        graph.addEventListener('mousedown', function (e) { drag = { x: e.clientX - x, y: e.clientY - y }; moved = false; });
        window.addEventListener('mouseup', function () { drag = null; });
        window.addEventListener('mousemove', function (e) { if (drag) { moved = true; x = e.clientX - drag.x; y = e.clientY - drag.y; apply(); } });
        graph.addEventListener('click', function (e) { if (moved) { e.preventDefault(); moved = false; } }, true);
      }
      if (!window.EventSource) return;
      var head = document.body.dataset.head || '0';
      var live = document.getElementById('live');
      var pending = false, busy = false;
      function refresh() {
        if (busy) { pending = true; return; }
        busy = true; pending = false;
        fetch(location.href, { headers: { 'Accept': 'text/html' } }).then(function (r) { return r.text(); }).then(function (text) {
          var doc = new DOMParser().parseFromString(text, 'text/html');
          var main = doc.querySelector('main');
          if (main) { document.querySelector('main').innerHTML = main.innerHTML; place(); }
          document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || '0') + 1);
        }).finally(function () { busy = false; if (pending) setTimeout(refresh, 500); });
      }
      document.addEventListener('click', function (ev) {
        var v = ev.target.closest && ev.target.closest('button.verify');
        if (v) {
          var shown = document.getElementById('verify-result');
          if (shown) shown.textContent = 'verifying…';
          fetch(v.dataset.get).then(function (r) { return r.json(); }).then(function (j) {
            if (shown) { shown.textContent = j.ok ? 'the chain verifies' : 'verification FAILED: ' + JSON.stringify(j); shown.dataset.ok = String(!!j.ok); }
          });
          return;
        }
        var b = ev.target.closest && ev.target.closest('button.write');
        if (!b) return;
        ev.preventDefault();
        var token = sessionStorage.getItem('ledgerflow-token') || window.prompt('Console token (ledgerflow token create NAME):');
        var out = document.getElementById('write-result');
        if (!token) { if (out) out.textContent = 'no token: nothing done'; return; }
        fetch(b.dataset.post, { method: 'POST', headers: { 'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json' }, body: '{}' })
          .then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); })
          .then(function (r) {
            if (r.status === 401) sessionStorage.removeItem('ledgerflow-token'); else sessionStorage.setItem('ledgerflow-token', token);
            if (!out) return;
            out.textContent = r.status < 300 ? (r.body.run && r.body.rerun_of ? 'rerun requested: run ' + r.body.run : 'done') : 'refused: ' + r.body.error;
            out.dataset.status = String(r.status);
            if (r.body.run && r.body.rerun_of) { var a = document.createElement('a'); a.href = '/runs/' + encodeURIComponent(r.body.run); a.id = 'new-run'; a.textContent = ' open run ' + r.body.run; out.appendChild(a); }
          });
      });
      var source = new EventSource('/api/events/stream?after=' + encodeURIComponent(head));
      source.onopen = function () { if (live) live.className = 'on'; };
      source.onerror = function () { if (live) live.className = ''; };
      source.onmessage = refresh;
      ['RunRequested', 'StageQueued', 'StageStarted', 'StageItemStarted', 'StageSucceeded', 'StageFailed', 'StageSkipped',
       'StageCancelled', 'RunCancelRequested', 'RunSucceeded', 'RunFailed', 'RunCancelled', 'DatasetVersionWritten'].forEach(function (t) {
        source.addEventListener(t, function () { setTimeout(refresh, 100); });
      });
    })();
    """
}
