import Domain
import Models
import Testing

/// The schedule streams' state as the engine's `engine-streams` snapshot stores it: it decodes to
/// the state it encoded, leaves out a stream it could not read, and a malformed one fails.
@Suite struct ScheduleStateValueTests {
    @Test func roundTripsTicksSkipsAndTheQueue() throws {
        var state = ScheduleState()
        var tick = ScheduleTicked.example
        tick.schedule = "hourly"
        tick.run = "7"
        state.evolve(recorded(10, "schedule/hourly", version: 1, tick.event()))
        var skipped = ScheduleTickSkipped.example
        skipped.schedule = "hourly"
        state.evolve(recorded(11, "schedule/hourly", version: 2, skipped.event()))
        // A queued tick waiting for run 7, on another schedule.
        var queued = ScheduleTicked.example
        queued.schedule = "model:churn"
        queued.run = nil
        queued.queued = true
        queued.waitingFor = "7"
        state.evolve(recorded(12, "schedule/model:churn", version: 1, queued.event()))
        #expect(state["hourly"].ticked == 1 && state["hourly"].skipped == skipped.count && state["model:churn"].queued.count == 1)

        let back = try ScheduleState(state.value)
        #expect(back == state)
        #expect(try ScheduleState(Value(canonicalBytes: state.value.canonicalBytes)) == state)
        #expect(try ScheduleState(ScheduleState().value) == ScheduleState())
    }

    @Test func aStreamThatDidNotReadIsLeftOutAndAMalformedValueFails() throws {
        var state = ScheduleState()
        state.evolve(RecordedEvent(seq: 5, recordedAtMicros: 5, stream: "schedule/broken", streamVersion: 1, type: ScheduleTicked.type,
                                   correlation: 5, payload: .object([("schedule", "broken")])))
        #expect(state["broken"].unreadable != nil)
        #expect(try ScheduleState(state.value).schedules.isEmpty)
        let malformed = Value.object([("hourly", .object([("version", "one")]))])
        #expect(throws: DecodingFailure.self) { try ScheduleState(malformed) }
    }
}
