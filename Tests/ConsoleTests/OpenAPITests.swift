import Foundation
import TestSupport
import Testing
@testable import Console

/// docs/openapi.yaml documents exactly the API's routes, each a GET (the router registers the
/// API from the same list, `apiRoutes()`).
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
        let routes = ConsoleServer(log: log, store: dir.path).apiRoutes().map { route in
            route.path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
        }
        #expect(Set(docs.keys) == Set(routes.map { "/" + $0 }), "documented \(docs.keys.sorted()), served \(routes.sorted())")
        #expect(docs.values.allSatisfy { $0 == ["get"] }, "\(docs)")
    }
}
