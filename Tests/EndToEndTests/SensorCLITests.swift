import Domain
import Foundation
import Testing
import TestSupport

/// File sensors through the built binary: a marker, `work --once`, the sensor commands and `why`;
/// `ledgerflow work` killed right after markers land; and what `apply` refuses.
@Suite(.timeLimit(.minutes(3))) struct SensorCLITests {
    static let job = """
    kind: job
    name: load
    parameters: {marker: ""}
    stages:
      - {name: s, type: script, command: [sh, -c, "echo \\"$LEDGERFLOW_PARAM_MARKER\\" >> seen.txt"]}
    """

    func write(_ p: RunCLITests.Project, _ relative: String, _ text: String = "") throws {
        let path = p.dir.sub(relative)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    @Test func aMarkerStartsOneRunWithItsNameAndIsExplained() throws {
        let p = try RunCLITests.Project(Self.job + """

        ---
        kind: sensor
        name: drop
        path: incoming
        job: load
        after_run: {move: processed}
        parameters: {marker: "${file.name}"}
        """)
        try write(p, "incoming/2026-12-01.done", "ok")
        try write(p, "incoming/2026-12-01.csv", "a,b\n1,2\n")
        let once = try p.lf(["work", "--once"])
        #expect(once.status == 0, "\(once.stderr)")
        #expect(once.stderr.contains("sensor drop: 2026-12-01.done arrived (2 bytes); run 1 of job load requested"), "\(once.stderr)")
        let runs = try p.runs()
        #expect(runs.count == 1)
        let status = try p.status("1")
        #expect(status["status"] == "succeeded")
        #expect(status["parameters"]?["marker"] == "2026-12-01.done")
        #expect(status["trigger"]?["type"] == "sensor" && status["trigger"]?["file"] == "2026-12-01.done")
        #expect(try String(contentsOfFile: p.dir.sub("seen.txt"), encoding: .utf8) == "2026-12-01.done\n")
        #expect(FileManager.default.fileExists(atPath: p.dir.sub("processed/2026-12-01.done")))
        #expect(!FileManager.default.fileExists(atPath: p.dir.sub("incoming/2026-12-01.done")))

        let list = try p.lf(["sensors", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        let sensor = try #require(try Value(json: list.stdout).arrayValue?.first)
        #expect(sensor["name"] == "drop" && sensor["state"] == "ok" && sensor["error"] == .null)
        #expect(sensor["folder"]?.stringValue?.hasSuffix("/incoming") == true && sensor["pattern"] == "*.done" && sensor["job"] == "load")
        #expect(sensor["arrivals"] == 1)
        #expect(sensor["last_arrival"]?["run"] == "1" && sensor["last_arrival"]?["run_status"] == "succeeded")
        // The engine's status file gave the last poll.
        #expect(sensor["last_poll"]?.stringValue?.hasPrefix("20") == true, "\(list.stdout)")
        let text = try p.lf(["sensors"])
        #expect(text.status == 0 && text.stdout.contains("drop") && text.stdout.contains("2026-12-01.done → run 1 (succeeded)"), "\(text.stdout)")

        let arrivals = try p.lf(["sensors", "arrivals", "drop", "--json"])
        #expect(arrivals.status == 0, "\(arrivals.stderr)")
        let a = try #require(try Value(json: arrivals.stdout).arrayValue?.first)
        #expect(a["file"] == "2026-12-01.done" && a["size"] == 2 && a["run"] == "1" && a["run_status"] == "succeeded")
        #expect(a["mtime"]?.stringValue?.hasSuffix("Z") == true)
        #expect(a["marker"]?["outcome"] == "moved" && a["marker"]?["to"]?.stringValue?.hasSuffix("/processed/2026-12-01.done") == true)
        let arrivalsText = try p.lf(["sensors", "arrivals", "drop"])
        #expect(arrivalsText.stdout.contains("moved to "), "\(arrivalsText.stdout)")

        let unknown = try p.lf(["sensors", "arrivals", "dorp"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr == "ledgerflow: no sensor 'dorp'; did you mean 'drop'?\n", "\(unknown.stderr)")

        let why = try p.lf(["why", "1"])
        #expect(why.status == 0, "\(why.stderr)")
        #expect(why.stdout.contains("← sensor drop v1 saw 2026-12-01.done in ") && why.stdout.contains("(2 bytes, modified 20"), "\(why.stdout)")
        let whyJSON = try Value(json: try p.lf(["why", "1", "--json"]).stdout)
        let step = try #require(whyJSON["chain"]?.arrayValue?.last)
        #expect(step["kind"] == "sensor" && step["data"]?["file"] == "2026-12-01.done" && step["data"]?["size"] == 2)

        // Nothing new: a second --once appends nothing.
        let before = try p.lf(["events", "--json"]).stdout.split(separator: "\n").count
        #expect(try p.lf(["work", "--once"]).status == 0)
        #expect(try p.lf(["events", "--json"]).stdout.split(separator: "\n").count == before)
    }

    /// `ledgerflow work` is killed with SIGKILL right after each marker lands (at a random moment
    /// within 0.5 s: before, during or after its listing and commit) and started again: every
    /// marker still starts exactly one run.
    @Test func aKilledEngineStartsExactlyOneRunPerMarker() throws {
        let p = try RunCLITests.Project(Self.job + """

        ---
        kind: sensor
        name: drop
        path: incoming
        job: load
        poll_interval: 100ms
        parameters: {marker: "${file.stem}"}
        """)
        try FileManager.default.createDirectory(atPath: p.dir.sub("incoming"), withIntermediateDirectories: true)
        var rng = SplitMix64.forRun()
        let markers = 8
        for i in 0 ..< markers {
            let work = try p.startEngine()
            try waitFor("the engine to start (\(rng))") { work.stderr.contains("working on") }
            try write(p, "incoming/m\(i).done")
            Thread.sleep(forTimeInterval: Double.random(in: 0 ... 0.5, using: &rng))
            work.signal(SIGKILL)
            try work.finish()
        }
        let killedUpTo = try Value(json: try p.lf(["audit", "head", "--json"]).stdout)["seq"]?.intValue ?? 0
        let once = try p.lf(["work", "--once"])
        #expect(once.status == 0, "\(once.stderr)")
        let runs = try p.runs()
        let files = runs.compactMap { $0["trigger"]?["file"]?.stringValue }
        #expect(files.sorted() == (0 ..< markers).map { "m\($0).done" }, "one run per marker; \(rng)")
        #expect(runs.count == markers, "\(rng)")
        let arrivals = try Value(json: try p.lf(["sensors", "arrivals", "drop", "--json"]).stdout).arrayValue ?? []
        #expect(arrivals.count == markers, "one arrival per marker; \(rng)")
        // Some arrivals were committed by engines that were then killed (so the restarts had to see them).
        #expect(arrivals.contains { ($0["seq"]?.intValue ?? .max) <= killedUpTo }, "\(rng)")
        let verify = try p.lf(["audit", "verify"])
        #expect(verify.status == 0, "\(verify.stderr); \(rng)")
    }

    @Test(arguments: [
        ("pattern: \"in/*.done\"", 5, "pattern 'in/*.done' of sensor 'bad' contains '/'"),
        ("pattern: \"[a-c.done\"", 5, "has a '[' that is never closed"),
        ("recursive: true\nafter_run: {move: incoming/done}", 6, "is inside the watched folder 'incoming' and the sensor is recursive"),
        ("parameters: {marker: \"${file.nmae}\"}", 5, "unknown placeholder '${file.nmae}'; did you mean '${file.name}'?"),
        ("after_run: {move: .ledgerflow/done}", 5, "after_run move target '.ledgerflow/done' is inside the store"),
        ("poll_interval: 1ms", 5, "below the least of 100ms"),
    ])
    func applyRefusesABadSensorWithItsLineAndAppendsNothing(_ option: String, _ line: Int, _ message: String) throws {
        let p = try RunCLITests.Project(Self.job)
        let head = try p.lf(["events", "--json"]).stdout.split(separator: "\n").count
        try ("kind: sensor\nname: bad\npath: incoming\njob: load\n" + option + "\n").write(toFile: p.dir.sub("bad.yaml"), atomically: true, encoding: .utf8)
        let r = try p.lf(["apply", "bad.yaml"])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 2 && lines[0].hasPrefix("bad.yaml:\(line):") && lines[0].contains(message), "\(r.stderr)")
        #expect(lines.last == "ledgerflow: apply failed: 1 error in 1 file; nothing was appended")
        #expect(try p.lf(["events", "--json"]).stdout.split(separator: "\n").count == head)
    }
}
