import Foundation

/// The training-time distribution of one numeric feature, stored with the model version, against which the population
/// stability index (PSI) of later data is computed.
///
/// Summary (for ARCHITECTURE.md):
/// Drift is measured per numeric feature with the population stability index. When a model version is trained, each
/// feature's training sample gives a drift reference: its inner bin edges are the sample's deciles (quantiles 0.1 to 0.9
/// with linear interpolation, as numpy.quantile's default), with repeated edges removed, and the expected fractions are
/// the share of the training sample in each of the edges.count + 1 bins. NaN and infinite training values are ignored.
/// Bins are (-inf, e1], (e1, e2], ..., (e9, +inf): a value equal to an edge falls in the lower bin. For a later sample,
/// the actual fractions are counted over the same bins (NaN values ignored), and
/// PSI = sum over bins of (a - e) * ln(a / e), where a bin fraction of exactly 0 is counted as 0.0001 (in both a and e).
/// PSI is 0 for identical distributions; common reading: below 0.1 stable, 0.1 to 0.25 moderate shift, above 0.25 major shift.
/// An empty (or all-NaN) later sample has all fractions 0, so every bin counts as 0.0001; callers should skip empty batches.
public struct DriftReference: Sendable, Hashable, Codable {
    /// Inner bin edges, ascending, without repeats: the training sample's deciles. Bins are (−∞, e1], (e1, e2], …, (eN, +∞): a value equal to an edge falls in the lower bin.
    public var edges: [Double]
    /// The fraction of the training sample in each bin (edges.count + 1 values summing to 1).
    public var expected: [Double]

    /// The fraction used in place of an empty bin's 0 in the PSI sum.
    public static let emptyBinFraction = 0.0001

    /// A reference from its parts (normally made by `fit`).
    public init(edges: [Double], expected: [Double]) {
        self.edges = edges
        self.expected = expected
    }

    /// Fits the reference on a training sample: decile edges (numpy.quantile linear), repeats removed, and the sample's bin fractions; ignores NaN and infinities, throws when nothing is left.
    public static func fit(_ trainingSample: [Double]) throws(MLError) -> DriftReference {
        let sorted = trainingSample.filter { $0.isFinite }.sorted()
        guard !sorted.isEmpty else {
            throw MLError("drift reference: the training sample has no finite values (\(trainingSample.count) given); pass the feature's training values")
        }
        var edges: [Double] = []
        for k in 1 ... 9 {
            let q = quantile(sorted: sorted, Double(k) / 10)
            if edges.last != q { edges.append(q) }
        }
        var reference = DriftReference(edges: edges, expected: [])
        reference.expected = reference.fractions(sorted)
        return reference
    }

    /// The quantile `q` of an ascending sample with numpy.quantile's default "linear" method (including its two-sided lerp).
    public static func quantile(sorted: [Double], _ q: Double) -> Double {
        let n = sorted.count
        if n == 1 { return sorted[0] }
        let virtualIndex = Double(n - 1) * q
        if virtualIndex >= Double(n - 1) { return sorted[n - 1] }
        if virtualIndex <= 0 { return sorted[0] }
        let lower = Int(virtualIndex.rounded(.down))
        let t = virtualIndex - Double(lower)
        let a = sorted[lower]
        let b = sorted[lower + 1]
        let diff = b - a
        return t >= 0.5 ? b - diff * (1 - t) : a + diff * t
    }

    /// The bin index of a value: the number of edges strictly below it (a value equal to an edge falls in the lower bin).
    public func bin(of value: Double) -> Int {
        var lo = 0
        var hi = edges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if edges[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The fraction of `values` in each bin (edges.count + 1 values); NaN values are ignored, and no values gives all zeros.
    public func fractions(_ values: [Double]) -> [Double] {
        var counts = [Int](repeating: 0, count: edges.count + 1)
        var total = 0
        for v in values where !v.isNaN {
            counts[bin(of: v)] += 1
            total += 1
        }
        guard total > 0 else { return [Double](repeating: 0, count: counts.count) }
        return counts.map { Double($0) / Double(total) }
    }

    /// The PSI of `actual` against this reference: Σ (a − e)·ln(a / e) over bins, a bin fraction of 0 counted as 0.0001.
    public func psi(_ actual: [Double]) -> Double {
        Self.psi(expected: expected, actual: fractions(actual))
    }

    /// The PSI of two bin-fraction vectors of one length: Σ (a − e)·ln(a / e), a fraction of 0 counted as 0.0001.
    public static func psi(expected: [Double], actual: [Double]) -> Double {
        var total = 0.0
        for (e0, a0) in zip(expected, actual) {
            let e = e0 == 0 ? emptyBinFraction : e0
            let a = a0 == 0 ? emptyBinFraction : a0
            total += (a - e) * Foundation.log(a / e)
        }
        return total
    }
}
