import ArgumentParser
import Domain
import EventLog
import Foundation
import Lineage
import Models
import Projections

// MARK: - models: the registry (list, show, promote, diff)

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "The model registry: versions, metrics, artifacts, aliases.",
        subcommands: [ModelsList.self, ModelsShow.self, ModelsPromote.self, ModelsDiff.self], defaultSubcommand: ModelsList.self)
}

/// The registry as of the head of the log.
func registry(_ log: EventLog) throws -> ModelsState { try ModelViews.registry(log) }

func metricsText(_ v: Value) -> String {
    (v.objectMembers ?? []).filter { !["training_rows", "holdout_rows", "converged"].contains($0.key) }.map { m in
        "\(m.key) \(m.value.doubleValue.map { formatMetric($0) } ?? m.value.jsonString)"
    }.joined(separator: ", ")
}

func formatMetric(_ d: Double) -> String {
    if d == d.rounded() && abs(d) < 1e12 { return String(Int64(d)) }
    return String(format: abs(d) >= 100 ? "%.2f" : "%.4f", d)
}

struct ModelsList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every model: versions, aliases, the newest version's metrics.")
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let state = try registry(try store.openForReading())
        let models = state.models.keys.sorted().compactMap { state.models[$0] }
        if json {
            Output.line(ModelViews.list(state).jsonString)
            return
        }
        guard !models.isEmpty else { Output.line("no model is registered yet (a `train` stage registers one)"); return }
        printTable(["MODEL", "TYPE", "VERSIONS", "ALIASES", "LATEST", "TRAINED", "METRICS"], models.map { m in
            let aliases = m.aliases.keys.sorted().map { "\($0)→v\(m.aliases[$0] ?? 0)" }.joined(separator: " ")
            return [m.name, m.latest?.type ?? "", String(m.versions.count), aliases.isEmpty ? "-" : aliases, m.latest.map { "v\($0.version)" } ?? "-",
                    m.latest.map { Timestamp.rfc3339(micros: $0.recordedAtMicros) } ?? "", m.latest.map { metricsText($0.metrics) } ?? ""]
        })
    }
}

struct ModelsShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "One model: every version with its metrics, training data, feature spec, artifact; alias history.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The model.") var model: String
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let state = try registry(try store.openForReading())
        let m: ModelEntry
        do { m = try ModelViews.model(state, model) } catch { throw CommandFailure(message: error.description) }
        if json { Output.line(m.value.jsonString); return }
        Output.line("model \(m.name): \(m.versions.count) version(s)" + (m.aliases.isEmpty ? "" : "; aliases " + m.aliases.keys.sorted().map { "\($0) → v\(m.aliases[$0] ?? 0)" }.joined(separator: ", ")))
        printTable(["VERSION", "SEQ", "TRAINED", "RUN", "TRAINING DATA", "FEATURES", "ARTIFACT", "METRICS"], m.versions.map { v in
            let aliases = m.aliases.filter { $0.value == v.version }.keys.sorted()
            return ["v\(v.version)" + (aliases.isEmpty ? "" : " (\(aliases.joined(separator: ", ")))"), String(v.seq), Timestamp.rfc3339(micros: v.recordedAtMicros),
                    v.run, "\(v.trainingDataset)" + (v.trainingDatasetVersion.map { "@\($0)" } ?? ""),
                    v.featureSpec.map { "\($0)@\(v.featureSpecVersion ?? 0)" } ?? "-", String(v.artifact.prefix(12)), metricsText(v.metrics)]
        })
        if !m.aliasHistory.isEmpty {
            Output.line("")
            printTable(["ALIAS", "MOVED", "FROM", "TO", "SEQ", "BY"], m.aliasHistory.map { a in
                [a.alias, Timestamp.rfc3339(micros: a.recordedAtMicros), a.previous.map { "v\($0)" } ?? "-", "v\(a.version)", String(a.seq), a.by]
            })
        }
        let latest = m.latestMetrics.values.sorted { $0.seq < $1.seq }.filter { $0.source != "holdout" }
        if !latest.isEmpty {
            Output.line("")
            printTable(["METRIC", "VALUE", "VERSION", "SOURCE", "RUN", "SEQ"], latest.map { p in
                [p.metric + (p.feature.map { "(\($0))" } ?? ""), formatMetric(p.value), "v\(p.modelVersion)", p.source, p.run ?? "", String(p.seq)]
            })
        }
    }
}

struct ModelsPromote: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote", abstract: "Point an alias at a version (jobs that score with MODEL@ALIAS use it from their next run).")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The model.") var model: String
    @Argument(help: "The version (a number; `v2` works too).") var version: String
    @Option(help: "The alias to move, e.g. production.") var alias: String
    @Option(help: "Why (kept in the event).") var reason: String?
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let digits = version.hasPrefix("v") ? String(version.dropFirst()) : version
        guard let v = UInt64(digits), v > 0 else { throw ValidationError("VERSION must be a version number such as 2, got '\(version)'") }
        let log = try store.openForWriting()
        let state = try registry(log)
        let event: NewEvent
        do { event = try ModelDecider.promote(state, model: model, version: v, alias: alias, by: cliActor, reason: reason) } catch {
            throw CommandFailure(message: error.description)
        }
        let expected = state.models[model]?.streamVersion ?? 0
        let r: AppendResult
        do { r = try log.append([event], to: MLEvents.stream(model: model), expectedVersion: .exact(expected), actor: cliActor) } catch let e as WrongExpectedVersion {
            throw CommandFailure(message: "model '\(model)' changed while promoting (\(e)); run the command again")
        }
        let previous = state.models[model]?.aliases[alias].map { Int64($0) }
        if json {
            Output.line(Value.object([("model", .string(model)), ("alias", .string(alias)), ("version", .int(Int64(v))),
                                      ("previous", previous.map { .int($0) } ?? .null), ("seq", .int(Int64(r.firstSeq ?? 0)))]).jsonString)
        } else {
            Output.line("\(model)@\(alias): " + (previous.map { "v\($0) → " } ?? "") + "v\(v) (seq \(r.firstSeq ?? 0))")
        }
    }
}

struct ModelsDiff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "What differs between two versions: metrics, hyperparameters, training data, feature spec, columns, artifact.",
        discussion: "Versions are numbers or aliases (`ledgerflow models diff churn production 2`); by default the newest version against the one before.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The model.") var model: String
    @Argument(help: "The first version or alias (default: the one before the newest).") var from: String?
    @Argument(help: "The second version or alias (default: the newest).") var to: String?
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let state = try registry(try store.openForReading())
        let diff: ModelViews.Diff
        do { diff = try ModelViews.diff(state, model: model, from: from, to: to) } catch { throw CommandFailure(message: error.description) }
        if json {
            Output.line(diff.value.jsonString)
            return
        }
        let (a, b, rows) = (diff.from, diff.to, diff.changes)
        Output.line("\(model) v\(a.version) → v\(b.version)")
        if rows.isEmpty { Output.line("  no differences"); return }
        printTable(["FIELD", "V\(a.version)", "V\(b.version)", "CHANGE"], rows.map { r in
            let change: String
            if let x = r.1.doubleValue, let y = r.2.doubleValue { change = (y - x >= 0 ? "+" : "") + formatMetric(y - x) } else { change = "" }
            return [r.0, short(r.1), short(r.2), change]
        })
    }

    func short(_ v: Value) -> String {
        if let d = v.doubleValue, case .double = v { return formatMetric(d) }
        let s = v.stringValue ?? v.jsonString
        return s.count > 40 ? String(s.prefix(37)) + "…" : s
    }
}

// MARK: - why: the causal chain of a run

struct WhyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "why", abstract: "Why a run ran: its causal chain back to whoever or whatever started it, in words and as data.")
    @OptionGroup var store: StoreOptions
    @Argument(help: ArgumentHelp("The run.", valueName: "run")) var runID: String
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let why = Why(log: try store.openForReading())
        if json {
            do { Output.line(try why.explainValue(run: runID).jsonString) } catch let e as WhyError { throw CommandFailure(message: e.description) }
            return
        }
        let steps: [WhyStep]
        do { steps = try why.explain(run: runID) } catch let e as WhyError { throw CommandFailure(message: e.description) }
        for (i, s) in steps.enumerated() {
            Output.line((i == 0 ? "" : "  ← ") + s.text + (s.seq.map { "  [seq \($0)]" } ?? ""))
            for b in s.branch { Output.line("        ← " + b.text + (b.seq.map { "  [seq \($0)]" } ?? "")) }
        }
    }
}
