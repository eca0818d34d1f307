import Foundation
import TestSupport
import Testing
@testable import Console

/// docs/openapi.yaml documents exactly the API's routes and methods (the router registers the
/// API from the same lists, `apiRoutes()` for GET and `writeRoutes()` for POST).
@Suite struct OpenAPITests {
    /// The documented paths with their methods, read from the file's `paths:` section.
    static func documented() throws -> [String: Set<String>] {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.yaml").path
        let text = try String(contentsOfFile: file, encoding: .utf8)
        var out: [String: Set<String>] = [:]
        var inPaths = false
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if !line.hasPrefix(" ") && !line.isEmpty { break }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                current = String(line.dropFirst(2).dropLast())
                out[current!] = []
            } else if let current, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                out[current]?.insert(line.trimmingCharacters(in: .whitespaces).dropLast().lowercased())
            }
        }
        return out
    }

    @Test func theDocumentListsExactlyTheRoutes() throws {
        let docs = try Self.documented()
        let (log, dir) = try makeLog()
        let console = ConsoleServer(log: log, store: dir.path)
        func openAPI(_ path: String) -> String {
            "/" + path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
        }
        var served: [String: Set<String>] = [:]
        for r in console.apiRoutes() { served[openAPI(r.path), default: []].insert("get") }
        for r in console.writeRoutes() { served[openAPI(r.path), default: []].insert("post") }
        #expect(docs == served, "documented \(docs), served \(served)")
    }
}
