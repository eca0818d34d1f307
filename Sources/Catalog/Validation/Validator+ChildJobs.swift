import Domain

/// Limits of job stages (a stage that runs another job and waits for it).
public enum ChildJobs {
    /// Levels of child jobs below a job, at most (a job stage's child is one level down).
    public static let maxDepth = 5
}

extension Validator {
    /// A job stage: the parameters it passes are the child's, its required ones given and
    /// literal values of their types; no `timeout` (the child's stages have their own).
    mutating func checkChildJob(_ d: Definition, _ s: StageSpec, _ child: StageSpec.ChildJob, _ i: Int) {
        let who = "stage '\(s.name)' of job '\(d.name)'"
        if s.timeout != nil {
            error(d, "stages[\(i)].timeout", "\(who) runs job '\(child.job)' and takes no timeout",
                  fix: "remove `timeout:`; give the child's stages timeouts instead")
        }
        guard let job = spec(JobSpec.self, child.job) else { return }
        checkPassedParameters(d, who: who, job: job, jobName: child.job, given: child.parameters, at: "stages[\(i)].parameters")
        checkTypedParameters(d, who: who, job: job, jobName: child.job, given: child.parameters, at: "stages[\(i)].parameters")
    }

    /// A for_each stage: its items' config table or source, its child job and the parameters it
    /// passes (as a job stage's; `${item.FIELD}` a column of the table), `max_parallel`, the teams
    /// `item_owner` names, and no `timeout`.
    mutating func checkForEach(_ d: Definition, _ s: StageSpec, _ loop: StageSpec.ForEach, _ i: Int) {
        let who = "for_each stage '\(s.name)' of job '\(d.name)'"
        if s.timeout != nil {
            error(d, "stages[\(i)].timeout", "\(who) runs \(loop.job.map { "job '\($0)'" } ?? "an inline stage") per item and takes no timeout",
                  fix: "remove `timeout:`; give the child's stages timeouts instead")
        }
        var tables: [String: ConfigTableSpec] = [:]
        var jobs: Set<String> = []
        var teams: Set<String> = []
        for (key, spec) in specs {
            switch spec {
            case .configTable(let t): tables[key.name] = t
            case .job: jobs.insert(key.name)
            case .team: teams.insert(key.name)
            default: break
            }
        }
        // An unknown job or config table is said once, by the reference check of every field.
        for p in loop.problems(tables: tables, jobs: jobs, teams: teams) where p.field != "job" && p.field != "items.config_table" {
            error(d, "stages[\(i)].\(p.field)", "\(who): \(p.message)", fix: p.fix)
        }
        if case .source(let text, _) = loop.items {
            if let ref = DatasetReference(text) {
                if !knownDatasets.contains(ref.name) {
                    error(d, "stages[\(i)].items.source", "\(who) loops over the rows of '\(ref.name)', which is no source, output or stage output",
                          fix: Suggest.closest(to: ref.name, in: knownDatasets.sorted()).map { "did you mean '\($0)'?" } ?? "define a source named '\(ref.name)'")
                }
            } else {
                error(d, "stages[\(i)].items.source", "\(who) loops over '\(text)', whose version is not a positive integer", fix: DatasetReference.versionFix)
            }
        }
        if case .list(let items) = loop.items {
            if items.count > StageSpec.ForEach.maxItems {
                error(d, "stages[\(i)].items.list", "\(who) lists \(items.count) items, over the limit of \(StageSpec.ForEach.maxItems)",
                      fix: "loop over a config table or a source's rows, or split the list")
            }
            for item in items {
                do throws(StageSpec.ItemError) {
                    _ = try loop.parameters(for: item)
                    _ = try loop.stage(for: item)
                    if let team = try loop.owner(for: item), !teams.contains(team) {
                        error(d, "stages[\(i)].item_owner", "\(who): item_owner names team '\(team)' for item \(Fields.describe(item)), which does not exist",
                              fix: "define it (kind: team, name: \(team)) or change item_owner")
                        break
                    }
                } catch let problem {
                    error(d, "stages[\(i)].parameters", "\(who): item \(Fields.describe(item)): \(problem.description)", fix: "give every item the fields the parameters use")
                    break
                }
            }
        }
        if let inline = loop.stage { checkInlineStage(d, who: who, inline, parameters: loop.parameters.map(\.key), i) }
        guard let name = loop.job, let job = spec(JobSpec.self, name) else { return }
        checkPassedParameters(d, who: who, job: job, jobName: name, given: loop.parameters, at: "stages[\(i)].parameters")
        checkTypedParameters(d, who: who, job: job, jobName: name, given: loop.parameters, at: "stages[\(i)].parameters")
    }

    /// A for_each's inline stage: its type's settings checked as a stage's; its `${params.X}`
    /// and `when` read the for_each's parameters (the item's run's), `${run.…}` the item's run,
    /// and no stage precedes it (`${stages.…}` refused).
    mutating func checkInlineStage(_ d: Definition, who: String, _ inline: Value, parameters: [String], _ i: Int) {
        let spec: StageSpec
        do { spec = try StageSpec(inline) } catch { return }  // the schema check said why
        checkStageSettings(d, spec, i)
        var texts: [(path: String, text: String)] = []
        func walk(_ v: Value, _ path: String, _ key: String?) {
            switch v {
            case .string(let t) where key != "when": texts.append((path, t))
            case .array(let a): for (k, x) in a.enumerated() { walk(x, "\(path)[\(k)]", key) }
            case .members(let m): for x in m { walk(x.value, "\(path).\(x.key)", x.key) }
            default: break
            }
        }
        walk(inline, "stages[\(i)].stage", nil)
        for (path, text) in texts {
            for reference in Validator.references(in: text) {
                if let (what, fix) = Validator.referenceProblem(reference, params: parameters, upstream: [], job: d.name) {
                    error(d, path, "\(who), its inline stage: ${\(reference)} \(what)",
                          fix: reference.hasPrefix("params.") ? "pass it in the for_each's parameters (the item's run's), or use ${item.FIELD}" : fix)
                }
            }
        }
        guard let text = spec.when, let expression = try? Expression.parse(text) else { return }
        for field in expression.fields {
            let parts = field.split(separator: ".").map(String.init)
            let ok = parts.first == "params" && parts.count == 2 && parameters.contains(parts[1])
                || parts.first == "run" && parts.count == 2 && ["id", "job", "trigger"].contains(parts[1])
            if !ok {
                error(d, "stages[\(i)].stage.when", "\(who), its inline stage's condition reads '\(field)', which an item's run does not have",
                      fix: "use params.NAME (a for_each parameter) or run.id, run.job, run.trigger")
            }
        }
    }

    /// The jobs each job's job stages run (job → [(stage, child job)]), over every job that will exist.
    var childJobEdges: [String: [(stage: String, child: String)]] {
        var edges: [String: [(stage: String, child: String)]] = [:]
        for (key, spec) in specs {
            guard case .job(let job) = spec else { continue }
            for s in job.stages { if let c = s.childJob { edges[key.name, default: []].append((s.name, c)) } }
        }
        return edges
    }

    /// Jobs that run each other through job stages (A runs B runs A) are refused, naming the
    /// cycle; so is a job of the files whose child jobs nest deeper than `ChildJobs.maxDepth`.
    mutating func checkChildJobNesting() {
        let edges = childJobEdges
        guard !edges.isEmpty else { return }
        if let cycle = Validator.findCycle(edges.mapValues { $0.map(\.child) }) {
            // Said at the job stage of the first job of the cycle that the files define.
            let at = definitions.first { $0.kind == .job && cycle.contains($0.name) }
            let runs = zip(cycle, cycle.dropFirst()).map { a, b in
                "'\(edges[a]?.first { $0.child == b }?.stage ?? "?")' of \(a) runs \(b)"
            }
            let message = "jobs run each other through job stages in a cycle: \(cycle.joined(separator: " → ")) (stage \(runs.joined(separator: ", ")))"
            if let at, let k = cycle.firstIndex(of: at.name), let (i, _) = stageIndex(at, runningOneOf: [cycle[k + 1]]) {
                error(at, "stages[\(i)].job", message, fix: "remove one of these job stages")
            } else {
                diagnostics.append(Diagnostic(definitions.first?.location ?? SourceLocation(file: "(catalog)"), message, fix: "remove one of these job stages"))
            }
            return
        }
        // The longest chain of child jobs below each job (no cycle: the recursion ends).
        var deepest: [String: [String]] = [:]
        func chain(_ job: String) -> [String] {
            if let known = deepest[job] { return known }
            let below = (edges[job] ?? []).map { chain($0.child) }.max { $0.count < $1.count } ?? []
            deepest[job] = [job] + below
            return [job] + below
        }
        for d in definitions where d.kind == .job {
            let path = chain(d.name)
            guard path.count - 1 > ChildJobs.maxDepth, let (i, s) = stageIndex(d, runningOneOf: [path[1]]) else { continue }
            error(d, "stages[\(i)].job", "stage '\(s)' of job '\(d.name)' nests child jobs \(path.count - 1) levels deep (\(path.joined(separator: " → "))), over the limit of \(ChildJobs.maxDepth)",
                  fix: "run fewer levels of jobs inside each other (a dependency runs a job after another without nesting)")
        }
    }

    /// The index and name of `d`'s first job stage that runs one of `jobs`.
    func stageIndex(_ d: Definition, runningOneOf jobs: [String]) -> (Int, String)? {
        guard case .job(let job)? = specs[d.key] else { return nil }
        for (i, s) in job.stages.enumerated() {
            if let c = s.childJob, jobs.contains(c) { return (i, s.name) }
        }
        return nil
    }
}
