import ArgumentParser
import Console
import Dispatch
import EventLog
import Foundation

/// Where the console listens: `--bind` and `--port`, shared by `serve` and `work --http`.
struct ConsoleBind: ParsableArguments {
    @Option(name: .long, help: "The address the console listens on (default 127.0.0.1; other addresses need tokens, not built yet).")
    var bind = "127.0.0.1"

    func check() throws {
        guard ConsoleServer.isLoopback(bind) else {
            throw ValidationError("--bind \(bind) would serve the console beyond this machine, and no tokens are configured (write tokens are not built yet); bind 127.0.0.1 and put a proxy with authentication in front")
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the operations console: the JSON API under /api/ and the web pages, live from the log, until SIGINT or SIGTERM.")
    @OptionGroup var store: StoreOptions
    @OptionGroup var address: ConsoleBind
    @Option(name: .long, parsing: .unconditional, help: "The port (default 8080; 0 picks a free one, printed on the console: line).") var port = 8080

    func validate() throws {
        try address.check()
        if !(0...65535).contains(port) { throw ValidationError("--port must be from 0 to 65535 (got \(port))") }
    }

    func run() async throws {
        let log = try store.openForReading()
        let console = ConsoleServer(log: log, store: store.path, options: .init(host: address.bind, port: port))
        let host = address.bind
        do {
            try await console.serve(onListening: { bound in
                Output.line("console: http://\(host):\(bound)/")
                Output.flush()
            })
        } catch {
            throw CommandFailure(message: "the console could not serve on \(host):\(port): \(error)")
        }
    }
}

/// `work --http PORT`: the console beside the engine, stopped when the engine ends.
final class ConsoleBeside: Sendable {
    let stopper = ServiceStopper()
    let ended = DispatchSemaphore(value: 0)

    init(log: EventLog, store: String, host: String, port: Int) {
        let console = ConsoleServer(log: log, store: store, options: .init(host: host, port: port))
        let ended = self.ended, stopper = self.stopper
        Task.detached {
            do {
                try await console.serve(signals: false, onListening: { bound in
                    FileHandle.standardError.write(Data("console: http://\(host):\(bound)/\n".utf8))
                }, stop: stopper)
            } catch {
                FileHandle.standardError.write(Data("ledgerflow: the console could not serve on \(host):\(port): \(error)\n".utf8))
            }
            ended.signal()
        }
    }

    /// Stops the console and waits for it (open event streams end).
    func stop() {
        let stopper = self.stopper
        Task.detached { await stopper.stop() }
        _ = ended.wait(timeout: .now() + 10)
    }
}
