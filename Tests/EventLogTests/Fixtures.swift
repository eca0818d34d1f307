import Domain

// Temporary directories and stores (`TemporaryDirectory`, `makeLog`) come from TestSupport.

func stageEvent(_ i: Int, run: Int = 1) -> NewEvent {
    NewEvent(type: "StageStarted", payload: ["run": .int(Int64(run)), "stage": .string("stage-\(i % 7)"), "attempt": 1, "worker": .string("w\(i % 3)")])
}
