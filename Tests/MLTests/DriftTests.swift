import Foundation
import Testing
@testable import ML

/// Whether two arrays match element-wise within `tolerance`.
private func close(_ a: [Double], _ b: [Double], tolerance: Double = 1e-12) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance }
}

@Suite struct DriftTests {
    @Test func decileEdgesMatchNumpy() throws {
        let xs = [3.1, 0.5, 7.2, 2.2, 9.9, 4.4, 1.0, 5.5, 6.6, 8.8, 2.9, 0.1, 7.7]
        // python3 -c "import numpy as np; xs=np.array([3.1,0.5,7.2,2.2,9.9,4.4,1.0,5.5,6.6,8.8,2.9,0.1,7.7]);
        //   print([repr(float(v)) for v in np.quantile(xs, np.arange(1,10)/10)])"   (numpy 2.4.6)
        let numpy = [0.6000000000000001, 1.4800000000000004, 2.6199999999999997, 3.06, 4.4,
                     5.719999999999999, 6.839999999999999, 7.500000000000001, 8.580000000000002]
        let ref = try DriftReference.fit(xs)
        #expect(close(ref.edges, numpy))
        #expect(ref.expected.count == 10)
        #expect(abs(ref.expected.reduce(0, +) - 1) < 1e-12)
    }

    @Test func decilesOfZeroTo99() throws {
        // python3 -c "import numpy as np; print([repr(float(v)) for v in np.quantile(np.arange(100.0), np.arange(1,10)/10)])"
        let numpy = [9.9, 19.8, 29.7, 39.6, 49.5, 59.4, 69.3, 79.2, 89.10000000000001]
        let ref = try DriftReference.fit((0 ..< 100).map(Double.init))
        #expect(close(ref.edges, numpy))
        #expect(close(ref.expected, [Double](repeating: 0.1, count: 10)))
    }

    @Test func psiOfSampleAgainstItselfIsZero() throws {
        let xs = (0 ..< 500).map { sin(Double($0)) * 10 + Double($0 % 7) }
        let ref = try DriftReference.fit(xs)
        #expect(ref.psi(xs) == 0)
    }

    @Test func psiOfShiftedSampleMatchesPython() throws {
        // python3 -c "import numpy as np; t=np.arange(100.0); a=t+20; e=np.quantile(t,np.arange(1,10)/10)
        //   f=lambda x: np.bincount(np.searchsorted(e,x,side='left'),minlength=10)/len(x)   # side='left': value == edge -> lower bin
        //   fe=f(t); fa=f(a); fe=np.where(fe==0,1e-4,fe); fa=np.where(fa==0,1e-4,fa)
        //   print(repr(float(np.sum((fa-fe)*np.log(fa/fe)))))"
        // fa = [0, 0, .1, .1, .1, .1, .1, .1, .1, .3]; PSI 1.599891962474253
        let train = (0 ..< 100).map(Double.init)
        let ref = try DriftReference.fit(train)
        let shifted = train.map { $0 + 20 }
        #expect(close(ref.fractions(shifted), [0, 0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3]))
        #expect(abs(ref.psi(shifted) - 1.599891962474253) < 1e-12)
    }

    @Test func emptyBinsCountAs00001() throws {
        let ref = try DriftReference.fit((0 ..< 100).map(Double.init))
        let actual = [Double](repeating: 150, count: 10)  // all in the last bin; the other 9 are empty
        // By hand: 9 · (0.0001 − 0.1)·ln(0.0001/0.1) + (1 − 0.1)·ln(1/0.1); numpy gave 8.283089355027482.
        let byHand = 9 * (0.0001 - 0.1) * log(0.0001 / 0.1) + 0.9 * log(10.0)
        #expect(abs(ref.psi(actual) - byHand) < 1e-12)
        #expect(abs(ref.psi(actual) - 8.283089355027482) < 1e-12)
        #expect(DriftReference.psi(expected: [0, 1], actual: [0, 1]) == 0)
        #expect(abs(DriftReference.psi(expected: [0.5, 0.5], actual: [0, 1]) - ((0.0001 - 0.5) * log(0.0001 / 0.5) + 0.5 * log(2.0))) < 1e-12)
    }

    @Test func duplicateEdgesCollapse() throws {
        // python3 -c "import numpy as np; d=np.array([0,0,0,0,0,0,0,1,2,3.0]); print(np.quantile(d, np.arange(1,10)/10))"
        //   -> [0 0 0 0 0 0 0.2999999999999998 1.2000000000000002 2.0999999999999996]; np.unique -> 4 edges
        //   fractions by searchsorted(side='left') -> [0.7, 0, 0.1, 0.1, 0.1]
        let ref = try DriftReference.fit([0, 0, 0, 0, 0, 0, 0, 1, 2, 3])
        #expect(close(ref.edges, [0, 0.2999999999999998, 1.2000000000000002, 2.0999999999999996]))
        #expect(close(ref.expected, [0.7, 0, 0.1, 0.1, 0.1]))
        #expect(ref.psi([0, 0, 0, 0, 0, 0, 0, 1, 2, 3]) == 0)

        let constant = try DriftReference.fit([5, 5, 5])
        #expect(constant.edges == [5])
        #expect(constant.expected == [1, 0])
    }

    @Test func valueOnAnEdgeFallsInTheLowerBin() throws {
        let ref = DriftReference(edges: [1, 2], expected: [0.5, 0.25, 0.25])
        #expect(ref.bin(of: 1) == 0)
        #expect(ref.bin(of: 1.0000001) == 1)
        #expect(ref.bin(of: 2) == 1)
        #expect(ref.bin(of: 2.5) == 2)
        #expect(ref.bin(of: -.infinity) == 0)
        #expect(ref.bin(of: .infinity) == 2)
        let third: Double = 1.0 / 3
        #expect(ref.fractions([1, 2, 3, Double.nan]) == [third, third, third])
        #expect(ref.fractions([]) == [0, 0, 0])
    }

    @Test func fitIgnoresNaNAndThrowsOnEmpty() throws {
        let withNaN = try DriftReference.fit([.nan] + (0 ..< 100).map(Double.init) + [.nan])
        #expect(withNaN == (try DriftReference.fit((0 ..< 100).map(Double.init))))
        #expect(throws: MLError.self) { try DriftReference.fit([]) }
        #expect(throws: MLError.self) { try DriftReference.fit([.nan, .nan]) }
    }

    @Test func codableRoundTrip() throws {
        let ref = try DriftReference.fit((0 ..< 37).map { Double($0 * $0) })
        let data = try JSONEncoder().encode(ref)
        let back = try JSONDecoder().decode(DriftReference.self, from: data)
        #expect(back == ref)
    }
}
