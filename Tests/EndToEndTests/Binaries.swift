import Foundation
import Testing
import Domain
import EventLog

/// The directory holding the built executables (`swift build` puts them next to the test bundle).
let productsDirectory: URL = {
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    while url.path != "/" {
        if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("ledgerflow").path) { return url }
        url = url.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: ".build/debug")
}()

/// The path of a built executable; the tests need `swift build` (or `make test`) to have run.
func binary(_ name: String) throws -> String {
    let path = productsDirectory.appendingPathComponent(name).path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw BinaryMissing(path: path)
    }
    return path
}

struct BinaryMissing: Error, CustomStringConvertible {
    let path: String
    var description: String { "\(path) is not built: run `swift build` (make test does) before the end-to-end tests" }
}

/// The outcome of running a command to completion.
struct RunResult {
    let status: Int32
    let stdout: String
    let stderr: String
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }
}

/// Runs `executable` with `arguments` and waits for it.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, cwd: String? = nil) throws -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let environment { p.environment = environment }
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read both pipes while the process runs, so a full pipe cannot block it.
    let errData = Locked<Data>(Data())
    let reader = Thread { errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() } }
    reader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    while errData.withLock({ $0.isEmpty }) && reader.isExecuting { Thread.sleep(forTimeInterval: 0.001) }
    Thread.sleep(forTimeInterval: 0.01)
    return RunResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
}

/// `ledgerflow ARGS…`
@discardableResult
func ledgerflow(_ arguments: [String], environment: [String: String]? = nil, cwd: String? = nil) throws -> RunResult {
    try run(try binary("ledgerflow"), arguments, environment: environment, cwd: cwd)
}

/// A lock-protected value (tests only).
final class Locked<T>: @unchecked Sendable {
    // @unchecked Sendable: all access goes through `lock`.
    private let lock = NSLock()
    private var value: T
    init(_ v: T) { value = v }
    func withLock<R>(_ body: (inout T) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// A fresh temporary directory, removed afterwards.
final class TemporaryDirectory {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("ledgerflow-e2e-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func sub(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
}
