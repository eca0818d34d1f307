import Domain

extension Validator {
    /// A spark stage: a PySpark file or a jar with its `class`; the settings every Spark stage has.
    mutating func checkSpark(_ d: Definition, _ s: StageSpec, _ spark: StageSpec.Spark, _ i: Int) {
        let n = s.name
        let app = spark.application.lowercased()
        if !app.hasSuffix(".py") && !spark.isJar && !spark.application.contains("${") {
            error(d, "stages[\(i)].application", "spark stage '\(n)' of job '\(d.name)' runs '\(spark.application)', which is neither a PySpark file (.py) nor a jar",
                  fix: "name a .py file, or a .jar with `class`")
        }
        if spark.isJar && spark.mainClass == nil {
            error(d, "stages[\(i)].application", "spark stage '\(n)' of job '\(d.name)' runs jar '\(spark.application)' without its main class",
                  fix: "add `class: com.example.Main`")
        }
        if !spark.isJar, let c = spark.mainClass {
            error(d, "stages[\(i)].class", "spark stage '\(n)' of job '\(d.name)' names class '\(c)' for a Python application",
                  fix: "remove `class` (it is a jar's main class)")
        }
        for (k, a) in spark.args.enumerated() {
            switch a {
            case .string, .int, .double, .bool: continue
            default:
                error(d, "stages[\(i)].args[\(k)]", "argument \(k + 1) of spark stage '\(n)' in job '\(d.name)' is not text or a number",
                      fix: "write each argument as one text")
            }
        }
        checkSparkSettings(d, s, spark.settings, "stages[\(i)]")
    }

    /// Where Spark runs: a master spark-submit takes, memory sizes it reads, conf values that are
    /// scalars, and the stage's env.
    mutating func checkSparkSettings(_ d: Definition, _ s: StageSpec, _ settings: StageSpec.SparkSettings, _ at: String) {
        let n = s.name
        let master = settings.masterURL
        if master.isEmpty || master.contains(" ") {
            error(d, "\(at).master", "stage '\(n)' of job '\(d.name)' has master '\(master)', which spark-submit does not take",
                  fix: "write local[*], local[N], spark://HOST:PORT, or another Spark master URL")
        } else if master.hasPrefix("local"), !Self.isLocalMaster(master) {
            error(d, "\(at).master", "stage '\(n)' of job '\(d.name)' has master '\(master)', which is not a local master",
                  fix: "write local, local[*], local[N] or local[N,F] (N threads, F task failures allowed)")
        } else if master.hasPrefix("spark://"), master.dropFirst(8).split(separator: ",").contains(where: { !$0.contains(":") }) {
            error(d, "\(at).master", "stage '\(n)' of job '\(d.name)' has master '\(master)' without a port",
                  fix: "write spark://HOST:PORT (a standalone master listens on 7077 by default)")
        }
        if let ui = settings.masterUI, !(ui.hasPrefix("http://") || ui.hasPrefix("https://")) {
            error(d, "\(at).master_ui", "stage '\(n)' of job '\(d.name)' has master_ui '\(ui)', which is not an http(s) URL",
                  fix: "write the master's web UI, e.g. http://HOST:8080")
        }
        for (field, value) in [("driver_memory", settings.driverMemory), ("executor_memory", settings.executorMemory)] {
            if let v = value, !Self.isMemorySize(v) {
                error(d, "\(at).\(field)", "stage '\(n)' of job '\(d.name)' has \(field) '\(v)', which Spark does not read as a size",
                      fix: "write a number with k, m, g or t (e.g. 2g, 512m)")
            }
        }
        for c in settings.conf {
            switch c.value {
            case .string, .int, .double, .bool: continue
            default:
                error(d, "\(at).conf.\(c.key)", "Spark setting \(c.key) of stage '\(n)' in job '\(d.name)' is not a scalar",
                      fix: "write the value as text or a number")
            }
        }
        checkEnv(d, n, settings.env, "\(at).env")
    }

    /// `local`, `local[*]`, `local[N]`, `local[N,F]`, `local[*,F]`.
    static func isLocalMaster(_ m: String) -> Bool {
        if m == "local" { return true }
        guard m.hasPrefix("local[") && m.hasSuffix("]") else { return false }
        let inner = m.dropFirst(6).dropLast().split(separator: ",", omittingEmptySubsequences: false)
        guard (1 ... 2).contains(inner.count) else { return false }
        let threads = inner[0] == "*" || (Int(inner[0]).map { $0 > 0 } ?? false)
        return threads && (inner.count == 1 || (Int(inner[1]).map { $0 > 0 } ?? false))
    }

    /// A JVM memory size: digits and an optional unit (`512m`, `2g`).
    static func isMemorySize(_ v: String) -> Bool {
        var t = v.lowercased()
        if let last = t.last, "kmgtb".contains(last) { t.removeLast() }
        if t.hasSuffix("k") || t.hasSuffix("m") || t.hasSuffix("g") || t.hasSuffix("t") { t.removeLast() }
        return !t.isEmpty && t.allSatisfy(\.isNumber)
    }
}
