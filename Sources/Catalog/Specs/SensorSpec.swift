import Domain

/// Run a job when a marker file arrives in a folder.
public struct SensorSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.sensor

    /// What becomes of a marker once the run it started has finished.
    public enum AfterRun: Sendable, Hashable {
        case keep, delete
        /// Moved into this folder (as written: relative to the project folder), keeping its
        /// path relative to the watched folder.
        case move(String)

        /// The stored action.
        public var action: MarkerAction {
            switch self {
            case .keep: return .keep
            case .delete: return .delete
            case .move: return .move
            }
        }
    }

    /// The default pattern.
    public static let defaultPattern = "*.done"
    /// The default and the least poll interval, in seconds.
    public static let defaultPollInterval = 5.0
    public static let minPollInterval = 0.1

    /// Free text for people.
    public var description: String?
    /// Folder watched (relative to the project folder, the store's parent).
    public var path: String
    /// Marker file name pattern (default *.done).
    public var pattern: String?
    /// Look in subfolders too (default false).
    public var recursive: Bool?
    /// Seconds a file's size and mtime must stay unchanged before it counts (default 0).
    public var settle: Double?
    /// What to do with a marker once its run has finished (default keep).
    public var afterRun: AfterRun?
    /// The job to run per marker.
    public var job: String
    /// Seconds between looks (default 5).
    public var pollInterval: Double?
    /// Parameters for the run, in name order; texts may hold `${file.X}` placeholders.
    public var parameters: [Value.Member]

    /// A value with these fields.
    public init(description: String? = nil, path: String, pattern: String? = nil, recursive: Bool? = nil, settle: Double? = nil,
                afterRun: AfterRun? = nil, job: String, pollInterval: Double? = nil, parameters: [Value.Member] = []) {
        self.description = description
        self.path = path
        self.pattern = pattern
        self.recursive = recursive
        self.settle = settle
        self.afterRun = afterRun
        self.job = job
        self.pollInterval = pollInterval
        self.parameters = parameters
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        path = try f.string("path")
        pattern = try f.string(opt: "pattern")
        recursive = try f.bool(opt: "recursive")
        settle = try f.duration(opt: "settle")
        job = try f.string("job")
        pollInterval = try f.duration(opt: "poll_interval")
        parameters = try f.mapping(opt: "parameters")
        switch f.value("after_run") {
        case nil: afterRun = nil
        case .string("keep")?: afterRun = .keep
        case .string("delete")?: afterRun = .delete
        case .members(let m)? where m.count == 1 && m[0].key == "move":
            afterRun = .move(try f.object("after_run").string("move"))
        case let other?:
            throw f.failure("after_run", expected: "keep, delete, or {move: FOLDER}", found: other)
        }
    }

    /// The pattern in force (default *.done).
    public var glob: String { pattern ?? Self.defaultPattern }
    /// The poll interval in force, in seconds (default 5, at least 0.1).
    public var pollSeconds: Double { max(Self.minPollInterval, pollInterval ?? Self.defaultPollInterval) }
    /// The settle time in force, in seconds.
    public var settleSeconds: Double { max(0, settle ?? 0) }
    /// Whether subfolders are looked in.
    public var isRecursive: Bool { recursive ?? false }
    /// The marker action in force.
    public var afterRunInForce: AfterRun { afterRun ?? .keep }
}

/// The facts of an arrived file that a sensor's parameters may name: `${file.path}` (absolute),
/// `${file.name}`, `${file.stem}` (the name without its last extension), `${file.folder}`
/// (absolute folder of the file) and `${file.relative}` (path relative to the watched folder).
public struct SensedFile: Sendable, Hashable {
    /// The placeholders, in the order of the docs.
    public static let placeholders = ["path", "name", "stem", "folder", "relative"]

    /// The watched folder (absolute, no trailing `/`).
    public var watched: String
    /// Path relative to the watched folder.
    public var relative: String

    public init(watched: String, relative: String) {
        self.watched = watched
        self.relative = relative
    }

    public var path: String { watched == "/" ? "/" + relative : watched + "/" + relative }
    public var name: String { relative.split(separator: "/").last.map(String.init) ?? relative }
    public var stem: String {
        let n = name
        guard let dot = n.lastIndex(of: "."), dot != n.startIndex else { return n }
        return String(n[..<dot])
    }
    public var folder: String {
        let p = path
        guard let slash = p.lastIndex(of: "/") else { return p }
        return slash == p.startIndex ? "/" : String(p[..<slash])
    }

    /// The value of placeholder `name` (one of `placeholders`).
    public func fact(_ name: String) -> String? {
        switch name {
        case "path": return path
        case "name": return self.name
        case "stem": return stem
        case "folder": return folder
        case "relative": return relative
        default: return nil
        }
    }

    /// `value` with every `${file.X}` in its texts (at any depth) replaced by this file's fact;
    /// other text is kept as written.
    public func resolve(_ value: Value) -> Value {
        switch value {
        case .string(let s): return .string(Self.substitute(s) { fact($0) })
        case .array(let items): return .array(items.map(resolve))
        case .members(let m): return .members(m.map { Value.Member($0.key, resolve($0.value)) })
        default: return value
        }
    }

    /// The names X of the placeholders `${file.X}` in `value`'s texts (at any depth) that are not
    /// known; an unclosed one is given as its text from `${file.` to the end.
    public static func unknownPlaceholders(in value: Value) -> [String] {
        var out: [String] = []
        func visit(_ v: Value) {
            switch v {
            case .string(let s): _ = substitute(s) { name in
                if !placeholders.contains(name) { out.append(name) }
                return ""
            }
            case .array(let items): items.forEach(visit)
            case .members(let m): m.forEach { visit($0.value) }
            default: break
            }
        }
        visit(value)
        return out
    }

    /// `text` with each `${file.X}` replaced by `fact(X)` (kept as written when nil); an unclosed
    /// `${file.` is reported to `fact` as the name `${file.…` up to the end.
    static func substitute(_ text: String, _ fact: (String) -> String?) -> String {
        let open = "${file."
        guard text.contains(open) else { return text }
        var out = ""
        var rest = Substring(text)
        while let r = rest.range(of: open) {
            out += rest[..<r.lowerBound]
            let after = rest[r.upperBound...]
            guard let close = after.firstIndex(of: "}") else {
                _ = fact(open + after)
                out += rest[r.lowerBound...]
                return out
            }
            let name = String(after[..<close])
            out += fact(name) ?? String(rest[r.lowerBound ... close])
            rest = after[after.index(after: close)...]
        }
        out += rest
        return out
    }
}
