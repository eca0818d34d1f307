/// A dense matrix of doubles, row-major: element (i, j) is `values[i * cols + j]`.
/// The numeric input of every model: one row per example, one column per feature.
public struct Matrix: Sendable, Hashable, Codable {
    public var rows: Int
    public var cols: Int
    public var values: [Double]

    /// A rows × cols matrix of `fill`.
    public init(rows: Int, cols: Int, fill: Double = 0) {
        self.rows = rows
        self.cols = cols
        self.values = [Double](repeating: fill, count: rows * cols)
    }

    /// A matrix from row arrays (all of one length).
    public init(_ rowArrays: [[Double]]) {
        rows = rowArrays.count
        cols = rowArrays.first?.count ?? 0
        values = []
        values.reserveCapacity(rows * cols)
        for r in rowArrays {
            precondition(r.count == cols, "Matrix rows must have one length")
            values += r
        }
    }

    /// A matrix over existing row-major values.
    public init(rows: Int, cols: Int, values: [Double]) {
        precondition(values.count == rows * cols, "Matrix values must be rows × cols")
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    public subscript(i: Int, j: Int) -> Double {
        get { values[i * cols + j] }
        set { values[i * cols + j] = newValue }
    }

    /// Row `i` as an array (a copy).
    public func row(_ i: Int) -> [Double] { Array(values[(i * cols) ..< ((i + 1) * cols)]) }

    /// The rows in `range`, as a new matrix.
    public func rows(_ range: Range<Int>) -> Matrix {
        Matrix(rows: range.count, cols: cols, values: Array(values[(range.lowerBound * cols) ..< (range.upperBound * cols)]))
    }

    /// The rows at `indices`, in that order, as a new matrix.
    public func rows(at indices: [Int]) -> Matrix {
        var out: [Double] = []
        out.reserveCapacity(indices.count * cols)
        for i in indices { out += values[(i * cols) ..< ((i + 1) * cols)] }
        return Matrix(rows: indices.count, cols: cols, values: out)
    }

    /// Each column's mean and population variance (ddof 0), in two passes.
    public func columnMoments() -> (means: [Double], variances: [Double]) {
        var means = [Double](repeating: 0, count: cols), variances = [Double](repeating: 0, count: cols)
        guard rows > 0 else { return (means, variances) }
        for j in 0 ..< cols {
            var m = 0.0
            for i in 0 ..< rows { m += values[i * cols + j] }
            m /= Double(rows)
            var v = 0.0
            for i in 0 ..< rows { let t = values[i * cols + j] - m; v += t * t }
            means[j] = m
            variances[j] = v / Double(rows)
        }
        return (means, variances)
    }
}
