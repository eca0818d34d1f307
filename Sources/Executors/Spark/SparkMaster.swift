import Domain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A client for a Spark standalone master's web UI: its JSON status (`GET /json/`) and its kill
/// button (`POST /app/kill/`).
///
/// What the master answers (verified against Spark 3.5.3): `/json/` lists the workers, the active
/// and completed applications (an application stays in `activeapps` while it is WAITING or RUNNING
/// and moves to `completedapps` as FINISHED, KILLED or FAILED) and the drivers of cluster-mode
/// submissions. `/app/kill/` answers 302 whatever happens — also for an unknown application, or
/// when `spark.ui.killEnabled` is false — so `kill(appID:)` checks the application first, and the
/// caller reads `status()` to see it end.
public struct SparkMaster: Sendable {
    /// The master's web UI, e.g. `http://127.0.0.1:8080`.
    public let webURL: URL
    /// How long one request may take, in seconds.
    public var timeout: Double

    public init(webURL: URL, timeout: Double = 10) {
        self.webURL = webURL
        self.timeout = timeout
    }

    /// The web UI of the master at `masterURL` (`spark://HOST:PORT`; of a list `spark://H1:P1,H2:P2`,
    /// the first host) on `webUIPort` (the master's default is 8080; `--webui-port` or
    /// `spark.master.ui.port` change it).
    public static func webURL(forMaster masterURL: String, webUIPort: Int = 8080) throws(SparkMasterError) -> URL {
        let usage = "give a master URL like spark://HOST:7077"
        guard masterURL.hasPrefix("spark://") else {
            throw SparkMasterError("'\(masterURL)' is not a Spark standalone master URL; \(usage)")
        }
        let first = masterURL.dropFirst("spark://".count).split(separator: ",", omittingEmptySubsequences: false).first ?? ""
        var host = Substring(first.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") { host = host[..<colon] }
        guard !host.isEmpty, let url = URL(string: "http://\(host):\(webUIPort)") else {
            throw SparkMasterError("'\(masterURL)' names no host; \(usage)")
        }
        return url
    }

    // MARK: - Status

    /// What `/json/` says.
    public struct Status: Sendable, Equatable, Decodable {
        /// The master's own URL (`spark://HOST:PORT`).
        public var url: String
        /// The master's state: `ALIVE` (or `STANDBY`, `RECOVERING`, … under high availability).
        public var status: String
        public var workers: [Worker]
        public var activeApps: [Application]
        public var completedApps: [Application]
        public var activeDrivers: [Driver]
        public var completedDrivers: [Driver]

        enum CodingKeys: String, CodingKey {
            case url, status, workers
            case activeApps = "activeapps", completedApps = "completedapps"
            case activeDrivers = "activedrivers", completedDrivers = "completeddrivers"
        }

        /// The workers that are ALIVE.
        public var aliveWorkers: [Worker] { workers.filter { $0.state == .alive } }

        /// The most recent application named `name`: an active one first, else the completed one
        /// that started last.
        public func app(named name: String) -> Application? {
            func latest(_ apps: [Application]) -> Application? {
                apps.filter { $0.name == name }.max { ($0.startTime, $0.id) < ($1.startTime, $1.id) }
            }
            return latest(activeApps) ?? latest(completedApps)
        }

        /// The application `id`, active or completed.
        public func app(id: String) -> Application? {
            activeApps.first { $0.id == id } ?? completedApps.first { $0.id == id }
        }
    }

    /// A worker as the master sees it.
    public struct Worker: Sendable, Equatable, Decodable {
        public var id: String
        public var host: String?
        public var state: WorkerState
        public var cores: Int
        public var coresUsed: Int

        enum CodingKeys: String, CodingKey { case id, host, state, cores, coresUsed = "coresused" }
    }

    /// An application (one SparkContext) registered with the master.
    public struct Application: Sendable, Equatable, Decodable {
        /// `app-YYYYMMDDhhmmss-NNNN`.
        public var id: String
        /// The name it was submitted with (`--name`, `spark.app.name`).
        public var name: String
        public var state: ApplicationState
        /// When it registered, milliseconds since 1970.
        public var startTime: Int64
        /// Milliseconds it has run (so far, or in all when completed).
        public var duration: Int64
        /// Cores it holds (0 once completed).
        public var cores: Int

        enum CodingKeys: String, CodingKey { case id, name, state, startTime = "starttime", duration, cores }
    }

    /// A driver the master runs (cluster deploy mode).
    public struct Driver: Sendable, Equatable, Decodable {
        public var id: String
        /// SUBMITTED, RUNNING, FINISHED, RELAUNCHING, UNKNOWN, KILLED, FAILED or ERROR.
        public var state: String
        public var startTime: Int64?
        /// The worker it runs on.
        public var worker: String?

        enum CodingKeys: String, CodingKey { case id, state, startTime = "starttime", worker }
    }

    /// Spark's `ApplicationState`.
    public enum ApplicationState: String, Sendable, Equatable, Decodable {
        case waiting = "WAITING", running = "RUNNING", finished = "FINISHED", failed = "FAILED", killed = "KILLED", unknown = "UNKNOWN"

        /// A state that a newer Spark may add reads as `unknown`.
        public init(from decoder: any Decoder) throws {
            self = ApplicationState(rawValue: try decoder.singleValueContainer().decode(String.self)) ?? .unknown
        }

        /// FINISHED, FAILED or KILLED: the application has ended.
        public var hasEnded: Bool { self == .finished || self == .failed || self == .killed }
    }

    /// Spark's `WorkerState`.
    public enum WorkerState: String, Sendable, Equatable, Decodable {
        case alive = "ALIVE", dead = "DEAD", decommissioned = "DECOMMISSIONED", unknown = "UNKNOWN"

        public init(from decoder: any Decoder) throws {
            self = WorkerState(rawValue: try decoder.singleValueContainer().decode(String.self)) ?? .unknown
        }
    }

    /// Decodes a `/json/` document; `source` names it in the error.
    public static func decodeStatus(_ data: Data, source: String) throws(SparkMasterError) -> Status {
        do {
            return try JSONDecoder().decode(Status.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw SparkMasterError("\(source): field '\(Self.path(context.codingPath + [key]))' is missing; is this a Spark standalone master's web UI?")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw SparkMasterError("\(source): field '\(Self.path(context.codingPath))' has the wrong type; is this a Spark standalone master's web UI?")
        } catch {
            throw SparkMasterError("\(source) is not JSON; is this a Spark standalone master's web UI (not its spark:// port)?")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }

    /// The master's status now.
    public func status() throws(SparkMasterError) -> Status {
        let url = webURL.appendingPathComponent("json").appendingPathComponent("")
        let (code, body) = try exchange(URLRequest(url: url))
        guard code == 200 else {
            throw SparkMasterError("GET \(url.absoluteString) answered HTTP \(code); check that \(webURL.absoluteString) is a Spark standalone master's web UI")
        }
        return try Self.decodeStatus(body, source: "GET \(url.absoluteString)")
    }

    /// The most recent application named `name` (active first); nil when the master has none.
    public func app(named name: String) throws(SparkMasterError) -> Application? {
        try status().app(named: name)
    }

    /// Asks the master to kill application `appID` (as its UI's kill button does) and returns the
    /// application as it was just before. The master answers before the application has ended:
    /// read `status()` to see it KILLED. An application that has already ended is left alone.
    @discardableResult
    public func kill(appID: String) throws(SparkMasterError) -> Application {
        guard let app = try status().app(id: appID) else {
            throw SparkMasterError("the Spark master at \(webURL.absoluteString) has no application '\(appID)'; list them with GET \(webURL.absoluteString)/json/")
        }
        guard !app.state.hasEnded else { return app }
        let url = webURL.appendingPathComponent("app").appendingPathComponent("kill").appendingPathComponent("")
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data("id=\(Self.formEncoded(appID))&terminate=true".utf8)
        let (code, _) = try exchange(request)
        guard (200 ..< 400).contains(code) else {
            throw SparkMasterError("POST \(url.absoluteString) (kill \(appID)) answered HTTP \(code); the master's UI must allow killing (spark.ui.killEnabled=true)")
        }
        return app
    }

    private static func formEncoded(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    /// Why a request failed, in a few words (Foundation's own text on Linux is a bare error code).
    private static func reason(_ error: any Error) -> String {
        switch (error as? URLError)?.code {
        case .cannotConnectToHost?: return "connection refused"
        case .timedOut?: return "timed out"
        case .cannotFindHost?, .dnsLookupFailed?: return "unknown host"
        case .networkConnectionLost?: return "connection closed"
        default: return error.localizedDescription
        }
    }

    /// One request, waited for: (HTTP status, body). The answer to a POST is a redirect, followed.
    private func exchange(_ request: URLRequest) throws(SparkMasterError) -> (Int, Data) {
        var request = request
        request.timeoutInterval = timeout
        let what = "\(request.httpMethod ?? "GET") \(request.url?.absoluteString ?? "")"
        let outcome = Locked<Result<(Int, Data), SparkMasterError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let session = URLSession(configuration: .ephemeral)
        let task = session.dataTask(with: request) { data, response, error in
            let result: Result<(Int, Data), SparkMasterError>
            if let error {
                result = .failure(SparkMasterError("\(what) failed (\(Self.reason(error))); check that the Spark master is running and its web UI is at \(webURL.absoluteString)"))
            } else {
                result = .success(((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()))
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        task.resume()
        defer { session.finishTasksAndInvalidate() }
        if done.wait(timeout: .now() + timeout + 5) == .timedOut {
            task.cancel()
            throw SparkMasterError("\(what) got no answer in \(Int(timeout)) s; check that the Spark master is running and its web UI is at \(webURL.absoluteString)")
        }
        guard let result = outcome.withLock({ $0 }) else { throw SparkMasterError("\(what) ended without an answer") }
        return try result.get()
    }
}

/// A Spark master could not be asked, or answered something unexpected: one line saying what,
/// where, and what to do.
public struct SparkMasterError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
