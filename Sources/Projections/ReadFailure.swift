/// A read that cannot be answered as asked, in one line saying what and what to do: the CLI
/// prints it, the console answers it with 400 (`badRequest`) or 404 (`notFound`).
public struct ReadFailure: Error, Sendable, CustomStringConvertible {
    /// Whether the request was malformed or named something that does not exist.
    public enum Kind: Sendable { case badRequest, notFound }
    public let kind: Kind
    public let description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
