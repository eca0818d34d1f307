import ArgumentParser
import Domain
import EventLog
import Foundation
import Runs

/// `ledgerflow`: the command-line interface.
struct Ledgerflow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledgerflow",
        abstract: "A metadata-driven data and ML pipeline engine whose source of truth is an append-only event log.",
        subcommands: [Init.self, Apply.self, CatalogCommand.self, RunJob.self, Runs.self, Status.self, Logs.self, Cancel.self, Rerun.self, Work.self, Serve.self, TokenCommand.self, Schedules.self, SensorsCommand.self, Notifications.self,
                      ModelsCommand.self, LineageCommand.self, WhyCommand.self, Replay.self, ProjectionCommand.self, Events.self, Stats.self, Audit.self, Health.self])
}

/// Options every store command takes.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store directory (default: $LEDGERFLOW_STORE, else ./.ledgerflow).", valueName: "dir"))
    var store: String?

    /// The store path: --store, else $LEDGERFLOW_STORE, else ./.ledgerflow.
    var path: String {
        if let store, !store.isEmpty { return store }
        if let env = environmentVariable("LEDGERFLOW_STORE"), !env.isEmpty { return env }
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

/// The environment variable `name`, nil when it is not set.
func environmentVariable(_ name: String) -> String? {
    getenv(name).flatMap { String(validatingCString: $0) }
}

/// Who the CLI appends as.
var cliActor: String {
    let user = environmentVariable("USER") ?? environmentVariable("LOGNAME") ?? getpwuid(getuid()).flatMap { String(validatingCString: $0.pointee.pw_name) } ?? "uid\(getuid())"
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

    /// One line on stderr, `ledgerflow: <what>`, and the convention's exit code: 0 success, 1
    /// failure, 2 bad usage.
    static func exit(with error: any Error) -> Never {
        func fail(_ what: String, code: Int32 = 1) -> Never {
            FileHandle.standardError.write(Data("ledgerflow: \(what)\n".utf8))
            Foundation.exit(code)
        }
        if let failure = error as? CommandFailure {
            if !failure.message.isEmpty { FileHandle.standardError.write(Data("ledgerflow: \(failure.message)\n".utf8)) }
            Foundation.exit(1)
        }
        if let failure = error as? DecodingFailure {
            // An event (or a spec in one) that does not have its type's shape: name it.
            fail("\(failure.seq == nil ? "unreadable value" : "unreadable event"): \(failure)")
        }
        if error is EventLogError || error is WrongExpectedVersion || error is CheckpointConflict {
            fail(oneLine("\(error)"))
        }
        let code = Ledgerflow.exitCode(for: error)
        if code == .success {
            // --help, --version
            print(Ledgerflow.fullMessage(for: error))
            Foundation.exit(0)
        }
        // ArgumentParser prefixes the message of an error it does not know with "Error: ".
        let message = Ledgerflow.message(for: error)
        let what = oneLine(message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message)
        if code == .validationFailure || error is ValidationError {
            // One line: what is wrong, and where the usage is.
            fail("\(what.isEmpty ? "bad usage" : what) (usage: \(commandPath()) --help)", code: 2)
        }
        fail(what.isEmpty ? oneLine("\(error)") : what)
    }

    /// The first line of `text`.
    static func oneLine(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? ""
    }
}

/// `ledgerflow SUB SUBSUB`: the command the arguments name (for the usage hint).
func commandPath() -> String {
    var path = [Ledgerflow.configuration.commandName ?? "ledgerflow"]
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
    private static let buffer = Locked<[UInt8]>([])

    static func line(_ s: String) {
        let full = buffer.withLock { b in
            b.append(contentsOf: s.utf8)
            b.append(0x0A)
            return b.count >= 1 << 16
        }
        if full { flush() }
    }

    static func flush() {
        let data = buffer.withLock { b in
            let data = b
            b.removeAll(keepingCapacity: true)
            return data
        }
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
