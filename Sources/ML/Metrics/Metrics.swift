import Foundation

/// Evaluation metrics matching scikit-learn's definitions. Mismatched lengths or empty input give NaN (nil for AUC).
public enum Metrics {
    /// Fraction of positions where yTrue equals yPred (sklearn.metrics.accuracy_score).
    public static func accuracy(_ yTrue: [Double], _ yPred: [Double]) -> Double {
        guard !yTrue.isEmpty, yTrue.count == yPred.count else { return .nan }
        var hits = 0
        for i in 0 ..< yTrue.count where yTrue[i] == yPred[i] { hits += 1 }
        return Double(hits) / Double(yTrue.count)
    }

    /// Mean binary cross-entropy of P(y = 1), probabilities clipped to [ε, 1 − ε] with ε = Double.ulpOfOne (sklearn.metrics.log_loss).
    public static func logLoss(_ yTrue: [Double], _ probabilities: [Double]) -> Double {
        guard !yTrue.isEmpty, yTrue.count == probabilities.count else { return .nan }
        let eps = Double.ulpOfOne
        var s = 0.0
        for i in 0 ..< yTrue.count {
            let p = min(max(probabilities[i], eps), 1 - eps)
            let y = yTrue[i]
            s -= y * log(p) + (1 - y) * log(1 - p)
        }
        return s / Double(yTrue.count)
    }

    /// Area under the ROC curve for 0/1 labels, ties scored by average rank (sklearn.metrics.roc_auc_score); nil with one class only.
    public static func rocAUC(_ yTrue: [Double], _ scores: [Double]) -> Double? {
        guard !yTrue.isEmpty, yTrue.count == scores.count else { return nil }
        let n = yTrue.count
        let order = (0 ..< n).sorted { scores[$0] < scores[$1] }
        var rankSumPositive = 0.0
        var positives = 0
        var start = 0
        while start < n {
            var end = start
            while end + 1 < n && scores[order[end + 1]] == scores[order[start]] { end += 1 }
            let averageRank = Double(start + end + 2) / 2  // 1-based ranks start+1 … end+1
            for t in start ... end where yTrue[order[t]] == 1 {
                rankSumPositive += averageRank
                positives += 1
            }
            start = end + 1
        }
        let negatives = n - positives
        guard positives > 0, negatives > 0 else { return nil }
        let p = Double(positives), q = Double(negatives)
        return (rankSumPositive - p * (p + 1) / 2) / (p * q)
    }

    /// Coefficient of determination 1 − SS_res / SS_tot (sklearn.metrics.r2_score: 1 or 0 when yTrue is constant).
    public static func r2(_ yTrue: [Double], _ yPred: [Double]) -> Double {
        guard !yTrue.isEmpty, yTrue.count == yPred.count else { return .nan }
        let mean = yTrue.reduce(0, +) / Double(yTrue.count)
        var res = 0.0, tot = 0.0
        for i in 0 ..< yTrue.count {
            let e = yTrue[i] - yPred[i]
            res += e * e
            let d = yTrue[i] - mean
            tot += d * d
        }
        if tot == 0 { return res == 0 ? 1 : 0 }
        return 1 - res / tot
    }

    /// Root mean squared error.
    public static func rmse(_ yTrue: [Double], _ yPred: [Double]) -> Double {
        guard !yTrue.isEmpty, yTrue.count == yPred.count else { return .nan }
        var s = 0.0
        for i in 0 ..< yTrue.count { let e = yTrue[i] - yPred[i]; s += e * e }
        return (s / Double(yTrue.count)).squareRoot()
    }

    /// Sum of squared euclidean distances from each row of `x` to its nearest centroid of `model`.
    public static func inertia(_ x: Matrix, _ model: KMeansModel) -> Double {
        guard x.cols == model.centroids.cols else { return .nan }
        var s = 0.0
        x.values.withUnsafeBufferPointer { v in
            for i in 0 ..< x.rows {
                s += model.nearest(row: UnsafeBufferPointer(rebasing: v[(i * x.cols) ..< ((i + 1) * x.cols)])).1
            }
        }
        return s
    }
}
