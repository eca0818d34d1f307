import Domain
import Testing
@testable import Catalog

/// spark stages and `engine: spark` through validation: what apply reads, and what it refuses
/// (one line each, at the field at fault, with what to do).
@Suite struct SparkSpecTests {
    static let model = """
    kind: model
    name: churn
    type: logistic_regression
    target: churned
    training_dataset: customers
    aliases: [production]
    ---
    kind: source
    name: customers
    type: csv
    path: data/customers.csv
    """

    /// Job `j` with one stage: `stage` (YAML flow mapping fields after name).
    static func job(_ stage: String) -> String {
        model + "\n---\nkind: job\nname: j\nparameters: {day: \"2026-01-01\"}\nstages:\n  - name: s\n    " + stage.replacingOccurrences(of: "\n", with: "\n    ") + "\n"
    }

    @Test func aSparkStageReadsWithItsSettings() throws {
        let text = Self.job("""
        type: spark
        application: jobs/agg.py
        args: ["--day", "${params.day}", 3]
        master: spark://10.0.0.5:7077
        master_ui: http://10.0.0.5:8080
        conf: {spark.sql.shuffle.partitions: 8, spark.executor.cores: "2"}
        py_files: [lib/helpers.py]
        driver_memory: 2g
        executor_memory: 512m
        env: {MODE: fast}
        timeout: 10m
        """)
        #expect(diagnose(text).isEmpty, "\(diagnose(text).map(\.description))")
        let job = try #require(try definitions(text).last?.typedSpec.as(JobSpec.self))
        guard case .spark(let spark) = job.stages[0].variant else {
            Issue.record("not a spark stage: \(job.stages[0].type)")
            return
        }
        #expect(spark.application == "jobs/agg.py" && spark.args == ["--day", "${params.day}", 3] && !spark.isJar)
        #expect(spark.settings.masterURL == "spark://10.0.0.5:7077" && spark.settings.webUI == "http://10.0.0.5:8080" && spark.settings.isStandalone)
        #expect(spark.settings.conf.map(\.key) == ["spark.executor.cores", "spark.sql.shuffle.partitions"])
        #expect(spark.settings.pyFiles == ["lib/helpers.py"] && spark.settings.driverMemory == "2g" && spark.settings.executorMemory == "512m")
        #expect(job.stages[0].spark?.masterURL == "spark://10.0.0.5:7077")
    }

    @Test func theDefaultMasterIsEveryLocalCoreAndAStandaloneUIIsOnPort8080() {
        #expect(StageSpec.SparkSettings().masterURL == "local[*]" && StageSpec.SparkSettings().webUI == nil)
        #expect(StageSpec.SparkSettings(master: "spark://a.example:7077,b.example:7077").webUI == "http://a.example:8080")
    }

    @Test func engineSparkOnTrainAndInference() throws {
        let text = Self.model + """

        ---
        kind: job
        name: j
        stages:
          - {name: t, type: train, model: churn, engine: spark, spark: {master: "local[2]", conf: {spark.sql.shuffle.partitions: 2}}}
          - {name: i, type: inference, after: [t], model: churn@production, engine: spark}
          - {name: p, type: inference, after: [t], model: churn@production}
        """
        #expect(diagnose(text).isEmpty, "\(diagnose(text).map(\.description))")
        let job = try #require(try definitions(text).last?.typedSpec.as(JobSpec.self))
        #expect(job.stages[0].spark?.masterURL == "local[2]")
        #expect(job.stages[1].spark?.masterURL == "local[*]")
        #expect(job.stages[2].spark == nil)
    }

    @Test(arguments: [
        ("type: spark\napplication: jobs/app.jar", "application", "without its main class"),
        ("type: spark\napplication: jobs/app.py\nclass: com.example.Main", "class", "for a Python application"),
        ("type: spark\napplication: jobs/app.sh", "application", "neither a PySpark file (.py) nor a jar"),
        ("type: spark\napplication: jobs/app.py\nmaster: \"local[two]\"", "master", "not a local master"),
        ("type: spark\napplication: jobs/app.py\nmaster: spark://host", "master", "without a port"),
        ("type: spark\napplication: jobs/app.py\nmaster_ui: host:8080", "master_ui", "not an http(s) URL"),
        ("type: spark\napplication: jobs/app.py\ndriver_memory: lots", "driver_memory", "does not read as a size"),
        ("type: spark\napplication: jobs/app.py\nconf: {spark.x: [1, 2]}", "conf", "is not a scalar"),
        ("type: spark\napplication: jobs/app.py\nenv: {DB_PASSWORD: hunter22}", "env", "looks like a secret written inline"),
        ("type: spark\napplication: jobs/app.py\nargs: [{a: 1}]", "args", "is not text or a number"),
        ("type: spark\napplication: jobs/app.py\nargs: [\"${params.dya}\"]", "args", "does not declare"),
        ("type: inference\nscript: score.py\nengine: spark", "engine", "scores with a script and engine spark"),
        ("type: inference\nmodel: churn\nspark: {master: \"local[2]\"}", "spark", "absent unless `engine: spark`"),
        ("type: train\nmodel: churn\nengine: gpu", "engine", "in_process, spark"),
    ])
    func badSettingsAreRefusedAtTheirField(stage: String, field: String, message: String) throws {
        let text = Self.job(stage)
        let lines = diagnose(text).map(\.description)
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.contains(message) == true, "\(lines)")
        let line = try #require(text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix("    \(field):") }) + 1
        #expect(lines.first?.hasPrefix("test.yaml:\(line):") == true, "expected at line \(line) (\(field)): \(lines)")
    }
}
