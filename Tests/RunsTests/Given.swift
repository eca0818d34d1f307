import Domain
@testable import Runs

/// A tiny in-memory log for given/when/then: events appended here get seqs, stream versions and
/// times as the real log would give them, and fold into a `RunsState`. No storage.
struct Given {
    var state = RunsState()
    var events: [RecordedEvent] = []
    var versions: [String: UInt64] = [:]
    var now: Int64 = 1_000_000_000

    mutating func record(_ new: [NewEvent], stream: String) {
        for e in new {
            let seq = UInt64(events.count + 1)
            let v = (versions[stream] ?? 0) + 1
            versions[stream] = v
            let r = RecordedEvent(seq: seq, recordedAtMicros: now, stream: stream, streamVersion: v, type: e.type,
                                  causation: e.causation, correlation: e.correlation, payload: e.payload)
            events.append(r)
            state.evolve(r)
        }
    }

    mutating func record(_ e: NewEvent, run: String) { record([e], stream: RunEvents.stream(run: run)) }
    mutating func record(_ e: [NewEvent], run: String) { record(e, stream: RunEvents.stream(run: run)) }

    /// Requests a run of a job with these stages (`name` or `name<-a,b`), returns its id.
    @discardableResult
    mutating func requested(_ stages: [String], retry: [String: Int] = [:], job: String = "j", maxParallel: Int? = nil,
                            reuse: [String: (run: String, attempt: Int)] = [:], extra: [String: [(String, Value)]] = [:]) throws -> String {
        var specStages: [Value] = []
        for s in stages {
            let parts = s.split(separator: "<")
            let name = String(parts[0])
            let after = parts.count > 1 ? parts[1].dropFirst().split(separator: ",").map { Value.string(String($0)) } : []
            var m: [(String, Value)] = [("name", .string(name)), ("type", .string("script")), ("after", .array(after))]
            if let n = retry[name] { m.append(("retry", .object([("attempts", .int(Int64(n))), ("backoff", .string("5s"))]))) }
            m += extra[name] ?? []
            specStages.append(.object(m))
        }
        var spec: [(String, Value)] = [("stages", .array(specStages)), ("parameters", .object([("day", .string("monday"))]))]
        if let maxParallel { spec.append(("max_parallel", .int(Int64(maxParallel)))) }
        let (id, e) = try RunDecider.request(state, .init(job: job, jobVersion: 1, jobSpec: .object(spec), catalogSeq: 7,
                                                          trigger: RunTrigger(.manual), reuse: reuse))
        record(e, run: id)
        return id
    }

    /// Lets the scheduler decide for run `id` and records what it decided; returns the types.
    @discardableResult
    mutating func schedule(_ id: String) -> [String] {
        let out = Scheduler.advance(state.runs[id]!, nowMicros: now)
        record(out, run: id)
        return out.map { "\($0.type) \($0.payload["stage"]?.stringValue ?? "")".trimmingCharacters(in: .whitespaces) }
    }

    mutating func start(_ id: String, _ stage: String) throws {
        record(try StageDecider.start(state.runs[id]!, stage: stage, engine: "e1"), run: id)
    }

    @discardableResult
    mutating func complete(_ id: String, _ stage: String, _ outcome: StageOutcome) throws -> [String] {
        let attempt = state.runs[id]!.stage(stage)!.attempts.last!.number
        let out = try StageDecider.complete(state.runs[id]!, stage: stage, attempt: attempt, outcome: outcome, nowMicros: now)
        record(out, run: id)
        return out.map(\.type)
    }

    func status(_ id: String, _ stage: String) -> StageStatus? { state.runs[id]?.stage(stage)?.status }
}

let ok = StageOutcome.succeeded(outputs: nil, datasets: [])
let boom = StageOutcome.failed(reason: "error", error: "exit code 1")
