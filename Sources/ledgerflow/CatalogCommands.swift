import ArgumentParser
import Catalog
import Domain
import EventLog
import Foundation
import Projections

/// Prints diagnostics (one line each, on stderr) and fails with a summary line.
func failWithDiagnostics(_ diagnostics: [Diagnostic], what: String) -> CommandFailure {
    let sorted = diagnostics.sorted()
    for d in sorted { FileHandle.standardError.write(Data("\(d)\n".utf8)) }
    let files = Set(sorted.map(\.location.file)).count
    return CommandFailure(message: "\(what) failed: \(sorted.count) error\(sorted.count == 1 ? "" : "s") in \(files) file\(files == 1 ? "" : "s"); nothing was appended")
}

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate definition files, show the plan, and record every changed definition as an event.",
        discussion: """
        PATH is a .yaml, .yml or .json file or a folder of them. Everything is validated before \
        anything is appended; all errors are reported together. Unchanged definitions append nothing. \
        The events of one apply share one correlation.
        """)
    @OptionGroup var store: StoreOptions
    @Argument(help: ArgumentHelp("Definition files or folders.", valueName: "path")) var paths: [String]
    @Flag(help: "Show the plan; append nothing.") var dryRun = false
    @Flag(help: "Delete catalog definitions that are not in the files.") var prune = false
    @Option(help: "Why: stored with each event.") var message: String?
    @Flag(help: "Print one JSON object (plan and result).") var json = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("name at least one definition file or folder") }
        if let message, message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("--message must not be empty") }
    }

    func run() throws {
        let (files, fileErrors) = DefinitionLoader.files(paths)
        let (definitions, loadErrors) = DefinitionLoader.load(files: files)
        // A dry run works without a store (the plan is against an empty catalog).
        let log: EventLog?
        if dryRun {
            log = EventLog.exists(at: store.path) ? try store.openForReading() : nil
        } else {
            log = try store.openForWriting()
        }
        let runner = log.map { ProjectionRunner(log: $0, projection: CatalogProjection()) }
        let catalog = try runner?.current().state ?? CatalogState()
        let errors = fileErrors + loadErrors + Validator.validate(definitions, catalog: catalog.specs, prune: prune)
            + StoreGuard.diagnostics(definitions, store: store.path)
        if !errors.isEmpty { throw failWithDiagnostics(errors, what: "apply") }

        let plan = ApplyPlan.decide(catalog: catalog, definitions: definitions, prune: prune, message: message)
        var result: AppendResult?
        if !dryRun, let log, !plan.changes.isEmpty {
            do {
                result = try log.append(plan.appends, actor: cliActor, correlation: .shared)
            } catch let e as WrongExpectedVersion {
                throw CommandFailure(message: "the catalog changed while this apply was being planned (\(e.stream) is now at version \(e.actual)); nothing was appended — run apply again")
            }
        }
        if json {
            var v: [(String, Value)] = [("plan", .array(plan.items.map(planItemValue))), ("dry_run", .bool(dryRun)),
                                        ("created", .int(Int64(plan.count(.create)))), ("updated", .int(Int64(plan.count(.update)))),
                                        ("deleted", .int(Int64(plan.count(.delete)))), ("unchanged", .int(Int64(plan.count(.unchanged)))),
                                        ("files", .array(files.map(Value.string)))]
            if let r = result, let first = r.firstSeq, let last = r.lastSeq {
                v += [("first_seq", .int(Int64(first))), ("last_seq", .int(Int64(last))), ("catalog_version", .int(Int64(last)))]
            }
            Output.line(Value.object(v).jsonString)
            return
        }
        printPlan(plan)
        if dryRun {
            Output.line("dry run: nothing was appended")
        } else if let r = result, let first = r.firstSeq, let last = r.lastSeq {
            let n = plan.changes.count
            Output.line("applied \(n) change\(n == 1 ? "" : "s"): seq \(first)\(last > first ? "–\(last)" : ""), correlation \(first); catalog version is now \(last)")
        } else {
            Output.line("nothing to apply: the catalog already matches (version \(catalog.lastChangeSeq))")
        }
    }

    func printPlan(_ plan: ApplyPlan) {
        Output.line("plan: \(plan.count(.create)) to create, \(plan.count(.update)) to update, \(plan.count(.delete)) to delete, \(plan.count(.unchanged)) unchanged")
        for item in plan.changes {
            switch item.action {
            case .create:
                Output.line("  + \(item.key)  (new, version \(item.toVersion))")
            case .update:
                Output.line("  ~ \(item.key)  (version \(item.fromVersion) → \(item.toVersion))")
                for c in item.diff { Output.line("      \(c)") }
            case .delete:
                Output.line("  - \(item.key)  (version \(item.fromVersion), deleted by --prune)")
            case .unchanged: break
            }
        }
    }

    func planItemValue(_ item: PlanItem) -> Value {
        var v: [(String, Value)] = [("action", .string(item.action.rawValue)), ("kind", .string(item.key.kind.name)),
                                    ("name", .string(item.key.name)), ("from_version", .int(Int64(item.fromVersion))),
                                    ("to_version", .int(Int64(item.toVersion)))]
        if item.action == .update { v.append(("diff", .array(item.diff.map(\.value)))) }
        if let d = item.definition { v += [("spec_hash", .string(d.specHash)), ("file", .string(d.location.description))] }
        return .object(v)
    }
}

/// `--at-seq N | --as-of TIME`: which moment to show.
struct MomentOptions: ParsableArguments {
    @Option(name: .customLong("at-seq"), parsing: .unconditional, help: "Show the state as of this seq (inclusive).") var atSeq: UInt64?
    @Option(name: .customLong("as-of"), help: ArgumentHelp("Show the state as of this time (RFC 3339, or a date meaning midnight UTC).", valueName: "time"))
    var asOf: String?

    func validate() throws {
        if atSeq != nil && asOf != nil { throw ValidationError("use either --at-seq or --as-of, not both") }
        if let asOf, Timestamp.parse(asOf) == nil {
            throw ValidationError("--as-of '\(asOf)' is not a time: write e.g. 2026-11-22T10:30:00Z or 2026-11-22")
        }
    }

    /// The seq to show (the head when neither option is given), and a phrase for headers.
    func resolve(_ log: EventLog) throws -> (seq: UInt64, phrase: String) {
        do { return try CatalogViews.moment(log, atSeq: atSeq, asOfMicros: asOf.flatMap(Timestamp.parse)) } catch let e as ReadFailure {
            throw CommandFailure(message: e.description)
        }
    }

    var isNow: Bool { atSeq == nil && asOf == nil }
}

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Show the catalog of definitions, now or at any past moment, and each definition's history.",
        subcommands: [CatalogShow.self, CatalogHistory.self, CatalogSchema.self],
        defaultSubcommand: CatalogShow.self)
}

func parseKind(_ text: String) throws -> DefinitionKind {
    guard let k = DefinitionKind(rawValue: text) else {
        throw ValidationError("unknown kind '\(text)'; \(Suggest.fix(for: text, in: DefinitionKind.allCases.map(\.name), noun: "one of the kinds"))")
    }
    return k
}

struct CatalogShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "The definitions in force (the default): all, of one kind, or one in full.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "Only definitions of this kind.") var kind: String?
    @Argument(help: "Show this definition in full.") var name: String?
    @OptionGroup var moment: MomentOptions
    @Flag(help: "Print JSON.") var json = false

    func validate() throws { if let kind { _ = try parseKind(kind) } }

    func run() throws {
        let log = try store.openForReading()
        let (seq, phrase) = try moment.resolve(log)
        let runner = ProjectionRunner(log: log, projection: CatalogProjection())
        let state = try runner.state(at: seq).state
        let kindFilter = try kind.map(parseKind)
        let entries = CatalogViews.entries(state, kind: kindFilter)
        if let name, let kindFilter {
            let e: CatalogEntry
            do { e = try CatalogViews.entry(state, DefinitionKey(kindFilter, name), phrase: phrase) } catch { throw CommandFailure(message: error.description) }
            if json {
                Output.line(CatalogProjection.entryValue(e).jsonString)
            } else {
                Output.line("\(e.key)  version \(e.version)  (seq \(e.seq), \(Timestamp.rfc3339(micros: e.recordedAtMicros)), \(e.actor))")
                if let m = e.message { Output.line("message: \(m)") }
                Output.line("spec_hash: \(e.specHash)")
                Output.line(prettyJSON(e.spec))
            }
            return
        }
        if json {
            Output.line(CatalogViews.show(state, seq: seq, kind: kindFilter).jsonString)
            return
        }
        Output.line("catalog \(phrase): \(entries.count) definition\(entries.count == 1 ? "" : "s")\(kindFilter.map { " of kind \($0.name)" } ?? ""), catalog version \(state.lastChangeSeq)")
        guard !entries.isEmpty else { return }
        let rows = entries.map { e in
            [e.key.kind.name, e.key.name, "v\(e.version)", String(e.seq), Timestamp.rfc3339(micros: e.recordedAtMicros).prefix(19) + "Z", e.actor, summaryLine(e)]
        }
        printTable(["KIND", "NAME", "VERSION", "SEQ", "UPDATED", "ACTOR", "SUMMARY"], rows)
    }

    /// A few words about a definition (what its spec does not read as, when it does not).
    func summaryLine(_ e: CatalogEntry) -> String {
        let spec: DefinitionSpec
        do { spec = try e.typedSpec } catch { return "unreadable spec: \(error)" }
        switch spec {
        case .job(let s): return plural(s.stages.count, "stage") + (s.jobID.map { " (seed job_id \($0))" } ?? "")
        case .model(let s): return s.type.rawValue
        case .features(let s): return plural(s.steps.count, "step")
        case .dependency(let s): return "after \(s.after.joined(separator: "+")) → \(s.run)"
        case .trigger(let s): return "if \(s.condition) → \(s.run)"
        case .output(let s): return s.type
        case .source(let s): return s.type
        case .configTable(let s): return plural(s.rows.count, "row")
        case .columnMapping(let s): return "product \(s.product)"
        case .monitor(let s): return "\(s.metric.rawValue) of \(s.model)"
        case .schedule(let s): return "\(s.cron ?? s.every.map { "every \(DurationText.text($0))" } ?? "?")\(s.timezone.map { " \($0)" } ?? "") → \(s.job)"
        case .sensor(let s): return "\(s.path)/\(s.pattern ?? "*.done") → \(s.job)"
        case .team(let s): return s.emails.joined(separator: ", ")
        case .secret(let s): return s.fromEnv.map { "env \($0)" } ?? "file \(s.fromFile ?? "")"
        case .notifier(let s):
            switch s.target {
            case .smtp(let m): return "smtp \(m.host):\(m.resolvedPort) (\(m.security.rawValue))"
            case .webhook(let w): return "webhook \(w.url)"
            }
        }
    }
}

struct CatalogHistory: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Every version of one definition, with a diff to the previous one.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The definition's kind.") var kind: String
    @Argument(help: "The definition's name.") var name: String
    @Flag(help: "Print JSON.") var json = false

    func validate() throws { _ = try parseKind(kind) }

    func run() throws {
        let log = try store.openForReading()
        let key = DefinitionKey(try parseKind(kind), name)
        let versions: [CatalogViews.Version]
        do { versions = try CatalogViews.history(log, key) } catch let e as ReadFailure { throw CommandFailure(message: e.description) }
        if json {
            Output.line(CatalogViews.historyValue(key, versions).jsonString)
            return
        }
        Output.line("\(key): \(versions.count) version\(versions.count == 1 ? "" : "s")")
        for v in versions {
            Output.line("version \(v.version)  \(v.action)  seq \(v.seq)  \(Timestamp.rfc3339(micros: v.recordedAtMicros))  \(v.actor)\(v.message.map { "  “\($0)”" } ?? "")")
            for c in v.diff { Output.line("    \(c)") }
        }
    }
}

struct CatalogSchema: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "schema", abstract: "The fields of each definition kind (docs/metadata.md is this, as Markdown).")
    @Argument(help: "Only this kind.") var kind: String?
    @Flag(help: "Print Markdown (the reference part of docs/metadata.md).") var markdown = false

    func validate() throws { if let kind { _ = try parseKind(kind) } }

    func run() throws {
        let kinds = try kind.map { [try parseKind($0)] } ?? DefinitionKind.allCases
        Output.line(markdown ? SchemaDocs.markdown(kinds) : SchemaDocs.text(kinds))
    }
}

/// Rows under a header, columns padded to their widest cell.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }
    Output.line(line(header))
    for r in rows { Output.line(line(r)) }
}

/// Indented JSON for people.
func prettyJSON(_ v: Value, indent: String = "") -> String {
    let inner = indent + "  "
    switch v {
    case .array(let items) where !items.isEmpty:
        if items.allSatisfy({ $0.objectMembers == nil && $0.arrayValue == nil }) { return v.jsonString }
        return "[\n" + items.map { inner + prettyJSON($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
    case .members(let members) where !members.isEmpty:
        return "{\n" + members.map { m in
            var key = ""
            Value.writeJSONString(m.key, into: &key)
            return "\(inner)\(key): \(prettyJSON(m.value, indent: inner))"
        }.joined(separator: ",\n") + "\n\(indent)}"
    default:
        return v.jsonString
    }
}

/// "1 stage", "3 stages".
func plural(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
