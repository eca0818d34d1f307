import Catalog
import Domain
import Foundation
import TestSupport
import Testing
@testable import Executors
#if canImport(Glibc)
import Glibc
#endif

/// Issue 16: hostile definitions, parameters and files.
@Suite(.timeLimit(.minutes(1))) struct StoreGuardTests {
    let source: Value = ["type": "csv", "path": "in/tx.csv"]

    /// A sandbox with a source file and a marker inside the store.
    func sandbox() throws -> Sandbox {
        let s = try Sandbox()
        try s.write("in/tx.csv", "id,amount\n1,2\n")
        try s.write(".ledgerflow/data.mdb", "the log\n")
        try FileManager.default.createSymbolicLink(atPath: s.root + "/link", withDestinationPath: s.root + "/.ledgerflow")
        try FileManager.default.createSymbolicLink(atPath: s.root + "/up", withDestinationPath: "in/..")
        return s
    }

    /// The store and the project are as they were.
    func expectIntact(_ s: Sandbox) {
        #expect(s.read(".ledgerflow/data.mdb") == "the log\n")
        #expect(s.read("in/tx.csv") == "id,amount\n1,2\n")
        let hidden = (try? FileManager.default.contentsOfDirectory(atPath: s.root).filter { $0.hasPrefix(".") && $0 != ".ledgerflow" }) ?? []
        #expect(hidden.isEmpty, "no temporary folders left: \(hidden)")
    }

    @Test(arguments: [
        (".ledgerflow", "is the store"), (".", "holds the store"), ("..", "holds the store"), ("/", "holds the store"),
        (".ledgerflow/parts", "is inside the store"), ("in/../.ledgerflow", "is the store"), ("link", "is the store"),
        ("link/x", "is inside the store"), ("up", "holds the store"), ("${params.dir}", "is the store"),
        ("./in/../.ledgerflow/./runs/../x", "is inside the store"),
    ])
    func aReplaceOutputMayNotTouchTheStore(_ path: String, _ phrase: String) throws {
        for type in ["jsonl", "csv"] {
            let s = try sandbox()
            let out: Value = ["type": .string(type), "path": .string(path), "mode": "replace"]
            let spec: Value = ["name": "load", "type": "etl", "source": "tx", "destination": "bad"]
            let ctx = s.context(spec, defs: [(.source, "tx", source), (.output, "bad", out)], params: ["dir": ".ledgerflow"])
            #expect {
                try ETLExecutor().run(ctx)
            } throws: { e in
                let m = (e as? StageError)?.message ?? ""
                return m.hasPrefix("output 'bad': path '") && m.hasSuffix("' \(phrase); an output may not write into, over or above the store — choose another folder")
            }
            expectIntact(s)
        }
    }

    @Test(arguments: [".ledgerflow", ".ledgerflow/w.sqlite", "link/w.sqlite", ".", "${params.dir}/w.sqlite"])
    func aSQLiteOutputMayNotTouchTheStore(_ database: String) throws {
        let s = try sandbox()
        let out: Value = ["type": "sqlite", "database": .string(database), "table": "t", "mode": "replace"]
        let spec: Value = ["name": "load", "type": "etl", "source": "tx", "destination": "bad"]
        #expect {
            try ETLExecutor().run(s.context(spec, defs: [(.source, "tx", source), (.output, "bad", out)], params: ["dir": ".ledgerflow"]))
        } throws: { e in
            ((e as? StageError)?.message ?? "").hasSuffix("; an output may not write into, over or above the store — choose another folder")
        }
        expectIntact(s)
        #expect(!FileManager.default.fileExists(atPath: s.root + "/.ledgerflow/w.sqlite"))
    }

    @Test func aPartitionFolderThatLinksIntoTheStoreIsRefused() throws {
        let s = try sandbox()
        try FileManager.default.createDirectory(atPath: s.root + "/lake/tx", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: s.root + "/lake/tx/id=1", withDestinationPath: s.root + "/.ledgerflow")
        let out: Value = ["type": "jsonl", "path": "lake/tx", "mode": "append", "partition_by": ["id"]]
        let spec: Value = ["name": "load", "type": "etl", "source": "tx", "destination": "lake"]
        #expect(throws: StageError.self) { try ETLExecutor().run(s.context(spec, defs: [(.source, "tx", source), (.output, "lake", out)])) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.root + "/.ledgerflow") == ["data.mdb"])
    }

    @Test(arguments: [".ledgerflow/data.mdb", ".ledgerflow", "link/data.mdb"])
    func aSourceMayNotReadFromTheStore(_ path: String) throws {
        let s = try sandbox()
        let src: Value = ["type": "csv", "path": .string(path), "pattern": "*"]
        let spec: Value = ["name": "load", "type": "etl", "source": "logs", "destination": "out"]
        let out: Value = ["type": "jsonl", "path": "out"]
        #expect {
            try ETLExecutor().run(s.context(spec, defs: [(.source, "logs", src), (.output, "out", out)]))
        } throws: { e in
            ((e as? StageError)?.message ?? "").hasSuffix("; a source may not read from the store — choose another folder")
        }
    }

    @Test func aReplaceOverAUsersFileIsRefusedAndTheFileKept() throws {
        let s = try sandbox()
        let out: Value = ["type": "jsonl", "path": "in/tx.csv", "mode": "replace"]
        let spec: Value = ["name": "load", "type": "etl", "source": "tx", "destination": "bad"]
        #expect(throws: StageError("output 'bad': \(s.root)/in/tx.csv is a file, not a folder; jsonl outputs write folders of part files — choose a folder")) {
            try ETLExecutor().run(s.context(spec, defs: [(.source, "tx", source), (.output, "bad", out)]))
        }
        expectIntact(s)
    }

    @Test func aReplaceOfTheSourcesFolderKeepsTheSources() throws {
        let s = try sandbox()
        let out: Value = ["type": "csv", "path": "in", "mode": "replace"]
        let spec: Value = ["name": "load", "type": "etl", "source": "tx", "destination": "in"]
        _ = try ETLExecutor().run(s.context(spec, defs: [(.source, "tx", source), (.output, "in", out)]))
        #expect(s.read("in/tx.csv") == "id,amount\n1,2\n")
        #expect(s.read("in/part-run1-load-a1.csv") == "id,amount\n1,2\n")
        expectIntact(s)
    }

    @Test func theApplyCheckResolvesPathsAgainstTheProjectFolder() throws {
        let s = try sandbox()
        let store = s.root + "/.ledgerflow"
        let storeC = StoreGuard.canonical(store, relativeTo: "/")
        #expect(StoreGuard.staticConflict(".ledgerflow", root: s.root, store: storeC) == .isStore)
        #expect(StoreGuard.staticConflict("data", root: s.root, store: storeC) == nil)
        #expect(StoreGuard.staticConflict("link/x", root: s.root, store: storeC) == .insideStore)
        #expect(StoreGuard.staticConflict(".ledgerflow/${params.x}", root: s.root, store: storeC) == .insideStore)
        #expect(StoreGuard.staticConflict("${params.x}", root: s.root, store: storeC) == nil, "checked at run time")
        #expect(StoreGuard.staticConflict("out/${params.x}", root: s.root, store: storeC) == nil)
        #expect(StoreGuard.staticConflict(".ledgerflowx", root: s.root, store: storeC) == nil)
    }
}

@Suite(.timeLimit(.minutes(1))) struct LongReadTests {
    @Test func aCSVRecordOverTheLimitFailsNamingFileAndLine() throws {
        let s = try Sandbox()
        try s.write("a.csv", "id,text\n1,short\n2," + String(repeating: "x", count: 5000) + "\n3,z\n")
        #expect(throws: StageError("\(s.root)/a.csv, line 3: a record longer than 1000 bytes, the most ledgerflow reads in one CSV record; split it, or close the quoted field that runs on")) {
            try CSV.read(file: s.root + "/a.csv", limit: 1000)
        }
        // An unclosed quote runs on to the limit too.
        try s.write("b.csv", "id,text\n1,\"open\n" + String(repeating: "y,\n", count: 1000))
        #expect(throws: StageError("\(s.root)/b.csv, line 2: a record longer than 1000 bytes, the most ledgerflow reads in one CSV record; split it, or close the quoted field that runs on")) {
            try CSV.read(file: s.root + "/b.csv", limit: 1000)
        }
        #expect(ReadLimits.maxRecordBytes == 64 << 20)
        #expect(try CSV.read(file: s.root + "/a.csv").rows.count == 3)
    }

    @Test func aJSONLineOverTheLimitFailsNamingFileAndLine() throws {
        let s = try Sandbox()
        try s.write("a.jsonl", "{\"a\":1}\n\n{\"a\":\"" + String(repeating: "x", count: 5000) + "\"}\n")
        #expect(throws: StageError("\(s.root)/a.jsonl, line 3: a line longer than 1000 bytes, the most ledgerflow reads in one JSON Lines record; split the record")) {
            try JSONLines.read(file: s.root + "/a.jsonl", limit: 1000)
        }
        #expect(try JSONLines.read(file: s.root + "/a.jsonl").rows.count == 2)
    }

    @Test func aSQLiteValueOverTheLimitFails() throws {
        let s = try Sandbox()
        _ = try s.sqlite("d.sqlite", "CREATE TABLE t (x); INSERT INTO t VALUES ('short'), (randomblob(5000))")
        #expect {
            try SQLite.read(database: s.root + "/d.sqlite", table: "t", query: nil, limit: 1000)
        } throws: { e in
            (e as? StageError)?.message.contains("a value longer than 1000 bytes, the most ledgerflow reads in one field") == true
        }
        #expect(try SQLite.read(database: s.root + "/d.sqlite", table: "t", query: nil).rows.count == 2)
    }

    /// A writer that feeds a named pipe until the reader goes away (or `cap` bytes); counts bytes.
    final class PipeFeeder: @unchecked Sendable {
        let written = Locked(0)
        let done = DispatchSemaphore(value: 0)
        init(_ path: String, chunk: [UInt8], cap: Int) {
            signal(SIGPIPE, SIG_IGN)
            Thread.detachNewThread { [written, done] in
                let fd = open(path, O_WRONLY)
                defer { if fd >= 0 { close(fd) }; done.signal() }
                guard fd >= 0 else { return }
                while written.withLock({ $0 }) < cap {
                    let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    if n <= 0 { return }
                    written.withLock { $0 += n }
                }
            }
        }
        /// Unblocks a writer still waiting for a reader to open the pipe, and waits for it to end.
        func finish(_ path: String) {
            let fd = open(path, O_RDONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
            done.wait()
        }
    }

    @Test(arguments: ["csv", "jsonl"])
    func aHugeReadStopsSoonAfterItsTimeout(_ format: String) throws {
        let s = try Sandbox()
        let path = s.root + "/in." + format
        #expect(mkfifo(path, 0o600) == 0)
        let row = format == "csv" ? "1,2,3\n" : "{\"a\":1}\n"
        let header = format == "csv" ? "a,b,c\n" : ""
        let chunk = Array((header + String(repeating: row, count: (64 << 10) / row.utf8.count)).utf8)
        let cap = 64 << 20
        let feeder = PipeFeeder(path, chunk: chunk, cap: cap)
        let cancellation = Cancellation()
        // Stop the read once it has read 4 MiB: it must notice within the next MiB it reads.
        Thread.detachNewThread {
            try? waitFor("4 MiB written", timeout: 30) { feeder.written.withLock { $0 } >= 4 << 20 }
            cancellation.cancel("timeout")
        }
        let endpoint = Endpoint(name: "big", format: format == "csv" ? .csv : .jsonl, path: path, mode: "replace")
        #expect(throws: StageError("the attempt ran past its timeout and was stopped", reason: "timeout")) {
            try endpoint.read(cancellation: cancellation)
        }
        feeder.finish(path)
        let written = feeder.written.withLock { $0 }
        #expect(written < 16 << 20, "the read stopped early: \(written) bytes of \(cap) were read")
    }

    @Test func aLongSQLiteQueryIsInterruptedByItsTimeout() throws {
        let s = try Sandbox()
        _ = try s.sqlite("d.sqlite", "CREATE TABLE t (x)")
        let cancellation = Cancellation()
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 0.2)
            cancellation.cancel("timeout")
        }
        // Never yields a row: only an interrupt stops it.
        let forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
        #expect(throws: StageError("the read of \(s.root)/d.sqlite ran past its timeout and was stopped", reason: "timeout")) {
            try SQLite.read(database: s.root + "/d.sqlite", table: nil, query: forever, cancellation: cancellation)
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct ParameterQuotingTests {
    static let hostile = ["$(touch PWNED)", "a; touch PWNED", "`touch PWNED`", "'; touch PWNED; '", "\"; touch PWNED; \"",
                          "x\\\" ; touch PWNED ; \\\"", "$HOME ${HOME} \\n", "it's \"quoted\"\nnext line", "x\ntouch PWNED #", "", "  spaced  "]

    /// Runs `command` as a script stage with parameter x = `value`; its stdout.
    func run(_ s: Sandbox, _ command: [String], _ value: String) throws -> String {
        let spec: Value = ["name": "sh", "type": "script", "command": .array(command.map(Value.string))]
        let ctx = s.context(spec, params: ["x": .string(value)])
        _ = try ScriptExecutor().run(ctx)
        return try String(contentsOfFile: ctx.attemptFolder + "/stdout.log", encoding: .utf8)
    }

    @Test(arguments: hostile)
    func aParameterReachesTheShellAsLiteralText(_ value: String) throws {
        let s = try Sandbox()
        let cases: [([String], String)] = [
            (["sh", "-c", "printf %s ${params.x}"], value),
            (["/bin/sh", "-ec", "printf %s \"<${params.x}>\""], "<\(value)>"),
            (["bash", "-euc", "printf %s '<${params.x}>'"], "<\(value)>"),
            (["dash", "-c", "printf %s \"$(printf %s ${params.x})\""], value.replacingOccurrences(of: "\n+$", with: "", options: .regularExpression)),
            (["env", "LC_ALL=C", "bash", "-o", "pipefail", "-c", "printf %s --x=${params.x}#  # ${params.x} it's\nprintf %s ${params.x}"], "--x=\(value)#\(value)"),
            (["sh", "-c", "printf '%s|%s' \"$0\" ${params.x}", "${params.x}"], "\(value)|\(value)"),
        ]
        for (command, expected) in cases {
            #expect(try run(s, command, value) == expected, "\(command)")
            #expect(!FileManager.default.fileExists(atPath: s.root + "/PWNED"), "\(command)")
        }
    }

    @Test func aParameterWhereQuotingCannotBeSafeIsRefused() throws {
        let s = try Sandbox()
        for (text, place) in [("echo `echo ${params.x}`", "inside backticks"), ("echo ${HOME:-${params.x}}", "inside ${…}"),
                              ("echo $((${params.x} + 1))", "inside $((…))"), ("echo $'${params.x}'", "inside $'…'"),
                              ("cat <<EOF\n${params.x}\nEOF", "after a here-document (<<)")] {
            #expect(throws: StageError("stage 'sh': ${params.x} stands \(place) in the shell command, where ledgerflow cannot quote it safely; use \"$LEDGERFLOW_PARAM_X\" there, or write ${params.x:raw} to insert it unquoted")) {
                try run(s, ["sh", "-c", text], "$(touch PWNED)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: s.root + "/PWNED"))
        // raw inserts the value as written; outside a shell's command text nothing is quoted.
        #expect(try run(s, ["sh", "-c", "echo ${params.x:raw}"], "a b; echo c") == "a b\nc\n")
        #expect(try run(s, ["printf", "%s", "${params.x}"], "a'b $(x)") == "a'b $(x)")
        #expect(Substitution.shellCommandIndex(["python3", "-c", "x"]) == nil)
        #expect(Substitution.shellCommandIndex(["sh", "script.sh", "-c"]) == nil)
        #expect(Substitution.shellCommandIndex(["bash", "--norc", "-xc", "x"]) == 3)
    }

    @Test func aParameterInASQLiteQueryIsAStringLiteral() throws {
        let s = try Sandbox()
        _ = try s.sqlite("d.sqlite", "CREATE TABLE t (name TEXT, n INTEGER); INSERT INTO t VALUES ('a', 1), ('b''c', 2), ('--', 3)")
        func rows(_ query: String, _ x: Value) throws -> [[Value]] {
            let src: Value = ["type": "sqlite", "database": "d.sqlite", "query": .string(query)]
            let e = try ETLExecutor().endpoint(reading: "q", s.context(["name": "s", "type": "etl"], defs: [(.source, "q", src)], params: ["x": x]))
            return try e.read(cancellation: Cancellation()).rows
        }
        #expect(try rows("SELECT n FROM t WHERE name = ${params.x}", "x' OR '1'='1") == [])
        #expect(try rows("SELECT n FROM t WHERE name = ${params.x}", "b'c") == [[.int(2)]])
        #expect(try rows("SELECT n FROM t WHERE name = '${params.x}'", "x' OR '1'='1") == [])
        #expect(try rows("SELECT '<${params.x}>' AS v", "'; DROP TABLE t; --") == [[.string("<'; DROP TABLE t; -->")]])
        #expect(try rows("SELECT n FROM t WHERE n = ${params.x}", 2) == [[.int(2)]])
        #expect(try rows("SELECT n FROM t WHERE n > ${params.x} ORDER BY n LIMIT ${params.x}", "1") == [[.int(2)]])
        #expect(try rows("SELECT n AS \"${params.x}\" FROM t WHERE n = 1", "a\"b") == [[.int(1)]])
        #expect(throws: StageError("source 'q': ${params.x} stands inside a comment in the query, where ledgerflow cannot quote it safely; move it into a string literal or an unquoted place, or write ${params.x:raw} to insert it verbatim")) {
            try rows("SELECT n FROM t -- ${params.x}", "\nUNION SELECT 1")
        }
        #expect(try rows("SELECT n FROM t WHERE ${params.x:raw}", "n = 3") == [[.int(3)]])
        #expect(try SQLite.read(database: s.root + "/d.sqlite", table: "t", query: nil).rows.count == 3, "nothing was dropped")
    }

    @Test(arguments: hostile + ["a'b", "a\\'b", "x' or 'a' == 'a", "x\" or \"a\" == \"a"])
    func aParameterInADeriveOrFilterIsOneLiteral(_ value: String) throws {
        let s = try Sandbox()
        try s.write("in/t.csv", "name,n\na,1\nb,2\n")
        let src: Value = ["type": "csv", "path": "in/t.csv"]
        let out: Value = ["type": "jsonl", "path": "out"]
        /// The rows an etl stage with these transforms writes (columns name, n, then p), with parameter x = `x`.
        func rows(_ transforms: [(String, Value)], _ x: Value) throws -> [[Value]] {
            let spec = Value.object([("name", "load"), ("type", "etl"), ("source", "t"), ("destination", "o")] + transforms)
            _ = try ETLExecutor().run(s.context(spec, defs: [(.source, "t", src), (.output, "o", out)], params: ["x": x]))
            let t = try Endpoint(name: "o", format: .jsonl, path: s.root + "/out", mode: "replace").read(cancellation: Cancellation())
            let order = ["name", "n", "p"].compactMap { t.columns.firstIndex(of: $0) }
            return t.rows.map { row in order.map { row[$0] } }
        }
        let v = Value.string(value)
        // Inside '…' or "…" the value is the text; it never reaches the expression as syntax.
        #expect(try rows([("derive", ["p": "'${params.x}'"])], v) == [["a", 1, v], ["b", 2, v]])
        #expect(try rows([("derive", ["p": "concat(\"<\", \"${params.x}\", '>')"])], v) == [["a", 1, .string("<\(value)>")], ["b", 2, .string("<\(value)>")]])
        #expect(try rows([("filter", "name == '${params.x}'")], v) == [])
        #expect(try rows([("filter", "name == '${params.x}'")], "b") == [["b", 2]])
        // Unquoted: a number or boolean as itself, a text as one quoted text.
        #expect(try rows([("filter", "n > ${params.x}")], 1) == [["b", 2]])
        #expect(try rows([("derive", ["p": "${params.x}"])], v) == [["a", 1, v], ["b", 2, v]])
        #expect(try rows([("derive", ["p": "${params.x}"])], true) == [["a", 1, true], ["b", 2, true]])
    }
}
