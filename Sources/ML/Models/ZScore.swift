/// A fitted per-column z-score anomaly detector.
public struct ZScoreModel: Codable, Sendable, Hashable {
    /// Column means of the training data.
    public var means: [Double]
    /// Column population standard deviations (ddof 0) of the training data.
    public var stds: [Double]
    /// Scores above this are anomalies.
    public var threshold: Double

    /// A model from explicit statistics.
    public init(means: [Double], stds: [Double], threshold: Double) {
        self.means = means
        self.stds = stds
        self.threshold = threshold
    }

    /// Max |z| over the columns of one row; a zero-std column contributes 0. Allocation-free.
    public func score(row: UnsafeBufferPointer<Double>) -> Double {
        means.withUnsafeBufferPointer { m in
            stds.withUnsafeBufferPointer { s in
                precondition(row.count >= m.count, "ZScoreModel.score(row:): row is shorter than the model's columns")
                var best = 0.0
                for j in 0 ..< m.count where s[j] > 0 {
                    let z = abs(row[j] - m[j]) / s[j]
                    if z > best || z.isNaN { best = z }
                }
                return best
            }
        }
    }

    /// The score of every row of `x` (which must have `means.count` columns).
    public func scores(_ x: Matrix) -> [Double] {
        precondition(x.cols == means.count, "ZScoreModel.scores: matrix has \(x.cols) columns, model has \(means.count)")
        var out = [Double](repeating: 0, count: x.rows)
        x.values.withUnsafeBufferPointer { v in
            for i in 0 ..< x.rows {
                out[i] = score(row: UnsafeBufferPointer(rebasing: v[(i * x.cols) ..< ((i + 1) * x.cols)]))
            }
        }
        return out
    }

    /// Whether one row's score exceeds the threshold.
    public func isAnomaly(row: UnsafeBufferPointer<Double>) -> Bool { score(row: row) > threshold }
}

/// Z-score anomaly detection: a row is anomalous when some column is more than `threshold` stds from its mean.
public enum ZScoreAnomaly {
    /// Fits column means and population stds (ddof 0).
    public static func fit(_ x: Matrix, threshold: Double = 3) throws(MLError) -> ZScoreModel {
        try ModelInput.matrix(x, "ZScoreAnomaly.fit")
        guard threshold.isFinite, threshold > 0 else {
            throw MLError("ZScoreAnomaly.fit: threshold is \(threshold); pass a finite value > 0")
        }
        let (means, variances) = x.columnMoments()
        let stds = variances.map { $0.squareRoot() }
        return ZScoreModel(means: means, stds: stds, threshold: threshold)
    }
}
