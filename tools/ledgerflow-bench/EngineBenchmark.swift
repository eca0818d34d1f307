import Catalog
import Engine
import Domain
import EventLog
import Executors
import Foundation
import Runs

/// `ledgerflow-bench engine`: how long the engine takes per stage, every transition (queued,
/// started, succeeded, run finished) a durable event: (a) a chain of no-op stages, (b) the same
/// number fanned out and joined, (c) a chain of script stages running `true`. The raw baseline,
/// measured in the same run on the same kind of store: one durable append of one small event.
enum EngineBenchmark {
    /// A stage that does nothing (the engine's own cost).
    struct NoOp: StageExecutor {
        func run(_ context: StageContext) throws(StageError) -> StageResult { StageResult() }
    }

    static func run(_ o: Options) throws {
        let stages = max(2, try o.int("stages", default: 200))
        let scripts = max(1, try o.int("scripts", default: 50))
        let repeats = max(1, try o.int("repeat", default: 3))
        let base = o.string("dir") ?? FileManager.default.temporaryDirectory.path

        var chain: [Double] = [], fan: [Double] = [], script: [Double] = [], commit: [Double] = []
        for _ in 0..<repeats {
            commit.append(try baseline(base: base, appends: stages))
            chain.append(try measure(base: base, yaml: job(stages, fan: false, command: "true"), executor: NoOp()) / Double(stages))
            fan.append(try measure(base: base, yaml: job(stages, fan: true, command: "true"), executor: NoOp()) / Double(stages))
            script.append(try measure(base: base, yaml: job(scripts, fan: false, command: "true"), executor: ScriptExecutor()) / Double(scripts))
        }
        let m = (commit: median(commit), chain: median(chain), fan: median(fan), script: median(script))
        if o.flag("json") {
            print(Value.object([("chain_ms_per_stage", .double(m.chain)), ("fanout_ms_per_stage", .double(m.fan)),
                                ("script_ms_per_stage", .double(m.script)), ("baseline_durable_append_ms", .double(m.commit)),
                                ("stages", .int(Int64(stages))), ("script_stages", .int(Int64(scripts))), ("repeat", .int(Int64(repeats)))]).jsonString)
            return
        }
        print("engine benchmark: durable store, median of \(repeats) runs")
        print(String(format: "  baseline: one durable append of one event      %8.3f ms", m.commit))
        print(String(format: "  (a) %d no-op stages in a chain                %8.3f ms per stage (%.2f× the baseline append; target ≤ 0.2)", stages, m.chain, m.chain / m.commit))
        print(String(format: "  (b) %d no-op stages fanned out and joined     %8.3f ms per stage (%.2f× the baseline append; target ≤ 0.2)", stages, m.fan, m.fan / m.commit))
        print(String(format: "  (c) %d script stages running `true`, chained  %8.3f ms per stage (%.2f× the baseline append; target ≤ 5)", scripts, m.script, m.script / m.commit))
    }

    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    /// A job of `n` script stages: a chain, or one root, n-2 in parallel after it, and a join.
    static func job(_ n: Int, fan: Bool, command: String) -> String {
        var lines = ["kind: job", "name: bench", "stages:"]
        for i in 0..<n {
            var after = ""
            if i > 0 {
                if !fan { after = ", after: [s\(i - 1)]" } else if i < n - 1 { after = ", after: [s0]" } else {
                    after = ", after: [" + (1..<(n - 1)).map { "s\($0)" }.joined(separator: ", ") + "]"
                }
            }
            lines.append("  - {name: s\(i), type: script, command: [\(command)]\(after)}")
        }
        return lines.joined(separator: "\n")
    }

    static func store(_ base: String) throws -> (EventLog, String) {
        let root = (base as NSString).appendingPathComponent("ledgerflow-bench-engine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let path = root + "/.ledgerflow"
        return (try EventLog.create(at: path), root)
    }

    /// Milliseconds for one run of the job in `yaml`, from request to the run's finish.
    static func measure(base: String, yaml: String, executor: any StageExecutor) throws -> Double {
        let (log, root) = try store(base)
        defer {
            log.close()
            try? FileManager.default.removeItem(atPath: root)
        }
        let (defs, errors) = DefinitionLoader.load(text: yaml, file: "bench.yaml")
        guard errors.isEmpty else { throw UsageError("bench job: \(errors)") }
        try log.append(ApplyPlan.decide(catalog: CatalogState(), definitions: defs, prune: false, message: nil).appends, actor: "bench")
        var options = Engine.Options()
        options.workers = 4
        options.registry = ExecutorRegistry(["script": executor])
        let engine = Engine(log: log, store: root + "/.ledgerflow", options: options)
        let started = DispatchTime.now()
        let id = try RunCommands.request(log, job: "bench", trigger: RunTrigger(.manual), actor: "bench")
        let state = try engine.run { $0.runs[id]?.status.isFinished == true }
        let ms = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
        guard state.runs[id]?.status == .succeeded else { throw UsageError("the bench run did not succeed: \(state.runs[id]?.status.rawValue ?? "?")") }
        return ms
    }

    /// Milliseconds per durable append of one small event, one after the other.
    static func baseline(base: String, appends: Int) throws -> Double {
        let (log, root) = try store(base)
        defer {
            log.close()
            try? FileManager.default.removeItem(atPath: root)
        }
        let started = DispatchTime.now()
        for i in 0..<appends {
            try log.append([NewEvent(type: "StageQueued", payload: ["stage": .string("s\(i)"), "attempt": 1])], to: "run/1", actor: "bench")
        }
        return Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6 / Double(appends)
    }
}
