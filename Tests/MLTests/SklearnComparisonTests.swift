import Foundation
import Testing
import ML

/// Acceptance: our models and metrics against the scikit-learn figures in fixtures/ml/reference.json.
@Suite struct SklearnComparisonTests {
    @Test func logisticRegressionMatchesSklearnOnBreastCancer() throws {
        let ref = try MLFixtures.reference()
        let table = try MLFixtures.csv("breast_cancer.csv")
        #expect(table.features.rows == 569 && table.features.cols == 30)
        let x = MLFixtures.standardScale(table.features, fitRows: 0 ..< 400)
        let xTrain = x.rows(0 ..< 400), xTest = x.rows(400 ..< 569)
        let yTrain = Array(table.target[0 ..< 400]), yTest = Array(table.target[400 ..< 569])

        let model = try LogisticRegression.fit(xTrain, yTrain, C: 1)
        #expect(model.converged)
        let p = model.probabilities(xTest)
        let predicted = p.map { $0 > 0.5 ? 1.0 : 0.0 }
        let accuracy = Metrics.accuracy(yTest, predicted)
        let logLoss = Metrics.logLoss(yTest, p)
        let auc = try #require(Metrics.rocAUC(yTest, p))
        let trainAccuracy = Metrics.accuracy(yTrain, model.probabilities(xTrain).map { $0 > 0.5 ? 1.0 : 0.0 })

        #expect(accuracy == (try MLFixtures.number(ref, "logistic.test_accuracy")))
        #expect(abs(logLoss - (try MLFixtures.number(ref, "logistic.test_log_loss"))) < 0.001)
        #expect(abs(auc - (try MLFixtures.number(ref, "logistic.test_roc_auc"))) < 0.001)
        #expect(trainAccuracy == (try MLFixtures.number(ref, "logistic.train_accuracy")))

        // Against sklearn's tightly converged fit (tol 1e-12), Newton reaches the same optimum.
        let exactCoef = try MLFixtures.numbers(ref, "logistic.exact.coef")
        let maxCoefDiff = zip(model.coefficients, exactCoef).map { abs($0 - $1) }.max() ?? .infinity
        #expect(maxCoefDiff < 1e-4)
        #expect(abs(model.intercept - (try MLFixtures.number(ref, "logistic.exact.intercept"))) < 1e-4)
        #expect(abs(logLoss - (try MLFixtures.number(ref, "logistic.exact.test_log_loss"))) < 1e-6)
        #expect(abs(auc - (try MLFixtures.number(ref, "logistic.exact.test_roc_auc"))) < 1e-9)
    }

    @Test func linearRegressionMatchesSklearnOnDiabetes() throws {
        let ref = try MLFixtures.reference()
        let table = try MLFixtures.csv("diabetes.csv")
        #expect(table.features.rows == 442 && table.features.cols == 10)
        let xTrain = table.features.rows(0 ..< 350), xTest = table.features.rows(350 ..< 442)
        let yTrain = Array(table.target[0 ..< 350]), yTest = Array(table.target[350 ..< 442])

        let ols = try LinearRegression.fit(xTrain, yTrain)
        let pred = ols.predict(xTest)
        #expect(abs(Metrics.r2(yTest, pred) - (try MLFixtures.number(ref, "linear.r2"))) < 1e-6)
        #expect(abs(Metrics.rmse(yTest, pred) - (try MLFixtures.number(ref, "linear.rmse"))) < 1e-6)
        let coef = try MLFixtures.numbers(ref, "linear.coef")
        for (a, b) in zip(ols.coefficients, coef) { #expect(abs(a - b) < 1e-6 * max(1, abs(b))) }
        #expect(abs(ols.intercept - (try MLFixtures.number(ref, "linear.intercept"))) < 1e-6)

        let ridge = try LinearRegression.fit(xTrain, yTrain, l2: 1)
        let ridgePred = ridge.predict(xTest)
        #expect(abs(Metrics.r2(yTest, ridgePred) - (try MLFixtures.number(ref, "linear.ridge_alpha_1.r2"))) < 1e-6)
        let ridgeCoef = try MLFixtures.numbers(ref, "linear.ridge_alpha_1.coef")
        for (a, b) in zip(ridge.coefficients, ridgeCoef) { #expect(abs(a - b) < 1e-6 * max(1, abs(b))) }
        #expect(abs(ridge.intercept - (try MLFixtures.number(ref, "linear.ridge_alpha_1.intercept"))) < 1e-6)
    }

    @Test func kMeansInertiaMatchesSklearnOnIris() throws {
        let ref = try MLFixtures.reference()
        let table = try MLFixtures.csv("iris.csv", stringLabel: true)
        #expect(table.features.rows == 150 && table.features.cols == 4)
        #expect(Set(table.labels) == ["setosa", "versicolor", "virginica"])
        let x = MLFixtures.standardScale(table.features, fitRows: 0 ..< 150)
        let model = try KMeans.fit(x, k: 3, nInit: 10, seed: 0)
        let sklearn = try MLFixtures.number(ref, "kmeans.inertia")
        #expect(abs(model.inertia - sklearn) <= 0.005 * sklearn)
        #expect(abs(Metrics.inertia(x, model) - model.inertia) < 1e-9)
    }

    @Test func metricSpotChecksMatchSklearnExactly() throws {
        let ref = try MLFixtures.reference()
        func n(_ p: String) throws -> [Double] { try MLFixtures.numbers(ref, "metrics." + p) }
        func v(_ p: String) throws -> Double { try MLFixtures.number(ref, "metrics." + p + ".value") }
        #expect(abs(Metrics.accuracy(try n("accuracy.y_true"), try n("accuracy.y_pred")) - (try v("accuracy"))) < 1e-12)
        #expect(abs(Metrics.logLoss(try n("log_loss.y_true"), try n("log_loss.p")) - (try v("log_loss"))) < 1e-12)
        let auc = try #require(Metrics.rocAUC(try n("roc_auc.y_true"), try n("roc_auc.scores")))
        #expect(abs(auc - (try v("roc_auc"))) < 1e-12)
        #expect(abs(Metrics.r2(try n("r2.y_true"), try n("r2.y_pred")) - (try v("r2"))) < 1e-12)
        #expect(abs(Metrics.rmse(try n("rmse.y_true"), try n("rmse.y_pred")) - (try v("rmse"))) < 1e-12)
    }
}
