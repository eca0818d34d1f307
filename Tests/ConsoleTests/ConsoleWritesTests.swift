import Console
import Domain
import EventLog
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import Testing

/// The console's writes over real HTTP: each needs a bearer token the console knows (kept hashed),
/// is refused from another origin, and is an event whose actor is `http:TOKEN_NAME`; `authRead`
/// guards reads too.
@Suite(.timeLimit(.minutes(2))) struct ConsoleWritesTests {
    final class Console: @unchecked Sendable {
        let dir = TemporaryDirectory("console-writes")
        var store: String { dir.sub(".ledgerflow") }
        var port = 0
        let stopper = ServiceStopper()
        var serving: Task<Void, any Error>?
        var log: EventLog?
        let token: String

        func lf(_ args: [String]) throws -> RunResult { try ledgerflow(args + ["--store", store], cwd: dir.path) }

        init(authRead: Bool = false, tokens: Bool = true) async throws {
            try """
            kind: job
            name: flaky
            parameters: {mode: {type: text, default: fail}}
            stages: [{name: go, type: script, command: [sh, -c, "test \\"$LEDGERFLOW_PARAM_MODE\\" = ok || test -f fixed"]}]
            """.write(toFile: dir.sub("defs.yaml"), atomically: true, encoding: .utf8)
            #expect(try ledgerflow(["init", "--store", dir.sub(".ledgerflow")], cwd: dir.path).status == 0)
            #expect(try ledgerflow(["apply", "defs.yaml", "--store", dir.sub(".ledgerflow")], cwd: dir.path).status == 0)
            let created = try ledgerflow(["token", "create", "ops", "--store", dir.sub(".ledgerflow")], cwd: dir.path)
            #expect(created.status == 0, "\(created.stderr)")
            token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let file = try String(contentsOfFile: dir.sub(".ledgerflow/console-tokens"), encoding: .utf8)
            #expect(file.hasPrefix("ops sha256:") && !file.contains(token), "the file keeps the token's hash only")
            let log = try EventLog.open(at: store, configuration: EventLog.Configuration())
            self.log = log
            let loaded = tokens ? try ConsoleTokens.load(file: dir.sub(".ledgerflow/console-tokens")) : ConsoleTokens()
            let server = ConsoleServer(log: log, writer: log, store: store, options: .init(host: "127.0.0.1", port: 0, tokens: loaded, authRead: authRead))
            let bound = Locked<Int>(0)
            let stopper = self.stopper
            // On a thread of its own, as ConsoleTests.Served does.
            serving = Task(executorPreference: DedicatedExecutor(name: "console")) { try await server.serve(signals: false, onListening: { p in bound.withLock { $0 = p } }, stop: stopper) }
            try await waitUntil("the console to listen") { bound.withLock { $0 } != 0 }
            port = bound.withLock { $0 }
        }

        func stop() async {
            await stopper.stop()
            _ = try? await serving?.value
        }

        /// A request whose redirect is not followed (curl, to see the 303 and its headers).
        func sendNoRedirect(_ method: String, _ path: String, form: String) async throws -> (status: Int, headers: [String: String]) {
            let r = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-D", "-", "-X", method, "--data", form, "http://127.0.0.1:\(port)\(path)"])
            var headers: [String: String] = [:]
            var status = 0
            for line in r.stdout.split(separator: "\r\n").flatMap({ $0.split(separator: "\n") }) {
                if line.hasPrefix("HTTP/") { status = Int(line.split(separator: " ")[1]) ?? 0; continue }
                if let colon = line.firstIndex(of: ":") { headers[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
            }
            return (status, headers)
        }

        func send(_ method: String, _ path: String, json: String? = nil, form: String? = nil, token: String? = nil, headers: [String: String] = [:]) async throws -> (status: Int, body: Value, headers: [AnyHashable: Any]) {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            request.httpMethod = method
            request.httpShouldHandleCookies = false
            if let form { request.httpBody = Data(form.utf8); request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type") }
            if let json { request.httpBody = Data(json.utf8); request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as! HTTPURLResponse
            return (http.statusCode, (try? Value(jsonBytes: [UInt8](data))) ?? .string(String(decoding: data, as: UTF8.self)), http.allHeaderFields)
        }
    }

    @Test func writesNeedAKnownTokenAndRecordItsName() async throws {
        let c = try await Console()
        defer { Task { await c.stop() } }
        let none = try await c.send("POST", "/api/runs", json: #"{"job": "flaky"}"#)
        #expect(none.status == 401 && none.body["error"]?.stringValue?.contains("Authorization: Bearer") == true, "\(none.body)")
        #expect((none.headers["Www-Authenticate"] ?? none.headers["WWW-Authenticate"]) as? String == "Bearer realm=\"ledgerflow\"")
        let wrong = try await c.send("POST", "/api/runs", json: #"{"job": "flaky"}"#, token: "lf_" + String(repeating: "0", count: 64))
        #expect(wrong.status == 401 && wrong.body["error"]?.stringValue?.contains("not one this console knows") == true)
        let cross = try await c.send("POST", "/api/runs", json: #"{"job": "flaky"}"#, token: c.token, headers: ["Origin": "http://evil.example"])
        #expect(cross.status == 403 && cross.body["error"]?.stringValue?.contains("cross-site") == true, "\(cross.body)")
        #expect(try c.lf(["runs", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]", "no refused write appended anything")

        let made = try await c.send("POST", "/api/runs", json: #"{"job": "flaky", "parameters": {"mode": "ok"}}"#, token: c.token)
        #expect(made.status == 201 && made.body["run"] == "1", "\(made.body)")
        let requested = try #require(try c.lf(["events", "--json", "--type", "RunRequested"]).lines.first.map { try Value(json: String($0)) })
        #expect(requested["actor"] == "http:ops" && requested["payload"]?["trigger"]?["by"] == "http:ops")
        #expect(requested["payload"]?["parameters"]?["mode"] == "ok")
        let unknownJob = try await c.send("POST", "/api/runs", json: #"{"job": "nope"}"#, token: c.token)
        #expect(unknownJob.status == 400 && unknownJob.body["error"]?.stringValue?.contains("nope") == true)
        let notJSON = try await c.send("POST", "/api/runs", json: "job=flaky", token: c.token)
        #expect(notJSON.status == 400 && notJSON.body["error"]?.stringValue?.contains("not JSON") == true)
    }

    @Test func cancelRerunAndPromoteThroughTheAPI() async throws {
        let c = try await Console()
        defer { Task { await c.stop() } }
        #expect(try c.lf(["run", "flaky"]).status == 1)          // run 1 fails
        try "".write(toFile: c.dir.sub("fixed"), atomically: true, encoding: .utf8)
        let rerun = try await c.send("POST", "/api/runs/1/rerun", token: c.token)
        #expect(rerun.status == 201 && rerun.body["rerun_of"] == "1", "\(rerun.body)")
        let second = try #require(rerun.body["run"]?.stringValue)
        let cancel = try await c.send("POST", "/api/runs/\(second)/cancel", token: c.token)
        #expect(cancel.status == 202, "\(cancel.body)")
        let events = try c.lf(["events", "--json", "--type", "RunCancelRequested"]).lines.map { try Value(json: String($0)) }
        #expect(events.count == 1 && events.first?["actor"] == "http:ops")
        let again = try await c.send("POST", "/api/runs/99/cancel", token: c.token)
        #expect(again.status == 404)
        let promote = try await c.send("POST", "/api/models/churn/aliases/production", json: #"{"version": 1}"#, token: c.token)
        #expect(promote.status == 400 && promote.body["error"]?.stringValue?.contains("churn") == true, "\(promote.body)")
        let noVersion = try await c.send("POST", "/api/models/churn/aliases/production", json: "{}", token: c.token)
        #expect(noVersion.status == 400 && noVersion.body["error"]?.stringValue?.contains("version") == true)
    }

    @Test func authReadGuardsReadsAndAConsoleWithoutTokensRefusesWrites() async throws {
        let guarded = try await Console(authRead: true)
        let anonymous = try await guarded.send("GET", "/api/runs")
        #expect(anonymous.status == 401)
        // A page in a browser is sent to sign in (followed here to the form)…
        let page = try await guarded.send("GET", "/")
        #expect(page.status == 200 && page.body.stringValue?.contains("<h1>Sign in</h1>") == true, "\(page.body)")
        // …where a known token sets the read cookie (HttpOnly, SameSite=Strict) and a wrong one does not.
        let wrong = try await guarded.send("POST", "/login", form: "token=lf_nope&next=%2F")
        #expect(wrong.status == 401 && wrong.body.stringValue?.contains("not one this console knows") == true)
        let signIn = try await guarded.sendNoRedirect("POST", "/login", form: "token=\(guarded.token)&next=%2Fruns%2F1")
        #expect(signIn.status == 303 && signIn.headers["Location"] == "/runs/1", "\(signIn)")
        #expect(signIn.headers["Set-Cookie"]?.hasPrefix("ledgerflow_read=\(guarded.token);") == true && signIn.headers["Set-Cookie"]?.contains("HttpOnly; SameSite=Strict") == true)
        let withCookie = try await guarded.send("GET", "/", headers: ["Cookie": "ledgerflow_read=\(guarded.token)"])
        #expect(withCookie.status == 200 && withCookie.body.stringValue?.contains("<h1>Runs</h1>") == true)
        let apiWithCookie = try await guarded.send("GET", "/api/runs", headers: ["Cookie": "ledgerflow_read=\(guarded.token)"])
        #expect(apiWithCookie.status == 200)
        let writeWithCookie = try await guarded.send("POST", "/api/runs", json: #"{"job": "flaky"}"#, headers: ["Cookie": "ledgerflow_read=\(guarded.token)"])
        #expect(writeWithCookie.status == 401, "the read cookie never grants a write")
        let withToken = try await guarded.send("GET", "/api/runs", token: guarded.token)
        #expect(withToken.status == 200)
        let style = try await guarded.send("GET", "/static/console.css")
        #expect(style.status == 200)
        await guarded.stop()

        let open = try await Console(tokens: false)
        defer { Task { await open.stop() } }
        let refused = try await open.send("POST", "/api/runs", json: #"{"job": "flaky"}"#, token: open.token)
        #expect(refused.status == 401 && refused.body["error"]?.stringValue?.contains("has no tokens") == true, "\(refused.body)")
    }
}
