import ArgumentParser
import Catalog
import Console
import Engine
import Executors
import Dispatch
import EventLog
import Foundation

/// Where the console listens and who may write: `--bind`, tokens and `--auth`, shared by `serve`
/// and `work --http`.
struct ConsoleBind: ParsableArguments {
    @Option(name: .long, help: "The address the console listens on (default 127.0.0.1; another address needs tokens).")
    var bind = "127.0.0.1"
    @Option(name: .long, help: "The token file (`NAME sha256:HEX` lines; default <store>/console-tokens when it exists). Writes need a token.")
    var tokens: String?
    @Option(name: .customLong("token-secret"), help: "A secret (kind: secret) whose value is a token named after it (repeatable).")
    var tokenSecrets: [String] = []
    @Option(name: .long, help: "`read`: reads need a token too (default: only writes).")
    var auth: String?

    func check() throws {
        if let auth, auth != "read" { throw ValidationError("--auth takes `read` (got '\(auth)')") }
    }

    /// Whether any token source is configured (a token file, `--token-secret`).
    func mayHaveTokens(store: String) -> Bool {
        tokens != nil || !tokenSecrets.isEmpty || FileManager.default.fileExists(atPath: (store as NSString).appendingPathComponent("console-tokens"))
    }

    /// The tokens configured for the store at `store` (read with `log` for secrets).
    func load(store: String, log: EventLog) throws -> ConsoleTokens {
        var out = ConsoleTokens()
        let file = tokens ?? (store as NSString).appendingPathComponent("console-tokens")
        if tokens != nil || FileManager.default.fileExists(atPath: file) {
            do { out = try ConsoleTokens.load(file: file) } catch let e as TokenFileError { throw CommandFailure(message: e.description) } catch {
                throw CommandFailure(message: "cannot read the token file \(file): \(error.localizedDescription)")
            }
        }
        if !tokenSecrets.isEmpty {
            let catalog = try RunCommands.catalog(log)
            let root = (URL(fileURLWithPath: store).standardizedFileURL.path as NSString).deletingLastPathComponent
            for name in tokenSecrets {
                guard let def = try catalog.spec(SecretSpec.self, name) else { throw CommandFailure(message: "--token-secret \(name): no secret '\(name)' in the catalog; define it (kind: secret)") }
                switch Secrets.read(def, root: root) {
                case .success(let v): out.tokens.append(ConsoleTokens.token(name: name, value: v))
                case .failure(let why): throw CommandFailure(message: "--token-secret \(name): \(why)")
                }
            }
        }
        guard ConsoleServer.isLoopback(bind) || !out.isEmpty else {
            throw ValidationError("--bind \(bind) would serve the console beyond this machine without tokens; create one (`ledgerflow token create NAME`) or bind 127.0.0.1")
        }
        if auth == "read" && out.isEmpty { throw ValidationError("--auth read needs tokens; create one with `ledgerflow token create NAME`") }
        return out
    }
}

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Tokens for the console's writes.", subcommands: [TokenCreate.self])
}

struct TokenCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create",
        abstract: "Create a console token: prints it once and appends its SHA-256 (never the token) to the token file.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The token's name (its writes are by actor http:NAME).") var name: String
    @Option(name: .long, help: "The token file (default <store>/console-tokens).") var file: String?

    func validate() throws {
        guard ConsoleTokens.valid(name: name) else { throw ValidationError("NAME must be letters, digits, _ - . (at most 64), got '\(name)'") }
    }

    func run() throws {
        let path = file ?? (store.path as NSString).appendingPathComponent("console-tokens")
        if FileManager.default.fileExists(atPath: path) {
            let known = try ConsoleTokens.load(file: path)
            if known.tokens.contains(where: { $0.name == name }) { throw CommandFailure(message: "\(path) already has a token named \(name); pick another name") }
        }
        let (token, line) = ConsoleTokens.create(name: name)
        let handle: FileHandle
        if FileManager.default.fileExists(atPath: path) {
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.seekToEnd()
        } else {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw CommandFailure(message: "cannot create \(path)")
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        }
        try handle.write(contentsOf: Data((line + "\n").utf8))
        try handle.close()
        Output.line(token)
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
        // One environment per process (LMDB): opened for writing when there are tokens to write with.
        let log = address.mayHaveTokens(store: store.path) ? try store.openForWriting() : try store.openForReading()
        let tokens = try address.load(store: store.path, log: log)
        let console = ConsoleServer(log: log, writer: tokens.isEmpty ? nil : log, store: store.path,
                                    options: .init(host: address.bind, port: port, tokens: tokens, authRead: address.auth == "read"))
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

    init(log: EventLog, store: String, host: String, port: Int, tokens: ConsoleTokens, authRead: Bool) {
        let console = ConsoleServer(log: log, writer: tokens.isEmpty ? nil : log, store: store,
                                    options: .init(host: host, port: port, tokens: tokens, authRead: authRead))
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
