import Domain
import EventLog
import Foundation
@testable import Projections
import Testing
import TestSupport

/// The on-disk index of predictions by model and entity agrees with reading every prediction, as
/// of any seq, whether the table covers all, some or none of the log.
@Suite(.timeLimit(.minutes(1))) struct PredictionIndexTests {
    /// The newest prediction per entity of `model` up to `through`, by reading them all.
    func bruteForce(_ log: EventLog, model: String, entities: Set<String>, through: UInt64) throws -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for e in try log.read(type: PredictionRecorded.type) where e.seq <= through {
            let p = try e.decode(PredictionRecorded.self)
            if p.model == model && entities.contains(p.entity) { out[p.entity] = e.seq }
        }
        return out
    }

    @Test func lookupsAgreeWithAFullReadAsOfEverySeqAndCoverage() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        // Two models, entities scored several times, other events between, and two entities over
        // the key limit that share their first 400 bytes.
        let long = String(repeating: "x", count: 450)
        let entities = ["c1", "c2", "c3", "c4", long + "a", long + "b"]
        var rng = SplitMix64(seed: 7)
        for batch in 0 ..< 30 {
            var events: [NewEvent] = []
            for _ in 0 ..< 5 {
                let model = rng.next() % 3 == 0 ? "other" : "churn"
                let entity = entities[Int(rng.next() % UInt64(entities.count))]
                events.append(PredictionRecorded(run: "\(batch)", stage: "score", attempt: 1, model: model, modelVersion: UInt64(batch / 10 + 1),
                                                 entity: entity, outputs: .object([("p", .double(Double(batch) / 30))])).event())
            }
            try log.append(events, to: MLEvents.stream(predictionsOfRun: "\(batch)"))
            try log.append([NewEvent(type: "RunRequested", payload: ["job": "x"])], to: "run/\(batch)")
        }
        let head = try log.lastSeq()
        let wanted = Set(entities + ["never-scored"])
        func check(_ label: String) throws {
            for through in stride(from: UInt64(1), through: head, by: 7) + [head] {
                for model in ["churn", "other", "absent"] {
                    let got = try PredictionIndex.latest(log, model: model, entities: wanted, through: through).mapValues(\.seq)
                    let want = try bruteForce(log, model: model, entities: wanted, through: through)
                    #expect(got == want, "\(label): model \(model) through \(through)")
                }
            }
        }
        try check("no table")
        // Part of the log indexed (chunks of 20 predictions, 3 chunks), then all of it.
        #expect(try PredictionIndex.catchUp(log, chunk: 20, maxChunks: 3) == 60)
        #expect(try log.checkpoint(PredictionIndex.checkpoint) < head)
        try check("table covers part")
        #expect(try PredictionIndex.catchUp(log) == 90)
        #expect(try log.checkpoint(PredictionIndex.checkpoint) == head)
        try check("table covers all")
        // Folding again adds nothing; a rebuild gives the same answers.
        #expect(try PredictionIndex.catchUp(log) == 0)
        #expect(try PredictionIndex.rebuild(log) == 150)
        try check("rebuilt")
        // The answers carry the prediction itself.
        let one = try #require(try PredictionIndex.latest(log, model: "churn", entities: [long + "b"], through: head)[long + "b"])
        #expect(one.event.entity == long + "b" && one.event.model == "churn")
    }

    @Test func aPredictionThatDoesNotDecodeStopsTheIndexAtTheSeqBeforeIt() throws {
        let (log, dir) = try makeLog()
        defer { withExtendedLifetime(dir) {} }
        try log.append([PredictionRecorded(run: "1", stage: "s", attempt: 1, model: "m", modelVersion: 1, entity: "e", outputs: .object([])).event()],
                       to: "predictions/1")
        try log.append([NewEvent(type: PredictionRecorded.type, payload: ["model": "m"])], to: "predictions/2")
        #expect(throws: DecodingFailure.self) { try PredictionIndex.catchUp(log) }
        #expect(try log.checkpoint(PredictionIndex.checkpoint) == 1)
    }
}
