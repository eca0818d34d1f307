/// A fitted linear model: prediction = intercept + Σ coefficients[j] · x[j].
public struct LinearModel: Codable, Sendable, Hashable {
    /// One weight per feature column.
    public var coefficients: [Double]
    /// The constant term.
    public var intercept: Double

    /// A model from explicit weights.
    public init(coefficients: [Double], intercept: Double) {
        self.coefficients = coefficients
        self.intercept = intercept
    }

    /// Predictions for every row of `x` (which must have `coefficients.count` columns).
    public func predict(_ x: Matrix) -> [Double] {
        precondition(x.cols == coefficients.count, "LinearModel.predict: matrix has \(x.cols) columns, model has \(coefficients.count)")
        var out = [Double](repeating: 0, count: x.rows)
        x.values.withUnsafeBufferPointer { v in
            for i in 0 ..< x.rows {
                out[i] = predict(row: UnsafeBufferPointer(rebasing: v[(i * x.cols) ..< ((i + 1) * x.cols)]))
            }
        }
        return out
    }

    /// The prediction for one row (at least `coefficients.count` values); allocation-free.
    @inlinable
    public func predict(row: UnsafeBufferPointer<Double>) -> Double {
        coefficients.withUnsafeBufferPointer { c in
            precondition(row.count >= c.count, "LinearModel.predict(row:): row is shorter than the coefficients")
            var s = intercept
            for j in 0 ..< c.count { s += c[j] * row[j] }
            return s
        }
    }
}

/// Ordinary least squares (optionally ridge) regression with an intercept.
public enum LinearRegression {
    /// Fits y ≈ intercept + x·w minimising ||y − intercept − x w||² + l2·||w||² (intercept unpenalised; l2 = scikit-learn Ridge alpha).
    public static func fit(_ x: Matrix, _ y: [Double], l2: Double = 0) throws(MLError) -> LinearModel {
        try ModelInput.matrix(x, "LinearRegression.fit")
        try ModelInput.targets(y, rows: x.rows, "LinearRegression.fit")
        guard l2.isFinite, l2 >= 0 else {
            throw MLError("LinearRegression.fit: l2 is \(l2); pass a finite penalty ≥ 0")
        }
        let n = x.rows, p = x.cols
        if l2 == 0 && n < p {
            throw MLError("LinearRegression.fit: \(n) rows for \(p) features is underdetermined; add rows or pass l2 > 0")
        }
        // Centre x and y so the intercept drops out, then solve the (augmented) least squares by QR.
        var means = [Double](repeating: 0, count: p)
        for i in 0 ..< n { for j in 0 ..< p { means[j] += x.values[i * p + j] } }
        for j in 0 ..< p { means[j] /= Double(n) }
        let yMean = y.reduce(0, +) / Double(n)
        if p == 0 { return LinearModel(coefficients: [], intercept: yMean) }

        let ridge = l2 > 0
        let m = ridge ? n + p : n
        var a = [Double](repeating: 0, count: m * p)
        for j in 0 ..< p {
            let mean = means[j]
            for i in 0 ..< n { a[j * m + i] = x.values[i * p + j] - mean }
            if ridge { a[j * m + n + j] = l2.squareRoot() }
        }
        var b = [Double](repeating: 0, count: m)
        for i in 0 ..< n { b[i] = y[i] - yMean }

        guard let w = DenseLinearAlgebra.leastSquaresQR(columnMajor: a, m: m, p: p, b) else {
            throw MLError("LinearRegression.fit: feature columns are constant or collinear; drop redundant columns or pass l2 > 0")
        }
        var intercept = yMean
        for j in 0 ..< p { intercept -= w[j] * means[j] }
        return LinearModel(coefficients: w, intercept: intercept)
    }
}
