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

/// A sensor's state as the `engine-streams` snapshot stores it.
@Suite struct SensorStateValueTests {
    @Test func roundTripsArrivalsPendingMarkersAndTheErrorState() throws {
        var state = SensorState()
        var arrived = FileArrived.example
        arrived.file = "in/a.done"
        arrived.run = "4"
        try state.evolve(recorded(7, "sensor/drop", version: 1, arrived.event()))
        var second = FileArrived.example
        second.file = "b.done"
        second.run = "5"
        try state.evolve(recorded(8, "sensor/drop", version: 2, second.event()))
        try state.evolve(recorded(9, "sensor/drop", version: 3, MarkerHandled(sensor: "drop", file: "in/a.done", arrival: 7, run: "4", runStatus: "succeeded", outcome: .kept).event()))
        try state.evolve(recorded(10, "sensor/drop", version: 4, SensorFailed.example.event()))
        #expect(state.pending.count == 1 && state.arrived.count == 2 && state.error != nil)

        let back = try SensorState(state.value)
        #expect(back.value == state.value)
        #expect(back.pending == state.pending && back.arrived == state.arrived && back.error == state.error && back.failedSeq == 10)
        #expect(back.streamVersion == 4 && back.lastSeq == 10 && back.arrivals == 2 && back.lastArrival?.file == "b.done")
        #expect(try SensorState(Value(canonicalBytes: state.value.canonicalBytes)).value == state.value)
        #expect(throws: DecodingFailure.self) { try SensorState(state.value.setting("pending", to: .array([.object([("arrival", "x")])]))) }
    }
}
