import Crypto
import Domain
import EventLog
import Foundation
import ML

/// Content-addressed files under `<store>/artifacts/sha256/<hex>`: written once (temporary file,
/// then rename), read back only when their bytes still hash to their name.
public struct ArtifactStore: Sendable {
    public let folder: String

    public init(store: String) { folder = (store as NSString).appendingPathComponent("artifacts/sha256") }

    /// The path of the artifact with hash `sha256`.
    public func path(_ sha256: String) -> String { (folder as NSString).appendingPathComponent(sha256) }

    /// Stores `data`; returns its SHA-256 (hex) and size. Storing the same bytes twice keeps one file.
    public func put(_ data: Data) throws(StageError) -> (sha256: String, bytes: Int64) {
        let sha = Hex.lowercase(SHA256.hash(data: data))
        let target = path(sha)
        if FileManager.default.fileExists(atPath: target) { return (sha, Int64(data.count)) }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let tmp = target + ".tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0 ... .max))"
            try data.write(to: URL(fileURLWithPath: tmp))
            if rename(tmp, target) != 0 {
                let why = String(cString: strerror(errno))
                try? FileManager.default.removeItem(atPath: tmp)
                throw StageError("could not store the artifact \(target): \(why)")
            }
        } catch let e as StageError {
            throw e
        } catch {
            throw StageError("could not store the artifact in \(folder): \(error.localizedDescription); check the store folder is writable")
        }
        return (sha, Int64(data.count))
    }

    /// The bytes of artifact `sha256`, checked against their hash.
    public func get(_ sha256: String) throws(StageError) -> Data {
        let p = path(sha256)
        guard let data = FileManager.default.contents(atPath: p) else {
            throw StageError("artifact \(sha256) is missing from \(folder); the model version's file was removed — retrain the model")
        }
        let actual = Hex.lowercase(SHA256.hash(data: data))
        guard actual == sha256 else {
            throw StageError("artifact \(p) does not match its hash (it hashes to \(actual)); the file was changed — retrain the model")
        }
        return data
    }
}

/// What a trained model version's artifact holds: everything inference needs to apply exactly the
/// training-time transform and model (format 1, JSON with sorted keys).
public struct ModelArtifact: Codable, Sendable {
    public var format = 1
    public var model: String
    public var type: String
    public var target: String?
    /// Columns the model reads after the feature spec, in order.
    public var featureColumns: [String]
    /// Prediction field names, in the order of the type's built-in outputs.
    public var outputs: [String]
    public var features: FittedFeatures?
    public var linear: LinearModel?
    public var logistic: LogisticModel?
    public var kmeans: KMeansModel?
    public var zscore: ZScoreModel?
    /// Probability at or above which the label is 1 (logistic regression).
    public var threshold: Double?
    /// The target's two classes as written in the training data: label 0 and label 1.
    public var classes: [String]?
    /// Per raw input column, its training distribution (PSI drift).
    public var drift: [String: DriftReference]

    public init(model: String, type: String, target: String?, featureColumns: [String], outputs: [String], features: FittedFeatures? = nil,
                drift: [String: DriftReference] = [:]) {
        self.model = model
        self.type = type
        self.target = target
        self.featureColumns = featureColumns
        self.outputs = outputs
        self.features = features
        self.drift = drift
    }

    public func encoded() throws(StageError) -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        do { return try enc.encode(self) } catch { throw StageError("could not encode the model artifact: \(error)") }
    }

    public static func decode(_ data: Data, sha256: String) throws(StageError) -> ModelArtifact {
        do { return try JSONDecoder().decode(ModelArtifact.self, from: data) } catch {
            throw StageError("artifact \(sha256) is not a Ledgerflow model (\(error)); retrain the model")
        }
    }
}

extension Table {
    /// The table as an ML frame (column-major cells).
    func frame() -> Frame {
        var data = [[Cell]](repeating: [], count: columns.count)
        for c in columns.indices { data[c].reserveCapacity(rows.count) }
        for row in rows {
            for c in columns.indices { data[c].append(c < row.count ? Cell(row[c]) : .missing) }
        }
        return Frame(columns: columns, data: data)
    }

    /// A table from an ML frame.
    init(frame: Frame) {
        var rows: [[Value]] = []
        rows.reserveCapacity(frame.rowCount)
        for r in 0 ..< frame.rowCount { rows.append(frame.data.map { $0[r].value }) }
        self.init(columns: frame.columns, rows: rows)
    }
}

extension Cell {
    init(_ v: Value) {
        switch v {
        case .null: self = .missing
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .number(Double(i))
        case .double(let d): self = .number(d)
        case .string(let s): self = .text(s)
        case .array, .members: self = .text(v.jsonString)
        }
    }

    var value: Value {
        switch self {
        case .missing: return .null
        case .bool(let b): return .bool(b)
        case .number(let d): return .double(d)
        case .text(let s): return .string(s)
        }
    }
}

/// A reproducible split of row indices into training and holdout rows.
enum Split {
    /// `tail`: the last `fraction` of rows are held out; `random`: a seeded shuffle picks them
    /// (both keep the rows' order within each part).
    static func indices(count: Int, fraction: Double, method: String, seed: UInt64) -> (train: [Int], holdout: [Int]) {
        let h = fraction <= 0 ? 0 : min(count - 1, max(1, Int((Double(count) * fraction).rounded())))
        guard h > 0 else { return (Array(0 ..< count), []) }
        if method == "tail" { return (Array(0 ..< (count - h)), Array((count - h) ..< count)) }
        var order = Array(0 ..< count)
        var rng = SplitMix64(seed: seed)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let held = Set(order.prefix(h))
        return ((0 ..< count).filter { !held.contains($0) }, (0 ..< count).filter { held.contains($0) })
    }
}
