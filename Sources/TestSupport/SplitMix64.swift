import Foundation

/// A small, fast, seeded random number generator (SplitMix64): the same seed gives the same
/// sequence on every platform, so a failing test can be rerun with the seed it printed.
public struct SplitMix64: RandomNumberGenerator, Sendable, CustomStringConvertible {
    /// The seed this generator started from.
    public let seed: UInt64
    private var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) {
        self.seed = seed
        self.state = seed
    }

    /// A generator for this run: the seed is `LEDGERFLOW_TEST_SEED` when set (decimal or 0x hex),
    /// else `fixed` when given, else drawn at random. Put `rng` (its description names the seed)
    /// in the comments of the test's expectations so that a failure says how to reproduce it.
    public static func forRun(fixed: UInt64? = nil) -> SplitMix64 {
        SplitMix64(seed: environmentSeed() ?? fixed ?? UInt64.random(in: 0 ... .max))
    }

    /// The seed set in `LEDGERFLOW_TEST_SEED`, if any.
    public static func environmentSeed() -> UInt64? {
        guard let text = ProcessInfo.processInfo.environment["LEDGERFLOW_TEST_SEED"]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if text.hasPrefix("0x") { return UInt64(text.dropFirst(2), radix: 16) }
        return UInt64(text)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count + 8)
        while out.count < count {
            let r = next()
            for i in 0 ..< 8 { out.append(UInt8(truncatingIfNeeded: r >> (8 * UInt64(i)))) }
        }
        out.removeLast(out.count - count)
        return out
    }

    /// "seed 0x…; rerun with LEDGERFLOW_TEST_SEED=0x…".
    public var description: String {
        let hex = "0x" + String(seed, radix: 16)
        return "seed \(hex); rerun with LEDGERFLOW_TEST_SEED=\(hex)"
    }
}
