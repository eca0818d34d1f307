import Console
import Dispatch
import Domain
import EventLog
import Foundation

/// `ledgerflow-bench http --from DIR`: the console over a copy of a prepared history (the service
/// benchmark's 10M-event churn store), measured from a second process on loopback
/// (tools/http-bench-client.py):
/// - `runs_page_ms`: the server's time (its Server-Timing header) for the first page of 100 runs
///   (`GET /api/runs?limit=100`), median of 30, warm;
/// - `run_page_ms`: the same for the newest run's HTML page;
/// - `sse_latency_ms`: commit → event received, median over `--clients` (default 200) connected
///   event streams and 20 appends;
/// - `runs_api_rps`: `GET /api/runs?limit=100` from 16 keep-alive connections for 5 s;
/// - `lineage_svg_ms`: the lineage graph of `model:churn` as SVG (the query and Graphviz), server time;
/// - baselines in the same run: the static style sheet's server time and requests per second
///   (what serving costs without reading the store).
enum HTTPBenchmark {
    static func run(_ o: Options) throws {
        let quiet = o.flag("json")
        func say(_ s: String) { if !quiet { print(s); fflush(nil) } }
        let from = try o.required("from")
        let clients = try o.int("clients", default: 200)
        let source = FileManager.default.fileExists(atPath: (from as NSString).appendingPathComponent("store")) ? (from as NSString).appendingPathComponent("store") : from
        let work = NSTemporaryDirectory() + "ledgerflow-bench-http-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let store = (work as NSString).appendingPathComponent("store")
        var t = Date()
        try FileManager.default.copyItem(atPath: source, toPath: store)
        say(String(format: "copied %@ in %.1f s", source, Date().timeIntervalSince(t)))
        let log = try EventLog.open(at: store, configuration: EventLog.Configuration())
        let head = try log.lastSeq()

        let console = ConsoleServer(log: log, store: store, options: .init(host: "127.0.0.1", port: 0))
        let stopper = ServiceStopper()
        let bound = Locked<Int>(0)
        let listening = DispatchSemaphore(value: 0)
        let ended = DispatchSemaphore(value: 0)
        Task.detached {
            try? await console.serve(signals: false, onListening: { p in bound.withLock { $0 = p }; listening.signal() }, stop: stopper)
            ended.signal()
        }
        guard listening.wait(timeout: .now() + 30) == .success else { throw BenchFailure("the console did not listen within 30 s") }
        let base = "http://127.0.0.1:\(bound.withLock { $0 })"
        say("console on \(base) over \(head) events")
        defer {
            Task.detached { await stopper.stop() }
            _ = ended.wait(timeout: .now() + 10)
        }

        t = Date()
        let first = try client(["timing", base + "/api/runs?limit=100", "1"])
        let firstMs = Date().timeIntervalSince(t) * 1000
        let runsPage = try client(["timing", base + "/api/runs?limit=100", "30"])
        let runsMs = median(runsPage["server_ms"])
        let newest = try client(["get", base + "/api/runs?limit=1"])["runs"]?.arrayValue?.first?["run"]?.stringValue ?? "1"
        // The same list again is served from the console's one-second cache: measure lists built
        // afresh too (each request a different page, `before` one lower).
        var uncached: [Double] = []
        if let top = Int(newest) {
            for k in 0 ..< 30 {
                let one = try client(["timing", base + "/api/runs?limit=100&before=\(top - k)", "1"])
                uncached.append(median(one["server_ms"]))
            }
        }
        let uncachedMs = uncached.isEmpty ? -1 : uncached.sorted()[uncached.count / 2]
        let runPage = try client(["timing", base + "/runs/\(newest)", "30"])
        let runMs = median(runPage["server_ms"])
        let svg = try client(["timing", base + "/api/lineage/svg?node=model:churn", "10"])
        let svgMs = median(svg["server_ms"])
        let lineageJSON = try client(["timing", base + "/api/lineage?node=model:churn", "10"])
        let lineageMs = median(lineageJSON["server_ms"])
        say(String(format: "lineage of model:churn: SVG %.1f ms (the query and Graphviz), JSON %.1f ms (server time, median of 10)", svgMs, lineageMs))
        let staticPage = try client(["timing", base + "/static/console.css", "30"])
        let staticMs = median(staticPage["server_ms"])
        say(String(format: "first request (folds the runs from the projection's snapshot): %.0f ms; then runs page %.3f ms (%.3f ms built afresh), run %@'s page %.3f ms (server time, median of 30); baseline static file %.3f ms",
                   firstMs, runsMs, uncachedMs, newest, runMs, staticMs))
        _ = first

        // SSE: `clients` streams, then 20 appends; latency = receipt - commit.
        let sse = Process()
        sse.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sse.arguments = ["python3", try script(), "sse", base + "/api/events/stream", "--clients", String(clients), "--events", "20"]
        let out = Pipe()
        sse.standardOutput = out
        try sse.run()
        let reader = out.fileHandleForReading
        var buffer = Data()
        while !String(decoding: buffer, as: UTF8.self).contains("READY\n") {
            let chunk = reader.availableData
            if chunk.isEmpty { throw BenchFailure("the event-stream clients ended before they were all connected") }
            buffer += chunk
        }
        var committed: [String: Double] = [:]
        for i in 0 ..< 20 {
            let r = try log.append([NewEvent(type: "BenchPing", payload: .object([("i", .int(Int64(i)))]))], to: "bench/ping", expectedVersion: .any, actor: "bench")
            committed[String(r.firstSeq ?? 0)] = Date().timeIntervalSince1970
            Thread.sleep(forTimeInterval: 0.1)
        }
        let rest = reader.readDataToEndOfFile()
        sse.waitUntilExit()
        let text = String(decoding: buffer + rest, as: UTF8.self)
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else { throw BenchFailure("the event-stream clients printed no result") }
        var latencies: [Double] = []
        for m in try Value(json: String(line))["received"]?.objectMembers ?? [] {
            guard let at = committed[m.key] else { continue }
            for v in m.value.arrayValue ?? [] { if let r = v.doubleValue { latencies.append((r - at) * 1000) } }
        }
        let sseMs = latencies.isEmpty ? -1 : latencies.sorted()[latencies.count / 2]
        let sseP95 = latencies.isEmpty ? -1 : latencies.sorted()[min(latencies.count - 1, latencies.count * 95 / 100)]
        say(String(format: "event stream: %d clients, %d deliveries, commit → received median %.1f ms, p95 %.1f ms", clients, latencies.count, sseMs, sseP95))

        let load = try client(["load", base + "/api/runs?limit=100", "--seconds", "5", "--connections", "16"])
        let staticLoad = try client(["load", base + "/static/console.css", "--seconds", "5", "--connections", "16"])
        let rps = load["rps"]?.doubleValue ?? 0, staticRps = staticLoad["rps"]?.doubleValue ?? 0
        say(String(format: "runs API: %.0f requests/s (16 connections, 5 s, %d errors); baseline static file %.0f requests/s (%.2fx)",
                   rps, load["errors"]?.intValue ?? 0, staticRps, rps / max(staticRps, 1)))
        say("targets: runs_page_ms ≤ 50, run_page_ms ≤ 50, sse_latency_ms median ≤ 100 with 200 clients, runs_api_rps ≥ 2000, lineage_svg_ms ≤ 200")
        if quiet {
            print(Value.object([
                ("events", .int(Int64(head))), ("first_request_ms", .double(round3(firstMs))),
                ("runs_page_ms", .double(round3(runsMs))), ("runs_page_uncached_ms", .double(round3(uncachedMs))), ("run_page_ms", .double(round3(runMs))), ("static_ms", .double(round3(staticMs))),
                ("sse_clients", .int(Int64(clients))), ("sse_deliveries", .int(Int64(latencies.count))),
                ("sse_latency_ms", .double(round3(sseMs))), ("sse_latency_p95_ms", .double(round3(sseP95))),
                ("runs_api_rps", .double(round3(rps))), ("static_rps", .double(round3(staticRps))),
                ("lineage_svg_ms", .double(round3(svgMs))), ("lineage_json_ms", .double(round3(lineageMs))),
            ]).jsonString)
        }
    }

    static func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

    static func median(_ v: Value?) -> Double {
        let xs = (v?.arrayValue ?? []).compactMap(\.doubleValue).sorted()
        return xs.isEmpty ? -1 : xs[xs.count / 2]
    }

    static func script() throws -> String {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("http-bench-client.py").path
        guard FileManager.default.fileExists(atPath: here) else { throw BenchFailure("tools/http-bench-client.py is missing at \(here)") }
        return here
    }

    /// Runs the client script and returns its JSON line.
    static func client(_ arguments: [String]) throws -> Value {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", try script()] + arguments
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last else {
            throw BenchFailure("http-bench-client \(arguments.first ?? "") failed: \(String(decoding: data, as: UTF8.self))")
        }
        return try Value(json: String(line))
    }
}

/// A benchmark that could not measure: what went wrong.
struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
