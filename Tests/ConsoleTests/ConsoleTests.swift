import Console
import Domain
import EventLog
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import Testing

/// The console over a real store (made by the built binary), served in this process on a free
/// loopback port and read over real HTTP: the JSON API, its errors, logs (ranged, masked, never
/// outside the store), escaping of every text in the pages, and the live event stream.
@Suite(.timeLimit(.minutes(5))) struct ConsoleTests {
    /// A project with a store: a job whose parameter and failing stage carry markup, a loop over
    /// two items, and a secret that a script prints.
    final class Served: @unchecked Sendable {
        let dir = TemporaryDirectory("console")
        var store: String { dir.sub(".ledgerflow") }
        var port = 0
        let stopper = ServiceStopper()
        var serving: Task<Void, any Error>?
        var log: EventLog?

        func lf(_ args: [String]) throws -> RunResult { try ledgerflow(args + ["--store", store], cwd: dir.path) }

        init() throws {
            try """
            kind: secret
            name: token
            from_file: token.txt
            ---
            kind: job
            name: child
            parameters: {n: {type: text, required: true}}
            stages: [{name: work, type: script, command: [sh, -c, "echo item $LEDGERFLOW_PARAM_N"]}]
            ---
            kind: job
            name: hostile
            description: "<script>alert('d')</script>"
            parameters: {note: {type: text, default: "<script>alert(1)</script>"}}
            stages:
              - {name: talk, type: script, command: [sh, -c, "echo '<b>out</b>' \\"$TOKEN\\"; echo '\\"><img src=x onerror=alert(2)>' >&2; exit 3"], env: {TOKEN: {secret: token}}}
            ---
            kind: job
            name: loop
            stages: [{name: each, type: for_each, items: {list: [a, b]}, job: child, parameters: {n: "${item}"}}]
            """.write(toFile: dir.sub("defs.yaml"), atomically: true, encoding: .utf8)
            try "s3cr3t-value".write(toFile: dir.sub("token.txt"), atomically: true, encoding: .utf8)
            #expect(try lf(["init"]).status == 0)
            let applied = try lf(["apply", "defs.yaml"])
            #expect(applied.status == 0, "\(applied.stderr)")
            _ = try lf(["run", "hostile"])         // run 1, fails
            _ = try lf(["run", "loop"])            // run 2, children 3 and 4
        }

        func start() async throws {
            var c = EventLog.Configuration()
            c.readOnly = true
            let log = try EventLog.open(at: store, configuration: c)
            self.log = log
            let console = ConsoleServer(log: log, store: store, options: .init(host: "127.0.0.1", port: 0, heartbeat: .milliseconds(200)))
            let bound = Locked<Int>(0)
            let stopper = self.stopper
            // The server on a thread of its own: tests that wait synchronously hold the shared
            // pool's threads (one per core), and a server there would wait behind them.
            serving = Task(executorPreference: DedicatedExecutor(name: "console")) { try await console.serve(signals: false, onListening: { p in bound.withLock { $0 = p } }, stop: stopper) }
            try await waitUntil("the console to listen") { bound.withLock { $0 } != 0 }
            port = bound.withLock { $0 }
        }

        func stop() async {
            await stopper.stop()
            _ = try? await serving?.value
        }

        func get(_ path: String, headers: [String: String] = [:]) async throws -> (status: Int, body: String, headers: [AnyHashable: Any]) {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as! HTTPURLResponse
            return (http.statusCode, String(decoding: data, as: UTF8.self), http.allHeaderFields)
        }

        func json(_ path: String) async throws -> Value {
            let r = try await get(path)
            #expect(r.status == 200, "\(path): \(r.status) \(r.body)")
            return try Value(json: r.body)
        }
    }

    @Test func theRunsAPIListsFiltersPagesAndSaysWhatIsWrong() async throws {
        let s = try Served()
        try await s.start()
        defer { Task { await s.stop() } }
        let all = try await s.json("/api/runs")
        #expect(all["runs"]?.arrayValue?.compactMap { $0["run"]?.stringValue } == ["4", "3", "2", "1"])
        let failed = try await s.json("/api/runs?status=failed")
        #expect(failed["runs"]?.arrayValue?.compactMap { $0["job"]?.stringValue } == ["hostile"])
        let page = try await s.json("/api/runs?limit=2")
        #expect(page["runs"]?.arrayValue?.count == 2 && page["next_before"] == "3")
        let next = try await s.json("/api/runs?limit=2&before=3")
        #expect(next["runs"]?.arrayValue?.compactMap { $0["run"]?.stringValue } == ["2", "1"] && next["next_before"] == .null)
        let bad = try await s.get("/api/runs?status=done")
        let badError = try Value(json: bad.body)["error"]?.stringValue ?? ""
        #expect(bad.status == 400 && badError.contains("status 'done' is not one of"), "\(bad.body)")
        let missing = try await s.get("/api/runs/99")
        #expect(missing.status == 404 && missing.body.contains("no run '99'"))
        let unknown = try await s.get("/api/nothing")
        let unknownBody = try? Value(json: unknown.body)
        #expect(unknown.status == 404 && unknownBody != nil, "API errors are JSON: \(unknown.body)")
        #expect(unknown.headers["X-Content-Type-Options"] as? String == "nosniff")
    }

    @Test func aRunShowsItsItemsParentAndChildren() async throws {
        let s = try Served()
        try await s.start()
        defer { Task { await s.stop() } }
        let loop = try await s.json("/api/runs/2")
        #expect(loop["status"] == "succeeded" && loop["parent"] == .null)
        #expect(loop["children"]?.arrayValue?.compactMap { $0["run"]?.stringValue } == ["3", "4"])
        let items = loop["stages"]?.arrayValue?.first?["items"]?.arrayValue ?? []
        #expect(items.map { $0["value"] } == ["a", "b"] && items.map { $0["status"] } == ["succeeded", "succeeded"])
        let child = try await s.json("/api/runs/4")
        #expect(child["parent"] == "2" && child["trigger"]?["parent_item"] == .int(1))
        let page = try await s.get("/runs/2")
        #expect(page.status == 200 && page.body.contains("Items of each") && page.body.contains("href=\"/runs/3\""))
    }

    @Test func logsAreRangedMaskedAndNeverReadOutsideTheStore() async throws {
        let s = try Served()
        try await s.start()
        defer { Task { await s.stop() } }
        let out = try await s.get("/api/runs/1/logs/talk")
        #expect(out.status == 200 && out.body.contains("<b>out</b>"), "\(out.body)")
        #expect(!out.body.contains("s3cr3t-value"), "the secret is masked: \(out.body)")
        let size = Int(out.headers["X-Log-Size"] as? String ?? "") ?? -1
        #expect(size > 0)
        let tail = try await s.get("/api/runs/1/logs/talk?offset=3&length=4")
        #expect(tail.body == String(out.body.dropFirst(3).prefix(4)) || tail.body.count <= 4, "\(tail.body)")
        let err = try await s.get("/api/runs/1/logs/talk?stream=stderr")
        #expect(err.body.contains("onerror=alert(2)"))
        let escape = try await s.get("/api/runs/1/logs/..%2F..%2F..%2Fetc")
        #expect(escape.status == 404, "\(escape.body)")
        let badStream = try await s.get("/api/runs/1/logs/talk?stream=passwd")
        #expect(badStream.status == 400)
        // A log file replaced by a link to a file outside the store is refused.
        let logPath = s.dir.sub(".ledgerflow/runs/1/talk/1/stdout.log")
        try FileManager.default.removeItem(atPath: logPath)
        try FileManager.default.createSymbolicLink(atPath: logPath, withDestinationPath: "/etc/hostname")
        let linked = try await s.get("/api/runs/1/logs/talk")
        #expect(linked.status == 403 && linked.body.contains("outside the store"), "\(linked.body)")
    }

    @Test func everyTextInThePagesIsEscaped() async throws {
        let s = try Served()
        try await s.start()
        defer { Task { await s.stop() } }
        let page = try await s.get("/runs/1")
        #expect(page.status == 200)
        #expect(!page.body.contains("<script>alert"), "no markup from a parameter reaches the page")
        #expect(!page.body.contains("<img src=x"), "no markup from a log reaches the page")
        #expect(!page.body.contains("<b>out</b>"))
        #expect(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && page.body.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"))
        #expect(!page.body.contains("s3cr3t-value"))
        #expect((page.headers["Content-Security-Policy"] as? String)?.contains("script-src 'self'") == true)
        let list = try await s.get("/?job=%3Cscript%3Ex")
        #expect(list.status == 200 && !list.body.contains("<script>x") && list.body.contains("of job &lt;script&gt;x"))
        let missing = try await s.get("/runs/%3Cimg%3E")
        #expect(missing.status == 404 && !missing.body.contains("<img>"))
    }

    /// The event stream: every event after `after`, then new ones as another process appends
    /// them; a reconnect with Last-Event-ID resumes after it.
    @Test func theEventStreamDeliversNewEventsAndResumes() async throws {
        let s = try Served()
        try await s.start()
        defer { Task { await s.stop() } }
        let head = try await s.json("/api/events?limit=1")["head"]?.intValue ?? 0
        let reader = try BackgroundProcess("/usr/bin/curl", ["-s", "-N", "--max-time", "90", "http://127.0.0.1:\(s.port)/api/events/stream?after=\(head)"])
        try reader.waitForOutput("the stream's preamble", timeout: 80) { $0.contains(": ledgerflow events after \(head)") }
        let ran = try s.lf(["run", "child", "--param", "n=live"])
        #expect(ran.status == 0, "\(ran.stderr)")
        try reader.waitForOutput("the new run's end", timeout: 80) { $0.contains("event: RunSucceeded") }
        reader.stop()
        let text = try reader.finish().stdout
        let ids = text.split(separator: "\n").compactMap { $0.hasPrefix("id: ") ? UInt64($0.dropFirst(4)) : nil }
        #expect(ids.first == UInt64(head) + 1 && ids == ids.sorted() && Set(ids).count == ids.count, "\(ids)")
        #expect(text.contains("event: RunRequested") && text.contains("\"n\":\"live\""))
        // Resuming after the third: the fourth comes first.
        let resumed = try BackgroundProcess("/usr/bin/curl", ["-s", "-N", "--max-time", "90", "-H", "Last-Event-ID: \(ids[2])",
                                                               "http://127.0.0.1:\(s.port)/api/events/stream?after=0"])
        try resumed.waitForOutput("the resumed stream", timeout: 80) { $0.contains("id: \(ids[3])") }
        resumed.stop()
        let again = try resumed.finish().stdout
        #expect(again.split(separator: "\n").first { $0.hasPrefix("id: ") } == "id: \(ids[3])")
    }
}
