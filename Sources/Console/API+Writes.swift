import Domain
import Engine
import EventLog
import Foundation
import Hummingbird
import Runs

/// The writes: run a job, cancel a run, rerun from failure, promote a model's alias. Each needs
/// a bearer token (`ConsoleMiddleware`) and is an event whose actor is `http:TOKEN_NAME`.
extension ConsoleServer {
    /// The write routes, all POST (documented in docs/openapi.yaml with the reads).
    func writeRoutes() -> [Route] {
        [
            ("/api/runs", { request, _ in try await self.requestRun(request) }),
            ("/api/runs/:id/cancel", { request, context in try self.cancelRun(try Self.path(context, "id"), request) }),
            ("/api/runs/:id/rerun", { request, context in try self.rerunRun(try Self.path(context, "id"), request) }),
            ("/api/models/:name/aliases/:alias", { request, context in
                try await self.promote(model: try Self.path(context, "name"), alias: try Self.path(context, "alias"), request)
            }),
        ]
    }

    /// The actor of a write: `http:` and the token's name.
    func actor(_ request: Request) throws -> String { "http:" + (try ConsoleMiddleware<BasicRequestContext>.tokenName(request, options.tokens)) }

    /// The request's JSON body (at most 1 MiB), an object.
    func body(_ request: Request) async throws -> Value {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: 1 << 20) } catch {
            throw ConsoleError(.contentTooLarge, "the body is over 1 MiB")
        }
        if buffer.readableBytes == 0 { return .object([]) }
        let value: Value
        do { value = try Value(jsonBytes: Array(buffer.readableBytesView)) } catch {
            throw ConsoleError(.badRequest, "the body is not JSON: \(error)")
        }
        guard value.objectMembers != nil else { throw ConsoleError(.badRequest, "the body must be a JSON object") }
        return value
    }

    /// `{job, parameters: {NAME: value}}` → a run requested like `ledgerflow run JOB --detach`.
    func requestRun(_ request: Request) async throws -> Response {
        let who = try actor(request)
        let input = try await body(request)
        guard let job = input["job"]?.stringValue, !job.isEmpty else { throw ConsoleError(.badRequest, "give the job: {\"job\": \"NAME\", \"parameters\": {…}}") }
        let parameters = input["parameters"]?.objectMembers?.map { ($0.key, $0.value) } ?? []
        let writable = try writableLog()
        do {
            let id = try RunCommands.request(writable, job: job, parameters: parameters, trigger: .manual(by: who), actor: who)
            return Reply.json(.object([("run", .string(id)), ("job", .string(job))]), status: .created)
        } catch let e as RunCommandError {
            throw ConsoleError(.badRequest, e.message)
        }
    }

    func cancelRun(_ id: String, _ request: Request) throws -> Response {
        let who = try actor(request)
        _ = try run(id, in: try runs.current())
        do { try RunCommands.cancel(try writableLog(), run: id, actor: who) } catch let e as RunCommandError { throw ConsoleError(.conflict, e.message) }
        return Reply.json(.object([("run", .string(id)), ("cancel_requested", .bool(true))]), status: .accepted)
    }

    func rerunRun(_ id: String, _ request: Request) throws -> Response {
        let who = try actor(request)
        _ = try run(id, in: try runs.current())
        do {
            let new = try RunCommands.rerunFromFailure(try writableLog(), run: id, actor: who)
            return Reply.json(.object([("run", .string(new)), ("rerun_of", .string(id))]), status: .created)
        } catch let e as RunCommandError {
            throw ConsoleError(.conflict, e.message)
        }
    }

    /// `{version, reason}` → the alias points at the version.
    func promote(model: String, alias: String, _ request: Request) async throws -> Response {
        let who = try actor(request)
        let input = try await body(request)
        guard case .int(let n)? = input["version"], n > 0 else { throw ConsoleError(.badRequest, "give the version: {\"version\": N, \"reason\": \"…\"}") }
        do {
            let done = try ModelWrites.promote(try writableLog(), model: model, version: UInt64(n), alias: alias, actor: who, reason: input["reason"]?.stringValue)
            return Reply.json(.object([("model", .string(model)), ("alias", .string(alias)), ("version", .int(n)),
                                       ("previous", done.previous.map { .int(Int64($0)) } ?? .null), ("seq", .int(Int64(done.seq)))]))
        } catch let e as ConsoleError {
            throw e
        } catch {
            throw ConsoleError(.badRequest, "\(error)")
        }
    }

    /// The log writes go to (the console opens the store for writing only when it has tokens).
    func writableLog() throws -> EventLog {
        guard let w = writer else { throw ConsoleError(.forbidden, "this console serves the store read-only") }
        return w
    }
}
