import Foundation

/// A deterministic 64-bit generator (SplitMix64), so fits are reproducible for a seed on every platform.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    /// The generator state.
    public var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// A fitted k-means clustering.
public struct KMeansModel: Codable, Sendable, Hashable {
    /// One centroid per row (k × features).
    public var centroids: Matrix
    /// Sum of squared distances from the training rows to their nearest centroid.
    public var inertia: Double
    /// Lloyd iterations of the best initialisation.
    public var iterations: Int

    /// A model from explicit centroids.
    public init(centroids: Matrix, inertia: Double, iterations: Int) {
        self.centroids = centroids
        self.inertia = inertia
        self.iterations = iterations
    }

    /// The nearest centroid for one row and its euclidean (not squared) distance; allocation-free.
    public func assign(row: UnsafeBufferPointer<Double>) -> (cluster: Int, distance: Double) {
        let (c, d2) = nearest(row: row)
        return (c, d2.squareRoot())
    }

    /// The nearest centroid and euclidean distance for every row of `x`.
    public func assign(_ x: Matrix) -> [(cluster: Int, distance: Double)] {
        precondition(x.cols == centroids.cols, "KMeansModel.assign: matrix has \(x.cols) columns, centroids have \(centroids.cols)")
        var out: [(cluster: Int, distance: Double)] = []
        out.reserveCapacity(x.rows)
        x.values.withUnsafeBufferPointer { v in
            for i in 0 ..< x.rows {
                out.append(assign(row: UnsafeBufferPointer(rebasing: v[(i * x.cols) ..< ((i + 1) * x.cols)])))
            }
        }
        return out
    }

    /// The nearest centroid and the squared distance to it.
    func nearest(row: UnsafeBufferPointer<Double>) -> (Int, Double) {
        let p = centroids.cols
        precondition(row.count >= p, "KMeansModel.assign(row:): row is shorter than the centroids")
        return centroids.values.withUnsafeBufferPointer { c in
            var best = 0
            var bestD = Double.infinity
            for k in 0 ..< centroids.rows {
                var s = 0.0
                let base = k * p
                for j in 0 ..< p { let t = row[j] - c[base + j]; s += t * t }
                if s < bestD { bestD = s; best = k }
            }
            return (best, bestD)
        }
    }
}

/// k-means clustering: greedy k-means++ seeding, Lloyd iterations, best inertia of several initialisations.
public enum KMeans {
    /// Clusters the rows of `x` into `k` groups; deterministic for a `seed`.
    /// Stops an initialisation when the total squared centroid shift ≤ tolerance · mean column variance (as scikit-learn).
    public static func fit(_ x: Matrix, k: Int, nInit: Int = 10, maxIter: Int = 300, seed: UInt64 = 0, tolerance: Double = 1e-4) throws(MLError) -> KMeansModel {
        try ModelInput.matrix(x, "KMeans.fit")
        guard k >= 1 else { throw MLError("KMeans.fit: k is \(k); pass at least 1 cluster") }
        guard k <= x.rows else { throw MLError("KMeans.fit: k = \(k) exceeds the \(x.rows) rows; pass k ≤ rows or add data") }
        guard x.cols >= 1 else { throw MLError("KMeans.fit: the data has no columns; pass at least one feature") }
        guard nInit >= 1 else { throw MLError("KMeans.fit: nInit is \(nInit); pass at least 1") }
        guard maxIter >= 1 else { throw MLError("KMeans.fit: maxIter is \(maxIter); pass at least 1") }
        guard tolerance.isFinite, tolerance >= 0 else { throw MLError("KMeans.fit: tolerance is \(tolerance); pass a finite value ≥ 0") }

        let p = x.cols
        let meanVar = x.columnMoments().variances.reduce(0, +)
        let shiftLimit = tolerance * meanVar / Double(p)

        var rng = SplitMix64(seed: seed)
        var best: KMeansModel?
        for _ in 0 ..< nInit {
            let initial = seedPlusPlus(x, k: k, rng: &rng)
            let model = lloyd(x, centroids: initial, maxIter: maxIter, shiftLimit: shiftLimit)
            if best.map({ model.inertia < $0.inertia }) ?? true { best = model }
        }
        guard let result = best else { throw MLError("KMeans.fit: no initialisation ran; pass nInit ≥ 1") }
        return result
    }

    static func squaredDistance(_ x: Matrix, _ i: Int, _ c: [Double], _ k: Int) -> Double {
        let p = x.cols
        var s = 0.0
        for j in 0 ..< p { let t = x.values[i * p + j] - c[k * p + j]; s += t * t }
        return s
    }

    /// Greedy k-means++: each new centre is the best (lowest potential) of 2 + ⌊ln k⌋ D²-sampled candidates.
    static func seedPlusPlus(_ x: Matrix, k: Int, rng: inout SplitMix64) -> [Double] {
        let n = x.rows, p = x.cols
        let trials = 2 + Int(log(Double(k)))
        var centers = [Double](repeating: 0, count: k * p)
        let first = min(n - 1, Int(rng.nextUnit() * Double(n)))
        for j in 0 ..< p { centers[j] = x.values[first * p + j] }
        var closest = [Double](repeating: 0, count: n)
        for i in 0 ..< n { closest[i] = squaredDistance(x, i, centers, 0) }
        var cumulative = [Double](repeating: 0, count: n)
        var candidateDist = [Double](repeating: 0, count: n)
        var bestDist = [Double](repeating: 0, count: n)
        for c in 1 ..< k {
            var acc = 0.0
            for i in 0 ..< n { acc += closest[i]; cumulative[i] = acc }
            var bestCandidate = -1
            var bestPotential = Double.infinity
            for _ in 0 ..< trials {
                let target = rng.nextUnit() * acc
                // First index whose cumulative sum exceeds the target (binary search).
                var lo = 0, hi = n - 1
                while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] > target { hi = mid } else { lo = mid + 1 } }
                let cand = acc > 0 ? lo : min(n - 1, Int(rng.nextUnit() * Double(n)))
                var pot = 0.0
                for i in 0 ..< n {
                    var s = 0.0
                    for j in 0 ..< p { let t = x.values[i * p + j] - x.values[cand * p + j]; s += t * t }
                    candidateDist[i] = min(closest[i], s)
                    pot += candidateDist[i]
                }
                if pot < bestPotential || bestCandidate < 0 {
                    bestPotential = pot
                    bestCandidate = cand
                    swap(&bestDist, &candidateDist)
                }
            }
            for j in 0 ..< p { centers[c * p + j] = x.values[bestCandidate * p + j] }
            swap(&closest, &bestDist)
        }
        return centers
    }

    /// Lloyd iterations from `centroids`; an emptied cluster is moved to the row farthest from its centroid.
    static func lloyd(_ x: Matrix, centroids start: [Double], maxIter: Int, shiftLimit: Double) -> KMeansModel {
        let n = x.rows, p = x.cols, k = start.count / p
        var centers = start
        var labels = [Int](repeating: -1, count: n)
        var dist = [Double](repeating: 0, count: n)
        var iterations = 0
        func assignAll() -> Bool {
            var changed = false
            for i in 0 ..< n {
                var bestK = 0
                var bestD = Double.infinity
                for c in 0 ..< k {
                    let d = squaredDistance(x, i, centers, c)
                    if d < bestD { bestD = d; bestK = c }
                }
                if labels[i] != bestK { changed = true; labels[i] = bestK }
                dist[i] = bestD
            }
            return changed
        }
        _ = assignAll()
        while iterations < maxIter {
            iterations += 1
            var sums = [Double](repeating: 0, count: k * p)
            var counts = [Int](repeating: 0, count: k)
            for i in 0 ..< n {
                let c = labels[i]
                counts[c] += 1
                for j in 0 ..< p { sums[c * p + j] += x.values[i * p + j] }
            }
            var used = Set<Int>()
            for c in 0 ..< k where counts[c] == 0 {
                // Relocate an empty cluster to the farthest row not already used.
                var far = -1
                var farD = -1.0
                for i in 0 ..< n where dist[i] > farD && !used.contains(i) { farD = dist[i]; far = i }
                if far >= 0 {
                    used.insert(far)
                    counts[c] = 1
                    for j in 0 ..< p { sums[c * p + j] = x.values[far * p + j] }
                }
            }
            var shift = 0.0
            for c in 0 ..< k where counts[c] > 0 {
                for j in 0 ..< p {
                    let v = sums[c * p + j] / Double(counts[c])
                    let t = v - centers[c * p + j]
                    shift += t * t
                    centers[c * p + j] = v
                }
            }
            let changed = assignAll()
            if !changed || shift <= shiftLimit { break }
        }
        let inertia = dist.reduce(0, +)
        return KMeansModel(centroids: Matrix(rows: k, cols: p, values: centers), inertia: inertia, iterations: iterations)
    }
}
