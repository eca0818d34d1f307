import Catalog
import Domain
import Engine
import EventLog
import Executors
import Foundation
import HTTPTypes
import Hummingbird
import Projections
import Runs

/// The JSON API: what the CLI reads, as the CLI's `--json` shapes it.
extension ConsoleServer {
    /// A route: its path (Hummingbird's `:name` parameters) and what answers a GET there.
    typealias Route = (path: String, answer: @Sendable (Request, BasicRequestContext) async throws -> Response)

    /// The JSON API's routes, all GET (documented in docs/openapi.yaml; a test holds the two equal).
    func apiRoutes() -> [Route] {
        let routes: [Route] = [
            ("/api/runs", { request, _ in try self.runsList(request) }),
            ("/api/runs/:id", { _, context in try self.runDetail(try Self.path(context, "id")) }),
            ("/api/runs/:id/logs/:stage", { request, context in
                try self.attemptLog(run: try Self.path(context, "id"), stage: try Self.path(context, "stage"), request)
            }),
            ("/api/events", { request, _ in try self.eventsPage(request) }),
            ("/api/events/stream", { request, _ in try self.eventStream(request) }),
            ("/api/health", { _, _ in try self.health() }),
        ]
        return routes + readRoutes()
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ConsoleMiddleware(tokens: options.tokens, authRead: options.authRead))
        for route in apiRoutes() { router.get(RouterPath(route.path), use: route.answer) }
        for route in writeRoutes() { router.post(RouterPath(route.path), use: route.answer) }
        router.get("/") { request, _ in try Reply.html(self.runsPage(request)) }
        router.get("/runs/:id") { _, context in try Reply.html(self.runPage(try Self.path(context, "id"))) }
        router.get("/timeline") { request, _ in try Reply.html(self.timelinePage(request)) }
        router.get("/login") { request, _ in Reply.html(Pages.loginPage(next: Self.text(request, "next"), failed: false)) }
        router.post("/login") { request, _ in try await self.login(request) }
        readPages(router)
        router.get("/jobs/:job") { request, context in try Reply.html(self.jobPage(try Self.path(context, "job"), request)) }
        router.get("/static/console.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "no-cache"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: Pages.script)))
        }
        router.get("/static/console.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "no-cache"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: Pages.style)))
        }
        return router
    }

    // MARK: sign in (reads, under --auth read)

    /// `POST /login` (a form: `token`, `next`): a known token sets the read cookie and goes on
    /// to `next`; an unknown one shows the form again. The cookie grants reads only.
    func login(_ request: Request) async throws -> Response {
        var request = request
        let body = String(decoding: (try? await request.collectBody(upTo: 64 << 10)).map { Array($0.readableBytesView) } ?? [], as: UTF8.self)
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
            if kv.count == 2 { fields[kv[0]] = kv[1] }
        }
        let next = fields["next"].flatMap { $0.hasPrefix("/") && !$0.hasPrefix("//") ? $0 : nil } ?? "/"
        guard let token = fields["token"], options.tokens.name(of: token) != nil else {
            return Reply.html(Pages.loginPage(next: next, failed: true), status: .unauthorized)
        }
        return Response(status: .seeOther, headers: [.location: next,
                                                     .setCookie: "\(ReadCookie.name)=\(token); Path=/; HttpOnly; SameSite=Strict"])
    }

    // MARK: runs

    /// The runs a list shows: newest first, filtered by job and status, `limit` before run `before`.
    struct RunsQuery {
        var job: String?
        var status: RunStatus?
        var limit = 100
        var before: Int?

        init(_ request: Request) throws {
            let q = request.uri.queryParameters
            job = q["job"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
            if let s = q["status"].map(String.init), !s.isEmpty {
                guard let st = RunStatus(rawValue: s) else {
                    throw ConsoleError(.badRequest, "status '\(s)' is not one of \(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                status = st
            }
            limit = try ConsoleServer.integer(q["limit"], "limit", default: 100, in: 1...1000)
            if q["before"] != nil { before = try ConsoleServer.integer(q["before"], "before", default: 0, in: 1...Int.max) }
        }

        func select(_ state: RunsState) -> (runs: [RunState], more: Bool) {
            state.newest(before: before, limit: limit) { r in (job == nil || r.job == job) && (status == nil || r.status == status) }
        }
    }

    static func integer(_ text: Substring?, _ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text, !text.isEmpty else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw ConsoleError(.badRequest, "\(name) must be a whole number from \(range.lowerBound)\(range.upperBound == Int.max ? " up" : " to \(range.upperBound)") (got '\(text)')")
        }
        return n
    }

    func runsList(_ request: Request) throws -> Response {
        let query = try RunsQuery(request)
        let snapshot = try runs.snapshot()
        // The same list at the same log position within a second is the same bytes (a running
        // run's duration moves with the clock, hence the second).
        let key = "\(snapshot.seq) \(request.uri.query ?? "")"
        let now = ContinuousClock.now
        if let hit = listCache.withLock({ $0[key] }), now - hit.at < .seconds(1) { return Reply.json(bytes: hit.body) }
        let (list, more) = query.select(snapshot.state)
        let body = Value.object([("runs", .array(list.map(RunViews.summary))),
                                 ("next_before", more ? list.last.map { .string($0.id) } ?? .null : .null)]).jsonString
        listCache.withLock { cache in
            if cache.count >= 64 { cache.removeAll() }
            cache[key] = (now, body)
        }
        return Reply.json(bytes: body)
    }

    func run(_ id: String, in state: RunsState) throws -> RunState {
        guard let r = state.runs[id] else { throw ConsoleError(.notFound, "no run '\(id)'; GET /api/runs lists them") }
        return r
    }

    func runDetail(_ id: String) throws -> Response {
        let state = try runs.current()
        let r = try run(id, in: state)
        let children = try runs.children(of: id).compactMap { state.runs[$0] }
        return Reply.json(RunViews.status(r, state).setting("parent", to: r.trigger.parentRun.map(Value.string) ?? .null)
            .setting("children", to: .array(children.map(RunViews.summary))))
    }

    // MARK: logs

    /// An attempt's stdout or stderr (`?stream=stderr`, default stdout; `?attempt=N`, default
    /// the last), masked of the run's secrets, from byte `offset` for at most `length` bytes; the
    /// file's size is in `X-Log-Size`. The path is built from the run's recorded stages only, and
    /// a file that resolves outside the store's runs folder (a symbolic link) is refused.
    func attemptLog(run id: String, stage name: String, _ request: Request) throws -> Response {
        let state = try runs.current()
        let r = try run(id, in: state)
        guard let stage = r.stage(name) else {
            throw ConsoleError(.notFound, "run \(id) has no stage '\(name)'; its stages are \(r.stages.map(\.name).joined(separator: ", "))")
        }
        let q = request.uri.queryParameters
        let stream = q["stream"].map(String.init) ?? "stdout"
        guard stream == "stdout" || stream == "stderr" else { throw ConsoleError(.badRequest, "stream must be stdout or stderr (got '\(stream)')") }
        guard let last = stage.attempts.last?.number else { throw ConsoleError(.notFound, "stage '\(name)' of run \(id) has not started") }
        let attempt = try ConsoleServer.integer(q["attempt"], "attempt", default: last, in: 1...max(1, last))
        guard stage.attempts.contains(where: { $0.number == attempt }) else { throw ConsoleError(.notFound, "stage '\(name)' of run \(id) has no attempt \(attempt)") }
        let offset = try ConsoleServer.integer(q["offset"], "offset", default: 0, in: 0...Int.max)
        let length = try ConsoleServer.integer(q["length"], "length", default: 1 << 20, in: 1...(16 << 20))
        guard let resolved = logPath(run: id, stage: name, attempt: attempt, stream: stream) else {
            throw ConsoleError(.forbidden, "the log of stage '\(name)' resolves outside the store's runs folder; refused")
        }
        guard let handle = FileHandle(forReadingAtPath: resolved) else {
            throw ConsoleError(.notFound, "no \(stream) kept for attempt \(attempt) of stage '\(name)' in run \(id) (only script stages keep stdout and stderr)")
        }
        if q["follow"] == "true" {
            try? handle.close()
            return try followLog(resolved, from: offset, run: id, stage: name, attempt: attempt, mask: try secretMask(for: r))
        }
        defer { try? handle.close() }
        let size = Int((try? handle.seekToEnd()) ?? 0)
        try handle.seek(toOffset: UInt64(min(offset, size)))
        let bytes = [UInt8](try handle.read(upToCount: length) ?? Data())
        let mask = try secretMask(for: r)
        return Reply.text(String(decoding: mask.mask(bytes), as: UTF8.self),
                          headers: [HTTPField.Name("X-Log-Size")!: String(size), HTTPField.Name("X-Log-Offset")!: String(min(offset, size))])
    }

    /// Where an attempt's stdout or stderr is, symbolic links resolved; nil when that is outside
    /// `<store>/runs/` (a link planted to read other files).
    func logPath(run id: String, stage name: String, attempt: Int, stream: String) -> String? {
        let path = (StageContext.attemptFolder(store: store, run: id, stage: name, attempt: attempt) as NSString).appendingPathComponent("\(stream).log")
        let runsRoot = ((store as NSString).appendingPathComponent("runs") as NSString).resolvingSymlinksInPath + "/"
        let resolved = (path as NSString).resolvingSymlinksInPath
        return resolved.hasPrefix(runsRoot) ? resolved : nil
    }

    /// `follow=true`: the log from `offset` as it grows, until the attempt has ended and its
    /// last bytes are sent (masked as a stream: a secret split across two reads is still masked).
    func followLog(_ path: String, from offset: Int, run id: String, stage name: String, attempt: Int, mask: SecretMask) throws -> Response {
        let runs = self.runs
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-cache"], body: ResponseBody { writer in
            guard let handle = FileHandle(forReadingAtPath: path) else { try await writer.finish(nil); return }
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(offset))
            var masker = SecretMask.Stream(mask)
            while !Task.isCancelled {
                let chunk = (try? handle.read(upToCount: 1 << 16)) ?? Data()
                if !chunk.isEmpty {
                    let out = masker.feed([UInt8](chunk))
                    if !out.isEmpty { try await writer.write(ByteBuffer(bytes: out)) }
                    continue
                }
                let ended = (try? runs.current().runs[id]?.stage(name)?.attempts.first { $0.number == attempt }?.outcome != nil) ?? true
                if ended {
                    // One more read: bytes written between the last read and the end.
                    let rest = (try? handle.readToEnd()) ?? Data()
                    let out = masker.feed([UInt8](rest ?? Data())) + masker.finish()
                    if !out.isEmpty { try await writer.write(ByteBuffer(bytes: out)) }
                    break
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            try await writer.finish(nil)
        })
    }

    /// Every secret of the run's catalog and of the current one that this process can read.
    func secretMask(for r: RunState) throws -> SecretMask {
        let root = (store as NSString).deletingLastPathComponent
        let runCatalog = try ProjectionRunner(log: log, projection: CatalogProjection()).state(at: r.catalogSeq).state
        return SecretMask(Secrets.mask(catalog: runCatalog, root: root).secrets + Secrets.mask(catalog: try RunCommands.catalog(log), root: root).secrets)
    }

    // MARK: events

    func eventFilter(_ request: Request) -> EventFilter {
        let q = request.uri.queryParameters
        return EventFilter(stream: q["stream"].map(String.init).flatMap { $0.isEmpty ? nil : $0 },
                           type: q["type"].map(String.init).flatMap { $0.isEmpty ? nil : $0 })
    }

    /// Events after seq `after` (default 0), oldest first, at most `limit` (default 100), by
    /// `type` and `stream`; `next_after` continues.
    func eventsPage(_ request: Request) throws -> Response {
        let q = request.uri.queryParameters
        let after = try ConsoleServer.integer(q["after"], "after", default: 0, in: 0...Int.max)
        let limit = try ConsoleServer.integer(q["limit"], "limit", default: 100, in: 1...1000)
        let events = try log.read(from: UInt64(after) + 1, limit: limit, filter: eventFilter(request))
        return Reply.json(.object([("events", .array(events.map(\.envelopeValue))),
                                   ("next_after", events.count == limit ? events.last.map { .int(Int64($0.seq)) } ?? .null : .null),
                                   ("head", .int(Int64(try log.lastSeq())))]))
    }

    /// Server-Sent Events: every event after `after` (or the `Last-Event-ID` a reconnecting
    /// client sends), then each new one as it is committed, as `id: SEQ`, `event: TYPE`, `data:
    /// {envelope}`; a comment line every `heartbeat` while nothing happens.
    func eventStream(_ request: Request) throws -> Response {
        let q = request.uri.queryParameters
        var after = try ConsoleServer.integer(q["after"], "after", default: Int(try log.lastSeq()), in: 0...Int.max)
        if let last = request.headers[HTTPField.Name("Last-Event-ID")!], let n = Int(last), n >= 0 { after = n }
        let subscription = log.subscribe(after: UInt64(after), filter: eventFilter(request))
        let heartbeat = options.heartbeat
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingNewest(10_000))
        continuation.yield(ByteBuffer(string: "retry: 2000\n: ledgerflow events after \(after)\n\n"))
        let events = Task {
            do {
                for try await e in subscription {
                    let frame = "id: \(e.seq)\nevent: \(e.type)\ndata: \(e.envelopeValue.jsonString)\n\n"
                    if case .terminated = continuation.yield(ByteBuffer(string: frame)) { break }
                }
            } catch {}
            continuation.finish()
        }
        let beats = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: heartbeat)
                if case .terminated = continuation.yield(ByteBuffer(string: ": heartbeat\n\n")) { break }
            }
        }
        continuation.onTermination = { _ in
            events.cancel()
            beats.cancel()
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                        body: ResponseBody(asyncSequence: stream))
    }

    // MARK: health

    /// The service's health as `ledgerflow health --json` reports it (the engine, each reactor's
    /// lag, schedules, sensors, the outbox, the problems; default thresholds), with the runs per
    /// status; 503 when unhealthy (for monitoring), 200 otherwise.
    func health() throws -> Response {
        let h = try healthValue()
        return Reply.json(h.value, status: h.healthy ? .ok : .serviceUnavailable)
    }

    func healthValue() throws -> (value: Value, healthy: Bool, text: [String]) {
        var report = try HealthReport.gather(log: log, store: store, maxLag: 60, stale: 30, now: Date())
        try report.gatherAutomation(log: log, store: store, maxLag: 60, stale: 30, maxOutboxAge: 3600)
        let state = try runs.current()
        var counts: [String: Int] = [:]
        for r in state.runs.values { counts[r.status.rawValue, default: 0] += 1 }
        let value = report.value.setting("runs", to: .object(RunStatus.allCases.map { ($0.rawValue, .int(Int64(counts[$0.rawValue] ?? 0))) }))
        return (value, report.healthy, report.text)
    }
}
