import Foundation

/// A fitted binary logistic regression: P(y = 1 | x) = σ(intercept + Σ coefficients[j] · x[j]).
public struct LogisticModel: Codable, Sendable, Hashable {
    /// One weight per feature column.
    public var coefficients: [Double]
    /// The unpenalised constant term.
    public var intercept: Double
    /// Newton iterations the fit took.
    public var iterations: Int
    /// Whether the gradient met the tolerance within `maxIter` iterations.
    public var converged: Bool

    /// A model from explicit weights.
    public init(coefficients: [Double], intercept: Double, iterations: Int = 0, converged: Bool = true) {
        self.coefficients = coefficients
        self.intercept = intercept
        self.iterations = iterations
        self.converged = converged
    }

    /// P(y = 1) for every row of `x` (which must have `coefficients.count` columns).
    public func probabilities(_ x: Matrix) -> [Double] {
        precondition(x.cols == coefficients.count, "LogisticModel.probabilities: matrix has \(x.cols) columns, model has \(coefficients.count)")
        var out = [Double](repeating: 0, count: x.rows)
        x.values.withUnsafeBufferPointer { v in
            for i in 0 ..< x.rows {
                out[i] = probability(row: UnsafeBufferPointer(rebasing: v[(i * x.cols) ..< ((i + 1) * x.cols)]))
            }
        }
        return out
    }

    /// P(y = 1) for one row (at least `coefficients.count` values); allocation-free.
    @inlinable
    public func probability(row: UnsafeBufferPointer<Double>) -> Double {
        coefficients.withUnsafeBufferPointer { c in
            precondition(row.count >= c.count, "LogisticModel.probability(row:): row is shorter than the coefficients")
            var z = intercept
            for j in 0 ..< c.count { z += c[j] * row[j] }
            return LogisticMath.sigmoid(z)
        }
    }
}

/// Numerically stable logistic helpers.
public enum LogisticMath {
    /// σ(z) = 1 / (1 + e^−z) without overflow.
    @inlinable
    public static func sigmoid(_ z: Double) -> Double {
        if z >= 0 { return 1 / (1 + exp(-z)) }
        let e = exp(z)
        return e / (1 + e)
    }

    /// log(1 + e^z) without overflow.
    @inlinable
    public static func log1pExp(_ z: Double) -> Double {
        max(z, 0) + log1p(exp(-abs(z)))
    }
}

/// L2-regularised binary logistic regression fitted by Newton's method (IRLS).
public enum LogisticRegression {
    /// Minimises 0.5·||w||² + C·Σ log-loss (intercept unpenalised, scikit-learn's objective); y must be 0 or 1.
    /// Converged means max |gradient| ≤ tolerance · max(1, C · rows).
    public static func fit(_ x: Matrix, _ y: [Double], C: Double = 1, maxIter: Int = 100, tolerance: Double = 1e-8) throws(MLError) -> LogisticModel {
        try ModelInput.matrix(x, "LogisticRegression.fit")
        try ModelInput.targets(y, rows: x.rows, "LogisticRegression.fit")
        guard C.isFinite, C > 0 else { throw MLError("LogisticRegression.fit: C is \(C); pass a finite inverse regularisation strength > 0") }
        guard maxIter >= 1 else { throw MLError("LogisticRegression.fit: maxIter is \(maxIter); pass at least 1") }
        guard tolerance.isFinite, tolerance > 0 else { throw MLError("LogisticRegression.fit: tolerance is \(tolerance); pass a finite value > 0") }
        var positives = 0
        for (i, v) in y.enumerated() {
            if v == 1 { positives += 1 } else if v != 0 {
                throw MLError("LogisticRegression.fit: target at row \(i) is \(v); encode the classes as 0 and 1")
            }
        }
        let n = x.rows, p = x.cols
        if positives == 0 || positives == n {
            throw MLError("LogisticRegression.fit: every target is \(positives == 0 ? 0 : 1); the data needs both classes 0 and 1")
        }

        let d = p + 1  // parameters: w[0..<p], then the intercept
        var theta = [Double](repeating: 0, count: d)
        let prior = Double(positives) / Double(n)
        theta[p] = log(prior / (1 - prior))
        let gradientLimit = tolerance * max(1, C * Double(n))

        func objective(_ t: [Double]) -> Double {
            var s = 0.0
            for i in 0 ..< n {
                var z = t[p]
                for j in 0 ..< p { z += t[j] * x.values[i * p + j] }
                s += LogisticMath.log1pExp(z) - y[i] * z
            }
            var r = 0.0
            for j in 0 ..< p { r += t[j] * t[j] }
            return 0.5 * r + C * s
        }

        var f = objective(theta)
        var iterations = 0
        var converged = false
        var grad = [Double](repeating: 0, count: d)
        var hess = [Double](repeating: 0, count: d * d)
        var xi = [Double](repeating: 0, count: d)
        while true {
            // Gradient and Hessian at theta.
            for k in 0 ..< d { grad[k] = 0 }
            for k in 0 ..< (d * d) { hess[k] = 0 }
            for i in 0 ..< n {
                var z = theta[p]
                for j in 0 ..< p { xi[j] = x.values[i * p + j]; z += theta[j] * xi[j] }
                xi[p] = 1
                let mu = LogisticMath.sigmoid(z)
                let r = C * (mu - y[i])
                let s = C * mu * (1 - mu)
                for a in 0 ..< d {
                    grad[a] += r * xi[a]
                    let sa = s * xi[a]
                    if sa != 0 { for b in 0 ... a { hess[a * d + b] += sa * xi[b] } }
                }
            }
            for j in 0 ..< p { grad[j] += theta[j]; hess[j * d + j] += 1 }
            for a in 0 ..< d { for b in 0 ..< a { hess[b * d + a] = hess[a * d + b] } }

            let gmax = grad.reduce(0) { max($0, abs($1)) }
            if gmax <= gradientLimit { converged = true; break }
            if iterations >= maxIter { break }
            iterations += 1

            var l = hess
            var jitter = 0.0
            while !DenseLinearAlgebra.cholesky(&l, d) {
                jitter = jitter == 0 ? 1e-10 * max(1, hess[p * d + p]) : jitter * 10
                if jitter > 1e6 { throw MLError("LogisticRegression.fit: the Hessian is singular; check for constant or duplicated columns") }
                l = hess
                for k in 0 ..< d { l[k * d + k] += jitter }
            }
            let step = DenseLinearAlgebra.choleskySolve(l, d, grad)  // theta_new = theta − t·step
            var slope = 0.0
            for k in 0 ..< d { slope += grad[k] * step[k] }
            var t = 1.0
            var accepted = false
            var candidate = theta
            for _ in 0 ..< 60 {
                for k in 0 ..< d { candidate[k] = theta[k] - t * step[k] }
                let fc = objective(candidate)
                if fc.isFinite && fc <= f - 1e-4 * t * slope {
                    theta = candidate
                    f = fc
                    accepted = true
                    break
                }
                t *= 0.5
            }
            if !accepted {
                // No decrease is representable any more: stop, reporting not converged.
                break
            }
        }
        return LogisticModel(coefficients: Array(theta[0 ..< p]), intercept: theta[p], iterations: iterations, converged: converged)
    }
}
