import Domain
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a restarted engine finds of a Spark application an engine that is gone submitted, and
/// whether to follow it (reattach) or record the attempt as interrupted. Asked once per such
/// attempt, by recovery; never submits anything.
public enum SparkRecovery {
    public struct Finding: Sendable {
        /// Follow the application to its end (its executor reattaches instead of submitting).
        public var reattach: Bool
        /// What was found, for the engine's report.
        public var phrase: String
    }

    /// The application is followed when its end is on record (the outcome was lost with the
    /// engine, not the work), when spark-submit's exit code was written, or when its processes
    /// still run — and, on a standalone cluster, the master does not say it ended otherwise. It is
    /// interrupted when none of that holds; then, should the master still list it as running
    /// (its driver gone), it is killed there first, so that the retry never runs beside it.
    public static func inspect(_ submitted: ApplicationSubmitted, folder: String, ended: Bool) -> Finding {
        if ended { return Finding(reattach: true, phrase: "ended before the engine stopped; its outcome is taken from the record") }
        let exitFile = (folder as NSString).appendingPathComponent("exit-code")
        if let text = try? String(contentsOfFile: exitFile, encoding: .utf8) {
            return Finding(reattach: true, phrase: "ended while no engine watched (exit code \(text.trimmingCharacters(in: .whitespacesAndNewlines))); reattached to record its outcome")
        }
        let master = submitted.masterUI.flatMap(URL.init(string:)).map { SparkMaster(webURL: $0) }
        let app = master.flatMap { try? $0.status().app(named: submitted.key) }
        if let group = SparkProcesses.running(in: folder) {
            if let app, app.state.hasEnded {
                return Finding(reattach: true, phrase: "is \(app.state.rawValue) on the master (\(app.id)) and its driver (process group \(group)) is ending; reattached")
            }
            let where_ = app.map { " and \($0.state.rawValue) on the master as \($0.id)" } ?? ""
            return Finding(reattach: true, phrase: "still runs (driver process group \(group)\(where_)); reattached, not submitted again")
        }
        var phrase = "is gone (no driver process, no exit code): the attempt is interrupted"
        if let master, let app, !app.state.hasEnded {
            do {
                try master.kill(appID: app.id)
                phrase += "; the master still listed it as \(app.state.rawValue) (\(app.id)): killed there before any retry"
            } catch {
                phrase += "; the master still lists it as \(app.state.rawValue) (\(app.id)) and killing it failed: \(error)"
            }
        } else if let app {
            phrase += "; the master lists it as \(app.state.rawValue) (\(app.id))"
        }
        return Finding(reattach: false, phrase: phrase)
    }
}
