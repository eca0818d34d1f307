import Foundation
import Testing
import ML

/// Bad input, determinism and small hand-checked cases for the ML models.
@Suite struct ModelTests {
    /// Runs `body`, requiring it to throw an MLError whose message mentions `fragment`.
    func expectMLError(_ fragment: String, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("expected an MLError mentioning '\(fragment)'", sourceLocation: sourceLocation)
        } catch let error as MLError {
            #expect(error.message.contains(fragment), "message was: \(error.message)", sourceLocation: sourceLocation)
            #expect(!error.message.contains("\n"), sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected an MLError, got \(error)", sourceLocation: sourceLocation)
        }
    }

    let small = Matrix([[0, 1], [1, 0], [2, 2], [3, 1], [4, 3]])

    @Test func linearRegressionRejectsBadInput() {
        expectMLError("no rows") { _ = try LinearRegression.fit(Matrix(rows: 0, cols: 2), []) }
        expectMLError("targets for 5 rows") { _ = try LinearRegression.fit(small, [1, 2, 3]) }
        expectMLError("non-finite") { _ = try LinearRegression.fit(Matrix([[1, .nan], [2, 3]]), [1, 2]) }
        expectMLError("non-finite targets") { _ = try LinearRegression.fit(small, [1, 2, .infinity, 4, 5]) }
        expectMLError("l2") { _ = try LinearRegression.fit(small, [1, 2, 3, 4, 5], l2: -1) }
        expectMLError("collinear") { _ = try LinearRegression.fit(Matrix([[1, 2], [2, 4], [3, 6]]), [1, 2, 3]) }
        expectMLError("underdetermined") { _ = try LinearRegression.fit(Matrix([[1, 2, 3]]), [1]) }
    }

    @Test func logisticRegressionRejectsBadInput() {
        expectMLError("no rows") { _ = try LogisticRegression.fit(Matrix(rows: 0, cols: 2), []) }
        expectMLError("targets for 5 rows") { _ = try LogisticRegression.fit(small, [0, 1]) }
        expectMLError("both classes") { _ = try LogisticRegression.fit(small, [1, 1, 1, 1, 1]) }
        expectMLError("0 and 1") { _ = try LogisticRegression.fit(small, [0, 1, 2, 0, 1]) }
        expectMLError("non-finite") { _ = try LogisticRegression.fit(Matrix([[.nan], [1]]), [0, 1]) }
        expectMLError("C is") { _ = try LogisticRegression.fit(small, [0, 1, 0, 1, 1], C: 0) }
        expectMLError("maxIter") { _ = try LogisticRegression.fit(small, [0, 1, 0, 1, 1], maxIter: 0) }
    }

    @Test func kMeansRejectsBadInput() {
        expectMLError("exceeds the 5 rows") { _ = try KMeans.fit(small, k: 6) }
        expectMLError("at least 1 cluster") { _ = try KMeans.fit(small, k: 0) }
        expectMLError("no rows") { _ = try KMeans.fit(Matrix(rows: 0, cols: 2), k: 1) }
        expectMLError("non-finite") { _ = try KMeans.fit(Matrix([[1, 2], [.nan, 1]]), k: 1) }
        expectMLError("nInit") { _ = try KMeans.fit(small, k: 2, nInit: 0) }
    }

    @Test func zScoreRejectsBadInput() {
        expectMLError("no rows") { _ = try ZScoreAnomaly.fit(Matrix(rows: 0, cols: 3)) }
        expectMLError("non-finite") { _ = try ZScoreAnomaly.fit(Matrix([[1], [.infinity]])) }
        expectMLError("threshold") { _ = try ZScoreAnomaly.fit(small, threshold: 0) }
    }

    @Test func kMeansIsDeterministicForASeed() throws {
        var rng = SplitMix64(seed: 42)
        var rows: [[Double]] = []
        for c in 0 ..< 4 {
            for _ in 0 ..< 50 { rows.append([Double(c * 5) + rng.nextUnit(), Double(c % 2) * 7 + rng.nextUnit()]) }
        }
        let x = Matrix(rows)
        let a = try KMeans.fit(x, k: 4, seed: 7)
        let b = try KMeans.fit(x, k: 4, seed: 7)
        #expect(a == b)
        let c = try KMeans.fit(x, k: 4, nInit: 1, seed: 8)
        let d = try KMeans.fit(x, k: 4, nInit: 1, seed: 8)
        #expect(c == d)
        // Four well-separated blobs of unit-square noise: within-cluster inertia is about 200 · 2/12.
        #expect(a.inertia < 60)
        let assigned = a.assign(x)
        #expect(Set(assigned.map(\.cluster)).count == 4)
        let expectedInertia = assigned.reduce(0) { $0 + $1.distance * $1.distance }
        #expect(abs(expectedInertia - a.inertia) < 1e-9)
    }

    @Test func zScoreOnAHandComputedCase() throws {
        // Column 0: 1, 2, 3, 4 → mean 2.5, population std √1.25; column 1 constant → contributes 0.
        let x = Matrix([[1, 5], [2, 5], [3, 5], [4, 5]])
        let model = try ZScoreAnomaly.fit(x, threshold: 1.2)
        #expect(model.means == [2.5, 5])
        #expect(abs(model.stds[0] - 1.25.squareRoot()) < 1e-15)
        #expect(model.stds[1] == 0)
        let scores = model.scores(Matrix([[1, 5], [2.5, 100], [10, 5]]))
        #expect(abs(scores[0] - 1.5 / 1.25.squareRoot()) < 1e-12)
        #expect(scores[1] == 0)
        #expect(abs(scores[2] - 7.5 / 1.25.squareRoot()) < 1e-12)
        let row: [Double] = [10, 5]
        #expect(row.withUnsafeBufferPointer { model.isAnomaly(row: $0) })
    }

    @Test func rowPredictionsEqualMatrixPredictions() throws {
        let x = Matrix([[0.5, 1, -2], [1, 0, 3], [2, 2, 0.1], [3, 1, -1], [4, 3, 2], [-1, 0.5, 0.3]])
        let linear = try LinearRegression.fit(x, [1, 2, 3, 4.5, 5, 0.2])
        let logistic = try LogisticRegression.fit(x, [0, 1, 0, 1, 1, 0])
        let linearAll = linear.predict(x)
        let logisticAll = logistic.probabilities(x)
        x.values.withUnsafeBufferPointer { v in
            for i in 0 ..< x.rows {
                let row = UnsafeBufferPointer(rebasing: v[(i * 3) ..< ((i + 1) * 3)])
                #expect(linear.predict(row: row) == linearAll[i])
                #expect(logistic.probability(row: row) == logisticAll[i])
            }
        }
    }

    @Test func modelsRoundTripThroughJSON() throws {
        let model = try LogisticRegression.fit(small, [0, 1, 0, 1, 1])
        let data = try JSONEncoder().encode(model)
        #expect(try JSONDecoder().decode(LogisticModel.self, from: data) == model)
        let km = try KMeans.fit(small, k: 2)
        #expect(try JSONDecoder().decode(KMeansModel.self, from: JSONEncoder().encode(km)) == km)
    }

    @Test func exactLinearFitAndStableSigmoid() throws {
        // y = 3 + 2·x0 − x1 exactly.
        let x = Matrix([[0, 1], [1, 0], [2, 2], [3, 1], [4, 3]])
        let y = (0 ..< 5).map { 3 + 2 * x[$0, 0] - x[$0, 1] }
        let model = try LinearRegression.fit(x, y)
        #expect(abs(model.intercept - 3) < 1e-12)
        #expect(abs(model.coefficients[0] - 2) < 1e-12 && abs(model.coefficients[1] + 1) < 1e-12)
        #expect(LogisticMath.sigmoid(-1000) == 0 && LogisticMath.sigmoid(1000) == 1)
        #expect(LogisticMath.log1pExp(1000) == 1000)
        #expect(Metrics.rocAUC([1, 1], [0.2, 0.3]) == nil)
    }
}
