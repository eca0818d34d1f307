import Domain
import Foundation

/// Reads definition files into definitions, reporting every problem found.
public enum DefinitionLoader {
    /// Extensions read from folders.
    public static let extensions: Set<String> = ["yaml", "yml", "json"]

    /// The definition files named by `paths`: files as given, folders searched recursively for
    /// .yaml, .yml and .json files (sorted). Missing paths are diagnostics.
    public static func files(_ paths: [String]) -> (files: [String], errors: [Diagnostic]) {
        var files: [String] = []
        var errors: [Diagnostic] = []
        let fm = FileManager.default
        for path in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
                errors.append(Diagnostic(SourceLocation(file: path), "no such file or folder", fix: "check the path"))
                continue
            }
            if !isDir.boolValue {
                files.append(path)
                continue
            }
            var found: [String] = []
            if let e = fm.enumerator(atPath: path) {
                for case let rel as String in e where extensions.contains((rel as NSString).pathExtension.lowercased()) {
                    if rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
                    found.append((path as NSString).appendingPathComponent(rel))
                }
            }
            if found.isEmpty {
                errors.append(Diagnostic(SourceLocation(file: path), "the folder holds no .yaml, .yml or .json files", fix: "name a folder with definitions"))
            }
            files += found.sorted()
        }
        return (files, errors)
    }

    /// The largest definition file read: far above any real one (the examples are a few KiB).
    public static let maxFileBytes = 4 << 20
    /// The largest definition: its spec's canonical bytes. It is stored in one event, whose
    /// payload the log limits to 16 MiB.
    public static let maxDefinitionBytes = 4 << 20

    /// Loads every definition in `files` (read from disk).
    public static func load(files: [String]) -> (definitions: [Definition], errors: [Diagnostic]) {
        var defs: [Definition] = []
        var errors: [Diagnostic] = []
        for file in files {
            // Read at most one byte past the limit: a huge file, /dev/zero or a pipe that never
            // ends is refused without reading it all.
            guard let handle = FileHandle(forReadingAtPath: file) else {
                errors.append(Diagnostic(SourceLocation(file: file), "cannot read the file", fix: "check its permissions"))
                continue
            }
            let read = Result { try handle.read(upToCount: maxFileBytes + 1) ?? Data() }
            try? handle.close()
            guard case .success(let data) = read else {
                errors.append(Diagnostic(SourceLocation(file: file), "cannot read the file", fix: "check that it is a file and its permissions"))
                continue
            }
            guard data.count <= maxFileBytes else {
                errors.append(Diagnostic(SourceLocation(file: file), "the file is larger than \(maxFileBytes >> 20) MiB, the limit for one definition file",
                                         fix: "split it into several files, and keep large data in datasets or config files that definitions refer to"))
                continue
            }
            guard let text = String(data: data, encoding: .utf8) else {
                errors.append(Diagnostic(SourceLocation(file: file), "the file is not UTF-8 text", fix: "save it as UTF-8"))
                continue
            }
            let r = load(text: text, file: file)
            defs += r.definitions
            errors += r.errors
        }
        return (defs, errors)
    }

    /// Loads the definitions in one file's text.
    public static func load(text: String, file: String) -> (definitions: [Definition], errors: [Diagnostic]) {
        let docs: [SourceNode]
        switch SourceParser.parse(text, file: file) {
        case .failure(let d): return ([], [d])
        case .success(let d): docs = d
        }
        var defs: [Definition] = []
        var errors: [Diagnostic] = []
        if docs.isEmpty || docs.allSatisfy({ $0.scalar == .null }) {
            return ([], [Diagnostic(SourceLocation(file: file, line: 1, column: 1), "the file holds no definitions", fix: "add one, e.g. `kind: job` and `name: …`")])
        }
        for doc in docs {
            switch doc.content {
            case .sequence(let items):
                for item in items { decode(item, into: &defs, errors: &errors) }
            case .mapping:
                decode(doc, into: &defs, errors: &errors)
            case .scalar:
                if doc.scalar == .null { continue }
                errors.append(Diagnostic(doc.location, "expected a definition (a mapping with kind and name), got \(doc.shapeDescription)",
                                         fix: "start the definition with `kind:` and `name:`"))
            }
        }
        // Each definition is stored in one event: refuse one too large to store (it stays in the
        // list, like one with field errors, so that references to it resolve).
        for d in defs {
            let size = d.spec.canonicalBytes.count
            guard size > maxDefinitionBytes else { continue }
            errors.append(Diagnostic(d.location, "\(d.key.phrase) is \(megabytes(size)) MiB once encoded, over the limit of \(maxDefinitionBytes >> 20) MiB for one definition",
                                     fix: "keep large data in datasets or config files and refer to them, or split the definition"))
        }
        return (defs, errors)
    }

    static func decode(_ node: SourceNode, into defs: inout [Definition], errors: inout [Diagnostic]) {
        guard case .mapping = node.content else {
            errors.append(Diagnostic(node.location, "expected a definition (a mapping with kind and name), got \(node.shapeDescription)",
                                     fix: "write each definition as a mapping with `kind:` and `name:`"))
            return
        }
        // The seeds' JSON job format: `job_id` and `stages`, no `kind`.
        if node["kind"] == nil, node["job_id"] != nil || (node["stages"] != nil && node["name"] == nil) {
            if let d = SeedJob.decode(node, errors: &errors) { defs.append(d) }
            return
        }
        guard let kindNode = node["kind"] else {
            errors.append(Diagnostic(node.location, "definition has no 'kind'",
                                     fix: "add `kind:` (one of \(DefinitionKind.allCases.map(\.name).joined(separator: ", ")))"))
            return
        }
        guard let kindText = kindNode.text, let kind = DefinitionKind(rawValue: kindText) else {
            let t = kindNode.text ?? ""
            errors.append(Diagnostic(kindNode.location, "unknown kind '\(Diagnostic.excerpt(t))'",
                                     fix: Suggest.fix(for: t, in: DefinitionKind.allCases.map(\.name), noun: "one of the kinds")))
            return
        }
        var name = "?"
        var nameOK = false
        if let nameNode = node["name"] {
            if let t = nameNode.text, nameNode.scalar != nil, SpecConverter.isIdentifier(t) {
                name = t
                nameOK = true
            } else {
                errors.append(Diagnostic(nameNode.location, "\(kind.name) name \(nameNode.text.map { "'\(Diagnostic.excerpt($0))'" } ?? nameNode.shapeDescription) is not a valid name",
                                         fix: "use letters, digits, _, - and . (starting with a letter, digit or _), at most 128 characters"))
            }
        } else {
            errors.append(Diagnostic(node.location, "\(kind.name) definition has no 'name'", fix: "add `name:`"))
        }
        var converter = SpecConverter(subject: "\(kind.name) '\(name)'")
        if kind == .secret { checkInlineSecret(node, name: name, into: &converter) }
        let inlinePassword = kind == .notifier && checkInlinePassword(node, name: name, into: &converter)
        let spec = converter.object(node, KindSchemas.schema(kind), path: "",
                                    extra: KindSchemas.common.filter { $0.name == "description" },
                                    skip: Set(["kind", "name"]).union(kind == .secret ? inlineSecretKeys : []).union(inlinePassword ? ["password"] : []))
        errors += converter.diagnostics
        // A definition with field errors is still returned (without the bad fields) so that the
        // validator can report its other problems and references to it resolve; the apply fails
        // on the errors above either way.
        if nameOK, let spec {
            let d = Definition(key: DefinitionKey(kind, name), spec: spec, location: node.location, locations: converter.locations)
            if converter.diagnostics.isEmpty { checkReads(d, into: &errors) }
            defs.append(d)
        }
    }

    /// `bytes` in MiB with one decimal, rounded up (so that it never reads as the limit itself).
    static func megabytes(_ bytes: Int) -> String {
        let tenths = (bytes * 10 + (1 << 20) - 1) >> 20
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// A definition that converted without errors must read as its typed spec: when it does not,
    /// the schema and the typed spec disagree (a bug), and the apply stops here instead of storing
    /// a spec that nothing can run.
    static func checkReads(_ d: Definition, into errors: inout [Diagnostic]) {
        do throws(DecodingFailure) {
            _ = try d.typedSpec
        } catch {
            errors.append(Diagnostic(d.location(of: error.field), "\(d.key.phrase) converted but does not read as a \(d.kind.name) spec: \(error)",
                                     fix: "this is a bug in ledgerflow (its schema and typed specs disagree); please report it"))
        }
    }

    static let inlineSecretKeys: Set<String> = ["value", "secret", "password", "token", "key"]

    /// A notifier's `password` must be `{secret: NAME}`; a value written inline is refused without
    /// being quoted back (it is a password) and left out of the conversion. Returns whether it was.
    static func checkInlinePassword(_ node: SourceNode, name: String, into c: inout SpecConverter) -> Bool {
        guard let p = node["password"], p.scalar != nil || { if case .sequence = p.content { return true } else { return false } }() else { return false }
        c.error(p.location, "password of notifier '\(name)' is written inline; a password must never be in definition files or the log",
                fix: "define a secret (kind: secret, from_env or from_file) and write `password: {secret: NAME}`")
        return true
    }

    static func checkInlineSecret(_ node: SourceNode, name: String, into c: inout SpecConverter) {
        guard case .mapping(let pairs) = node.content else { return }
        for (k, _) in pairs where inlineSecretKeys.contains(k.text ?? "") {
            c.error(k.location, "secret '\(name)' has its value written inline ('\(k.text ?? "")'); secret values must never be in definition files or the log",
                    fix: "remove it and use `from_env: VARIABLE` or `from_file: PATH`")
        }
    }
}

/// The seeds' JSON job format: `{"job_id": 101, "stages": [{"id": 1, "type": "ETL", …}, …]}`,
/// mapped onto a job named after its id: stages ordered by `id`, each after the previous one,
/// named `<type>_<id>` (`etl_1`), the original stage kept under `seed`; an Inference row's `model`,
/// `entity_key`, `script` (made absolute against the seed file's folder) and `interpreter` become
/// the stage's.
public enum SeedJob {
    /// Seed stage types and the stage types they map to.
    public static let stageTypes = ["ETL": "etl", "Inference": "inference", "Storage": "storage"]

    /// A seed row's `script` as the stage stores it: absolute, a relative one taken from the folder
    /// of `file` (the seed JSON file it was written in; a relative `file`, from the working folder).
    static func scriptPath(_ script: String, file: String) -> String {
        if script.hasPrefix("/") { return URL(fileURLWithPath: script).standardized.path }
        let cwd = FileManager.default.currentDirectoryPath
        let folder = ((file.hasPrefix("/") ? file : (cwd as NSString).appendingPathComponent(file)) as NSString).deletingLastPathComponent
        return URL(fileURLWithPath: (folder as NSString).appendingPathComponent(script)).standardized.path
    }

    static func decode(_ node: SourceNode, errors: inout [Diagnostic]) -> Definition? {
        let before = errors.count
        guard case .mapping(let pairs) = node.content else { return nil }
        var jobID: Int64?
        var stageNodes: [SourceNode] = []
        var description: String?
        var locations: [String: SourceLocation] = ["": node.location]
        for (k, v) in pairs {
            switch k.text ?? "" {
            case "job_id":
                guard case .int(let i)? = v.scalar, i >= 0 else {
                    errors.append(Diagnostic(v.location, "seed job 'job_id' must be a whole number ≥ 0, got \(v.shapeDescription)", fix: "write e.g. \"job_id\": 101"))
                    continue
                }
                jobID = i
                locations["job_id"] = v.location
            case "stages":
                guard case .sequence(let items) = v.content, !items.isEmpty else {
                    let got = v.content == .sequence([]) ? "an empty list" : v.shapeDescription
                    errors.append(Diagnostic(v.location, "seed job 'stages' must be a non-empty list, got \(got)", fix: "list the stages"))
                    continue
                }
                stageNodes = items
                locations["stages"] = v.location
            case "description":
                description = v.text
            default:
                errors.append(Diagnostic(k.location, "unknown field '\(k.text ?? "")' in a seed JSON job",
                                         fix: Suggest.fix(for: k.text ?? "", in: ["job_id", "stages", "description"], noun: "one of the fields")))
            }
        }
        if jobID == nil, node["job_id"] == nil {
            errors.append(Diagnostic(node.location, "seed JSON job has no 'job_id'", fix: "add \"job_id\": <number>, or write `kind: job` for a native job"))
        }
        if node["stages"] == nil {
            errors.append(Diagnostic(node.location, "seed JSON job has no 'stages'", fix: "add \"stages\": [...]"))
        }
        let jobName = jobID.map(String.init) ?? "?"
        var stages: [(id: Int64, type: String, seed: Value, at: SourceLocation)] = []
        var ids: [Int64: SourceLocation] = [:]
        for s in stageNodes {
            guard case .mapping(let fields) = s.content else {
                errors.append(Diagnostic(s.location, "a stage of seed job \(jobName) must be an object, got \(s.shapeDescription)", fix: "write {\"id\": 1, \"type\": \"ETL\", …}"))
                continue
            }
            var id: Int64?
            var type: String?
            for (k, v) in fields {
                let key = k.text ?? ""
                if key == "id" {
                    if case .int(let i)? = v.scalar, i >= 0 { id = i } else {
                        errors.append(Diagnostic(v.location, "stage 'id' in seed job \(jobName) must be a whole number ≥ 0, got \(v.shapeDescription)", fix: "number the stages 1, 2, 3…"))
                    }
                } else if key == "type" {
                    let t = v.text ?? ""
                    if let mapped = stageTypes.first(where: { $0.key.lowercased() == t.lowercased() }) { type = mapped.value } else {
                        errors.append(Diagnostic(v.location, "seed stage type '\(t)' in seed job \(jobName) is not one of ETL, Inference, Storage",
                                                 fix: Suggest.closest(to: t, in: stageTypes.keys.sorted()).map { "did you mean '\($0)'?" } ?? "use ETL, Inference or Storage"))
                    }
                } else if case .scalar = v.content {
                    // Other seed fields (source, destination, object, …) are kept as written.
                } else {
                    errors.append(Diagnostic(v.location, "seed stage field '\(key)' in seed job \(jobName) must be a plain value, got \(v.shapeDescription)", fix: "write text or a number"))
                }
            }
            if s["id"] == nil { errors.append(Diagnostic(s.location, "a stage of seed job \(jobName) has no 'id'", fix: "add \"id\": <number>")) }
            if s["type"] == nil { errors.append(Diagnostic(s.location, "a stage of seed job \(jobName) has no 'type'", fix: "add \"type\": \"ETL\", \"Inference\" or \"Storage\"")) }
            if let id {
                if let first = ids[id] {
                    errors.append(Diagnostic(s.location, "seed job \(jobName) has two stages with id \(id) (the first at \(first))", fix: "give each stage its own id"))
                }
                ids[id] = s.location
            }
            if type == "inference", let scriptNode = s["script"], let written = scriptNode.text {
                let path = SeedJob.scriptPath(written, file: node.location.file)
                if !FileManager.default.fileExists(atPath: path) {
                    errors.append(Diagnostic(scriptNode.location, "script '\(Diagnostic.excerpt(written))' of seed job \(jobName) is not a file (looked for \(path))",
                                             fix: "put it next to the job file, or write its absolute path"))
                }
            }
            if let id, let type { stages.append((id, type, s.value, s.location)) }
        }
        guard errors.count == before, let jobID else { return nil }
        stages.sort { $0.id < $1.id }
        var out: [Value] = []
        var previous: String?
        for (i, s) in stages.enumerated() {
            let name = "\(s.type)_\(s.id)"
            var members: [(String, Value)] = [("name", .string(name)), ("type", .string(s.type)), ("seed", s.seed)]
            // An Inference stage's model, entity key, scorer script and its interpreter, when the seed
            // row names them, are the stage's own (validated as such); the script's path is made
            // absolute against the folder of the file it was written in.
            if s.type == "inference" {
                for f in ["model", "entity_key", "script", "interpreter"] {
                    guard let v = s.seed[f]?.stringValue else { continue }
                    members.append((f, .string(f == "script" ? scriptPath(v, file: node.location.file) : v)))
                }
            }
            if let previous { members.append(("after", .array([.string(previous)]))) }
            out.append(.object(members))
            locations["stages[\(i)]"] = s.at
            previous = name
        }
        var spec: [(String, Value)] = [("job_id", .int(jobID)), ("stages", .array(out))]
        if let description { spec.append(("description", .string(description))) }
        let d = Definition(key: DefinitionKey(.job, String(jobID)), spec: .object(spec), location: node.location, locations: locations)
        DefinitionLoader.checkReads(d, into: &errors)
        return d
    }
}
