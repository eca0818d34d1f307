import Domain
import Foundation
import Testing

/// Every typed event: its example round-trips, its documentation names exactly the fields it
/// writes, a missing or mistyped required field fails naming the type and the field, and
/// docs/events.md holds the generated reference.
@Suite struct EventTypeTests {
    static let names = EventReference.all.map { $0.type }

    @Test(arguments: names) func exampleRoundTrips(_ name: String) throws {
        let t = try #require(EventReference.type(named: name))
        try roundTrip(t)
    }

    @Test(arguments: names) func documentationNamesEveryFieldWritten(_ name: String) throws {
        let t = try #require(EventReference.type(named: name))
        let written = Set(t.examplePayload.objectMembers?.map(\.key) ?? [])
        let documented = Set(t.documentation.fields.map(\.name))
        #expect(written == documented, "\(name): written \(written.sorted()), documented \(documented.sorted())")
    }

    @Test(arguments: names) func requiredFieldsAreRequired(_ name: String) throws {
        let t = try #require(EventReference.type(named: name))
        let payload = t.examplePayload
        // A field written always but possibly null ("… or null") reads as null when absent.
        for field in t.documentation.fields where field.required && !field.type.hasSuffix("or null") {
            let failure = t.decodingFailure(payload.removing(field.name))
            #expect(failure?.eventType == name && failure?.field == field.name, "\(name) without \(field.name): \(String(describing: failure))")
            // The wrong JSON type fails too (a list where no field of ours takes one at the top, else an object).
            let wrong: Value = field.type.hasPrefix("list") ? .object([]) : .array([])
            let mistyped = t.decodingFailure(payload.setting(field.name, to: wrong))
            #expect(mistyped?.field == field.name, "\(name) with \(field.name) mistyped: \(String(describing: mistyped))")
        }
    }

    @Test func failuresNameTypeSeqFieldAndWhatWasFound() throws {
        let e = RecordedEvent(seq: 77, recordedAtMicros: 0, stream: "run/1", streamVersion: 2, type: StageFailed.type,
                              payload: ["stage": "score", "attempt": "two", "reason": "error", "error": "x", "retry": false])
        #expect(throws: DecodingFailure.self) { try e.decode(StageFailed.self) }
        do {
            _ = try e.decode(StageFailed.self)
        } catch {
            #expect(error.description == "StageFailed at seq 77: field 'attempt' should be an integer, found the text \"two\"")
        }
    }

    @Test func nestedFailuresNameThePath() throws {
        var payload = RunRequested.example.payload
        payload = payload.setting("stages", to: [["name": "a", "type": "etl", "after": ["b", 3]]])
        do {
            _ = try RunRequested(payload)
            Issue.record("a plan with a numeric stage name in after decoded")
        } catch {
            #expect(error.field == "stages[0].after[1]")
        }
    }

    @Test func docsHoldTheGeneratedReference() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let docs = try String(contentsOf: root.appendingPathComponent("docs/events.md"), encoding: .utf8)
        #expect(docs.contains(EventReference.markdown()), "regenerate with `ledgerflow events schema --markdown`")
    }

    private func roundTrip<E: DomainEvent>(_: E.Type) throws {
        let decoded = try E(E.example.payload)
        #expect(decoded == E.example)
        #expect(decoded.payload.canonicalBytes == E.example.payload.canonicalBytes)
        #expect(E.example.event().type == E.type && E.example.event().schemaVersion == E.schema)
    }
}

extension DomainEvent {
    static var examplePayload: Value { example.payload }
    static func decodingFailure(_ payload: Value) -> DecodingFailure? {
        do {
            _ = try Self(payload)
            return nil
        } catch {
            return error
        }
    }
}
