import Foundation

/// One feature step with the parameters learned from the training data (one entry per column, in the step's column order).
public enum FittedStep: Sendable, Hashable, Codable {
    /// (x − means[i]) / scales[i]; scales are population stds, 1 for a constant column.
    case standardScale(columns: [String], means: [Double], scales: [Double])
    /// x · scale + offset with scale = (range width) / (dataMax − dataMin) (width when dataMax = dataMin) and offset = range lower − dataMin · scale.
    case minMaxScale(columns: [String], range: ClosedRange<Double>, dataMins: [Double], dataMaxs: [Double])
    /// Indicator columns `col=category` for the sorted training categories of each column (plus `col=__other__` for `.other`).
    case oneHot(columns: [String], categories: [[String]], unknown: UnknownCategory)
    /// Missing cells of columns[i] become values[i].
    case impute(columns: [String], values: [Cell])
    /// log(x + offset).
    case log(columns: [String], offset: Double)
    /// Keeps only these columns, in this order.
    case select(columns: [String])
    /// Renames columns (all at once, so swaps work).
    case rename([RenamePair])
    /// Converts columns to a type.
    case cast([CastPair])

    /// The name of the extra one-hot category for unknown values under `.other`.
    public static let otherCategory = "__other__"

    /// The op name as written in YAML (`standard_scale`, `one_hot`, …).
    public var opName: String {
        switch self {
        case .standardScale: return "standard_scale"
        case .minMaxScale: return "minmax_scale"
        case .oneHot: return "one_hot"
        case .impute: return "impute"
        case .log: return "log"
        case .select: return "select"
        case .rename: return "rename"
        case .cast: return "cast"
        }
    }
}

/// A fitted feature spec: exactly the training-time transform, stored with the model version and applied at inference.
public struct FittedFeatures: Sendable, Hashable, Codable {
    /// The fitted steps, in order.
    public var steps: [FittedStep]
    /// The training frame's columns (a frame to transform needs the ones the steps use, not necessarily all).
    public var inputColumns: [String]
    /// The columns the transform produced on the training frame.
    public var outputColumns: [String]

    /// A fitted spec from its parts (normally made by `FeatureSpec.fit`).
    public init(steps: [FittedStep], inputColumns: [String], outputColumns: [String]) {
        self.steps = steps
        self.inputColumns = inputColumns
        self.outputColumns = outputColumns
    }

    /// Applies the fitted steps, in order, with the training-time parameters (nothing is refitted).
    /// Columns are rewritten in place where the frame is not shared, so passing a frame the caller no longer needs saves copying.
    public func transform(_ frame: consuming Frame) throws(MLError) -> Frame {
        try frame.validate()
        for (i, step) in steps.enumerated() {
            try step.apply(to: &frame, position: i + 1)
        }
        return frame
    }

    /// One human-readable line per fitted step, with its parameters (for logs and `describe` commands).
    public func describe() -> [String] {
        steps.enumerated().map { i, step in "step \(i + 1) \(step.opName): " + step.parameterSummary }
    }
}

// MARK: - Fitting

/// A "step N (op)" prefix for messages.
func stepContext(_ position: Int, _ op: String) -> String { "step \(position) (\(op))" }

/// Throws when `columns` is empty or repeats a name.
func checkColumnList(_ columns: [String], context: String) throws(MLError) {
    guard !columns.isEmpty else { throw MLError("\(context) lists no columns; list at least one column or remove the step") }
    var seen = Set<String>()
    for c in columns where !seen.insert(c).inserted {
        throw MLError("\(context) lists column '\(c)' twice; list each column once")
    }
}

/// The non-missing numeric training values of a column; text that does not parse and infinities throw naming the row.
func trainingNumbers(_ cells: [Cell], column: String, context: String) throws(MLError) -> [Double] {
    var values: [Double] = []
    values.reserveCapacity(cells.count)
    for (r, cell) in cells.enumerated() {
        let x: Double
        switch cell {
        case .missing: continue
        case .number(let v): x = v
        case .bool(let b): x = b ? 1 : 0
        case .text(let s):
            guard let v = parseNumber(s) else {
                throw MLError("\(context): column '\(column)' row \(r + 1) is text '\(s)', not a number; cast or one-hot encode it, or remove it from this step")
            }
            x = v
        }
        if x.isNaN { continue }
        guard x.isFinite else {
            throw MLError("\(context): column '\(column)' row \(r + 1) is infinite in the training data; filter or clip it before fitting")
        }
        values.append(x)
    }
    guard !values.isEmpty else {
        throw MLError("\(context): column '\(column)' has no non-missing values in the training data; check the source or drop the column")
    }
    return values
}

/// The median: the middle value, or the mean of the two middle values for an even count.
func median(of values: [Double]) -> Double {
    let sorted = values.sorted()
    let n = sorted.count
    if n % 2 == 1 { return sorted[n / 2] }
    return (sorted[n / 2 - 1] + sorted[n / 2]) / 2
}

/// The arithmetic mean.
func mean(of values: [Double]) -> Double {
    var s = 0.0
    for v in values { s += v }
    return s / Double(values.count)
}

/// Fits one step on `frame` (the training frame after the previous steps).
func fitStep(_ step: FeatureStep, on frame: Frame, position: Int) throws(MLError) -> FittedStep {
    let context = stepContext(position, step.opName)
    let index = columnIndex(frame.columns)
    switch step {
    case .standardScale(let columns):
        try checkColumnList(columns, context: context)
        var means: [Double] = []
        var scales: [Double] = []
        for name in columns {
            let c = try resolveColumn(name, in: frame.columns, index: index, op: context)
            let xs = try trainingNumbers(frame.data[c], column: name, context: context)
            let m = mean(of: xs)
            var ss = 0.0
            var lo = xs[0]
            var hi = xs[0]
            for x in xs {
                ss += (x - m) * (x - m)
                lo = Swift.min(lo, x)
                hi = Swift.max(hi, x)
            }
            let variance = ss / Double(xs.count)
            // Like sklearn: a constant column (or variance within rounding noise of 0) gets scale 1.
            let n = Double(xs.count)
            let eps = Double.ulpOfOne
            let noise = n * eps * variance + (n * m * eps) * (n * m * eps)
            let constant = lo == hi || variance <= noise
            means.append(m)
            scales.append(constant ? 1 : variance.squareRoot())
        }
        return .standardScale(columns: columns, means: means, scales: scales)

    case .minMaxScale(let columns, let range):
        try checkColumnList(columns, context: context)
        guard range.lowerBound.isFinite, range.upperBound.isFinite, range.lowerBound < range.upperBound else {
            throw MLError("\(context): range [\(range.lowerBound), \(range.upperBound)] must have a finite lower bound below the upper bound; fix `range`")
        }
        var mins: [Double] = []
        var maxs: [Double] = []
        for name in columns {
            let c = try resolveColumn(name, in: frame.columns, index: index, op: context)
            let xs = try trainingNumbers(frame.data[c], column: name, context: context)
            var lo = xs[0]
            var hi = xs[0]
            for x in xs {
                lo = Swift.min(lo, x)
                hi = Swift.max(hi, x)
            }
            mins.append(lo)
            maxs.append(hi)
        }
        return .minMaxScale(columns: columns, range: range, dataMins: mins, dataMaxs: maxs)

    case .oneHot(let columns, let unknown):
        try checkColumnList(columns, context: context)
        var categories: [[String]] = []
        for name in columns {
            let c = try resolveColumn(name, in: frame.columns, index: index, op: context)
            var seen: [Cell: String] = [:]
            var texts = Set<String>()
            var allNumbers = true
            for cell in frame.data[c] where !cell.isMissing {
                if seen[cell] != nil { continue }
                guard let t = cell.textValue else { continue }
                seen[cell] = t
                texts.insert(t)
                if case .number = cell {} else { allNumbers = false }
            }
            guard !texts.isEmpty else {
                throw MLError("\(context): column '\(name)' has no non-missing values in the training data; check the source or drop the column")
            }
            if unknown == .other, texts.contains(FittedStep.otherCategory) {
                throw MLError("\(context): column '\(name)' has the value '\(FittedStep.otherCategory)', which `unknown: other` reserves; use `unknown: ignore` or rename the value")
            }
            let sorted: [String]
            if allNumbers {
                sorted = texts.sorted { (Double($0) ?? 0) < (Double($1) ?? 0) }
            } else {
                sorted = texts.sorted()
            }
            categories.append(sorted)
        }
        return .oneHot(columns: columns, categories: categories, unknown: unknown)

    case .impute(let columns, let strategy):
        try checkColumnList(columns, context: context)
        var values: [Cell] = []
        for name in columns {
            let c = try resolveColumn(name, in: frame.columns, index: index, op: context)
            switch strategy {
            case .mean:
                values.append(.number(mean(of: try trainingNumbers(frame.data[c], column: name, context: context))))
            case .median:
                values.append(.number(median(of: try trainingNumbers(frame.data[c], column: name, context: context))))
            case .constant(let cell):
                guard !cell.isMissing else {
                    throw MLError("\(context): the constant fill value for column '\(name)' is missing; give `value`")
                }
                if case .number(let x) = cell, !x.isFinite {
                    throw MLError("\(context): the constant fill value for column '\(name)' is infinite; give a finite `value`")
                }
                values.append(cell)
            }
        }
        return .impute(columns: columns, values: values)

    case .log(let columns, let offset):
        try checkColumnList(columns, context: context)
        guard offset.isFinite else {
            throw MLError("\(context): offset \(offset) is not finite; give a finite `offset` (default 1)")
        }
        return .log(columns: columns, offset: offset)

    case .select(let columns):
        try checkColumnList(columns, context: context)
        return .select(columns: columns)

    case .rename(let pairs):
        try checkColumnList(pairs.map(\.from), context: context)
        return .rename(pairs)

    case .cast(let pairs):
        try checkColumnList(pairs.map(\.column), context: context)
        return .cast(pairs)
    }
}

// MARK: - Applying

/// Replaces, in place, every numeric cell of `cells` (numbers, booleans as 1/0, text that parses) with `f(x)`;
/// missing and NaN cells are kept as they are, NaN text becomes missing.
/// `invalid(x)` marks inputs the op cannot take; the first one throws `invalidError(x, row)` (the column is then partly done; callers discard it).
@inline(__always)
func mapNumeric(
    _ cells: inout [Cell], column: String, context: String,
    invalid: (Double) -> Bool, invalidError: (Double, Int) -> MLError,
    _ f: (Double) -> Double
) throws(MLError) {
    var failure: MLError?
    let n = cells.count
    cells.withUnsafeMutableBufferPointer { buf in
        for r in 0 ..< n {
            let x: Double
            switch buf[r] {
            case .number(let v):
                if v.isNaN { continue }
                x = v
            case .missing:
                continue
            case .bool(let b):
                x = b ? 1 : 0
            case .text(let s):
                guard let v = parseNumber(s) else {
                    failure = MLError("\(context): column '\(column)' row \(r + 1) is text '\(s)', not a number; cast or one-hot encode it, or remove it from this step")
                    return
                }
                if v.isNaN {
                    buf[r] = .missing
                    continue
                }
                x = v
            }
            if invalid(x) {
                failure = invalidError(x, r)
                return
            }
            buf[r] = .number(f(x))
        }
    }
    if let failure { throw failure }
}

/// Whether the names are all different; throws naming the first repeat otherwise.
func checkUnique(_ columns: [String], context: String) throws(MLError) {
    var seen = Set<String>()
    seen.reserveCapacity(columns.count)
    for c in columns where !seen.insert(c).inserted {
        throw MLError("\(context) would produce column '\(c)' twice; rename or drop one of them first")
    }
}

extension FittedStep {
    /// Applies this fitted step to a frame, in place (columns the frame shares with a caller are copied on first write).
    func apply(to frame: inout Frame, position: Int) throws(MLError) {
        let context = stepContext(position, opName)
        let index = columnIndex(frame.columns)
        let never: (Double) -> Bool = { _ in false }
        let noError: (Double, Int) -> MLError = { _, _ in MLError("\(context): internal error") }

        switch self {
        case .standardScale(let columns, let means, let scales):
            for (i, name) in columns.enumerated() {
                let c = try resolveColumn(name, in: frame.columns, index: index, op: context)
                let m = means[i]
                let s = scales[i]
                try mapNumeric(&frame.data[c], column: name, context: context, invalid: never, invalidError: noError) { ($0 - m) / s }
            }
            return

        case .minMaxScale(let columns, let range, let mins, let maxs):
            for (i, name) in columns.enumerated() {
                let c = try resolveColumn(name, in: frame.columns, index: index, op: context)
                let dataRange = maxs[i] - mins[i]
                // sklearn: scale_ = width / data_range (data_range 0 → 1), min_ = lower − data_min · scale_, X · scale_ + min_.
                let scale = (range.upperBound - range.lowerBound) / (dataRange == 0 ? 1 : dataRange)
                let offset = range.lowerBound - mins[i] * scale
                try mapNumeric(&frame.data[c], column: name, context: context, invalid: never, invalidError: noError) { $0 * scale + offset }
            }
            return

        case .log(let columns, let offset):
            for name in columns {
                let c = try resolveColumn(name, in: frame.columns, index: index, op: context)
                try mapNumeric(
                    &frame.data[c], column: name, context: context,
                    invalid: { $0 + offset <= 0 || $0 <= -offset },
                    invalidError: { x, r in
                        MLError("\(context): column '\(name)' row \(r + 1) is \(formatNumber(x)), and log(x + \(formatNumber(offset))) needs x > \(formatNumber(-offset)); raise `offset` or clip the column first")
                    }
                ) { Foundation.log($0 + offset) }
            }
            return

        case .impute(let columns, let values):
            for (i, name) in columns.enumerated() {
                let c = try resolveColumn(name, in: frame.columns, index: index, op: context)
                let fill = values[i]
                guard frame.data[c].contains(where: \.isMissing) else { continue }  // no write, so no copy of a shared column
                frame.data[c].withUnsafeMutableBufferPointer { buf in
                    for r in buf.indices where buf[r].isMissing { buf[r] = fill }
                }
            }
            return

        case .oneHot(let columns, let categories, let unknown):
            var position: [Int: Int] = [:]  // frame column index → index in `columns`
            for (i, name) in columns.enumerated() {
                position[try resolveColumn(name, in: frame.columns, index: index, op: context)] = i
            }
            var newColumns: [String] = []
            var newData: [[Cell]] = []
            for (c, name) in frame.columns.enumerated() {
                guard let i = position[c] else {
                    newColumns.append(name)
                    newData.append(frame.data[c])
                    continue
                }
                let cats = categories[i]
                let blocks = try oneHotEncode(frame.data[c], column: name, categories: cats, unknown: unknown, context: context)
                for (k, cat) in cats.enumerated() { newColumns.append("\(name)=\(cat)"); newData.append(blocks[k]) }
                if unknown == .other {
                    newColumns.append("\(name)=\(FittedStep.otherCategory)")
                    newData.append(blocks[cats.count])
                }
            }
            try checkUnique(newColumns, context: context)
            frame = Frame(columns: newColumns, data: newData, rowCount: frame.rowCount)

        case .select(let columns):
            var data: [[Cell]] = []
            data.reserveCapacity(columns.count)
            for name in columns {
                data.append(frame.data[try resolveColumn(name, in: frame.columns, index: index, op: context)])
            }
            frame = Frame(columns: columns, data: data, rowCount: frame.rowCount)

        case .rename(let pairs):
            var names = frame.columns
            for pair in pairs {
                let c = try resolveColumn(pair.from, in: frame.columns, index: index, op: context)
                names[c] = pair.to
            }
            try checkUnique(names, context: context)
            frame.columns = names
            return

        case .cast(let pairs):
            for pair in pairs {
                let c = try resolveColumn(pair.column, in: frame.columns, index: index, op: context)
                try castColumn(&frame.data[c], to: pair.type, column: pair.column, context: context)
            }
            return
        }
    }

    /// A one-line summary of the fitted parameters.
    var parameterSummary: String {
        func list(_ xs: [Double]) -> String { xs.map { String($0) }.joined(separator: ", ") }
        switch self {
        case .standardScale(let columns, let means, let scales):
            return columns.indices.map { "\(columns[$0]) mean \(means[$0]) scale \(scales[$0])" }.joined(separator: "; ")
        case .minMaxScale(let columns, let range, let mins, let maxs):
            return "range [\(range.lowerBound), \(range.upperBound)]; "
                + columns.indices.map { "\(columns[$0]) min \(mins[$0]) max \(maxs[$0])" }.joined(separator: "; ")
        case .oneHot(let columns, let categories, let unknown):
            return "unknown \(unknown.rawValue); "
                + columns.indices.map { "\(columns[$0]) categories [\(categories[$0].joined(separator: ", "))]" }.joined(separator: "; ")
        case .impute(let columns, let values):
            return columns.indices.map { "\(columns[$0]) fill \(values[$0].textValue ?? "missing")" }.joined(separator: "; ")
        case .log(let columns, let offset):
            return "\(columns.joined(separator: ", ")) offset \(offset)"
        case .select(let columns):
            return columns.joined(separator: ", ")
        case .rename(let pairs):
            return pairs.map { "\($0.from) -> \($0.to)" }.joined(separator: ", ")
        case .cast(let pairs):
            return pairs.map { "\($0.column): \($0.type.rawValue)" }.joined(separator: ", ")
        }
    }
}

/// The indicator columns of one categorical column: one per category, plus one for `.other`.
func oneHotEncode(_ cells: [Cell], column: String, categories: [String], unknown: UnknownCategory, context: String) throws(MLError) -> [[Cell]] {
    let n = cells.count
    let width = categories.count + (unknown == .other ? 1 : 0)
    var byText: [String: Int] = [:]
    for (k, cat) in categories.enumerated() { byText[cat] = k }
    // Per distinct cell, its indicator index (−1: all zeros). Cells repeat a lot, so this cache avoids re-formatting numbers.
    var cache: [Cell: Int] = [:]
    var hot = [Int32](repeating: -1, count: n)
    for r in 0 ..< n {
        let cell = cells[r]
        if cell.isMissing { continue }
        if case .text(let t) = cell, let k = byText[t] {
            hot[r] = Int32(k)
            continue
        }
        if let k = cache[cell] {
            hot[r] = Int32(k)
            continue
        }
        let k: Int
        if let t = cell.textValue, let known = byText[t] {
            k = known
        } else {
            switch unknown {
            case .ignore: k = -1
            case .other: k = categories.count
            case .error:
                let known = categories.map { "'\($0)'" }.joined(separator: ", ")
                throw MLError("\(context): column '\(column)' row \(r + 1) has \(cell.display), not seen in training (known: \(known)); use `unknown: ignore` or `unknown: other`, or refit on data that has it")
            }
        }
        cache[cell] = k
        hot[r] = Int32(k)
    }
    var blocks: [[Cell]] = []
    blocks.reserveCapacity(width)
    for k in 0 ..< Int32(width) {
        blocks.append(hot.withUnsafeBufferPointer { h in
            [Cell](unsafeUninitializedCapacity: n) { dst, initialized in
                for r in 0 ..< n { dst.initializeElement(at: r, to: .number(h[r] == k ? 1 : 0)) }
                initialized = n
            }
        })
    }
    return blocks
}

/// Converts a column's cells to a type in place; missing cells stay missing.
func castColumn(_ cells: inout [Cell], to type: CastType, column: String, context: String) throws(MLError) {
    for r in cells.indices {
        let cell = cells[r]
        if cell.isMissing {
            cells[r] = .missing
            continue
        }
        func fail() -> MLError {
            MLError("\(context): column '\(column)' row \(r + 1) is \(cell.display), which cannot be cast to \(type.rawValue); fix the value or impute/filter it first")
        }
        switch type {
        case .string:
            cells[r] = .text(cell.textValue ?? "")
        case .double, .int:
            var x: Double
            switch cell {
            case .number(let v): x = v
            case .bool(let b): x = b ? 1 : 0
            case .text(let s):
                guard let v = parseNumber(s) else { throw fail() }
                x = v
            case .missing: continue
            }
            if x.isNaN {
                cells[r] = .missing
                continue
            }
            if type == .int {
                guard x.isFinite else { throw fail() }
                x.round(.towardZero)
            }
            cells[r] = .number(x)
        case .bool:
            switch cell {
            case .bool: break
            case .number(let v): cells[r] = .bool(v != 0)
            case .text(let s):
                switch s.trimmingCharacters(in: .whitespaces).lowercased() {
                case "true", "t", "yes", "y", "1": cells[r] = .bool(true)
                case "false", "f", "no", "n", "0": cells[r] = .bool(false)
                default: throw fail()
                }
            case .missing: continue
            }
        }
    }
}
