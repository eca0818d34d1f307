import Domain
import EventLog
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The operations console: a JSON API under `/api/` and server-rendered pages over the store,
/// reading it through the same projections and views as the CLI (`RunViews`, the runs and
/// catalog projections), live through Server-Sent Events from the log's subscription.
public final class ConsoleServer: Sendable {
    /// Where it listens and what it serves.
    public struct Options: Sendable {
        /// The address bound (default loopback).
        public var host: String
        /// The port (0: any free one; `onListening` says which).
        public var port: Int
        /// A heartbeat comment on idle event streams this often (keeps proxies from closing them).
        public var heartbeat: Duration
        /// The bearer tokens writes need (none: every write is refused).
        public var tokens: ConsoleTokens
        /// Reads need a token too (`--auth read`).
        public var authRead: Bool

        public init(host: String = "127.0.0.1", port: Int = 8080, heartbeat: Duration = .seconds(15), tokens: ConsoleTokens = ConsoleTokens(),
                    authRead: Bool = false) {
            self.host = host
            self.port = port
            self.heartbeat = heartbeat
            self.tokens = tokens
            self.authRead = authRead
        }
    }

    let log: EventLog
    /// The log writes go to (nil: read-only; writes are refused).
    let writer: EventLog?
    let store: String
    let options: Options
    let runs: RunsCache
    /// Recent runs lists by log position and query (see `runsList`).
    let listCache = Locked<[String: (at: ContinuousClock.Instant, body: String)]>([:])

    /// Whether `host` is a loopback address (the only kind served without tokens).
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// A console over the store at `store` (its folder), read through `log`; writes (with a
    /// token) go to `writer`.
    public init(log: EventLog, writer: EventLog? = nil, store: String, options: Options = Options()) {
        self.log = log
        self.writer = writer
        self.store = (store as NSString).standardizingPath
        self.options = options
        self.runs = RunsCache(log: log)
    }

    /// Serves until the process gets SIGINT or SIGTERM, or `stop` is triggered; `onListening` is
    /// told the bound port once the socket listens.
    /// `signals` false leaves SIGINT and SIGTERM to the caller (`work --http` stops the console
    /// itself when its engine ends).
    public func serve(signals: Bool = true, onListening: @escaping @Sendable (Int) -> Void = { _ in }, stop: ServiceStopper? = nil) async throws {
        var logger = Logger(label: "ledgerflow.console")
        logger.logLevel = .warning
        let port = options.port
        let app = Application(router: router(),
                              configuration: .init(address: .hostname(options.host, port: options.port), serverName: "ledgerflow"),
                              onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) },
                              logger: logger)
        var config = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [], logger: logger)
        config.maximumGracefulShutdownDuration = .seconds(3)
        let group = ServiceGroup(configuration: config)
        await stop?.attach(group)
        try await group.run()
    }
}

/// Stops a running console from elsewhere (tests, `work --http` when the engine ends).
public actor ServiceStopper {
    var group: ServiceGroup?
    var stopped = false

    public init() {}

    func attach(_ group: ServiceGroup) async {
        self.group = group
        if stopped { await group.triggerGracefulShutdown() }
    }

    /// Asks the console to stop (open event streams end).
    public func stop() async {
        stopped = true
        await group?.triggerGracefulShutdown()
    }
}
