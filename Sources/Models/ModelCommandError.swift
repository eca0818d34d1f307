/// A refused model command (unknown model or version, alias already there): one line.
public struct ModelCommandError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
