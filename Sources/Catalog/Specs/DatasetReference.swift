/// A dataset a stage reads, as its `inputs:` (or `source:`) names it: `NAME` reads the newest
/// version, `NAME@N` exactly version N of the dataset's stream (time travel).
public struct DatasetReference: Sendable, Hashable {
    /// The dataset's name (a source, an output or a stage output).
    public var name: String
    /// The version asked for; nil: the newest.
    public var version: UInt64?

    /// A value with these fields.
    public init(name: String, version: UInt64? = nil) {
        self.name = name
        self.version = version
    }

    /// Reads `NAME` or `NAME@N`; nil when the text has an `@` and what follows it is not a
    /// positive integer, or nothing precedes it.
    public init?(_ text: String) {
        guard let at = text.lastIndex(of: "@") else {
            self.init(name: text)
            return
        }
        let name = String(text[..<at]), digits = text[text.index(after: at)...]
        guard !name.isEmpty, !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let n = UInt64(digits), n > 0 else { return nil }
        self.init(name: name, version: n)
    }

    /// The name of the dataset a text names, with or without a version (the text as it is when
    /// it does not read).
    public static func name(of text: String) -> String { DatasetReference(text)?.name ?? text }

    /// The text before its last `@` (all of it without one), whether or not a version follows.
    public static func nameBeforeVersion(_ text: String) -> String {
        text.lastIndex(of: "@").map { String(text[..<$0]) } ?? text
    }

    /// What to do about a version that does not read (apply's fix).
    public static let versionFix = "write NAME@N with N = 1, 2, … (a version of the dataset's stream), or NAME for its newest version"

    /// `NAME` or `NAME@N`.
    public var text: String { version.map { "\(name)@\($0)" } ?? name }
}
