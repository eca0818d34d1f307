import Domain
import Foundation

/// One line of the engine's log: how much it matters, which part of the engine says it, the run it
/// is about, and what happened. The CLI prints it as text or as one JSON object per line
/// (`ledgerflow work --log-format json`); tests collect them.
public struct LogLine: Sendable, Equatable {
    public enum Level: String, Sendable, CaseIterable, Comparable {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
    }

    /// The output formats of `--log-format`.
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    public var time: Date
    public var level: Level
    /// `engine`, `recovery`, `scheduler`, `dependencies`, `automation`, `schedules`, `sensors`,
    /// `notifications`, `lineage`, …
    public var component: String
    public var run: String?
    public var message: String

    public init(time: Date = Date(), level: Level, component: String, run: String? = nil, message: String) {
        self.time = time
        self.level = level
        self.component = component
        self.run = run
        self.message = message
    }

    /// The line in `format`, without a newline.
    ///
    /// text: `2026-12-04T16:01:02.123Z warning recovery run=42: attempt 1 of stage a was interrupted`
    /// json: `{"time":"…","level":"warning","component":"recovery","run":"42","message":"…"}`
    public func formatted(_ format: Format) -> String {
        let micros = Int64((time.timeIntervalSince1970 * 1e6).rounded())
        switch format {
        case .text:
            return "\(Timestamp.rfc3339(micros: micros)) \(level.rawValue) \(component)\(run.map { " run=\($0)" } ?? ""): \(message)"
        case .json:
            var members: [(String, Value)] = [("time", .string(Timestamp.rfc3339(micros: micros))), ("level", .string(level.rawValue)),
                                               ("component", .string(component))]
            if let run { members.append(("run", .string(run))) }
            members.append(("message", .string(message)))
            return Value.object(members).jsonString
        }
    }
}

extension Engine.Options {
    /// Sends one line to `log`.
    public func report(_ message: String, _ level: LogLine.Level = .info, component: String = "engine", run: String? = nil) {
        log(LogLine(level: level, component: component, run: run, message: message))
    }
}
