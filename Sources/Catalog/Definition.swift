import Crypto
import Domain
import Foundation

/// Identifies a definition: its kind and name (`job/daily_churn`).
public struct DefinitionKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let kind: DefinitionKind
    public let name: String
    public init(_ kind: DefinitionKind, _ name: String) {
        self.kind = kind
        self.name = name
    }
    public var description: String { "\(kind.name)/\(name)" }
    /// `job 'daily_churn'`, for messages.
    public var phrase: String { "\(kind.name) '\(name)'" }
    /// The stream that holds this definition's versions.
    public var stream: String { CatalogEvents.stream(kind: kind.name, name: name) }
    /// By kind, then name (UTF-8 bytes: fast, and the same order everywhere).
    public static func < (a: DefinitionKey, b: DefinitionKey) -> Bool {
        if a.kind != b.kind { return a.kind < b.kind }
        return Value.keyPrecedes(a.name, b.name)
    }
}

/// A definition read from a file: its kind, name and canonical spec.
public struct Definition: Sendable, Hashable {
    public let key: DefinitionKey
    /// Every field but `kind` and `name`, as written (seed jobs mapped onto the job schema).
    public let spec: Value
    /// Where the definition starts.
    public let location: SourceLocation
    /// Field path (`stages[1].after[0]`) → where it was written.
    public let locations: [String: SourceLocation]
    /// The typed spec, read once when the definition is built (a definition is built on apply,
    /// never while the catalog is folded).
    private let typed: Result<DefinitionSpec, DecodingFailure>

    public init(key: DefinitionKey, spec: Value, location: SourceLocation, locations: [String: SourceLocation] = [:]) {
        self.key = key
        self.spec = spec
        self.location = location
        self.locations = locations
        do throws(DecodingFailure) {
            typed = .success(try DefinitionSpec(key.kind, spec))
        } catch {
            typed = .failure(error)
        }
    }

    public var kind: DefinitionKind { key.kind }
    public var name: String { key.name }
    /// SHA-256 of the spec's canonical bytes, hex.
    public var specHash: String { Definition.hash(spec) }

    /// The typed spec; a failure when the spec does not have its kind's shape (only a definition
    /// the loader reported errors for: one that converted cleanly always reads).
    public var typedSpec: DefinitionSpec {
        get throws(DecodingFailure) { try typed.get() }
    }

    /// Where `path` (or its nearest written ancestor) was written.
    public func location(of path: String) -> SourceLocation {
        var p = path
        while true {
            if let l = locations[p] { return l }
            guard let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) else { return location }
            p = String(p[..<cut])
        }
    }

    /// SHA-256 of a value's canonical bytes, hex.
    public static func hash(_ spec: Value) -> String {
        Hex.lowercase(SHA256.hash(data: spec.canonicalBytes))
    }
}
