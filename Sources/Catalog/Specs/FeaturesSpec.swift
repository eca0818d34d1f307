import Domain

/// An ordered feature-engineering recipe.
public struct FeaturesSpec: KindSpec {
    /// The definition kind this spec belongs to.
    public static let kind = DefinitionKind.features

    /// What an imputation fills a missing value with.
    public enum ImputeStrategy: String, Sendable, Hashable, CaseIterable {
        case mean, median, constant
    }

    /// What one-hot encoding does with a category unseen in training.
    public enum UnknownCategory: String, Sendable, Hashable, CaseIterable {
        case ignore, error, other
    }

    /// One step, by its `op`.
    public enum Step: Sendable, Hashable {
        case standardScale(columns: [String])
        /// `range` as written (validation requires [min, max] with min < max; default [0, 1]).
        case minmaxScale(columns: [String], range: [Double]?)
        case oneHot(columns: [String], unknown: UnknownCategory?)
        /// `value` is the constant of strategy constant, as written (`null` included; validation
        /// requires it there, and only there).
        case impute(columns: [String], strategy: ImputeStrategy, value: Value?)
        /// `offset` is added before the log (default 1).
        case log(columns: [String], offset: Double?)
        case select(columns: [String])
        case rename([ColumnRename])
        case cast([ColumnCast])

        init(_ f: Fields) throws(DecodingFailure) {
            switch try f.string("op") {
            case "standard_scale": self = .standardScale(columns: try f.strings("columns"))
            case "minmax_scale": self = .minmaxScale(columns: try f.strings("columns"), range: try f.doubles(opt: "range"))
            case "one_hot": self = .oneHot(columns: try f.strings("columns"), unknown: try f.choice(opt: "unknown"))
            case "impute": self = .impute(columns: try f.strings("columns"), strategy: try f.choice("strategy"), value: f.written("value"))
            case "log": self = .log(columns: try f.strings("columns"), offset: try f.double(opt: "offset"))
            case "select": self = .select(columns: try f.strings("columns"))
            case "rename": self = .rename(try ColumnRename.list(try f.object("columns")))
            case "cast": self = .cast(try ColumnCast.list(try f.object("columns")))
            default: throw f.failure("op", expected: "one of " + KindSchemas.featureOps.joined(separator: ", "), found: f.value("op"))
            }
        }

        /// The step's op as written (`standard_scale`, …).
        public var op: String {
            switch self {
            case .standardScale: return "standard_scale"
            case .minmaxScale: return "minmax_scale"
            case .oneHot: return "one_hot"
            case .impute: return "impute"
            case .log: return "log"
            case .select: return "select"
            case .rename: return "rename"
            case .cast: return "cast"
            }
        }

        /// Every column the step names (both names of a rename).
        public var columns: [String] {
            switch self {
            case .standardScale(let c), .minmaxScale(let c, _), .oneHot(let c, _), .impute(let c, _, _), .log(let c, _), .select(let c):
                return c
            case .rename(let pairs): return pairs.flatMap { [$0.from, $0.to] }
            case .cast(let casts): return casts.map(\.column)
            }
        }
    }

    /// Free text for people.
    public var description: String?
    /// Applied in order.
    public var steps: [Step]

    /// A value with these fields.
    public init(description: String? = nil, steps: [Step]) {
        self.description = description
        self.steps = steps
    }

    /// Reads a stored spec of this kind; a failure names the field and what it should be.
    public init(_ spec: Value) throws(DecodingFailure) {
        let f = try Fields(Self.owner, spec)
        description = try f.string(opt: "description")
        steps = []
        for s in try f.objects("steps") { steps.append(try Step(s)) }
    }

    /// Every column the steps name.
    public var columns: Set<String> { Set(steps.flatMap(\.columns)) }
}
