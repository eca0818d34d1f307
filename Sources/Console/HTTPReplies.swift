import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Runs

/// Responses the console builds: JSON values, JSON errors, HTML pages, plain text.
enum Reply {
    static func json(_ value: Value, status: HTTPResponse.Status = .ok) -> Response {
        json(bytes: value.jsonString, status: status)
    }

    static func json(bytes: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: bytes)))
    }

    /// `{"error": message}` with `status`.
    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(.object([("error", .string(message)), ("status", .int(Int64(status.code)))]), status: status)
    }

    static func html(_ page: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: page)))
    }

    static func text(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

/// A request the console refuses: its status and one line saying what and what to do.
struct ConsoleError: Error, Sendable {
    var status: HTTPResponse.Status
    var message: String
    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// Security headers on every response, errors as JSON (API) or a page (everything else), and
/// the token check: every write (any method but GET and HEAD) needs `Authorization: Bearer
/// TOKEN` — never a cookie, so another site cannot write through a visitor's browser — and a
/// cross-origin `Origin` is refused; with `authRead`, reads need a token too: the header, or for a
/// browser the read cookie `/login` sets (it grants reads only, never a write).
struct ConsoleMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: ConsoleTokens
    let authRead: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        let started = ContinuousClock.now
        do {
            let write = request.method != .get && request.method != .head
            let open = request.uri.path.hasPrefix("/static/") || request.uri.path == "/login"
            if write && !open {
                try check(request, write: true)
            } else if authRead && !open && !hasReadCookie(request) {
                do { try check(request, write: false) } catch is ConsoleError where !request.uri.path.hasPrefix("/api/") {
                    // A page in a browser: sign in first, then come back.
                    return Response(status: .seeOther, headers: [.location: "/login?next=" + HTML.component(request.uri.path + (request.uri.query.map { "?" + $0 } ?? ""))])
                }
            }
            response = try await next(request, context)
        } catch {
            let (status, message): (HTTPResponse.Status, String)
            switch error {
            case let e as ConsoleError: (status, message) = (e.status, e.message)
            case let e as HTTPError: (status, message) = (e.status, e.body ?? (e.status == .notFound ? "no such page: \(request.uri.path)" : e.status.reasonPhrase))
            case let e as any HTTPResponseError: (status, message) = (e.status, e.status.reasonPhrase)
            default: (status, message) = (.internalServerError, "\(error)")
            }
            response = request.uri.path.hasPrefix("/api/") ? Reply.error(status, message) : Reply.html(Pages.errorPage(status, message), status: status)
        }
        // The time the console took to build the response (not the body's streaming).
        let took = ContinuousClock.now - started
        let ms = Double(took.components.seconds) * 1000 + Double(took.components.attoseconds) / 1e15
        response.headers[HTTPField.Name("Server-Timing")!] = String(format: "app;dur=%.3f", ms)
        if response.status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"ledgerflow\"" }
        response.headers[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return response
    }
}

extension ConsoleMiddleware {
    /// Whether the request carries a read cookie holding a token the console knows.
    func hasReadCookie(_ request: Request) -> Bool {
        guard let cookies = request.headers[.cookie] else { return false }
        for part in cookies.split(separator: ";") {
            let kv = part.trimmingCharacters(in: .whitespaces)
            if kv.hasPrefix(ReadCookie.name + "="), tokens.name(of: String(kv.dropFirst(ReadCookie.name.count + 1))) != nil { return true }
        }
        return false
    }

    /// The caller's token name, or why the request is refused.
    func check(_ request: Request, write: Bool) throws {
        if write, let origin = request.headers[.origin], let host = request.head.authority,
           URL(string: origin)?.host.map({ h in URL(string: origin)?.port.map { "\(h):\($0)" } ?? h }) != host {
            throw ConsoleError(.forbidden, "a write from origin \(origin) to \(host) is refused (cross-site)")
        }
        _ = try ConsoleMiddleware.tokenName(request, tokens)
    }

    /// The name of the request's bearer token; 401 without one that the console knows.
    static func tokenName(_ request: Request, _ tokens: ConsoleTokens) throws -> String {
        guard !tokens.isEmpty else {
            throw ConsoleError(.unauthorized, "this console has no tokens: create one with `ledgerflow token create NAME` and restart it")
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw ConsoleError(.unauthorized, "this needs a token: send `Authorization: Bearer TOKEN`")
        }
        guard let name = tokens.name(of: String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)) else {
            throw ConsoleError(.unauthorized, "the token is not one this console knows")
        }
        return name
    }
}

/// The cookie a browser signs in with under `--auth read` (HttpOnly, SameSite=Strict): reads only.
enum ReadCookie {
    static let name = "ledgerflow_read"
}

/// HTML escaping: every text from metadata, data or logs goes through it.
enum HTML {
    static func escape(_ text: String) -> String { NotificationMessage.escape(text) }

    /// A query-string or path component (percent-encoded).
    static func component(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }
}
