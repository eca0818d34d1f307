import TestSupport
import Testing
import Zstd

/// Compresses and decompresses through the wrapper's frame API.
func frameRoundTrip(_ input: [UInt8], dictionary: CompressionDictionary? = nil, level: Int32 = 3) throws -> (compressed: [UInt8], back: [UInt8]) {
    let compressed = try Compressor(level: level).compress(input, dictionary: dictionary)
    return (compressed, try Decompressor().decompress(compressed, dictionary: dictionary))
}

/// Compresses `input` as one bare block; nil when zstd says it does not compress (stored raw).
func compressBlock(_ input: [UInt8], _ compressor: Compressor, dictionary: CompressionDictionary? = nil) throws -> [UInt8]? {
    var out = [UInt8](repeating: 0, count: Compressor.bound(input.count))
    let n = try input.withUnsafeBytes { s in try out.withUnsafeMutableBytes { d in try compressor.compressBlock(s, into: d, dictionary: dictionary) } }
    return n == 0 ? nil : Array(out[0 ..< n])
}

/// Decompresses one bare block.
func decompressBlock(_ block: [UInt8], _ decompressor: Decompressor, dictionary: CompressionDictionary? = nil) throws -> [UInt8] {
    try block.withUnsafeBytes { s in try decompressor.decompressBlock(s, dictionary: dictionary) { Array($0) } }
}

/// Text-like payloads that share structure, as a store's events do.
func samplePayload(_ i: Int) -> [UInt8] {
    let models = ["churn", "fraud", "upsell"]
    let text = #"{"entity":"customer-\#(i * 7919 % 100_000)","model":"\#(models[i % 3])","stage":"score","run":"r\#(i / 50)","#
        + #""outputs":{"p":0.\#(i * 104_729 % 1000),"label":\#(i % 2 == 0 ? "true" : "false")},"version":\#(i % 4 + 1)}"#
    return Array(text.utf8)
}

/// Bytes that repeat with variations: they compress well, at any size.
func compressibleBytes(_ count: Int) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(count + 256)
    var i = 0
    while out.count < count {
        out.append(contentsOf: samplePayload(i))
        i += 1
    }
    return Array(out.prefix(count))
}

@Suite struct ZstdFrameTests {
    @Test(arguments: [0, 1, 17, 4095, 4096, 4097, 100_000])
    func compressibleFramesRoundTrip(size: Int) throws {
        let input = compressibleBytes(size)
        let (compressed, back) = try frameRoundTrip(input)
        #expect(back == input)
        if size >= 4096 { #expect(compressed.count < input.count / 2, "\(compressed.count) of \(input.count) bytes") }
    }

    @Test func emptyInputRoundTripsAsATinyFrame() throws {
        let (compressed, back) = try frameRoundTrip([])
        #expect(back.isEmpty)
        #expect(!compressed.isEmpty && compressed.count < 16, "a magicless frame of nothing is a header and an empty block")
    }

    @Test func framesAreMagicless() throws {
        let compressed = try Compressor().compress(compressibleBytes(1000), dictionary: nil)
        #expect(Array(compressed.prefix(4)) != [0x28, 0xB5, 0x2F, 0xFD], "no zstd magic number")
    }

    @Test func incompressibleInputRoundTripsAndGrowsOnlyByTheBound() throws {
        var rng = SplitMix64.forRun()
        for size in [1, 100, 5_000, 300_000] {
            let input = rng.bytes(size)
            let (compressed, back) = try frameRoundTrip(input)
            #expect(back == input, "\(size) bytes, \(rng)")
            #expect(compressed.count <= Compressor.bound(size), "\(size) bytes, \(rng)")
        }
    }

    @Test(arguments: [Int32(1), 3, 9, 19])
    func everyLevelRoundTrips(level: Int32) throws {
        let input = compressibleBytes(50_000)
        #expect(try frameRoundTrip(input, level: level).back == input)
    }

    /// The decompressor starts with a 4 KiB buffer and grows it (×4 at a time) until the frame
    /// fits; it keeps the grown buffer for the next call, and smaller frames still come out right.
    @Test func outputBufferGrowsUntilTheFrameFits() throws {
        let compressor = try Compressor()
        let decompressor = try Decompressor()
        let zeros = [UInt8](repeating: 0, count: 3 << 20) // 3 MiB: 4 KiB → 16 → 64 → 256 KiB → 1 → 4 MiB
        let large = try compressor.compress(zeros, dictionary: nil)
        #expect(large.count < 1024, "zeros compress to almost nothing (\(large.count) bytes)")
        #expect(try decompressor.decompress(large, dictionary: nil) == zeros)
        let small = compressibleBytes(300)
        #expect(try decompressor.decompress(try compressor.compress(small, dictionary: nil), dictionary: nil) == small)
        let text = compressibleBytes(5 << 20)
        #expect(try decompressor.decompress(try compressor.compress(text, dictionary: nil), dictionary: nil) == text)
        // The reusable-buffer form hands out exactly the frame's bytes.
        let count = try large.withUnsafeBytes { s in try decompressor.decompress(s, dictionary: nil) { $0.count } }
        #expect(count == zeros.count)
    }

    @Test func oneContextServesManyFramesInAnyOrder() throws {
        let compressor = try Compressor()
        let decompressor = try Decompressor()
        let inputs = (0 ..< 200).map { samplePayload($0) }
        let frames = try inputs.map { try compressor.compress($0, dictionary: nil) }
        for i in stride(from: inputs.count - 1, through: 0, by: -7) {
            #expect(try decompressor.decompress(frames[i], dictionary: nil) == inputs[i])
        }
    }
}

@Suite struct ZstdBlockTests {
    @Test(arguments: [1, 64, 1000, 50_000, 128 * 1024])
    func compressibleBlocksRoundTrip(size: Int) throws {
        let input = compressibleBytes(size)
        let compressor = try Compressor(), decompressor = try Decompressor()
        guard let block = try compressBlock(input, compressor) else {
            // Only tiny inputs may be left uncompressed.
            #expect(size < 64, "\(size) bytes did not compress")
            return
        }
        #expect(block.count < input.count)
        #expect(try decompressBlock(block, decompressor) == input)
    }

    @Test func emptyAndIncompressibleBlocksAreLeftRaw() throws {
        let compressor = try Compressor()
        #expect(try compressBlock([], compressor) == nil, "nothing to compress: store it raw")
        var rng = SplitMix64.forRun()
        for size in [16, 1000, 128 * 1024] {
            #expect(try compressBlock(rng.bytes(size), compressor) == nil, "random bytes do not compress: \(size) bytes, \(rng)")
        }
    }

    @Test func blocksAreSmallerThanFramesOfTheSameInput() throws {
        let compressor = try Compressor()
        let input = samplePayload(42)
        let frame = try compressor.compress(input, dictionary: nil)
        let block = try #require(try compressBlock(input, compressor))
        #expect(block.count < frame.count, "block \(block.count) bytes, frame \(frame.count)")
    }

    /// Block and frame calls interleave on the same contexts (the wrapper re-attaches dictionaries).
    @Test func blocksAndFramesInterleaveOnOneContext() throws {
        let compressor = try Compressor(), decompressor = try Decompressor()
        for i in 0 ..< 50 {
            let input = compressibleBytes(200 + i * 37)
            let block = try #require(try compressBlock(input, compressor))
            let frame = try compressor.compress(input, dictionary: nil)
            #expect(try decompressBlock(block, decompressor) == input)
            #expect(try decompressor.decompress(frame, dictionary: nil) == input)
        }
    }
}

@Suite struct ZstdDictionaryTests {
    static let samples = (0 ..< 2000).map { samplePayload($0) }

    static func trained(id: UInt32, from samples: [[UInt8]] = samples, capacity: Int = 16 * 1024) throws -> CompressionDictionary {
        let bytes = try DictionaryTrainer.train(samples: samples, capacity: capacity)
        return try CompressionDictionary(id: id, bytes: bytes)
    }

    @Test func trainingMakesADictionaryWithinItsCapacity() throws {
        let bytes = try DictionaryTrainer.train(samples: Self.samples, capacity: 8 * 1024)
        #expect(!bytes.isEmpty && bytes.count <= 8 * 1024)
        let d = try CompressionDictionary(id: 7, bytes: bytes, level: 5)
        #expect(d.id == 7 && d.bytes == bytes)
    }

    @Test func framesAndBlocksRoundTripWithADigestedDictionary() throws {
        let dict = try Self.trained(id: 1)
        let compressor = try Compressor(), decompressor = try Decompressor()
        var plain = 0, withDict = 0
        for i in 5000 ..< 5200 { // payloads the dictionary has not seen
            let input = samplePayload(i)
            let frame = try compressor.compress(input, dictionary: dict)
            #expect(try decompressor.decompress(frame, dictionary: dict) == input)
            let block = try #require(try compressBlock(input, compressor, dictionary: dict))
            #expect(try decompressBlock(block, decompressor, dictionary: dict) == input)
            withDict += frame.count
            plain += try compressor.compress(input, dictionary: nil).count
        }
        #expect(withDict < plain * 2 / 3, "small payloads compress much better with the dictionary: \(withDict) vs \(plain) bytes")
    }

    @Test func switchingDictionariesOnOneContextKeepsEachFrameReadable() throws {
        let first = try Self.trained(id: 1)
        let second = try Self.trained(id: 2, from: (10_000 ..< 12_000).map { samplePayload($0) })
        let compressor = try Compressor(), decompressor = try Decompressor()
        let dicts: [CompressionDictionary?] = [first, nil, second, first, second, nil]
        let inputs = (0 ..< dicts.count).map { samplePayload(20_000 + $0) }
        let frames = try zip(inputs, dicts).map { try compressor.compress($0, dictionary: $1) }
        for (i, frame) in frames.enumerated().reversed() {
            #expect(try decompressor.decompress(frame, dictionary: dicts[i]) == inputs[i], "frame \(i)")
        }
    }

    @Test func emptyDictionaryIsRejected() {
        #expect(throws: ZstdError.self) { try CompressionDictionary(id: 3, bytes: []) }
    }

    @Test func tooFewSamplesAreRejectedWithAnError() {
        #expect(throws: ZstdError.self) { try DictionaryTrainer.train(samples: [Array("a".utf8), Array("b".utf8)], capacity: 16 * 1024) }
        #expect(throws: ZstdError.self) { try DictionaryTrainer.train(samples: [], capacity: 16 * 1024) }
    }
}

@Suite struct ZstdCorruptionTests {
    /// A frame worth corrupting: 20 KB of text.
    static func frame() throws -> (input: [UInt8], frame: [UInt8]) {
        let input = compressibleBytes(20_000)
        return (input, try Compressor().compress(input, dictionary: nil))
    }

    @Test func truncatedFramesAreRejected() throws {
        let (input, frame) = try Self.frame()
        let decompressor = try Decompressor()
        for cut in [1, 2, 5, frame.count / 2, frame.count - 1] {
            #expect(throws: ZstdError.self, "cut to \(cut) of \(frame.count) bytes") {
                try decompressor.decompress(Array(frame.prefix(cut)), dictionary: nil)
            }
        }
        // The context is still usable afterwards.
        #expect(try decompressor.decompress(frame, dictionary: nil) == input)
    }

    /// Zero bytes are zero frames: zstd returns nothing rather than an error, so a caller that
    /// could be handed an empty frame must tell "empty" from "missing" itself.
    @Test func zeroBytesDecodeToNothing() throws {
        #expect(try Decompressor().decompress([], dictionary: nil).isEmpty)
    }

    @Test func garbageIsRejected() throws {
        let decompressor = try Decompressor()
        #expect(throws: ZstdError.self) { try decompressor.decompress([UInt8](repeating: 0xFF, count: 64), dictionary: nil) }
        // A regular frame with the magic number is not a magicless frame.
        let (input, frame) = try Self.frame()
        #expect(throws: ZstdError.self) { try decompressor.decompress([0x28, 0xB5, 0x2F, 0xFD] + frame, dictionary: nil) }
        #expect(try decompressor.decompress(frame, dictionary: nil) == input)
    }

    @Test func trailingBytesAreRejected() throws {
        let (_, frame) = try Self.frame()
        #expect(throws: ZstdError.self) { try Decompressor().decompress(frame + [0, 1, 2, 3, 4, 5, 6, 7], dictionary: nil) }
    }

    /// Frames carry no checksum (the log's hash chain covers the payload), so not every flipped
    /// bit is detectable here: some land on bits the decoder never reads. But decoding a corrupted
    /// frame never crashes: it fails with a ZstdError or yields bytes, and the context recovers.
    @Test func flippedBitsFailWithAnErrorOrDecodeButNeverCrash() throws {
        let (input, frame) = try Self.frame()
        let decompressor = try Decompressor()
        var rng = SplitMix64.forRun()
        var rejected = 0, decoded = 0
        for _ in 0 ..< 500 {
            var corrupt = frame
            let at = Int.random(in: 0 ..< corrupt.count, using: &rng)
            corrupt[at] ^= UInt8(1) << UInt8.random(in: 0 ..< 8, using: &rng)
            do {
                _ = try decompressor.decompress(corrupt, dictionary: nil)
                decoded += 1
            } catch is ZstdError {
                rejected += 1
            }
        }
        #expect(rejected + decoded == 500)
        #expect(rejected > 100, "many flips are caught (\(rejected) of 500); \(rng)")
        #expect(try decompressor.decompress(frame, dictionary: nil) == input, "the context recovers; \(rng)")
    }

    @Test func truncatedAndGarbageBlocksAreRejected() throws {
        let compressor = try Compressor(), decompressor = try Decompressor()
        let input = compressibleBytes(20_000)
        let block = try #require(try compressBlock(input, compressor))
        for cut in [1, 2, block.count / 2, block.count - 1] {
            #expect(throws: ZstdError.self, "cut to \(cut) of \(block.count) bytes") {
                try decompressBlock(Array(block.prefix(cut)), decompressor)
            }
        }
        #expect(throws: ZstdError.self) { try decompressBlock([UInt8](repeating: 0xFF, count: 64), decompressor) }
        #expect(try decompressBlock(block, decompressor) == input)
    }

    /// Frames carry no dictionary id (the log records which dictionary it used), so a wrong
    /// dictionary can only be caught by decoding.
    @Test func wrongDictionaryIsRejected() throws {
        let right = try ZstdDictionaryTests.trained(id: 1)
        let wrong = try ZstdDictionaryTests.trained(id: 2, from: (0 ..< 2000).map { Array("\($0 * 31) unrelated, other words \($0 % 17) entirely".utf8) })
        let compressor = try Compressor(), decompressor = try Decompressor()
        let input = samplePayload(9_999)
        let frame = try compressor.compress(input, dictionary: right)
        #expect(throws: ZstdError.self, "no dictionary") { try decompressor.decompress(frame, dictionary: nil) }
        #expect(throws: ZstdError.self, "another dictionary") { try decompressor.decompress(frame, dictionary: wrong) }
        let block = try #require(try compressBlock(input, compressor, dictionary: right))
        #expect(throws: ZstdError.self, "no dictionary (block)") { try decompressBlock(block, decompressor) }
        #expect(throws: ZstdError.self, "another dictionary (block)") { try decompressBlock(block, decompressor, dictionary: wrong) }
        #expect(try decompressor.decompress(frame, dictionary: right) == input)
    }
}
