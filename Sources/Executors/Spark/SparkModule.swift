import Foundation

/// `ledgerflow_spark.py`, the Python module shipped with Ledgerflow that a Spark application
/// imports (docs/spark.md): the engine puts its folder on the driver's `PYTHONPATH` and passes the
/// file with `--py-files`.
public enum SparkModule {
    /// The module's path: `LEDGERFLOW_SPARK_MODULE` when set (a copy kept elsewhere), else the copy
    /// shipped next to the binary (the Executors target's resources).
    public static var path: String? {
        if let p = ProcessInfo.processInfo.environment["LEDGERFLOW_SPARK_MODULE"], !p.isEmpty { return p }
        return Bundle.module.path(forResource: "ledgerflow_spark", ofType: "py")
    }
}
