import Catalog
import Domain
import Foundation

/// The secret values an attempt (or a command showing its files) must never let through, and
/// their replacement by `***`.
///
/// Masking works on bytes, not decoded text: output that is not UTF-8 is masked all the same.
/// `Stream` masks bytes as they arrive in chunks (a child's stdout and stderr on their way to the
/// log files), holding back only the end of a chunk that could be the start of a secret, so a
/// secret split across two reads is still masked and a file on disk never holds one, even if the
/// engine dies mid-attempt.
public struct SecretMask: Sendable {
    /// What replaces a secret.
    public static let replacement: [UInt8] = Array("***".utf8)
    /// Secrets shorter than this (in characters) are refused where a stage uses them: masking
    /// a one- or two-character value would destroy every log it appears in, and the `***` left
    /// in ordinary words would give the value away anyway.
    public static let minimumLength = 3

    /// One secret: its name (for messages) and its value's UTF-8 bytes.
    public struct Secret: Sendable, Hashable {
        public var name: String
        public var value: [UInt8]
        public init(name: String, value: String) {
            self.name = name
            self.value = Array(value.utf8)
        }
    }

    /// The secrets, longest first (so that of two secrets starting at the same byte, the longer
    /// one is masked whole).
    public let secrets: [Secret]
    private let longest: Int
    /// Which bytes can start a secret.
    private let starts: [Bool]

    /// A mask for `secrets`; values shorter than `minimumLength` characters are left out.
    public init(_ secrets: [Secret]) {
        var seen = Set<[UInt8]>()
        self.secrets = secrets.filter { !$0.value.isEmpty && String(decoding: $0.value, as: UTF8.self).count >= Self.minimumLength && seen.insert($0.value).inserted }
            .sorted { $0.value.count > $1.value.count }
        longest = self.secrets.first?.value.count ?? 0
        var s = [Bool](repeating: false, count: 256)
        for secret in self.secrets { s[Int(secret.value[0])] = true }
        starts = s
    }

    public var isEmpty: Bool { secrets.isEmpty }

    /// `bytes` with every secret replaced.
    public func mask(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        _ = scan(bytes[...], final: true, into: &out)
        return out
    }

    /// `text` with every secret replaced.
    public func mask(_ text: String) -> String {
        guard !isEmpty else { return text }
        return String(decoding: mask(Array(text.utf8)), as: UTF8.self)
    }

    /// The first secret `text` holds, if any.
    public func secret(in text: String) -> Secret? {
        guard !isEmpty else { return nil }
        let bytes = Array(text.utf8)
        return secrets.first { s in
            guard s.value.count <= bytes.count else { return false }
            return (0 ... bytes.count - s.value.count).contains { i in bytes[i] == s.value[0] && bytes[i ..< i + s.value.count].elementsEqual(s.value) }
        }
    }

    /// Masks `bytes` into `out`. When not `final`, stops at the first byte that could begin a
    /// secret not yet complete and returns its index (the caller keeps the rest for the next
    /// chunk); returns `bytes.endIndex` when everything was written.
    private func scan(_ bytes: ArraySlice<UInt8>, final: Bool, into out: inout [UInt8]) -> Int {
        out.reserveCapacity(out.count + bytes.count)
        var i = bytes.startIndex
        let end = bytes.endIndex
        outer: while i < end {
            let b = bytes[i]
            if starts[Int(b)] {
                let left = end - i
                for s in secrets where s.value[0] == b {
                    let n = s.value.count
                    if n <= left {
                        if bytes[i ..< i + n].elementsEqual(s.value) {
                            out += Self.replacement
                            i += n
                            continue outer
                        }
                    } else if !final && s.value[..<left].elementsEqual(bytes[i...]) {
                        // The rest of the chunk could be the beginning of this secret.
                        return i
                    }
                }
            }
            out.append(b)
            i += 1
        }
        return end
    }

    /// Masks a stream of chunks: `feed` returns what may be written now, `finish` the rest.
    public struct Stream: Sendable {
        public let mask: SecretMask
        private var pending: [UInt8] = []
        public init(_ mask: SecretMask) { self.mask = mask }

        /// The masked bytes that can be written after `chunk` (at most the length of the longest
        /// secret less one byte is held back).
        public mutating func feed(_ chunk: some Collection<UInt8>) -> [UInt8] {
            guard !mask.isEmpty else { return Array(chunk) }
            pending += chunk
            var out: [UInt8] = []
            let stop = mask.scan(pending[...], final: false, into: &out)
            pending.removeFirst(stop)
            return out
        }

        /// What is held back, masked: the stream has ended.
        public mutating func finish() -> [UInt8] {
            defer { pending = [] }
            return mask.mask(pending)
        }
    }
}

/// Secret references, resolved when a stage runs.
public enum Secrets {
    /// The value of secret `name` for `use` (what a message names: `env PW`, `hash salt of
    /// stage 'load'`). A value shorter than `SecretMask.minimumLength` characters is refused: it
    /// could not be masked. No message holds the value.
    static func resolve(_ name: String, ctx: StageContext, use: String) throws(StageError) -> String {
        guard let def = try ctx.definition(SecretSpec.self, name) else {
            throw StageError("\(use): secret '\(name)' is not defined in the run's catalog; define it (kind: secret, from_env or from_file)")
        }
        let value: String
        switch Self.value(of: def, root: ctx.root, environment: ProcessInfo.processInfo.environment) {
        case .success(let v): value = v
        case .failure(let why): throw StageError("\(use): secret '\(name)' \(why)")
        }
        let length = value.count
        if length < SecretMask.minimumLength {
            let what = length == 0 ? "is empty" : "is only \(length) character\(length == 1 ? "" : "s") long"
            throw StageError("\(use): secret '\(name)' \(what); a secret shorter than \(SecretMask.minimumLength) characters cannot be masked in logs without destroying them (and the masks would give it away): use a longer value")
        }
        return value
    }

    /// Where `def` says its value is, read now; or why it cannot be read.
    /// The value of secret `def` here, or why it cannot be read.
    public static func read(_ def: SecretSpec, root: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> Result<String, any Error> {
        value(of: def, root: root, environment: environment).mapError { $0 }
    }

    static func value(of def: SecretSpec, root: String, environment: [String: String]) -> Result<String, SecretUnreadable> {
        if let v = def.fromEnv {
            guard let value = environment[v] else {
                return .failure(SecretUnreadable("comes from environment variable \(v), which is not set in the engine's environment"))
            }
            return .success(value)
        }
        if let f = def.fromFile {
            let path = f.hasPrefix("/") ? f : (root as NSString).appendingPathComponent(f)
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                return .failure(SecretUnreadable("comes from \(path), which cannot be read"))
            }
            return .success(text.hasSuffix("\n") ? String(text.dropLast()) : text)
        }
        return .failure(SecretUnreadable("says neither from_env nor from_file"))
    }

    struct SecretUnreadable: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// Every secret of `catalog` whose value can be read here (from `environment` and files
    /// under `root`): what must be masked in anything an attempt under that catalog leaves.
    public static func mask(catalog: CatalogState, root: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> SecretMask {
        var found: [SecretMask.Secret] = []
        for (key, entry) in catalog.entries where key.kind == .secret {
            guard let def = try? entry.spec(as: SecretSpec.self), case .success(let v) = value(of: def, root: root, environment: environment) else { continue }
            found.append(SecretMask.Secret(name: key.name, value: v))
        }
        return SecretMask(found)
    }

    /// The environment variables the secrets of `catalog` are read from (`from_env`): a script
    /// gets a secret only through its stage's `env`, never by inheriting the engine's.
    static func sourceVariables(_ catalog: CatalogState) -> Set<String> {
        var names = Set<String>()
        for (key, entry) in catalog.entries where key.kind == .secret {
            if let v = (try? entry.spec(as: SecretSpec.self))?.fromEnv { names.insert(v) }
        }
        return names
    }
}

extension Secrets {
    /// The first secret of `mask` that `value` holds (in a text, a key, or a number written as
    /// exactly the secret), and where: `outputs.token`, `predictions[3].id`.
    static func find(in value: Value, _ mask: SecretMask, at path: String = "") -> (secret: String, field: String)? {
        guard !mask.isEmpty else { return nil }
        func here(_ s: String) -> String? { mask.secret(in: s)?.name }
        switch value {
        case .null, .bool: return nil
        case .string(let s): return here(s).map { ($0, path.isEmpty ? "the report" : path) }
        case .int(let i):
            return mask.secrets.first { $0.value.elementsEqual(String(i).utf8) }.map { ($0.name, path) }
        case .double(let d):
            return mask.secrets.first { $0.value.elementsEqual(Value.double(d).jsonString.utf8) }.map { ($0.name, path) }
        case .array(let items):
            for (i, item) in items.enumerated() {
                if let hit = find(in: item, mask, at: "\(path)[\(i)]") { return hit }
            }
            return nil
        case .members(let members):
            for m in members {
                let at = path.isEmpty ? m.key : "\(path).\(m.key)"
                if let name = here(m.key) { return (name, path.isEmpty ? "a key of the report" : "a key of \(path)") }
                if let hit = find(in: m.value, mask, at: at) { return hit }
            }
            return nil
        }
    }
}
