import Catalog
import Domain
import Foundation
import TestSupport
import Testing
@testable import Executors

@Suite struct SecretMaskTests {
    let mask = SecretMask([SecretMask.Secret(name: "pw", value: "hunter2"), SecretMask.Secret(name: "long", value: "hunter2-extra"),
                           SecretMask.Secret(name: "tiny", value: "ab")])

    @Test func masksBytesNotTextAndTheLongerOfTwoSecretsWhole() {
        // A byte that is not UTF-8 next to the secret: masked all the same.
        let bytes: [UInt8] = [0xff, 0xfe] + Array("x=hunter2\n".utf8) + [0xc3] + Array("hunter2-extra!".utf8)
        #expect(mask.mask(bytes) == [0xff, 0xfe] + Array("x=***\n".utf8) + [0xc3] + Array("***!".utf8))
        // Values under the minimum length are not in the mask (they are refused where used).
        #expect(mask.secrets.map(\.name) == ["long", "pw"])
        #expect(mask.mask("abc ab") == "abc ab")
    }

    @Test func aSecretSplitAcrossChunksIsMaskedAtEverySplitPoint() {
        let text = Array("a hunter2 b hunter2-extra c hunte".utf8) + [0x80] + Array("hunter2".utf8)
        for size in 1 ... text.count {
            var stream = SecretMask.Stream(mask)
            var out: [UInt8] = []
            var i = 0
            while i < text.count {
                out += stream.feed(text[i ..< min(i + size, text.count)])
                i += size
            }
            out += stream.finish()
            #expect(out == Array("a *** b *** c hunte".utf8) + [0x80] + Array("***".utf8), "chunks of \(size)")
        }
        // What is held back is at most a possible beginning of a secret.
        var stream = SecretMask.Stream(mask)
        #expect(stream.feed(Array("log line hunt".utf8)) == Array("log line ".utf8))
        #expect(stream.feed(Array("ing\n".utf8)) == Array("hunting\n".utf8))
    }

    @Test func findNamesTheSecretAndWhereAReportHoldsIt() {
        let report: Value = ["outputs": ["rows": 3, "note": ["ok", "token is hunter2"]]]
        #expect(Secrets.find(in: report, mask).map { "\($0.secret) \($0.field)" } == "pw outputs.note[1]")
        #expect(Secrets.find(in: ["outputs": ["hunter2": 1]], mask).map { "\($0.secret) \($0.field)" } == "pw a key of outputs")
        #expect(Secrets.find(in: ["outputs": ["n": 1234]], SecretMask([SecretMask.Secret(name: "pin", value: "1234")]))?.field == "outputs.n")
        #expect(Secrets.find(in: ["outputs": ["n": 12345]], SecretMask([SecretMask.Secret(name: "pin", value: "1234")])) == nil)
        #expect(Secrets.find(in: report, SecretMask([])) == nil)
    }

    /// The record recovery reads: a pid whose start time differs is another process (a reused
    /// pid) and is left alone; the recorded one is found and its whole group stopped.
    @Test(.timeLimit(.minutes(1))) func leftoversAreFoundByPidAndStartTimeAndStopped() throws {
        let s = try Sandbox()
        let folder = s.root + "/attempt"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let child = try ChildProcess.spawn(argv: ["sh", "-c", "sleep 30 & echo $! > sleep.pid; wait"], workdir: s.root, environment: [:])
        defer {
            child.signal(SIGKILL)
            close(child.stdout)
            close(child.stderr)
        }
        AttemptProcesses.record(child.pid, in: folder)
        let recorded = try String(contentsOfFile: folder + "/process", encoding: .utf8)
        let record = try #require(AttemptProcesses.Record(recorded))
        #expect(record.pid == child.pid)
        try waitFor("the script to start sleep") { pidWritten(to: s.root + "/sleep.pid") != nil }
        let sleep = try #require(pidWritten(to: s.root + "/sleep.pid"))
        // Another start time: not this process.
        var other = record
        other.start += 1
        try Data(other.text.utf8).write(to: URL(fileURLWithPath: folder + "/process"))
        #expect(AttemptProcesses.leftovers(in: [folder]).isEmpty)
        try Data(record.text.utf8).write(to: URL(fileURLWithPath: folder + "/process"))
        let found = AttemptProcesses.leftovers(in: [folder])
        #expect(found == [AttemptProcesses.Leftover(folder: folder, group: child.pid, processes: 2)])
        // (The child is this process's: it is reaped here, as init would reap an orphan.)
        Thread { _ = child.wait() }.start()
        let done = AttemptProcesses.stop(found, grace: 5)
        #expect(done[folder]?.hasSuffix("still ran: stopped (SIGTERM)") == true, "\(done)")
        #expect(processHasEnded(sleep))
        #expect(!FileManager.default.fileExists(atPath: folder + "/process"))
    }

    /// A group that ignores SIGTERM is killed after the grace period.
    @Test(.timeLimit(.minutes(1))) func leftoversThatIgnoreSIGTERMAreKilled() throws {
        let s = try Sandbox()
        let folder = s.root + "/attempt"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let child = try ChildProcess.spawn(argv: ["sh", "-c", "trap '' TERM; sleep 30 & echo $! > sleep.pid; wait"], workdir: s.root, environment: [:])
        defer {
            child.signal(SIGKILL)
            close(child.stdout)
            close(child.stderr)
        }
        AttemptProcesses.record(child.pid, in: folder)
        try waitFor("the script to start sleep") { pidWritten(to: s.root + "/sleep.pid") != nil }
        let sleep = try #require(pidWritten(to: s.root + "/sleep.pid"))
        let found = AttemptProcesses.leftovers(in: [folder])
        #expect(found.map(\.processes) == [2])
        Thread { _ = child.wait() }.start()
        let done = AttemptProcesses.stop(found, grace: 0.2)
        #expect(done[folder] == "2 processes of process group \(child.pid) still ran: killed (SIGKILL after SIGTERM and 0.2 s)")
        #expect(processHasEnded(sleep))
    }

    /// The engine died between the spawn and the record (no `process` file), and one process left
    /// the group (`setsid`): both groups are found by the attempt folder in their environment.
    @Test(.timeLimit(.minutes(1))) func leftoversWithoutARecordAreFoundByTheirEnvironment() throws {
        let s = try Sandbox()
        let folder = s.root + "/attempt"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let environment = [AttemptProcesses.folderVariable: folder, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        let child = try ChildProcess.spawn(argv: ["sh", "-c", "setsid sleep 30 & echo $! > escaped.pid; sleep 30 & echo $! > sleep.pid; wait"],
                                           workdir: s.root, environment: environment)
        defer {
            child.signal(SIGKILL)
            close(child.stdout)
            close(child.stderr)
        }
        try waitFor("the script to start both sleeps") { pidWritten(to: s.root + "/sleep.pid") != nil && pidWritten(to: s.root + "/escaped.pid") != nil }
        let sleep = try #require(pidWritten(to: s.root + "/sleep.pid"))
        let escaped = try #require(pidWritten(to: s.root + "/escaped.pid"))
        defer { kill(escaped, SIGKILL) }
        try waitFor("the escaped sleep to have its own session") { ProcessStat(escaped)?.group == escaped }
        #expect(!FileManager.default.fileExists(atPath: folder + "/process"))
        #expect(AttemptProcesses.leftovers(in: [s.root + "/another-attempt"]).isEmpty)
        let found = AttemptProcesses.leftovers(in: [folder])
        #expect(Set(found) == [AttemptProcesses.Leftover(folder: folder, group: child.pid, processes: 2),
                               AttemptProcesses.Leftover(folder: folder, group: escaped, processes: 1)])
        Thread { _ = child.wait() }.start()
        let done = AttemptProcesses.stop(found, grace: 5)
        #expect(done[folder]?.components(separatedBy: "still ran: stopped (SIGTERM)").count == 3, "\(done)")
        #expect(processHasEnded(sleep))
        #expect(processHasEnded(escaped))
    }
}
