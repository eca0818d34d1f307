import Foundation
import ML

/// Test access to fixtures/ml (the scikit-learn reference data written by tools/ml-fixtures.py).
enum MLFixtures {
    struct FixtureError: Error, CustomStringConvertible { var description: String }

    /// fixtures/ml, located from this file: Tests/MLTests/Fixtures.swift → ../../fixtures/ml.
    static func directory(_ file: String = #filePath) -> URL {
        URL(fileURLWithPath: file).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/ml")
    }

    /// A parsed CSV: header, numeric columns as a matrix, and an optional trailing label column.
    struct Table {
        var header: [String]
        var features: Matrix
        var target: [Double]
        var labels: [String]
    }

    /// Reads a fixture CSV whose last column is the target: numeric (`target`) or, when `stringLabel`, a class name.
    static func csv(_ name: String, stringLabel: Bool = false) throws -> Table {
        let text = try String(contentsOf: directory().appendingPathComponent(name), encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard !lines.isEmpty else { throw FixtureError(description: "\(name) is empty") }
        let header = lines.removeFirst().split(separator: ",").map(String.init)
        let p = header.count - 1
        var values: [Double] = []
        var target: [Double] = []
        var labels: [String] = []
        for (n, line) in lines.enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == header.count else { throw FixtureError(description: "\(name) line \(n + 2): \(fields.count) fields") }
            for f in fields.prefix(p) {
                guard let v = Double(f) else { throw FixtureError(description: "\(name) line \(n + 2): '\(f)' is not a number") }
                values.append(v)
            }
            let last = String(fields[p])
            if stringLabel { labels.append(last) } else {
                guard let v = Double(last) else { throw FixtureError(description: "\(name) line \(n + 2): target '\(last)' is not a number") }
                target.append(v)
            }
        }
        return Table(header: header, features: Matrix(rows: lines.count, cols: p, values: values), target: target, labels: labels)
    }

    /// reference.json as nested dictionaries.
    static func reference() throws -> [String: Any] {
        let data = try Data(contentsOf: directory().appendingPathComponent("reference.json"))
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FixtureError(description: "reference.json is not an object")
        }
        return obj
    }

    /// The value at a dotted path in reference.json, e.g. "logistic.test_accuracy".
    static func value(_ ref: [String: Any], _ path: String) throws -> Any {
        var cur: Any = ref
        for key in path.split(separator: ".") {
            guard let dict = cur as? [String: Any], let next = dict[String(key)] else {
                throw FixtureError(description: "reference.json has no \(path)")
            }
            cur = next
        }
        return cur
    }

    /// A number at a dotted path.
    static func number(_ ref: [String: Any], _ path: String) throws -> Double {
        guard let v = try value(ref, path) as? NSNumber else { throw FixtureError(description: "\(path) is not a number") }
        return v.doubleValue
    }

    /// A number array at a dotted path.
    static func numbers(_ ref: [String: Any], _ path: String) throws -> [Double] {
        guard let v = try value(ref, path) as? [NSNumber] else { throw FixtureError(description: "\(path) is not a number array") }
        return v.map(\.doubleValue)
    }

    /// A boolean at a dotted path.
    static func bool(_ ref: [String: Any], _ path: String) throws -> Bool {
        guard let v = try value(ref, path) as? Bool else { throw FixtureError(description: "\(path) is not a boolean") }
        return v
    }

    /// Standard scaling (population std, zero std → 1 like sklearn) with statistics from `fitRows` of `x`, applied to all of `x`.
    static func standardScale(_ x: Matrix, fitRows: Range<Int>) -> Matrix {
        let p = x.cols
        var out = x
        let n = Double(fitRows.count)
        for j in 0 ..< p {
            var m = 0.0
            for i in fitRows { m += x[i, j] }
            m /= n
            var v = 0.0
            for i in fitRows { let t = x[i, j] - m; v += t * t }
            var s = (v / n).squareRoot()
            if s == 0 { s = 1 }
            for i in 0 ..< x.rows { out[i, j] = (x[i, j] - m) / s }
        }
        return out
    }
}
