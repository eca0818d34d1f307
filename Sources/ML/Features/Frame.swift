import Foundation

/// One table value: missing, a number, a text or a boolean.
public enum Cell: Sendable, Hashable, Codable {
    /// No value. `.number(.nan)` is treated as missing too by the feature ops and `matrix(columns:)`.
    case missing
    /// A number (integers are numbers too).
    case number(Double)
    /// A text value.
    case text(String)
    /// A boolean value.
    case bool(Bool)

    /// Whether the cell is `.missing` or a NaN number.
    public var isMissing: Bool {
        switch self {
        case .missing: return true
        case .number(let x): return x.isNaN
        default: return false
        }
    }

    /// The value as text, as used in one-hot column names and string casts ("3" for 3.0, "true" for a boolean); nil when missing.
    public var textValue: String? {
        switch self {
        case .missing: return nil
        case .text(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .number(let x): return x.isNaN ? nil : formatNumber(x)
        }
    }

    /// A short quoted rendering for error messages.
    var display: String {
        switch self {
        case .missing: return "missing"
        case .text(let s): return "text '\(s)'"
        case .bool(let b): return "bool \(b)"
        case .number(let x): return "number \(formatNumber(x))"
        }
    }
}

/// Text for a number: integral values without a fraction ("3"), others with Swift's shortest round-trip form ("0.25").
func formatNumber(_ x: Double) -> String {
    if x.isFinite, x == x.rounded(), abs(x) < 1e15 {
        return String(Int64(x))
    }
    return String(x)
}

/// A column-major table: `data[c][r]` is column `columns[c]`, row `r`. Rows in error messages are counted from 0.
public struct Frame: Sendable, Hashable {
    /// Column names, in order.
    public var columns: [String]
    /// Column-major cells: `data[c][r]`.
    public var data: [[Cell]]
    /// The number of rows (every column has this many cells).
    public var rowCount: Int

    /// A frame over column-major data; the row count is the first column's length (0 with no columns).
    public init(columns: [String], data: [[Cell]]) {
        self.columns = columns
        self.data = data
        self.rowCount = data.first?.count ?? 0
    }

    /// A frame with an explicit row count (kept when a step leaves zero columns).
    public init(columns: [String], data: [[Cell]], rowCount: Int) {
        self.columns = columns
        self.data = data
        self.rowCount = rowCount
    }

    /// A frame from rows of cells (row-major input, e.g. tests or small literals).
    public init(columns: [String], rows: [[Cell]]) {
        var data = [[Cell]](repeating: [], count: columns.count)
        for c in data.indices { data[c].reserveCapacity(rows.count) }
        for row in rows {
            for c in 0 ..< columns.count { data[c].append(c < row.count ? row[c] : .missing) }
        }
        self.init(columns: columns, data: data, rowCount: rows.count)
    }

    /// The cells of the column named `name` (the first, if names repeat), or nil.
    public func column(_ name: String) -> [Cell]? {
        guard let i = columns.firstIndex(of: name) else { return nil }
        return data[i]
    }

    /// Checks the frame is well formed: one data array per column, all `rowCount` long, no repeated names.
    public func validate() throws(MLError) {
        guard columns.count == data.count else {
            throw MLError("frame has \(columns.count) column names but \(data.count) data columns; give one data array per column")
        }
        var seen = Set<String>()
        for (c, name) in columns.enumerated() {
            guard seen.insert(name).inserted else {
                throw MLError("frame has column '\(name)' twice; rename one of them")
            }
            guard data[c].count == rowCount else {
                throw MLError("frame column '\(name)' has \(data[c].count) rows but the frame has \(rowCount); give every column the same length")
            }
        }
    }

    /// The numeric matrix of `columns`, one row per frame row: numbers as is, booleans as 1 and 0; missing, NaN or text cells throw naming the column and row.
    public func matrix(columns names: [String]) throws(MLError) -> Matrix {
        try validate()
        let index = columnIndex(self.columns)
        var picked: [Int] = []
        picked.reserveCapacity(names.count)
        for name in names {
            picked.append(try resolveColumn(name, in: self.columns, index: index, op: "matrix"))
        }
        let n = rowCount
        let k = names.count
        var values = [Double](repeating: 0, count: n * k)
        var failure: MLError?
        // Blocks of rows, so the row-major writes of one block stay in cache while the columns are read in turn.
        let block = 2048
        values.withUnsafeMutableBufferPointer { out in
            var start = 0
            while start < n, failure == nil {
                let end = Swift.min(start + block, n)
                for (j, c) in picked.enumerated() {
                    data[c].withUnsafeBufferPointer { cells in
                        for r in start ..< end {
                            switch cells[r] {
                            case .number(let x):
                                if x.isNaN {
                                    failure = MLError("column '\(names[j])' row \(r + 1) is NaN; impute it or drop the row before training or scoring")
                                    return
                                }
                                out[r * k + j] = x
                            case .bool(let b):
                                out[r * k + j] = b ? 1 : 0
                            case .missing:
                                failure = MLError("column '\(names[j])' row \(r + 1) is missing; add an impute step for it or drop the row")
                                return
                            case .text(let s):
                                if parseNumber(s) != nil {
                                    failure = MLError("column '\(names[j])' row \(r + 1) is text '\(s)'; add a cast step to double for it")
                                } else {
                                    failure = MLError("column '\(names[j])' row \(r + 1) is text '\(s)'; one-hot encode it or drop it from the features")
                                }
                                return
                            }
                        }
                    }
                    if failure != nil { return }
                }
                start = end
            }
        }
        if let failure { throw failure }
        return Matrix(rows: n, cols: k, values: values)
    }
}

// MARK: - Internal helpers shared by the feature ops

/// A name → first index map of column names.
func columnIndex(_ columns: [String]) -> [String: Int] {
    var index: [String: Int] = [:]
    index.reserveCapacity(columns.count)
    for (i, name) in columns.enumerated() where index[name] == nil { index[name] = i }
    return index
}

/// The index of column `name`, or an error listing the columns there are and the closest name.
func resolveColumn(_ name: String, in columns: [String], index: [String: Int], op: String) throws(MLError) -> Int {
    if let i = index[name] { return i }
    var message = "\(op): no column '\(name)'"
    if let near = closestName(to: name, in: columns) { message += " (did you mean '\(near)'?)" }
    let listed = columns.isEmpty ? "none" : columns.map { "'\($0)'" }.joined(separator: ", ")
    message += "; the columns there are: \(listed); fix the name in the feature spec"
    throw MLError(message)
}

/// The column closest to `name` by edit distance (case-insensitive), if it is close enough to be a likely typo.
func closestName(to name: String, in columns: [String]) -> String? {
    let target = Array(name.lowercased())
    var best: (String, Int)?
    for column in columns {
        let d = editDistance(target, Array(column.lowercased()))
        if d <= max(2, target.count / 3), d < (best?.1 ?? Int.max) { best = (column, d) }
    }
    return best?.0
}

/// Levenshtein distance between two character arrays.
func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0 ... b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1 ... a.count {
        current[0] = i
        for j in 1 ... b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// A number parsed from text (surrounding spaces allowed), or nil.
func parseNumber(_ s: String) -> Double? {
    if let x = Double(s) { return x }
    let trimmed = s.trimmingCharacters(in: .whitespaces)
    return trimmed.count == s.count ? nil : Double(trimmed)
}
