import Domain

/// Checks a set of definitions against each other and the catalog they will join: duplicates,
/// references, stage and job cycles, expressions and their fields, and per-kind rules.
public struct Validator {
    /// The definitions being applied (with locations).
    public let definitions: [Definition]
    /// Every definition that will exist after the apply: the files' over the catalog's.
    let universe: [DefinitionKey: Value]
    /// Their typed specs, as far as they read (see `PartialSpec`): absent for a definition whose
    /// field errors leave it unreadable (the loader has reported them).
    let specs: [DefinitionKey: DefinitionSpec]
    /// Definitions the apply deletes (`--prune`), for clearer messages.
    let deleted: Set<DefinitionKey>
    var diagnostics: [Diagnostic] = []

    /// - Parameters:
    ///   - definitions: what the files define.
    ///   - catalog: specs already in the catalog.
    ///   - prune: whether catalog definitions absent from the files are deleted.
    public init(definitions: [Definition], catalog: [DefinitionKey: Value], prune: Bool) {
        self.definitions = definitions
        var u = prune ? [:] : catalog
        var typed: [DefinitionKey: DefinitionSpec] = [:]
        for (k, v) in u { typed[k] = PartialSpec.read(k.kind, v) }
        for d in definitions {
            u[d.key] = d.spec
            typed[d.key] = Validator.read(d)
        }
        universe = u
        specs = typed
        deleted = prune ? Set(catalog.keys).subtracting(definitions.map(\.key)) : []
    }

    /// Every problem found, sorted by file and position.
    public static func validate(_ definitions: [Definition], catalog: [DefinitionKey: Value] = [:], prune: Bool = false) -> [Diagnostic] {
        var v = Validator(definitions: definitions, catalog: catalog, prune: prune)
        v.run()
        return v.diagnostics.sorted()
    }

    mutating func run() {
        var first: [DefinitionKey: Definition] = [:]
        for d in definitions {
            if let earlier = first[d.key] {
                error(d, "", "\(d.key.phrase) is defined twice (also at \(earlier.location))", fix: "rename one of them or remove it")
                continue
            }
            first[d.key] = d
        }
        for d in first.values.sorted(by: { $0.location < $1.location }) {
            checkReferences(d)
            guard let spec = Validator.read(d) else { continue }
            switch spec {
            case .job(let job): checkJob(d, job)
            case .model(let model): checkModel(d, model)
            case .features(let features): checkFeatures(d, features)
            case .trigger(let trigger): checkTrigger(d, trigger)
            case .output(let output): checkOutput(d, output)
            case .source(let source): checkSource(d, source)
            case .configTable(let table): checkConfigTable(d, table)
            case .columnMapping(let mapping): checkColumnMapping(d, mapping)
            case .monitor(let monitor): checkMonitor(d, monitor)
            case .secret(let secret): checkSecret(d, secret)
            case .notifier(let notifier): checkNotifier(d, notifier)
            case .team(let team): checkTeam(d, team)
            case .schedule(let schedule): checkSchedule(d, schedule)
            case .sensor(let sensor): checkSensor(d, sensor)
            case .dependency: break
            }
        }
        checkJobCycles()
        checkChildJobNesting()
    }

    /// A definition's typed spec: read when it was built, else as far as its fields allow.
    static func read(_ d: Definition) -> DefinitionSpec? {
        (try? d.typedSpec) ?? PartialSpec.read(d.kind, d.spec)
    }

    mutating func error(_ d: Definition, _ path: String, _ message: String, fix: String = "") {
        diagnostics.append(Diagnostic(d.location(of: path), message, fix: fix))
    }

    func names(_ kind: DefinitionKind) -> [String] { universe.keys.filter { $0.kind == kind }.map(\.name).sorted() }
    /// The typed spec of the `S` definition `name`, when it exists and reads.
    func spec<S: KindSpec>(_ type: S.Type, _ name: String) -> S? { specs[DefinitionKey(S.kind, name)]?.as(type) }

    // MARK: references

    /// Checks every `reference` field the schema declares.
    mutating func checkReferences(_ d: Definition) {
        var refs: [(path: String, kind: DefinitionKind, name: String)] = []
        Validator.collectReferences(d.spec, .object(KindSchemas.schema(d.kind)), path: "", into: &refs)
        for r in refs { checkReference(d, r.path, r.kind, r.name) }
    }

    mutating func checkReference(_ d: Definition, _ path: String, _ kind: DefinitionKind, _ name: String) {
        let key = DefinitionKey(kind, name)
        guard universe[key] == nil else { return }
        if deleted.contains(key) {
            error(d, path, "\(d.key.phrase) refers to \(key.phrase), which --prune would delete", fix: "keep \(key.phrase) in the files or remove the reference")
        } else {
            error(d, path, "\(d.key.phrase) refers to \(key.phrase), which is not defined",
                  fix: Suggest.closest(to: name, in: names(kind)).map { "did you mean '\($0)'?" } ?? "define it (kind: \(kind.name), name: \(name)) or fix the name")
        }
    }

    static func collectReferences(_ value: Value, _ type: FieldType, path: String, into refs: inout [(path: String, kind: DefinitionKind, name: String)]) {
        switch type {
        case .reference(let k):
            // A stage's `source: NAME@N` reads version N of source NAME (`DatasetReference`).
            if let s = value.stringValue { refs.append((path, k, k == .source ? DatasetReference.nameBeforeVersion(s) : s)) }
        case .list(let t, _), .oneOrMany(let t):
            for (i, v) in (value.arrayValue ?? []).enumerated() { collectReferences(v, t, path: "\(path)[\(i)]", into: &refs) }
        case .map(let t):
            for m in value.objectMembers ?? [] { collectReferences(m.value, t, path: SpecConverter.join(path, m.key), into: &refs) }
        case .object(let schema):
            var fields = schema.fields
            if let v = schema.variants, let chosen = value[v.field]?.stringValue, let extra = v.fields(for: chosen) { fields += extra }
            for m in value.objectMembers ?? [] {
                if let f = fields.first(where: { $0.name == m.key }) {
                    collectReferences(m.value, f.type, path: SpecConverter.join(path, m.key), into: &refs)
                }
            }
        default: break
        }
    }

    // MARK: job

    /// Datasets that exist by name: sources, outputs and every stage output of every job.
    lazy var knownDatasets: Set<String> = {
        var s = Set(names(.source)).union(names(.output))
        for case .job(let job) in specs.values {
            for stage in job.stages { s.formUnion(stage.outputs) }
        }
        return s
    }()

    mutating func checkJob(_ d: Definition, _ job: JobSpec) {
        let stages = job.stages
        var index: [String: Int] = [:]
        for (i, s) in stages.enumerated() {
            let n = s.name
            if let j = index[n] {
                error(d, "stages[\(i)].name", "job '\(d.name)' has two stages named '\(n)' (stages \(j + 1) and \(i + 1))", fix: "give each stage its own name")
            } else {
                index[n] = i
            }
        }
        var edges: [String: [String]] = [:]
        for (i, s) in stages.enumerated() {
            let n = s.name
            for (j, dep) in s.after.enumerated() {
                let path = "stages[\(i)].after[\(j)]"
                if dep == n {
                    error(d, path, "stage '\(n)' of job '\(d.name)' is after itself", fix: "remove '\(dep)' from its after:")
                } else if index[dep] == nil {
                    error(d, path, "stage '\(n)' of job '\(d.name)' is after '\(dep)', which is not a stage of the job",
                          fix: Suggest.closest(to: dep, in: index.keys.sorted()).map { "did you mean '\($0)'?" } ?? "name one of: \(index.keys.sorted().joined(separator: ", "))")
                } else {
                    edges[n, default: []].append(dep)
                }
            }
            if let text = s.source, DatasetReference(text) == nil {
                error(d, "stages[\(i)].source", "stage '\(n)' of job '\(d.name)' reads '\(text)', whose version is not a positive integer",
                      fix: DatasetReference.versionFix)
            }
            for (j, text) in s.inputs.enumerated() {
                guard let ref = DatasetReference(text) else {
                    error(d, "stages[\(i)].inputs[\(j)]", "stage '\(n)' of job '\(d.name)' reads '\(text)', whose version is not a positive integer",
                          fix: DatasetReference.versionFix)
                    continue
                }
                let name = ref.name
                guard !knownDatasets.contains(name) else { continue }
                error(d, "stages[\(i)].inputs[\(j)]", ref.version == nil ? "stage '\(n)' of job '\(d.name)' reads '\(name)', which is no source, output or stage output"
                          : "stage '\(n)' of job '\(d.name)' reads version \(ref.version ?? 0) of '\(name)', which is no dataset (no source, output or stage output)",
                      fix: Suggest.closest(to: name, in: knownDatasets.sorted()).map { "did you mean '\($0)'?" } ?? "define a source named '\(name)' or a stage that outputs it")
            }
            checkStageSettings(d, s, i)
        }
        if let cycle = Validator.findCycle(edges) {
            let at = index[cycle[0]] ?? 0
            error(d, "stages[\(at)].after", "stages of job '\(d.name)' form a cycle: \(cycle.joined(separator: " → "))",
                  fix: "remove one of these after: entries")
            return
        }
        for (i, s) in stages.enumerated() { checkStageCondition(d, job, s, i, edges: edges) }
    }

    /// A stage's `on:` (it needs stages to follow) and the fields of its `when:` (the job's
    /// parameters, the run's facts, and the stages it follows, directly or not).
    mutating func checkStageCondition(_ d: Definition, _ job: JobSpec, _ s: StageSpec, _ i: Int, edges: [String: [String]]) {
        if let on = s.on, on != .success, s.after.isEmpty {
            error(d, "stages[\(i)].on", "stage '\(s.name)' of job '\(d.name)' runs on \(on.rawValue) of the stages it follows, but follows none",
                  fix: "add `after: [STAGE]`, or remove `on:`")
        }
        var upstream: Set<String> = []
        var todo = s.after
        while let next = todo.popLast() {
            if upstream.insert(next).inserted { todo += edges[next] ?? [] }
        }
        let params = job.parameters.map(\.key)
        // `${params.…}`, `${stages.…}` and `${run.…}` in the stage's settings (other `${…}`, such
        // as a shell's own variables, are left to the program that reads the text).
        if case .array(let items)? = d.spec["stages"], i < items.count {
            // Each text with its path in the stage (so that an error points at its line).
            var texts: [(path: String, text: String)] = []
            func walk(_ v: Value, _ path: String, _ key: String?) {
                switch v {
                case .string(let t) where key != "when" && key != "seed": texts.append((path, t))
                case .array(let a): for (k, x) in a.enumerated() { walk(x, "\(path)[\(k)]", key) }
                // A for_each's inline `stage` reads the item's run's parameters (checkInlineStage).
                case .members(let m): for x in m where x.key != "seed" && x.key != "stage" { walk(x.value, "\(path).\(x.key)", x.key) }
                default: break
                }
            }
            walk(items[i], "stages[\(i)]", nil)
            for (path, text) in texts {
                for reference in Validator.references(in: text) {
                    if let (what, fix) = Validator.referenceProblem(reference, params: params, upstream: upstream, job: d.name) {
                        error(d, path, "stage '\(s.name)' of job '\(d.name)': ${\(reference)} \(what)", fix: fix)
                    }
                }
            }
        }
        guard let text = s.when, let expression = try? Expression.parse(text) else { return }
        for field in expression.fields {
            let parts = field.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let problem: (String, String)?
            switch parts.first {
            case "params" where parts.count == 2:
                problem = params.contains(parts[1]) ? nil
                    : ("uses parameter '\(parts[1])', which job '\(d.name)' does not declare",
                       Suggest.closest(to: parts[1], in: params).map { "did you mean 'params.\($0)'?" } ?? "declare it in the job's parameters")
            case "run" where parts.count == 2 && ["id", "job", "trigger"].contains(parts[1]):
                problem = nil
            case "stages" where parts.count >= 3 && (parts[2] == "status" && parts.count == 3 || parts[2] == "outputs" && parts.count >= 4):
                problem = upstream.contains(parts[1]) ? nil
                    : ("refers to stage '\(parts[1])', which it does not follow (a condition can only read stages that end before it)",
                       "add '\(parts[1])' to its after:, or refer to a stage it follows")
            default:
                problem = ("uses unknown field '\(field)'",
                           "use params.NAME, run.id, run.job, run.trigger, stages.STAGE.status or stages.STAGE.outputs.FIELD")
            }
            if let (what, fix) = problem {
                error(d, "stages[\(i)].when", "the condition of stage '\(s.name)' in job '\(d.name)' \(what)", fix: fix)
            }
        }
    }

    mutating func checkStageSettings(_ d: Definition, _ s: StageSpec, _ i: Int) {
        let n = s.name
        switch s.variant {
        case .inference(let inference):
            if inference.model != nil, inference.script != nil {
                error(d, "stages[\(i)].script", "inference stage '\(n)' of job '\(d.name)' names both a model and a script",
                      fix: "keep one: `model` scores with a registered version, `script` with a program")
            } else if inference.model == nil, inference.script == nil, s.seed == nil {
                error(d, "stages[\(i)]", "inference stage '\(n)' of job '\(d.name)' names neither a model nor a script",
                      fix: "add `model: NAME@ALIAS` or `script: PATH`")
            }
            checkModelReference(d, s, i)
        case .evaluate:
            checkModelReference(d, s, i)
        case .features(let features):
            if !features.fit && features.model == nil {
                error(d, "stages[\(i)]", "features stage '\(n)' of job '\(d.name)' neither fits its spec nor names a model whose fitted parameters it applies",
                      fix: "add `fit: true` (fit on this input) or `model: NAME@ALIAS`")
            }
            checkModelReference(d, s, i)
        case .script(let script):
            checkEnv(d, n, script.env, "stages[\(i)].env")
        case .spark(let spark):
            checkSpark(d, s, spark, i)
        case .files(let files):
            checkFiles(d, s, files, i)
        case .job(let child):
            checkChildJob(d, s, child, i)
        case .forEach(let loop):
            checkForEach(d, s, loop, i)
        case .etl(let transfer), .storage(let transfer):
            checkProtections(d, n, transfer.transform, "stages[\(i)]")
        case .train(let train):
            if let spark = train.spark { checkSparkSettings(d, s, spark, "stages[\(i)].spark") }
            if train.spark != nil, let spec = spec(ModelSpec.self, train.model), spec.type == .script {
                error(d, "stages[\(i)].engine", "train stage '\(n)' of job '\(d.name)' trains script model '\(train.model)' with engine spark",
                      fix: "a script model trains through its own command: remove `engine: spark`, or use a built-in model type")
            }
        case .merge: break
        }
        if case .inference(let inference) = s.variant, let spark = inference.spark {
            checkSparkSettings(d, s, spark, "stages[\(i)].spark")
            if inference.script != nil {
                error(d, "stages[\(i)].engine", "inference stage '\(n)' of job '\(d.name)' scores with a script and engine spark",
                      fix: "engine spark applies a registered model's artifact: name `model: NAME@ALIAS`, or remove `engine: spark`")
            }
        }
    }

    /// A stage's `env`: `{secret: NAME}` must name a secret, and a value that looks like a secret
    /// written inline is refused.
    mutating func checkEnv(_ d: Definition, _ n: String, _ env: [StageSpec.EnvVariable], _ at: String) {
        for v in env {
            let path = "\(at).\(v.name)"
            switch v.value {
            case .secret(let name):
                checkReference(d, path + ".secret", .secret, name)
            case .malformedSecret:
                error(d, path, "secret reference of \(v.name) must be a name", fix: "write `{secret: NAME}`")
            case .value(.string):
                if Validator.looksSecret(v.name) {
                    error(d, path, "environment variable \(v.name) of stage '\(n)' in job '\(d.name)' looks like a secret written inline",
                          fix: "define a secret (kind: secret, from_env or from_file) and write `\(v.name): {secret: NAME}`")
                }
            case .value(.int), .value(.double), .value(.bool): break
            case .value:
                error(d, path, "environment variable \(v.name) of stage '\(n)' in job '\(d.name)' must be text or {secret: NAME}", fix: "write a value or a secret reference")
            }
        }
    }

    /// A stage's `model`: `NAME`, `NAME@ALIAS` (an alias the model wants) or `NAME@VERSION`.
    mutating func checkModelReference(_ d: Definition, _ s: StageSpec, _ i: Int) {
        guard let ref = s.model else { return }
        let n = s.name
        let parts = ref.split(separator: "@", maxSplits: 1).map(String.init)
        let model = parts.first ?? ref
        guard universe[DefinitionKey(.model, model)] != nil else {
            checkReference(d, "stages[\(i)].model", .model, model)
            return
        }
        guard let spec = spec(ModelSpec.self, model) else { return }
        if parts.count == 2, UInt64(parts[1]) == nil {
            let aliases = spec.aliases
            if !aliases.contains(parts[1]) {
                error(d, "stages[\(i)].model", "stage '\(n)' of job '\(d.name)' uses alias '\(parts[1])' of model '\(model)', which does not want that alias",
                      fix: Suggest.closest(to: parts[1], in: aliases).map { "did you mean '\($0)'?" } ?? "add it to the model's aliases: (has \(aliases.isEmpty ? "none" : aliases.joined(separator: ", ")))")
            }
        }
    }

    static func looksSecret(_ key: String) -> Bool {
        let k = key.uppercased()
        return ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "CREDENTIAL"].contains { k.contains($0) }
    }

    /// The `${…}` references of ledgerflow's namespaces (`params.`, `stages.`, `run.`) in `text`.
    static func references(in text: String) -> [String] {
        var out: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            let after = rest[open.upperBound...]
            guard let close = after.firstIndex(of: "}") else { break }
            let inner = String(after[..<close])
            let function = inner.prefix { $0.isLetter || $0 == "_" }
            if ["params.", "stages.", "run."].contains(where: inner.hasPrefix)
                || !function.isEmpty && inner.dropFirst(function.count).first == "(" && Expression.scalarFunctions[String(function)] != nil {
                out.append(inner)
            }
            rest = after[after.index(after: close)...]
        }
        return out
    }

    /// What is wrong with a `${…}` reference of a stage (what, fix), or nil.
    static func referenceProblem(_ reference: String, params: [String], upstream: Set<String>, job: String) -> (String, String)? {
        if reference.contains("(") {
            // A function call: it must parse, and each field it reads is a reference.
            let e: Expression
            do throws(ExpressionError) { e = try Expression.parse(reference) } catch {
                return ("does not read: \(error)", "fix the expression (functions: " + Expression.scalarFunctions.keys.sorted().joined(separator: ", ") + ")")
            }
            for field in e.fields {
                guard ["params.", "stages.", "run."].contains(where: field.hasPrefix) else {
                    return ("uses '\(field)', which is no reference", "read params.NAME, run.id, run.job, run.scheduled_time or stages.STAGE.outputs.FIELD")
                }
                if let problem = referenceProblem(field, params: params, upstream: upstream, job: job) { return problem }
            }
            return nil
        }
        let parts = reference.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        switch parts[0] {
        case "params":
            var name = parts.dropFirst().joined(separator: ".")
            if name.hasSuffix(":raw") { name.removeLast(4) }
            guard !params.contains(name) else { return nil }
            return ("names parameter '\(name)', which job '\(job)' does not declare",
                    Suggest.closest(to: name, in: params).map { "did you mean '${params.\($0)}'?" } ?? "declare it in the job's parameters")
        case "run":
            guard parts.count == 2, ["id", "job", "scheduled_time"].contains(parts[1]) else {
                return ("is not a fact of the run", "use ${run.id}, ${run.job} or ${run.scheduled_time}")
            }
            return nil
        default:
            guard parts.count >= 4, parts[2] == "outputs", !parts[3].isEmpty else {
                return ("does not read as an output", "write ${stages.STAGE.outputs.FIELD}")
            }
            guard upstream.contains(parts[1]) else {
                return ("reads stage '\(parts[1])', which this stage does not follow (its outputs are not there yet)",
                        "add '\(parts[1])' to its after:, or read a stage it follows")
            }
            return nil
        }
    }

    /// A cycle in a directed graph (node → the nodes it depends on), as a path a → b → … → a.
    static func findCycle(_ edges: [String: [String]]) -> [String]? {
        var state: [String: Int] = [:] // 1 visiting, 2 done
        var stack: [String] = []
        func visit(_ n: String) -> [String]? {
            state[n] = 1
            stack.append(n)
            for m in edges[n] ?? [] {
                if state[m] == 1, let start = stack.firstIndex(of: m) { return Array(stack[start...]) + [m] }
                if state[m] == nil, let c = visit(m) { return c }
            }
            stack.removeLast()
            state[n] = 2
            return nil
        }
        for n in edges.keys.sorted() where state[n] == nil {
            if let c = visit(n) { return c }
        }
        return nil
    }

    /// Cycles of jobs through dependencies (after → run), across the whole catalog.
    mutating func checkJobCycles() {
        var edges: [String: [String]] = [:]
        var via: [String: String] = [:] // "a→b" → dependency name
        for (k, spec) in specs {
            guard case .dependency(let dependency) = spec else { continue }
            let run = dependency.run
            for after in dependency.after {
                edges[run, default: []].append(after)
                via["\(run)→\(after)"] = k.name
            }
        }
        guard let cycle = Validator.findCycle(edges) else { return }
        // Order the cycle in run order (after → run) and name the dependencies.
        let order = Array(cycle.reversed())
        var deps: [String] = []
        for i in 0 ..< order.count - 1 { if let n = via["\(order[i + 1])→\(order[i])"] { deps.append(n) } }
        let inFiles = definitions.first { $0.kind == .dependency && deps.contains($0.name) }
        let at = inFiles?.location ?? definitions.first?.location ?? SourceLocation(file: "(catalog)")
        diagnostics.append(Diagnostic(at, "jobs form a cycle through dependencies: \(order.joined(separator: " → ")) (dependencies \(deps.sorted().joined(separator: ", ")))",
                                      fix: "remove one of these dependencies"))
    }

    // MARK: model, features

    mutating func checkModel(_ d: Definition, _ m: ModelSpec) {
        let type = m.type.rawValue
        if m.type.needsTarget, m.target == nil {
            error(d, "", "model '\(d.name)' (\(type)) has no 'target'", fix: "add `target:` (the column to predict)")
        }
        if m.type == .script {
            if m.command == nil { error(d, "", "model '\(d.name)' (script) has no 'command'", fix: "add `command: [program, args…]`") }
            if m.predictionFieldNames == nil { error(d, "", "model '\(d.name)' (script) has no 'prediction_fields'", fix: "list the fields the scorer outputs") }
        } else if m.command != nil {
            error(d, "command", "model '\(d.name)' is \(type), which takes no command", fix: "remove command, or set type: script")
        }
        if let builtIn = m.type.builtInOutputs, let fields = m.predictionFieldNames, fields.count != builtIn.count {
            error(d, "prediction_fields", "model '\(d.name)' (\(type)) outputs \(builtIn.count) field\(builtIn.count == 1 ? "" : "s") (\(builtIn.joined(separator: ", "))) but prediction_fields names \(fields.count)",
                  fix: "name exactly \(builtIn.count)")
        }
        let training = m.trainingDataset
        if DatasetReference(training) == nil {
            error(d, "training_dataset", "model '\(d.name)' trains on '\(training)', whose version is not a positive integer",
                  fix: DatasetReference.versionFix)
        } else if !knownDatasets.contains(DatasetReference.name(of: training)) {
            error(d, "training_dataset", "model '\(d.name)' trains on '\(training)', which is no source, output or stage output",
                  fix: Suggest.closest(to: training, in: knownDatasets.sorted()).map { "did you mean '\($0)'?" } ?? "define a source or a stage output named '\(training)'")
        }
        checkRetrainSchedule(d, m)
        // Hyperparameters by type.
        guard let allowed = KindSchemas.hyperparameters[type], let hp = m.hyperparameters else {
            if let required = KindSchemas.hyperparameters[type]?.filter(\.required), !required.isEmpty {
                error(d, "", "model '\(d.name)' (\(type)) needs hyperparameters \(required.map(\.name).joined(separator: ", "))",
                      fix: "add `hyperparameters: {\(required[0].name): …}`")
            }
            return
        }
        for m in hp.members {
            let path = "hyperparameters.\(m.key)"
            guard let f = allowed.first(where: { $0.name == m.key }) else {
                error(d, path, "model '\(d.name)' (\(type)) has no hyperparameter '\(m.key)'",
                      fix: allowed.isEmpty ? "\(type) models take none" : Suggest.fix(for: m.key, in: allowed.map(\.name), noun: "one of"))
                continue
            }
            let fits: Bool
            switch f.type {
            case .integer(let min): fits = m.value.intValue.map { $0 >= (min ?? .min) } ?? false
            case .number(let min): fits = m.value.doubleValue.map { $0 >= (min ?? -.infinity) } ?? false
            default: fits = true
            }
            if !fits { error(d, path, "hyperparameter \(m.key) of model '\(d.name)' must be \(f.type.phrase), got \(m.value.jsonString)") }
        }
        for f in allowed where f.required && hp.value(f.name) == nil {
            error(d, "hyperparameters", "model '\(d.name)' (\(type)) needs hyperparameter '\(f.name)'", fix: "add `\(f.name):` (\(f.type.phrase))")
        }
    }

    mutating func checkFeatures(_ d: Definition, _ features: FeaturesSpec) {
        for (i, step) in features.steps.enumerated() {
            switch step {
            case .impute(_, let strategy, let value):
                if strategy == .constant && value == nil {
                    error(d, "steps[\(i)]", "step \(i + 1) of feature spec '\(d.name)' imputes a constant but gives no 'value'", fix: "add `value:`")
                }
                if strategy != .constant && value != nil {
                    error(d, "steps[\(i)].value", "step \(i + 1) of feature spec '\(d.name)' gives a value but imputes the \(strategy.rawValue)", fix: "remove value, or use strategy: constant")
                }
            case .minmaxScale(_, let r?):
                if r.count != 2 || r[0] >= r[1] {
                    error(d, "steps[\(i)].range", "step \(i + 1) of feature spec '\(d.name)' needs range [min, max] with min < max", fix: "write e.g. [0, 1]")
                }
            default: break
            }
        }
    }

    // MARK: trigger

    /// Fields of the events a trigger's source produces; nil when they cannot be known.
    func triggerFields(_ source: TriggerSpec.Source) -> (fields: Set<String>, aggregates: Bool)? {
        let listed = source.fields ?? []
        switch source.type {
        case .predictions:
            guard let name = source.model, let model = spec(ModelSpec.self, name) else { return nil }
            var f: Set<String> = ["entity_key", "model", "model_version", "run", "stage"]
            f.formUnion(model.predictionFields)
            if let t = model.target { f.insert(t) }
            if let fs = model.features, let spec = spec(FeaturesSpec.self, fs) { f.formUnion(spec.columns) }
            f.formUnion(listed)
            return (f, true)
        case .metrics:
            return (Set(KindSchemas.monitorMetrics + ["model", "model_version", "run", "feature"]).union(listed), false)
        case .stageOutput:
            return (Set(listed + ["run", "job", "stage"]), true)
        }
    }

    mutating func checkTrigger(_ d: Definition, _ trigger: TriggerSpec) {
        let source = trigger.source
        let type = source.type.rawValue
        switch source.type {
        case .predictions, .metrics:
            if source.model == nil { error(d, "source", "trigger '\(d.name)' on \(type) names no model", fix: "add `model:` to source") }
            if source.job != nil || source.stage != nil {
                error(d, "source", "trigger '\(d.name)' on \(type) takes no job or stage", fix: "remove them, or use type: stage_output")
            }
        case .stageOutput:
            if source.job == nil || source.stage == nil {
                error(d, "source", "trigger '\(d.name)' on stage_output needs job and stage", fix: "add `job:` and `stage:` to source")
            } else if let job = source.job, let stage = source.stage, let spec = spec(JobSpec.self, job) {
                let stages = spec.stages.map(\.name)
                if !stages.contains(stage) {
                    error(d, "source.stage", "trigger '\(d.name)' watches stage '\(stage)', which job '\(job)' does not have",
                          fix: Suggest.closest(to: stage, in: stages).map { "did you mean '\($0)'?" } ?? "name one of: \(stages.joined(separator: ", "))")
                }
            }
            if source.fields == nil {
                error(d, "source", "trigger '\(d.name)' on stage_output does not say which fields the stage reports", fix: "add `fields: [...]` to source")
            }
        }
        let text = trigger.condition
        guard let expr = try? Expression.parse(text) else { return }
        if !expr.isCondition {
            error(d, "condition", "condition of trigger '\(d.name)' is not a true/false test: '\(text)'", fix: "compare it, e.g. `\(text) > 0.9`")
        }
        guard let (fields, aggregates) = triggerFields(source) else { return }
        for f in expr.fields where !fields.contains(f) {
            error(d, "condition", "condition of trigger '\(d.name)' uses '\(f)', which \(type) events do not have",
                  fix: Suggest.closest(to: f, in: fields.sorted()).map { "did you mean '\($0)'?" } ?? "use one of: \(fields.sorted().joined(separator: ", "))")
        }
        if expr.isAggregate {
            if !aggregates {
                error(d, "condition", "condition of trigger '\(d.name)' aggregates, but \(type) events are not grouped by run", fix: "compare a single metric instead")
            } else if let f = expr.fieldsOutsideAggregates.first {
                error(d, "condition", "condition of trigger '\(d.name)' mixes an aggregate with the single field '\(f)'",
                      fix: "put '\(f)' inside count(…), sum(…), avg(…), min(…) or max(…)")
            } else if trigger.dedupe == .oncePerRow {
                error(d, "dedupe", "trigger '\(d.name)' aggregates over a run, so it cannot fire once per row", fix: "use dedupe: once_per_run")
            }
        }
        for p in trigger.parameters where !fields.contains(p.field) {
            let f = p.field
            error(d, "parameters.\(p.name)", "parameter \(p.name) of trigger '\(d.name)' takes '\(f)', which \(type) events do not have",
                  fix: Suggest.closest(to: f, in: fields.sorted()).map { "did you mean '\($0)'?" } ?? "use one of: \(fields.sorted().joined(separator: ", "))")
        }
    }

    // MARK: storage and tables

    mutating func checkOutput(_ d: Definition, _ output: OutputSpec) {
        guard case .sqlite(let table) = output.sink else { return }
        if table.mode == .upsert, table.keys == nil {
            error(d, "mode", "output '\(d.name)' upserts but names no keys", fix: "add `keys: [column, …]`")
        }
        if table.keys != nil, table.mode != .upsert {
            error(d, "keys", "output '\(d.name)' names keys but does not upsert", fix: "set mode: upsert, or remove keys")
        }
    }

    mutating func checkSource(_ d: Definition, _ source: SourceSpec) {
        switch source.input {
        case .sqlite(let read):
            let t = read.table != nil, q = read.query != nil
            if t == q {
                error(d, t ? "query" : "", "sqlite source '\(d.name)' needs exactly one of table and query", fix: t ? "remove one of them" : "add `table:` or `query:`")
            }
        case .csv(let files):
            if let delim = files.delimiter, delim.count != 1 {
                error(d, "delimiter", "delimiter of source '\(d.name)' must be one character, got '\(delim)'", fix: "write e.g. ';'")
            }
        case .jsonl, .parquet: break
        }
    }

    mutating func checkConfigTable(_ d: Definition, _ table: ConfigTableSpec) {
        var seen: [String: Int] = [:]
        for (i, row) in table.rows.enumerated() {
            let k = [row.moduleName, row.submodule ?? "", row.clientCode]
            let key = k.joined(separator: "\u{1F}")
            if let j = seen[key] {
                error(d, "rows[\(i)]", "rows \(j + 1) and \(i + 1) of config table '\(d.name)' are both module \(k[0]), submodule \(k[1].isEmpty ? "(none)" : k[1]), client \(k[2])",
                      fix: "keep one of them")
            } else {
                seen[key] = i
            }
        }
    }

    mutating func checkColumnMapping(_ d: Definition, _ mapping: ColumnMappingSpec) {
        var target: [String: String] = [:]
        for c in mapping.columns {
            let t = c.to
            if let other = target[t] {
                error(d, "columns.\(c.from)", "column mapping '\(d.name)' maps both '\(other)' and '\(c.from)' to '\(t)'", fix: "map each canonical column once")
            } else {
                target[t] = c.from
            }
        }
    }

    mutating func checkMonitor(_ d: Definition, _ m: MonitorSpec) {
        if m.below == nil && m.above == nil {
            error(d, "", "monitor '\(d.name)' has no threshold", fix: "add `below:` or `above:`")
        }
        if m.alert == nil && m.run == nil {
            error(d, "", "monitor '\(d.name)' has no action", fix: "add `alert: TEAM` or `run: JOB`")
        }
        let metric = m.metric.rawValue
        if m.metric == .psi, m.feature == nil {
            error(d, "metric", "monitor '\(d.name)' watches psi drift but names no feature", fix: "add `feature:`")
        }
        if m.metric != .psi, m.feature != nil {
            error(d, "feature", "monitor '\(d.name)' names a feature, which only psi uses", fix: "remove feature, or use metric: psi")
        }
        if let b = m.below, let a = m.above, b >= a {
            error(d, "below", "monitor '\(d.name)' fires always: below \(formatNumber(b)) is not less than above \(formatNumber(a))", fix: "use below < above")
        }
        let name = m.model
        guard let model = spec(ModelSpec.self, name) else { return }
        let type = model.type.rawValue
        if let types = m.metric.reportedBy, !types.contains(model.type) {
            error(d, "metric", "monitor '\(d.name)' watches \(metric), which \(type) model '\(name)' does not report",
                  fix: "use a metric of \(type) models")
        }
    }

    // MARK: schedules

    mutating func checkSchedule(_ d: Definition, _ s: ScheduleSpec) {
        switch (s.cron, s.every) {
        case (nil, nil):
            // A cron or every that did not convert has been reported already.
            if d.locations["cron"] == nil && d.locations["every"] == nil {
                error(d, "", "schedule '\(d.name)' says neither when (cron) nor how often (every)", fix: "add `cron: '0 6 * * *'` or `every: 1h`")
            }
        case (_?, _?):
            error(d, "every", "schedule '\(d.name)' has both cron and every", fix: "keep one of them")
        case (nil, let every?):
            if every < ScheduleSpec.minimumEvery {
                error(d, "every", "every of schedule '\(d.name)' is \(DurationText.text(every)), below the shortest interval of 1s", fix: "use 1s or more")
            }
        default: break
        }
        if let start = s.startAt, let end = s.endAt, end <= start {
            error(d, "end_at", "end_at of schedule '\(d.name)' (\(ScheduleEvents.timeText(end))) is not after its start_at (\(ScheduleEvents.timeText(start)))",
                  fix: "set end_at later than start_at, or remove one of them")
        }
        if let m = s.maxCatchUp, m > ScheduleSpec.maximumCatchUp {
            error(d, "max_catch_up", "max_catch_up of schedule '\(d.name)' is \(m), over the limit of \(ScheduleSpec.maximumCatchUp) runs requested at once",
                  fix: "use \(ScheduleSpec.maximumCatchUp) or less")
        }
        for p in s.parameters where p.key == ScheduleSpec.scheduledTimeParameter {
            error(d, "parameters.\(p.key)", "schedule '\(d.name)' sets parameter \(p.key), which the engine sets to each tick's time",
                  fix: "remove it (the run gets it anyway)")
        }
        guard let job = spec(JobSpec.self, s.job) else { return }
        checkPassedParameters(d, who: "schedule '\(d.name)'", job: job, jobName: s.job,
                              given: s.parameters.filter { $0.key != ScheduleSpec.scheduledTimeParameter })
        checkTypedParameters(d, who: "schedule '\(d.name)'", job: job, jobName: s.job, given: s.parameters, alsoGiven: [ScheduleSpec.scheduledTimeParameter])
    }

    /// Each parameter `who` passes is one `job` takes.
    mutating func checkPassedParameters(_ d: Definition, who: String, job: JobSpec, jobName: String, given: [Value.Member], at path: String = "parameters") {
        let known = job.parameters.map(\.key)
        for p in given where !known.contains(p.key) {
            error(d, "\(path).\(p.key)", "\(who) passes parameter '\(p.key)', which job '\(jobName)' does not take",
                  fix: Suggest.closest(to: p.key, in: known).map { "did you mean '\($0)'?" } ?? (known.isEmpty ? "job '\(jobName)' takes no parameters" : "its parameters are \(known.joined(separator: ", "))"))
        }
    }

    /// What a schedule or sensor passes to its job's typed parameters: every required one given,
    /// and each literal value (no `${…}` placeholder) of the parameter's type.
    mutating func checkTypedParameters(_ d: Definition, who: String, job: JobSpec, jobName: String, given: [Value.Member], alsoGiven: Set<String> = [],
                                       at path: String = "parameters") {
        for p in (try? JobParameter.declarations(job.parameters, owner: JobSpec.owner)) ?? [] {
            guard let kind = p.kind else { continue }
            guard let value = given.first(where: { $0.key == p.name })?.value else {
                if p.required && !alsoGiven.contains(p.name) {
                    error(d, path, "\(who) runs job '\(jobName)', whose parameter '\(p.name)' (\(kind.phrase)) is required, and does not pass it",
                          fix: "add `\(p.name): …` to its parameters")
                }
                continue
            }
            if case .string(let text) = value, text.contains("${") { continue }
            if case .failure = kind.coerce(value) {
                error(d, "\(path).\(p.name)", "\(who) passes \(Fields.describe(value)) for parameter '\(p.name)' of job '\(jobName)', which must be \(kind.phrase)",
                      fix: "pass \(kind.phrase)")
            }
        }
    }

    /// A model's `retrain.schedule` needs a job to run: `retrain.job`, else the only job that trains it.
    mutating func checkRetrainSchedule(_ d: Definition, _ m: ModelSpec) {
        guard let retrain = m.retrain else { return }
        guard retrain.schedule != nil else {
            for (field, set) in [("job", retrain.job != nil), ("timezone", retrain.timezone != nil)] where set {
                error(d, "retrain.\(field)", "retrain.\(field) of model '\(d.name)' applies only to a retraining schedule", fix: "add `retrain.schedule`, or remove it")
            }
            return
        }
        var jobs: [(name: String, spec: JobSpec)] = []
        for (key, spec) in specs { if case .job(let job) = spec { jobs.append((key.name, job)) } }
        let candidates = RetrainJob.candidates(training: d.name, jobs: jobs)
        if case .failure(let problem) = RetrainJob.resolve(model: d.name, named: retrain.job, candidates: candidates) {
            error(d, retrain.job != nil ? "retrain.job" : "retrain.schedule", problem.message, fix: problem.fix)
        }
    }

    mutating func checkSecret(_ d: Definition, _ secret: SecretSpec) {
        let env = secret.fromEnv != nil, file = secret.fromFile != nil
        if env == file {
            error(d, "", "secret '\(d.name)' needs exactly one of from_env and from_file", fix: env ? "remove one of them" : "add `from_env: VARIABLE` or `from_file: PATH`")
        }
    }

    // MARK: notifications

    mutating func checkNotifier(_ d: Definition, _ n: NotifierSpec) {
        switch n.target {
        case .smtp(let smtp):
            if smtp.password != nil && smtp.username == nil {
                error(d, "password", "notifier '\(d.name)' has a password but no username", fix: "add `username:` (the SMTP AUTH user)")
            }
            if smtp.username != nil && smtp.password == nil {
                error(d, "username", "notifier '\(d.name)' has a username but no password", fix: "add `password: {secret: NAME}`")
            }
            if smtp.password != nil && smtp.security == .none {
                error(d, "password", "notifier '\(d.name)' would send its password over an unencrypted connection (security none)",
                      fix: "set `security: starttls` or `security: tls`")
            }
        case .webhook(let hook):
            let lower = hook.url.lowercased()
            let rest = lower.hasPrefix("https://") ? lower.dropFirst(8) : lower.hasPrefix("http://") ? lower.dropFirst(7) : nil
            if rest == nil || rest?.isEmpty == true || hook.url.contains(where: { $0.isWhitespace }) {
                error(d, "url", "url of notifier '\(d.name)' is '\(Diagnostic.excerpt(hook.url))', which is not an http:// or https:// URL",
                      fix: "write e.g. https://hooks.example.com/ledgerflow")
            }
            for h in hook.headers {
                let path = "headers.\(h.name)"
                switch h.value {
                case .secret(let name):
                    checkReference(d, path + ".secret", .secret, name)
                case .invalid:
                    error(d, path, "header \(h.name) of notifier '\(d.name)' must be text or {secret: NAME}", fix: "write a value or a secret reference")
                case .text:
                    if Validator.looksSecret(h.name.replacingOccurrences(of: "-", with: "_")) || h.name.lowercased() == "authorization" {
                        error(d, path, "header \(h.name) of notifier '\(d.name)' looks like a secret written inline",
                              fix: "define a secret (kind: secret, from_env or from_file) and write `\(h.name): {secret: NAME}`")
                    }
                }
            }
        }
    }

    /// The smtp notifiers that will exist, by name.
    var smtpNotifiers: [String] {
        names(.notifier).filter { spec(NotifierSpec.self, $0)?.type == .smtp }
    }

    mutating func checkTeam(_ d: Definition, _ team: TeamSpec) {
        if let name = team.notifier, let n = spec(NotifierSpec.self, name), n.type != .smtp {
            error(d, "notifier", "team '\(d.name)' e-mails through notifier '\(name)', which is a \(n.type.rawValue) notifier",
                  fix: "name an smtp notifier in `notifier:` (a webhook goes in `webhook:`)")
        }
        if let name = team.webhook, let n = spec(NotifierSpec.self, name), n.type != .webhook {
            error(d, "webhook", "team '\(d.name)' names notifier '\(name)' as its webhook, but it is an \(n.type.rawValue) notifier",
                  fix: "name a webhook notifier in `webhook:` (an smtp notifier goes in `notifier:`)")
        }
        if team.notifier == nil {
            let smtp = smtpNotifiers
            if smtp.count > 1 {
                error(d, "", "team '\(d.name)' names no notifier and \(smtp.count) smtp notifiers are defined (\(smtp.joined(separator: ", ")))",
                      fix: "add `notifier: NAME` (one of them)")
            }
        }
    }
}
