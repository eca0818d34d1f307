import Domain
import EventLog
import Foundation

/// `ledgerflow-bench codec`: the payload encodings measured on the generator's events — the
/// figures behind the choice of the canonical binary encoding (ARCHITECTURE.md).
enum CodecBenchmark {
    /// The prediction payload as a Codable type, for Foundation's JSON coders.
    struct Prediction: Codable {
        struct Outputs: Codable { var churn_probability: Double }
        var entity: String
        var model: String
        var modelVersion: Int
        var outputs: Outputs
        var run: String
        var stage: String
    }

    static func run(_ o: Options) throws {
        let n = try o.int("events", default: 200_000)
        var rng = SplitMix64(seed: 3)
        var values: [Value] = []
        var typed: [Prediction] = []
        for i in 0 ..< n {
            let score = Double(rng.next() % 10_000) / 10_000
            let p = Prediction(entity: "C1\(i % 40)-\(rng.next() % 1_000_000)", model: "churn", modelVersion: 3,
                               outputs: .init(churn_probability: score), run: "r\(i / 2000)", stage: "score")
            typed.append(p)
            values.append(["entity": .string(p.entity), "model": "churn", "modelVersion": 3,
                           "outputs": ["churn_probability": .double(score)], "run": .string(p.run), "stage": "score"])
        }
        func time(_ label: String, _ body: () throws -> Int) rethrows -> Double {
            var best = Double.infinity
            var bytes = 0
            for _ in 0 ..< 3 {
                let t = Date()
                bytes = try body()
                best = min(best, Date().timeIntervalSince(t))
            }
            let us = best / Double(n) * 1_000_000
            print("  " + label.padding(toLength: 40, withPad: " ", startingAt: 0) + String(format: " %7.3f µs/event  %6.1f bytes/event", us, Double(bytes) / Double(n)))
            return us
        }
        print("payload encodings, \(n) prediction payloads, best of 3")
        var encoded: [[UInt8]] = []
        _ = time("canonical binary encode (Value)") {
            encoded = values.map { $0.canonicalBytes }
            return encoded.reduce(0) { $0 + $1.count }
        }
        _ = try time("canonical binary decode (Value)") {
            var k = 0
            for b in encoded { if case .members(let m) = try Value(canonicalBytes: b) { k += m.count } }
            precondition(k > 0)
            return encoded.reduce(0) { $0 + $1.count }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var json: [Data] = []
        _ = try time("Foundation JSONEncoder (sorted keys)") {
            json = try typed.map { try encoder.encode($0) }
            return json.reduce(0) { $0 + $1.count }
        }
        let decoder = JSONDecoder()
        _ = try time("Foundation JSONDecoder") {
            var k = 0
            for d in json { k += try decoder.decode(Prediction.self, from: d).modelVersion }
            precondition(k > 0)
            return json.reduce(0) { $0 + $1.count }
        }
        _ = time("Value → JSON text (CLI output)") {
            values.reduce(0) { $0 + $1.jsonString.utf8.count }
        }
    }
}
