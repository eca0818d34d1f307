import ArgumentParser
import Domain
import EventLog
import Foundation
import Runs
import LMDB

/// `ledgerflow`: the command-line interface.
struct Ledgerflow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledgerflow",
        abstract: "A metadata-driven data and ML pipeline engine whose source of truth is an append-only event log.",
        subcommands: [Init.self, Apply.self, CatalogCommand.self, RunJob.self, Runs.self, Status.self, Logs.self, Cancel.self, Rerun.self, Work.self,
                      ModelsCommand.self, LineageCommand.self, WhyCommand.self, Replay.self, ProjectionCommand.self, Events.self, Stats.self, Audit.self])
}

/// Options every store command takes.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store directory (default: $LEDGERFLOW_STORE, else ./.ledgerflow).", valueName: "dir"))
    var store: String?

    /// The store path: --store, else $LEDGERFLOW_STORE, else ./.ledgerflow.
    var path: String {
        if let store, !store.isEmpty { return store }
        if let env = ProcessInfo.processInfo.environment["LEDGERFLOW_STORE"], !env.isEmpty { return env }
        return ".ledgerflow"
    }

    /// Opens the existing store read-only (for commands that only report).
    func openForReading() throws -> EventLog {
        var c = Self.configuration
        c.readOnly = true
        return try EventLog.open(at: path, configuration: c)
    }

    /// Opens the existing store for writing.
    func openForWriting() throws -> EventLog {
        try EventLog.open(at: path, configuration: Self.configuration)
    }

    /// The log's configuration: the upcasters of every event type that changed schema.
    static var configuration: EventLog.Configuration {
        var c = EventLog.Configuration()
        RunEvents.register(&c.upcasters)
        return c
    }
}

/// Who the CLI appends as.
var cliActor: String {
    let env = ProcessInfo.processInfo.environment
    let user = env["USER"] ?? env["LOGNAME"] ?? getpwuid(getuid()).flatMap { String(validatingCString: $0.pointee.pw_name) } ?? "uid\(getuid())"
    return "cli:\(user)"
}

@main
enum Main {
    static func main() async {
        do {
            var command = try Ledgerflow.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Output.flush()
        } catch {
            Output.flush()
            exit(with: error)
        }
    }

    /// One line on stderr and the convention's exit code: 0 success, 1 failure, 2 bad usage.
    static func exit(with error: any Error) -> Never {
        if let failure = error as? CommandFailure {
            if !failure.message.isEmpty { FileHandle.standardError.write(Data("ledgerflow: \(failure.message)\n".utf8)) }
            Foundation.exit(1)
        }
        if error is EventLogError || error is WrongExpectedVersion || error is CheckpointConflict || error is LMDBError {
            FileHandle.standardError.write(Data("ledgerflow: error: \(error)\n".utf8))
            Foundation.exit(1)
        }
        let code = Ledgerflow.exitCode(for: error)
        if code == .success {
            // --help, --version
            print(Ledgerflow.fullMessage(for: error))
            Foundation.exit(0)
        }
        if code == .validationFailure || error is ValidationError {
            // One line: what is wrong, and where the usage is.
            let what = Ledgerflow.message(for: error).split(separator: "\n").first.map(String.init) ?? "bad usage"
            FileHandle.standardError.write(Data("ledgerflow: \(what.hasPrefix("Error: ") ? String(what.dropFirst(7)) : what) (usage: \(commandPath()) --help)\n".utf8))
            Foundation.exit(2)
        }
        let message = Ledgerflow.fullMessage(for: error)
        FileHandle.standardError.write(Data("ledgerflow: error: \(message.isEmpty ? "\(error)" : message)\n".utf8))
        Foundation.exit(1)
    }
}

/// `ledgerflow SUB SUBSUB`: the command the arguments name (for the usage hint).
func commandPath() -> String {
    var path = ["ledgerflow"]
    var current: [any ParsableCommand.Type] = Ledgerflow.configuration.subcommands
    for arg in CommandLine.arguments.dropFirst() {
        guard let next = current.first(where: { $0._commandName == arg }) else { break }
        path.append(arg)
        current = next.configuration.subcommands
    }
    return path.joined(separator: " ")
}

/// A failure already explained to the user (or to be explained in one line); exit code 1.
struct CommandFailure: Error {
    let message: String
}

/// Buffered standard output (a line at a time when following).
enum Output {
    nonisolated(unsafe) private static var buffer: [UInt8] = []
    private static let lock = NSLock()

    static func line(_ s: String) {
        lock.lock()
        buffer.append(contentsOf: s.utf8)
        buffer.append(0x0A)
        let full = buffer.count >= 1 << 16
        lock.unlock()
        if full { flush() }
    }

    static func flush() {
        lock.lock()
        let data = buffer
        buffer.removeAll(keepingCapacity: true)
        lock.unlock()
        guard !data.isEmpty else { return }
        data.withUnsafeBytes { p in
            var offset = 0
            while offset < p.count {
                let n = Foundation.write(1, p.baseAddress! + offset, p.count - offset)
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
