import Foundation
import Testing
@testable import ML

/// The numbers of a column (nil for a missing or non-number cell).
private func nums(_ frame: Frame, _ name: String) -> [Double?] {
    (frame.column(name) ?? []).map { cell in
        if case .number(let x) = cell { return x }
        return nil
    }
}

/// Whether two optional-number arrays match within 1e-12 (nil matching nil).
private func close(_ a: [Double?], _ b: [Double?]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { x, y in
        switch (x, y) {
        case (nil, nil): return true
        case (let x?, let y?): return abs(x - y) <= 1e-12
        default: return false
        }
    }
}

/// A one-column numeric frame.
private func numbers(_ name: String, _ xs: [Double?]) -> Frame {
    Frame(columns: [name], data: [xs.map { $0.map(Cell.number) ?? .missing }])
}

/// The message of the MLError `body` throws, or nil.
private func message(_ body: () throws -> Void) -> String? {
    do { try body() } catch let error as MLError { return error.message } catch { return "not an MLError: \(error)" }
    return nil
}

@Suite struct FeatureTests {
    // MARK: standard_scale

    @Test func standardScaleFitsPopulationStdAndKeepsMissing() throws {
        let train = Frame(columns: ["a", "b"], rows: [
            [.number(1), .number(7)], [.number(2), .number(7)], [.missing, .number(7)],
            [.number(3), .number(7)], [.text("4"), .number(7)],
        ])
        let original = train
        let fitted = try FeatureSpec(steps: [.standardScale(columns: ["a", "b"])]).fit(train)
        #expect(train == original)  // fitting (and transforming) never changes the caller's frame
        // a = 1, 2, 3, 4: mean 2.5, population variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25; b is constant: scale 1.
        let s = 1.25.squareRoot()
        #expect(fitted.steps == [.standardScale(columns: ["a", "b"], means: [2.5, 7], scales: [s, 1])])
        let out = try fitted.transform(train)
        #expect(train == original)
        #expect(close(nums(out, "a"), [-1.5 / s, -0.5 / s, nil, 0.5 / s, 1.5 / s]))
        #expect(out.column("a")?[2] == .missing)
        #expect(nums(out, "b") == [0, 0, 0, 0, 0])
        // Other rows use the training parameters, not their own.
        let later = try fitted.transform(Frame(columns: ["a", "b"], rows: [[.number(5), .number(9)], [.number(6), .bool(true)]]))
        #expect(close(nums(later, "a"), [2.5 / s, 3.5 / s]))
        #expect(nums(later, "b") == [2, -6])
    }

    @Test func standardScaleOfNearConstantColumnGetsScaleOne() throws {
        let fitted = try FeatureSpec(steps: [.standardScale(columns: ["x"])]).fit(numbers("x", [0.1, 0.1, 0.1]))
        guard case .standardScale(_, _, let scales) = fitted.steps[0] else { Issue.record("wrong step"); return }
        #expect(scales == [1])
    }

    // MARK: minmax_scale

    @Test func minMaxScaleLikeSklearn() throws {
        let spec = FeatureSpec(steps: [.minMaxScale(columns: ["x", "c"], range: 0 ... 1)])
        let train = Frame(columns: ["x", "c"], rows: [[.number(2), .number(3)], [.number(4), .number(3)], [.number(6), .number(3)], [.missing, .missing]])
        let fitted = try spec.fit(train)
        #expect(fitted.steps == [.minMaxScale(columns: ["x", "c"], range: 0 ... 1, dataMins: [2, 3], dataMaxs: [6, 3])])
        let out = try fitted.transform(train)
        #expect(nums(out, "x") == [0, 0.5, 1, nil])
        #expect(nums(out, "c") == [0, 0, 0, nil])  // constant column → range min
        // Not refitted, not clipped (sklearn's default): 8 → 1.5; constant column: 4 → 0 + (4 − 3) · 1.
        let later = try fitted.transform(Frame(columns: ["x", "c"], rows: [[.number(8), .number(4)]]))
        #expect(nums(later, "x") == [1.5])
        #expect(nums(later, "c") == [1])

        let wide = try FeatureSpec(steps: [.minMaxScale(columns: ["x"], range: -1 ... 1)]).fit(numbers("x", [0, 5, 10]))
        #expect(nums(try wide.transform(numbers("x", [0, 5, 10, 15])), "x") == [-1, 0, 1, 2])

        #expect(throws: MLError.self) { try FeatureSpec(steps: [.minMaxScale(columns: ["x"], range: 1 ... 1)]).fit(numbers("x", [1, 2])) }
    }

    // MARK: one_hot

    private let plans = Frame(columns: ["id", "plan", "x"], rows: [
        [.number(1), .text("gold"), .number(0)],
        [.number(2), .text("basic"), .number(0)],
        [.number(3), .text("gold"), .number(0)],
        [.number(4), .missing, .number(0)],
    ])

    @Test func oneHotSortedCategoriesInPlace() throws {
        let fitted = try FeatureSpec(steps: [.oneHot(columns: ["plan"], unknown: .ignore)]).fit(plans)
        #expect(fitted.steps == [.oneHot(columns: ["plan"], categories: [["basic", "gold"]], unknown: .ignore)])
        #expect(fitted.inputColumns == ["id", "plan", "x"])
        #expect(fitted.outputColumns == ["id", "plan=basic", "plan=gold", "x"])
        let out = try fitted.transform(plans)
        #expect(out.columns == ["id", "plan=basic", "plan=gold", "x"])
        #expect(nums(out, "plan=basic") == [0, 1, 0, 0])
        #expect(nums(out, "plan=gold") == [1, 0, 1, 0])  // missing → all zeros
        #expect(nums(out, "id") == [1, 2, 3, 4])
    }

    @Test func oneHotUnknownIgnore() throws {
        let fitted = try FeatureSpec(steps: [.oneHot(columns: ["plan"], unknown: .ignore)]).fit(plans)
        let out = try fitted.transform(Frame(columns: ["id", "plan", "x"], rows: [[.number(9), .text("silver"), .number(1)], [.number(9), .text("gold"), .number(1)]]))
        #expect(out.columns == ["id", "plan=basic", "plan=gold", "x"])
        #expect(nums(out, "plan=basic") == [0, 0])
        #expect(nums(out, "plan=gold") == [0, 1])
    }

    @Test func oneHotUnknownError() throws {
        let fitted = try FeatureSpec(steps: [.oneHot(columns: ["plan"], unknown: .error)]).fit(plans)
        let bad = Frame(columns: ["id", "plan", "x"], rows: [[.number(9), .text("gold"), .number(1)], [.number(9), .text("silver"), .number(1)]])
        let text = message { _ = try fitted.transform(bad) }
        #expect(text?.contains("column 'plan' row 2") == true)
        #expect(text?.contains("silver") == true)
        #expect(text?.contains("'basic', 'gold'") == true)
        // Missing is not unknown.
        let ok = try fitted.transform(Frame(columns: ["id", "plan", "x"], rows: [[.number(9), .missing, .number(1)]]))
        #expect(nums(ok, "plan=gold") == [0])
    }

    @Test func oneHotUnknownOther() throws {
        let fitted = try FeatureSpec(steps: [.oneHot(columns: ["plan"], unknown: .other)]).fit(plans)
        #expect(fitted.outputColumns == ["id", "plan=basic", "plan=gold", "plan=__other__", "x"])
        let out = try fitted.transform(Frame(columns: ["id", "plan", "x"], rows: [
            [.number(9), .text("silver"), .number(1)], [.number(9), .text("basic"), .number(1)], [.number(9), .missing, .number(1)],
        ]))
        #expect(nums(out, "plan=__other__") == [1, 0, 0])
        #expect(nums(out, "plan=basic") == [0, 1, 0])
        #expect(nums(out, "plan=gold") == [0, 0, 0])
    }

    @Test func oneHotNumericCategoriesSortNumerically() throws {
        let fitted = try FeatureSpec(steps: [.oneHot(columns: ["n"], unknown: .ignore)]).fit(numbers("n", [10, 9, 10, 2.5]))
        #expect(fitted.outputColumns == ["n=2.5", "n=9", "n=10"])
        let out = try fitted.transform(numbers("n", [9, 10, 11]))
        #expect(nums(out, "n=9") == [1, 0, 0])
        #expect(nums(out, "n=10") == [0, 1, 0])
    }

    // MARK: impute

    @Test func imputeMeanMedianConstant() throws {
        let train = Frame(columns: ["a", "b", "c", "d"], rows: [
            [.number(1), .number(1), .text("x"), .number(1)],
            [.missing, .missing, .missing, .number(2)],
            [.number(3), .number(3), .text("y"), .missing],
            [.number(8), .number(8), .text("x"), .number(3)],
            [.number(.nan), .missing, .missing, .number(10)],
        ])
        let fitted = try FeatureSpec(steps: [
            .impute(columns: ["a"], strategy: .mean),
            .impute(columns: ["b", "d"], strategy: .median),
            .impute(columns: ["c"], strategy: .constant(.text("unknown"))),
        ]).fit(train)
        // a: mean(1, 3, 8) = 4 (NaN counts as missing); b: median(1, 3, 8) = 3; d: even count, median(1, 2, 3, 10) = 2.5.
        #expect(fitted.steps == [
            .impute(columns: ["a"], values: [.number(4)]),
            .impute(columns: ["b", "d"], values: [.number(3), .number(2.5)]),
            .impute(columns: ["c"], values: [.text("unknown")]),
        ])
        let out = try fitted.transform(train)
        #expect(nums(out, "a") == [1, 4, 3, 8, 4])
        #expect(nums(out, "b") == [1, 3, 3, 8, 3])
        #expect(nums(out, "d") == [1, 2, 2.5, 3, 10])
        #expect(out.column("c") == [.text("x"), .text("unknown"), .text("y"), .text("x"), .text("unknown")])
        // Other rows get the training fill values.
        let later = try fitted.transform(Frame(columns: ["a", "b", "c", "d"], rows: [[.missing, .missing, .missing, .missing]]))
        #expect(nums(later, "a") == [4])
        #expect(nums(later, "d") == [2.5])
    }

    @Test func eachStepFitsOnThePreviousStepsOutput() throws {
        let fitted = try FeatureSpec(steps: [
            .impute(columns: ["a"], strategy: .mean),
            .standardScale(columns: ["a"]),
        ]).fit(numbers("a", [1, nil, 3, 8]))
        // After impute: 1, 4, 3, 8 → mean 4, variance (9 + 0 + 1 + 16) / 4 = 6.5.
        #expect(fitted.steps[1] == .standardScale(columns: ["a"], means: [4], scales: [(6.5).squareRoot()]))
    }

    // MARK: log, select, rename, cast

    @Test func logWithOffset() throws {
        let fitted = try FeatureSpec(steps: [.log(columns: ["x"], offset: 1)]).fit(numbers("x", [0, M_E - 1, nil]))
        let out = try fitted.transform(numbers("x", [0, M_E - 1, nil]))
        #expect(close(nums(out, "x"), [0, 1, nil]))
        let text = message { _ = try fitted.transform(numbers("x", [3, -1])) }
        #expect(text?.contains("column 'x' row 2") == true)
        let shifted = try FeatureSpec(steps: [.log(columns: ["x"], offset: 5)]).fit(numbers("x", [-4]))
        #expect(close(nums(try shifted.transform(numbers("x", [-4])), "x"), [0]))
    }

    @Test func selectRenameCast() throws {
        let frame = Frame(columns: ["a", "b", "c"], rows: [
            [.text("1.9"), .number(1), .text("yes")],
            [.text("-2.5"), .number(0), .text("False")],
            [.missing, .number(2.5), .missing],
        ])
        let fitted = try FeatureSpec(steps: [
            .cast([CastPair(column: "a", type: .int), CastPair(column: "c", type: .bool)]),
            .rename([RenamePair(from: "a", to: "b"), RenamePair(from: "b", to: "a")]),  // a swap
            .select(columns: ["c", "b"]),
            .cast([CastPair(column: "b", type: .string)]),
        ]).fit(frame)
        #expect(fitted.outputColumns == ["c", "b"])
        let out = try fitted.transform(frame)
        #expect(out.columns == ["c", "b"])
        #expect(out.column("c") == [.bool(true), .bool(false), .missing])
        #expect(out.column("b") == [.text("1"), .text("-2"), .missing])
        #expect(out.rowCount == 3)

        let doubles = try FeatureSpec(steps: [.cast([CastPair(column: "x", type: .double)])]).fit(Frame(columns: ["x"], rows: [[.text(" 2.5")], [.bool(true)]]))
        #expect(nums(try doubles.transform(Frame(columns: ["x"], rows: [[.text(" 2.5")], [.bool(true)]])), "x") == [2.5, 1])
        let text = message { _ = try doubles.transform(Frame(columns: ["x"], rows: [[.number(1)], [.text("abc")]])) }
        #expect(text?.contains("column 'x' row 2") == true)
    }

    // MARK: errors

    @Test func errorsNameColumnAndRow() throws {
        let bad = Frame(columns: ["tenure", "plan"], rows: [[.number(1), .text("a")], [.number(2), .text("b")], [.text("abc"), .text("c")]])
        let scale = message { _ = try FeatureSpec(steps: [.standardScale(columns: ["tenure"])]).fit(bad) }
        #expect(scale?.contains("column 'tenure' row 3") == true)
        #expect(scale?.contains("abc") == true)

        let typo = message { _ = try FeatureSpec(steps: [.standardScale(columns: ["tenur"])]).fit(bad) }
        #expect(typo?.contains("no column 'tenur'") == true)
        #expect(typo?.contains("did you mean 'tenure'") == true)
        #expect(typo?.contains("'tenure', 'plan'") == true)

        // A column missing at transform time is named too.
        let fitted = try FeatureSpec(steps: [.standardScale(columns: ["tenure"])]).fit(numbers("tenure", [1, 2]))
        let gone = message { _ = try fitted.transform(numbers("other", [1])) }
        #expect(gone?.contains("no column 'tenure'") == true)

        #expect(message { _ = try FeatureSpec(steps: []).fit(Frame(columns: ["a"], data: [[]])) }?.contains("zero rows") == true)
        #expect(throws: MLError.self) { try FeatureSpec(steps: [.standardScale(columns: ["a", "a"])]).fit(numbers("a", [1])) }
        #expect(throws: MLError.self) { try FeatureSpec(steps: [.standardScale(columns: ["a"])]).fit(numbers("a", [nil, nil])) }
        #expect(throws: MLError.self) { try FeatureSpec(steps: [.rename([RenamePair(from: "a", to: "b")])]).fit(Frame(columns: ["a", "b"], rows: [[.number(1), .number(2)]])) }
        #expect(throws: MLError.self) { try FeatureSpec(steps: []).fit(Frame(columns: ["a", "b"], data: [[.number(1)], []])) }
    }

    // MARK: Codable

    @Test func fittedFeaturesJSONRoundTripTransformsEqually() throws {
        let train = Frame(columns: ["tenure", "charges", "plan", "flag"], rows: [
            [.number(1), .number(20), .text("gold"), .bool(true)],
            [.number(5), .missing, .text("basic"), .bool(false)],
            [.number(9), .number(80), .text("gold"), .missing],
            [.number(12), .number(50), .text("pro"), .bool(true)],
        ])
        let spec = FeatureSpec(steps: [
            .impute(columns: ["charges"], strategy: .median),
            .impute(columns: ["flag"], strategy: .constant(.bool(false))),
            .log(columns: ["charges"], offset: 1),
            .standardScale(columns: ["tenure", "charges"]),
            .minMaxScale(columns: ["tenure"], range: 0 ... 1),
            .oneHot(columns: ["plan"], unknown: .other),
            .rename([RenamePair(from: "flag", to: "active")]),
            .cast([CastPair(column: "active", type: .double)]),
            .select(columns: ["active", "tenure", "charges", "plan=basic", "plan=gold", "plan=pro", "plan=__other__"]),
        ])
        let fitted = try spec.fit(train)
        let data = try JSONEncoder().encode(fitted)
        let back = try JSONDecoder().decode(FittedFeatures.self, from: data)
        #expect(back == fitted)
        let specBack = try JSONDecoder().decode(FeatureSpec.self, from: try JSONEncoder().encode(spec))
        #expect(specBack == spec)

        let later = Frame(columns: ["tenure", "charges", "plan", "flag"], rows: [[.number(3), .number(30), .text("free"), .missing]])
        #expect(try back.transform(later) == (try fitted.transform(later)))
        #expect(try back.transform(train) == (try spec.fitTransform(train).output))
        let m = try fitted.transform(later).matrix(columns: fitted.outputColumns)
        #expect(m.rows == 1 && m.cols == 7)
        #expect(Array(m.values[3 ... 6]) == [0, 0, 0, 1])
        #expect(fitted.describe().count == spec.steps.count)
    }

    // MARK: matrix

    @Test func matrixOfNumbersAndBools() throws {
        let frame = Frame(columns: ["a", "b", "c"], rows: [[.number(1), .bool(true), .text("z")], [.number(2.5), .bool(false), .text("z")]])
        let m = try frame.matrix(columns: ["b", "a"])
        #expect(m.rows == 2 && m.cols == 2)
        #expect(m.values == [1, 1, 0, 2.5])
    }

    @Test func matrixErrors() throws {
        let frame = Frame(columns: ["a", "plan", "n"], rows: [
            [.number(1), .text("basic"), .text("3")],
            [.missing, .text("gold"), .number(.nan)],
        ])
        #expect(message { _ = try frame.matrix(columns: ["plan"]) } == "column 'plan' row 1 is text 'basic'; one-hot encode it or drop it from the features")
        #expect(message { _ = try frame.matrix(columns: ["a"]) }?.contains("column 'a' row 2 is missing") == true)
        #expect(message { _ = try frame.matrix(columns: ["n"]) }?.contains("cast") == true)
        #expect(message { _ = try frame.matrix(columns: ["plam"]) }?.contains("did you mean 'plan'") == true)
    }
}
