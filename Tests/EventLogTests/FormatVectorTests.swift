import Foundation
import Testing
import Domain
@testable import EventLog

/// The stored format checked against vectors made by an independent implementation of its
/// documentation (`tools/format-vectors.py` → `fixtures/format-v1/vectors.json`). A change to the
/// canonical encoding or the chain breaks these: events are a storage format.
@Suite struct FormatVectorTests {
    static let vectors: Value = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures/format-v1/vectors.json")
        guard let data = FileManager.default.contents(atPath: url.path), let v = try? Value(jsonBytes: Array(data)) else { return nil }
        return v
    }()

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func canonicalPayloadEncodingMatchesTheVectors() throws {
        let values = try #require(FormatVectorTests.vectors["values"]?.arrayValue)
        #expect(values.count >= 20)
        for v in values {
            let json = try #require(v["json"]?.stringValue)
            let expected = try #require(v["canonical_hex"]?.stringValue)
            let value = try Value(json: json)
            #expect(FormatVectorTests.hex(value.canonicalBytes) == expected, "\(json)")
            // And back.
            #expect(try Value(canonicalBytes: value.canonicalBytes) == value)
        }
    }

    @Test func chainHashesMatchTheVectors() throws {
        let events = try #require(FormatVectorTests.vectors["chain"]?.arrayValue)
        #expect(events.count == 3)
        var previous = ChainHash.genesis
        for e in events {
            let payload = try Value(json: try #require(e["payload"]?.stringValue)).canonicalBytes
            #expect(FormatVectorTests.hex(payload) == e["payload_canonical_hex"]?.stringValue)
            var header = ByteWriter()
            Chain.canonicalHeader(seq: UInt64(try #require(e["seq"]?.intValue)), recordedAtMicros: try #require(e["recordedAtMicros"]?.intValue),
                                  streamVersion: UInt64(try #require(e["streamVersion"]?.intValue)),
                                  schemaVersion: UInt32(try #require(e["schemaVersion"]?.intValue)),
                                  causation: e["causation"]?.intValue.map { UInt64($0) }, correlation: UInt64(try #require(e["correlation"]?.intValue)),
                                  stream: try #require(e["stream"]?.stringValue), type: try #require(e["type"]?.stringValue),
                                  actor: try #require(e["actor"]?.stringValue), payloadCount: payload.count, into: &header)
            let hash = payload.withUnsafeBytes { Chain.next(previous: previous, header: header.bytes, payload: $0) }
            #expect(hash.hex == e["hash_hex"]?.stringValue, "seq \(e["seq"]?.intValue ?? 0)")
            previous = hash
        }
    }

    @Test func aHandCheckedEncoding() {
        // {"a":1}: object tag, 1 member, key length 1, "a", integer tag, zig-zag 1 = 2.
        #expect((["a": 1] as Value).canonicalBytes == [0x07, 0x01, 0x01, 0x61, 0x03, 0x02])
    }
}
