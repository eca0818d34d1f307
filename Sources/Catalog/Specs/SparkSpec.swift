import Domain

extension StageSpec {
    /// Where and how a stage's work runs on Apache Spark (`spark-submit`): a `spark` stage's
    /// settings, and a train or inference stage's `spark:` with `engine: spark`.
    public struct SparkSettings: Sendable, Hashable {
        /// `local[*]` (default), `local[N]`, `spark://HOST:PORT` (a standalone cluster) or any
        /// other master spark-submit takes (passed through).
        public var master: String?
        /// The standalone master's web UI (its JSON status says what runs; default
        /// `http://HOST:8080` for `spark://HOST:PORT`).
        public var masterUI: String?
        /// `--conf` pairs, in name order.
        public var conf: [Value.Member]
        /// `--py-files`: Python files or zips the application imports (relative to the project folder).
        public var pyFiles: [String]
        /// `--driver-memory`, `--executor-memory` (`1g`, `512m`).
        public var driverMemory: String?
        public var executorMemory: String?
        /// Environment variables added, in name order (as a script stage's).
        public var env: [EnvVariable]

        /// The default master: every core of this machine.
        public static let defaultMaster = "local[*]"

        /// A value with these fields.
        public init(master: String? = nil, masterUI: String? = nil, conf: [Value.Member] = [], pyFiles: [String] = [], driverMemory: String? = nil,
                    executorMemory: String? = nil, env: [EnvVariable] = []) {
            self.master = master
            self.masterUI = masterUI
            self.conf = conf
            self.pyFiles = pyFiles
            self.driverMemory = driverMemory
            self.executorMemory = executorMemory
            self.env = env
        }

        init(_ f: Fields) throws(DecodingFailure) {
            var env: [EnvVariable] = []
            for m in try f.mapping(opt: "env") { env.append(EnvVariable(name: m.key, value: EnvValue(m.value))) }
            self.init(master: try f.string(opt: "master"), masterUI: try f.string(opt: "master_ui"), conf: try f.mapping(opt: "conf"),
                      pyFiles: try f.strings(opt: "py_files") ?? [], driverMemory: try f.string(opt: "driver_memory"),
                      executorMemory: try f.string(opt: "executor_memory"), env: env)
        }

        /// The master as written, or the default.
        public var masterURL: String { master ?? Self.defaultMaster }

        /// True for a standalone cluster's master (`spark://…`): one whose JSON status recovery asks.
        public var isStandalone: Bool { masterURL.hasPrefix("spark://") }

        /// The standalone master's web UI: `master_ui`, else port 8080 of the master's host (the
        /// first host of a `spark://a:7077,b:7077` list); nil for other masters.
        public var webUI: String? {
            if let masterUI { return masterUI }
            guard isStandalone else { return nil }
            let hosts = masterURL.dropFirst("spark://".count).split(separator: ",")
            guard let first = hosts.first else { return nil }
            let host = first.split(separator: ":").first.map(String.init) ?? String(first)
            return "http://\(host):8080"
        }
    }

    /// spark: run an application with `spark-submit` (docs/spark.md), as a child process in its
    /// own process group, its submission recorded before it starts.
    public struct Spark: Sendable, Hashable {
        /// A PySpark file, or a jar with `mainClass` (relative to the project folder).
        public var application: String
        /// A jar's main class (`class`).
        public var mainClass: String?
        /// The application's arguments (texts with `${…}` references).
        public var args: [Value]
        /// Where it runs.
        public var settings: SparkSettings

        /// The stage type.
        public static let stageType = "spark"

        /// A value with these fields.
        public init(application: String, mainClass: String? = nil, args: [Value] = [], settings: SparkSettings = SparkSettings()) {
            self.application = application
            self.mainClass = mainClass
            self.args = args
            self.settings = settings
        }

        init(_ f: Fields) throws(DecodingFailure) {
            self.init(application: try f.string("application"), mainClass: try f.string(opt: "class"), args: try f.array(opt: "args") ?? [],
                      settings: try SparkSettings(f))
        }

        /// True when the application is a jar (it then needs `class`).
        public var isJar: Bool { application.lowercased().hasSuffix(".jar") }
    }

    /// Where a train or inference stage computes: in the engine's process (default) or on Spark.
    public enum Engine: String, Sendable, Hashable, CaseIterable {
        case inProcess = "in_process"
        case spark
    }

    /// The Spark settings of a train or inference stage that runs with `engine: spark`, or of a
    /// spark stage; nil for work done in process.
    public var spark: SparkSettings? {
        switch variant {
        case .spark(let s): return s.settings
        case .train(let t): return t.spark
        case .inference(let i): return i.spark
        default: return nil
        }
    }
}

extension StageSpec.SparkSettings {
    /// A train or inference stage's `engine` and `spark` fields: settings when it runs on Spark.
    static func ml(_ f: Fields) throws(DecodingFailure) -> StageSpec.SparkSettings? {
        let engine: StageSpec.Engine = try f.choice(opt: "engine") ?? .inProcess
        guard engine == .spark else {
            if f.has("spark") { throw f.failure("spark", expected: "absent unless `engine: spark`", found: f.value("spark")) }
            return nil
        }
        return try f.object(opt: "spark").map { s throws(DecodingFailure) in try StageSpec.SparkSettings(s) } ?? StageSpec.SparkSettings()
    }
}
