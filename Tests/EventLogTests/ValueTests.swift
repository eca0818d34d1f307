import Foundation
import Testing
import Domain
@testable import EventLog
import TestSupport

@Suite struct ValueTests {
    static let samples: [Value] = [
        nil, true, false, 0, 1, -1, .int(Int64.max), .int(Int64.min), 0.5, -0.0, 0.8731, 1e-300, 1e300, 123456.789,
        .double(.nan), .double(.infinity), .double(-.infinity), .double(0.1 + 0.2), "", "a", "naïve ☃ 🚀", [], [1, [2, [3]]],
        [:], ["b": 1, "a": ["z": nil, "y": [true]]],
    ]

    @Test(arguments: samples)
    func binaryRoundTrip(_ v: Value) throws {
        let bytes = v.canonicalBytes
        let back = try Value(canonicalBytes: bytes)
        if case .double(let d) = v, d.isNaN {
            #expect(back.doubleValue?.isNaN == true)
        } else {
            #expect(back == v)
            if case .double(let d) = v, case .double(let e) = back { #expect(d.bitPattern == e.bitPattern) }
        }
        #expect(back.canonicalBytes == bytes)
    }

    @Test func doublesRoundTripBitForBit() throws {
        var rng = SplitMix64.forRun()
        for _ in 0 ..< 20_000 {
            let d: Double
            switch rng.next() % 3 {
            case 0: d = Double(bitPattern: rng.next())
            case 1: d = Double(Int.random(in: -99999 ... 99999, using: &rng)) / 10000
            default: d = Double.random(in: 0 ... 1, using: &rng)
            }
            guard d.isFinite else { continue }
            let back = try Value(canonicalBytes: Value.double(d).canonicalBytes)
            #expect(back.doubleValue?.bitPattern == d.bitPattern, "\(d) (bits \(String(d.bitPattern, radix: 16))), \(rng)")
        }
        #expect(Value.double(0.8731).canonicalBytes.count == 5) // tag, 3-byte mantissa, exponent (not 9)
    }

    @Test func objectsAreCanonicalWhateverTheOrder() {
        let a = Value.object([("b", 1), ("a", 2)])
        let b = Value.members([.init("b", 1), .init("a", 2)]) // built out of order by hand
        #expect(a.canonicalBytes == b.canonicalBytes)
        #expect(a.objectMembers?.map(\.key) == ["a", "b"])
        #expect(Value.object([("k", 1), ("k", 2)])["k"] == 2)
    }

    @Test func jsonRoundTrip() throws {
        let v: Value = ["text": "line\nbreak \"q\" \\ \u{01}", "n": -12, "d": 2.5, "list": [nil, true], "o": ["x": []]]
        let json = v.jsonString
        #expect(json == #"{"d":2.5,"list":[null,true],"n":-12,"o":{"x":[]},"text":"line\nbreak \"q\" \\ \u0001"}"#)
        #expect(try Value(json: json) == v)
        #expect(try Value(json: #" {"a" : [1, 2.0e1, "\u00e9\ud83d\ude80"]} "#) == ["a": [1, 20.0, "é🚀"]])
        #expect(throws: JSONSyntaxError.self) { try Value(json: "{\"a\":}") }
        #expect(throws: JSONSyntaxError.self) { try Value(json: "[1,2") }
        #expect(Value.double(.nan).jsonString == "null")
        // Escaping is byte-wise on ASCII only: multi-byte characters pass through, control
        // characters become \u00xx, and the String writer gives the same text.
        let mixed: Value = ["é\t🚀\u{1F}\r": "naïve \"x\"\u{7F}\u{0}"]
        #expect(mixed.jsonString == #"{"é\t🚀\u001f\r":"naïve \"x\"\#u{7F}\u0000"}"#)
        #expect(try Value(json: mixed.jsonString) == mixed)
        var viaString = "["
        Value.writeJSON(mixed, into: &viaString)
        #expect(viaString == "[" + mixed.jsonString)
    }

    @Test func truncatedOrGarbageBytesThrow() {
        let bytes = (["a": [1, 2, "three"]] as Value).canonicalBytes
        for n in 0 ..< bytes.count {
            #expect(throws: (any Error).self) { try Value(canonicalBytes: Array(bytes.prefix(n))) }
        }
        #expect(throws: (any Error).self) { try Value(canonicalBytes: [99]) }
        #expect(throws: (any Error).self) { try Value(canonicalBytes: bytes + [0]) }
    }

    @Test func timestamps() {
        #expect(Timestamp.rfc3339(micros: 0) == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp.rfc3339(micros: 1_795_314_667_123_456) == "2026-11-22T02:31:07.123456Z")
        #expect(Timestamp.parse("2026-11-22T02:31:07.123456Z") == 1_795_314_667_123_456)
        #expect(Timestamp.parse("2026-11-22") == 1_795_305_600_000_000)
        #expect(Timestamp.parse("2026-11-22T03:31:07.5+01:00") == 1_795_314_667_500_000)
        #expect(Timestamp.parse("yesterday") == nil)
        #expect(Timestamp.parse("2026-13-01") == nil)
    }
}
