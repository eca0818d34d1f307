/// Why fitting or applying a model or feature spec failed: one line saying what and what to do.
public struct MLError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
