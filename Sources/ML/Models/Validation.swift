/// Shared input checks and small dense linear algebra for the models (internal).
enum ModelInput {
    /// Throws unless `x` has at least one row and every value is finite.
    static func matrix(_ x: Matrix, _ what: String) throws(MLError) {
        if x.rows == 0 { throw MLError("\(what): the data has no rows; pass at least one example") }
        if x.values.count != x.rows * x.cols {
            throw MLError("\(what): the matrix holds \(x.values.count) values, not rows × cols = \(x.rows * x.cols); rebuild it")
        }
        for (i, v) in x.values.enumerated() where !v.isFinite {
            let r = x.cols == 0 ? 0 : i / x.cols
            let c = x.cols == 0 ? 0 : i % x.cols
            throw MLError("\(what): value at row \(r), column \(c) is \(v); impute or drop non-finite values first")
        }
    }

    /// Throws unless `y` matches the row count and is finite.
    static func targets(_ y: [Double], rows: Int, _ what: String) throws(MLError) {
        if y.count != rows {
            throw MLError("\(what): \(y.count) targets for \(rows) rows; pass one target per row")
        }
        for (i, v) in y.enumerated() where !v.isFinite {
            throw MLError("\(what): target at row \(i) is \(v); drop or impute rows with non-finite targets")
        }
    }
}

enum DenseLinearAlgebra {
    /// In-place Cholesky of the symmetric n × n row-major `a` into its lower factor; false if not positive definite.
    static func cholesky(_ a: inout [Double], _ n: Int) -> Bool {
        for j in 0 ..< n {
            var d = a[j * n + j]
            for k in 0 ..< j { d -= a[j * n + k] * a[j * n + k] }
            if !(d > 0) || !d.isFinite { return false }
            let l = d.squareRoot()
            a[j * n + j] = l
            for i in (j + 1) ..< n {
                var s = a[i * n + j]
                for k in 0 ..< j { s -= a[i * n + k] * a[j * n + k] }
                a[i * n + j] = s / l
            }
        }
        return true
    }

    /// Solves L Lᵀ x = b for the lower factor `l` from `cholesky`.
    static func choleskySolve(_ l: [Double], _ n: Int, _ b: [Double]) -> [Double] {
        var x = b
        for i in 0 ..< n {
            var s = x[i]
            for k in 0 ..< i { s -= l[i * n + k] * x[k] }
            x[i] = s / l[i * n + i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = x[i]
            for k in (i + 1) ..< n { s -= l[k * n + i] * x[k] }
            x[i] = s / l[i * n + i]
        }
        return x
    }

    /// Least squares min ||A w − b|| by Householder QR; `a` is column-major m × p. Nil if A is rank deficient.
    static func leastSquaresQR(columnMajor a: [Double], m: Int, p: Int, _ b: [Double]) -> [Double]? {
        var a = a
        var b = b
        var diag = [Double](repeating: 0, count: p)
        for j in 0 ..< p {
            let base = j * m
            var norm = 0.0
            var scale = 0.0
            for i in j ..< m { scale = max(scale, abs(a[base + i])) }
            if scale == 0 { return nil }
            for i in j ..< m { let t = a[base + i] / scale; norm += t * t }
            norm = scale * norm.squareRoot()
            let alpha = a[base + j] > 0 ? -norm : norm
            // v = x − alpha e1, stored in place; H = I − 2 v vᵀ / (vᵀ v)
            a[base + j] -= alpha
            var vv = 0.0
            for i in j ..< m { vv += a[base + i] * a[base + i] }
            if vv > 0 {
                for c in (j + 1) ..< p {
                    let cb = c * m
                    var dot = 0.0
                    for i in j ..< m { dot += a[base + i] * a[cb + i] }
                    let f = 2 * dot / vv
                    for i in j ..< m { a[cb + i] -= f * a[base + i] }
                }
                var dot = 0.0
                for i in j ..< m { dot += a[base + i] * b[i] }
                let f = 2 * dot / vv
                for i in j ..< m { b[i] -= f * a[base + i] }
            }
            diag[j] = alpha
        }
        let maxDiag = diag.reduce(0) { max($0, abs($1)) }
        let cutoff = maxDiag * Double(max(m, p)) * Double.ulpOfOne
        var w = [Double](repeating: 0, count: p)
        for j in stride(from: p - 1, through: 0, by: -1) {
            if abs(diag[j]) <= cutoff { return nil }
            var s = b[j]
            for c in (j + 1) ..< p { s -= a[c * m + j] * w[c] }
            w[j] = s / diag[j]
        }
        return w
    }
}
