import Domain
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 16 through the built binary: outputs that would write over the store, sources that
/// read forever, parameters in shell commands.
@Suite struct HostileOutputTests {
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0 ..< 3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let fixtures: [String] = {
        let dir = (repository as NSString).appendingPathComponent("fixtures/hostile")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasPrefix("output-") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".json")) }.sorted()
    }()

    /// A project folder with a store; `lf` runs the binary in it.
    struct Project {
        let dir = TemporaryDirectory()
        var root: String { dir.path }
        var store: String { dir.sub(".ledgerflow") }

        init(files: [String: String] = [:]) throws {
            for (rel, text) in files {
                let p = dir.sub(rel)
                try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: p, atomically: true, encoding: .utf8)
            }
            #expect(try lf(["init"]).status == 0)
        }

        @discardableResult
        func lf(_ args: [String], cwd: String? = nil, timeout: Double = 60) throws -> RunResult {
            try ledgerflow(args + ["--store", store], cwd: cwd ?? root, timeout: timeout)
        }

        func apply(_ yaml: String) throws {
            try yaml.write(toFile: dir.sub("defs.yaml"), atomically: true, encoding: .utf8)
            let r = try lf(["apply", "defs.yaml"])
            #expect(r.status == 0, "\(r.stderr)")
        }

        /// The store still opens, its chain verifies, and it holds `events` events.
        func expectStoreIntact(events: Int) throws {
            #expect(FileManager.default.fileExists(atPath: dir.sub(".ledgerflow/data.mdb")))
            #expect(try lf(["audit", "verify"]).status == 0)
            let stats = try Value(json: try lf(["stats", "--json"]).stdout)
            #expect(stats["events"]?.intValue ?? 0 >= Int64(events))
        }

        /// The one failed stage attempt's message and reason of run `run`.
        func failure(_ run: String) throws -> (message: String, reason: String) {
            let s = try Value(json: try lf(["status", run, "--json"]).stdout)
            let attempt = s["stages"]?[0]?["attempts"]?.arrayValue?.last
            return (attempt?["message"]?.stringValue ?? attempt?["error"]?.stringValue ?? "\(s)", attempt?["reason"]?.stringValue ?? "")
        }
    }

    @Test(.timeLimit(.minutes(1)), arguments: fixtures)
    func aHostileOutputIsRefusedOnApplyAndNothingIsAppended(_ name: String) throws {
        let p = try Project()
        let relative = "fixtures/hostile/\(name)"
        let expected = try String(contentsOfFile: (Self.repository as NSString).appendingPathComponent(
            "fixtures/hostile/\((name as NSString).deletingPathExtension).expected"), encoding: .utf8)
        let r = try p.lf(["apply", relative], cwd: Self.repository)
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.first == expected.trimmingCharacters(in: .newlines))
        #expect(lines.last == "ledgerflow: apply failed: 1 error in 1 file; nothing was appended")
        let stats = try Value(json: try p.lf(["stats", "--json"]).stdout)
        #expect(stats["events"] == 0)
    }

    static let job = """
    kind: source
    name: tx
    type: csv
    path: in/tx.csv
    ---
    kind: output
    name: bad
    type: jsonl
    path: ${params.dir}
    mode: replace
    ---
    kind: job
    name: j
    parameters: {dir: out}
    stages: [{name: load, type: etl, source: tx, destination: bad}]
    """

    @Test(.timeLimit(.minutes(1)))
    func aReplaceOverTheStoreFailsTheRunAndKeepsTheStore() throws {
        let p = try Project(files: ["in/tx.csv": "id,amount\n1,2\n", "notes.txt": "mine\n"])
        try p.apply(Self.job)
        for dir in [".ledgerflow", ".", "in/../.ledgerflow", "..", "link"] {
            if dir == "link" { try FileManager.default.createSymbolicLink(atPath: p.dir.sub("link"), withDestinationPath: p.store) }
            let r = try p.lf(["run", "j", "--param", "dir=\(dir)"])
            #expect(r.status == 1, "\(dir): \(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("an output may not write into, over or above the store — choose another folder"), "\(dir): \(r.stdout)")
            try p.expectStoreIntact(events: 4)
            #expect(try String(contentsOfFile: p.dir.sub("notes.txt"), encoding: .utf8) == "mine\n")
        }
        // A path that is not the store still works, and a replace keeps the user's files.
        #expect(try p.lf(["run", "j", "--param", "dir=in"]).status == 0)
        #expect(try String(contentsOfFile: p.dir.sub("in/tx.csv"), encoding: .utf8) == "id,amount\n1,2\n")
        let (message, _) = try p.failure("1")
        #expect(message == "output 'bad': path '\(p.store)' is the store; an output may not write into, over or above the store — choose another folder")
    }

    @Test(.timeLimit(.minutes(2)))
    func aCSVLineOverTheLimitFailsNamingFileAndLine() throws {
        let p = try Project()
        try FileManager.default.createDirectory(atPath: p.dir.sub("in"), withIntermediateDirectories: true)
        // One line of 65 MiB, written in pieces.
        FileManager.default.createFile(atPath: p.dir.sub("in/big.csv"), contents: Data("id,text\n1,".utf8))
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: p.dir.sub("in/big.csv")))
        try h.seekToEnd()
        let mib = Data(repeating: UInt8(ascii: "x"), count: 1 << 20)
        for _ in 0 ..< 65 { try h.write(contentsOf: mib) }
        try h.write(contentsOf: Data("\n".utf8))
        try h.close()
        try p.apply("""
        kind: source
        name: big
        type: csv
        path: in/big.csv
        ---
        kind: output
        name: out
        type: jsonl
        path: out
        ---
        kind: job
        name: j
        stages: [{name: load, type: etl, source: big, destination: out}]
        """)
        #expect(try p.lf(["run", "j"], timeout: 110).status == 1)
        let (message, reason) = try p.failure("1")
        #expect(message == "\(p.dir.sub("in/big.csv")), line 2: a record longer than 64 MiB, the most ledgerflow reads in one CSV record; split it, or close the quoted field that runs on")
        #expect(reason == "error")
        #expect(!FileManager.default.fileExists(atPath: p.dir.sub("out")))
    }

    @Test(.timeLimit(.minutes(1)))
    func anEndlessCSVReadStopsAtTheStageTimeout() throws {
        let p = try Project()
        try FileManager.default.createDirectory(atPath: p.dir.sub("in"), withIntermediateDirectories: true)
        let fifo = p.dir.sub("in/endless.csv")
        #expect(mkfifo(fifo, 0o600) == 0)
        try p.apply("""
        kind: source
        name: endless
        type: csv
        path: in/endless.csv
        ---
        kind: output
        name: out
        type: jsonl
        path: out
        ---
        kind: job
        name: j
        stages: [{name: load, type: etl, source: endless, destination: out, timeout: 1s}]
        """)
        // Feed the pipe until the reader goes away (or 128 MiB).
        signal(SIGPIPE, SIG_IGN)
        let cap = 128 << 20
        let written = Locked(0)
        let done = DispatchSemaphore(value: 0)
        let chunk = Array(("a,b,c\n" + String(repeating: "1,2,3\n", count: 10_000)).utf8)
        Thread.detachNewThread {
            let fd = open(fifo, O_WRONLY)
            defer { if fd >= 0 { close(fd) }; done.signal() }
            guard fd >= 0 else { return }
            while written.withLock({ $0 }) < cap {
                let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n <= 0 { return }
                written.withLock { $0 += n }
            }
        }
        let r = try p.lf(["run", "j"])
        let unblock = open(fifo, O_RDONLY | O_NONBLOCK)
        if unblock >= 0 { close(unblock) }
        done.wait()
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let (message, reason) = try p.failure("1")
        #expect(reason == "timeout", "\(message)")
        let total = written.withLock { $0 }
        #expect(total < cap, "the read stopped at the timeout: \(total) bytes written to the pipe")
    }

    @Test(.timeLimit(.minutes(1)))
    func aHostileParameterReachesTheShellAsText() throws {
        let p = try Project()
        try p.apply("""
        kind: job
        name: j
        parameters: {x: hi}
        stages: [{name: s, type: script, command: [sh, -c, "printf '%s' ${params.x} > said.txt"]}]
        """)
        let value = "$(touch pwned); touch pwned2 `touch pwned3` ' \""
        #expect(try p.lf(["run", "j", "--param", "x=\(value)"]).status == 0)
        #expect(try String(contentsOfFile: p.dir.sub("said.txt"), encoding: .utf8) == value)
        for f in ["pwned", "pwned2", "pwned3"] { #expect(!FileManager.default.fileExists(atPath: p.dir.sub(f))) }
    }
}
