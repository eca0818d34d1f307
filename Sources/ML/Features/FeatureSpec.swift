import Foundation

/// What one-hot encoding does with a category not seen in training.
public enum UnknownCategory: String, Sendable, Hashable, Codable, CaseIterable {
    /// All the column's indicator columns are 0.
    case ignore
    /// The transform throws, naming the column, row and value and listing the known categories.
    case error
    /// An extra `col=__other__` indicator column is 1.
    case other
}

/// How impute computes the fill value for missing cells (from the training data only).
public enum ImputeStrategy: Sendable, Hashable, Codable {
    /// The mean of the column's non-missing training values.
    case mean
    /// The median of the column's non-missing training values (an even count takes the mean of the two middle values).
    case median
    /// A fixed value.
    case constant(Cell)
}

/// The type a cast converts a column to.
public enum CastType: String, Sendable, Hashable, Codable, CaseIterable {
    /// Text: numbers as "3" or "0.25", booleans as "true"/"false".
    case string
    /// A whole number (stored as a number), truncated toward zero; text must parse as a number.
    case int
    /// A number; text must parse as a number, booleans are 1 and 0.
    case double
    /// A boolean: numbers 0 → false, else true; text true/false, yes/no, t/f, y/n, 1/0 (any case).
    case bool
}

/// One rename: column `from` becomes `to`.
public struct RenamePair: Sendable, Hashable, Codable {
    /// The current column name.
    public var from: String
    /// The new column name.
    public var to: String
    /// A rename of `from` to `to`.
    public init(from: String, to: String) {
        self.from = from
        self.to = to
    }
}

/// One cast: column `column` is converted to `type`.
public struct CastPair: Sendable, Hashable, Codable {
    /// The column to convert.
    public var column: String
    /// The type to convert it to.
    public var type: CastType
    /// A cast of `column` to `type`.
    public init(column: String, type: CastType) {
        self.column = column
        self.type = type
    }
}

/// One step of a feature spec, before fitting.
public enum FeatureStep: Sendable, Hashable, Codable {
    /// (x − mean) / std per column, with the population std (ddof 0, like sklearn StandardScaler); a constant column gets scale 1.
    case standardScale(columns: [String])
    /// x mapped linearly from the training [min, max] onto `range` (like sklearn MinMaxScaler); a constant column maps to the range's lower bound.
    case minMaxScale(columns: [String], range: ClosedRange<Double>)
    /// Indicator columns `col=value` (sorted training categories) in place of each column; a missing value gives all zeros.
    case oneHot(columns: [String], unknown: UnknownCategory)
    /// Fills missing cells with a value computed from the training data (or a constant).
    case impute(columns: [String], strategy: ImputeStrategy)
    /// log(x + offset); a value ≤ −offset throws; the YAML default offset is 1.
    case log(columns: [String], offset: Double)
    /// Keeps only these columns, in this order.
    case select(columns: [String])
    /// Renames columns.
    case rename([RenamePair])
    /// Converts columns to a type.
    case cast([CastPair])

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

/// An ordered list of feature steps; `fit` learns their parameters from training data.
public struct FeatureSpec: Sendable, Hashable, Codable {
    /// The steps, applied in order.
    public var steps: [FeatureStep]

    /// A spec of these steps.
    public init(steps: [FeatureStep]) { self.steps = steps }

    /// Fits each step on the training frame as transformed by the steps before it; throws on zero rows or bad data.
    public func fit(_ training: Frame) throws(MLError) -> FittedFeatures {
        try fitTransform(training).fitted
    }

    /// Fits the spec and returns the transformed training frame too (saves applying it a second time).
    public func fitTransform(_ training: Frame) throws(MLError) -> (fitted: FittedFeatures, output: Frame) {
        try training.validate()
        guard training.rowCount > 0 else {
            throw MLError("cannot fit features on a frame with zero rows; check the training data's filter and source")
        }
        var frame = training
        var fitted: [FittedStep] = []
        fitted.reserveCapacity(steps.count)
        for (i, step) in steps.enumerated() {
            let f = try fitStep(step, on: frame, position: i + 1)
            try f.apply(to: &frame, position: i + 1)
            fitted.append(f)
        }
        let result = FittedFeatures(steps: fitted, inputColumns: training.columns, outputColumns: frame.columns)
        return (result, frame)
    }
}
