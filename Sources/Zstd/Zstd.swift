import CZstd

/// A zstd failure, with the library's error name and what the wrapper was doing.
public struct ZstdError: Error, Sendable, CustomStringConvertible, Equatable {
    @inlinable init(name: String, operation: String, isDestinationTooSmall: Bool) {
        self.name = name
        self.operation = operation
        self.isDestinationTooSmall = isDestinationTooSmall
    }
    /// The library's error name, e.g. "Destination buffer is too small".
    public let name: String
    /// What the wrapper was doing.
    public let operation: String
    /// True when the output buffer was too small (retry with a larger one).
    public let isDestinationTooSmall: Bool

    public var description: String { "zstd error (\(name)) while \(operation)" }

    @inlinable
    static func check(_ code: Int, _ operation: @autoclosure () -> String) throws -> Int {
        if ZSTD_isError(code) != 0 {
            let tooSmall = ZSTD_getErrorCode(code) == ZSTD_error_dstSize_tooSmall
            throw ZstdError(name: String(cString: ZSTD_getErrorName(code)), operation: operation(),
                            isDestinationTooSmall: tooSmall)
        }
        return code
    }
}

/// A digested compression dictionary, shared read-only by any number of threads.
///
/// zstd documents `ZSTD_CDict` and `ZSTD_DDict` as read-only after creation and safe to use from
/// several contexts at once.
public final class CompressionDictionary: @unchecked Sendable {
    // @unchecked Sendable: the digested dictionaries are immutable after init (zstd: "CDict can be
    // created once and shared by multiple threads concurrently"), and `bytes` is a let.

    /// The dictionary's identifier in the caller's numbering (0 is reserved for "no dictionary").
    public let id: UInt32
    /// The raw dictionary content, as stored.
    public let bytes: [UInt8]
    @usableFromInline let cdict: OpaquePointer
    @usableFromInline let ddict: OpaquePointer

    /// Digests `bytes` once for compression at `level` and for decompression.
    public init(id: UInt32, bytes: [UInt8], level: Int32 = 3) throws {
        guard !bytes.isEmpty else {
            throw ZstdError(name: "empty dictionary", operation: "loading dictionary \(id)", isDestinationTooSmall: false)
        }
        let c = bytes.withUnsafeBytes { ZSTD_createCDict($0.baseAddress, $0.count, level) }
        let d = bytes.withUnsafeBytes { ZSTD_createDDict($0.baseAddress, $0.count) }
        guard let c, let d else {
            if let c { ZSTD_freeCDict(c) }
            if let d { ZSTD_freeDDict(d) }
            throw ZstdError(name: "dictionary could not be digested", operation: "loading dictionary \(id)", isDestinationTooSmall: false)
        }
        do {
            self.blockSize = try Compressor.measureBlockSize(cdict: c, level: level)
        } catch {
            ZSTD_freeCDict(c)
            ZSTD_freeDDict(d)
            throw error
        }
        self.id = id
        self.bytes = bytes
        self.cdict = c
        self.ddict = d
    }

    /// The largest input `Compressor.compressBlock` takes with this dictionary: the block size of
    /// the dictionary's parameters (zstd tunes them for small inputs, so often 32 KiB, not 128 KiB).
    public let blockSize: Int

    deinit {
        ZSTD_freeCDict(cdict)
        ZSTD_freeDDict(ddict)
    }
}

/// A reusable compression context. Not thread-safe: use one per thread (or guard it).
public final class Compressor {
    private let cctx: OpaquePointer
    private let level: Int32
    /// The dictionary attached for frame (de)compression; `.none` when unknown (after block use).
    private var attached: ObjectIdentifier?? = .none

    /// Creates a context writing magicless frames (no 4-byte magic), no checksum, no dictionary id.
    public init(level: Int32 = 3) throws {
        guard let c = ZSTD_createCCtx() else {
            throw ZstdError(name: "out of memory", operation: "creating a compression context", isDestinationTooSmall: false)
        }
        self.cctx = c
        self.level = level
        do {
            _ = try ZstdError.check(lf_zstd_cctx_set_magicless(c), "setting the frame format")
            _ = try ZstdError.check(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0), "disabling checksums")
            _ = try ZstdError.check(ZSTD_CCtx_setParameter(c, ZSTD_c_dictIDFlag, 0), "omitting dictionary ids")
            _ = try ZstdError.check(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level), "setting the level")
        } catch {
            ZSTD_freeCCtx(c)
            throw error
        }
    }

    deinit { ZSTD_freeCCtx(cctx) }

    /// The block size of a context begun with `cdict` (or none, at `level`), asked of zstd
    /// (`ZSTD_getBlockSize`) on a scratch context.
    static func measureBlockSize(cdict: OpaquePointer?, level: Int32) throws -> Int {
        guard let scratch = ZSTD_createCCtx() else {
            throw ZstdError(name: "out of memory", operation: "creating a compression context", isDestinationTooSmall: false)
        }
        defer { ZSTD_freeCCtx(scratch) }
        return try ZstdError.check(lf_zstd_block_size(scratch, cdict, level), "measuring the block size")
    }

    /// The largest input `compressBlock` takes with `dictionary` (or none): what zstd's block size
    /// is for those parameters (at most `maxBlockSize`). Larger inputs go in a frame.
    public func blockLimit(dictionary: CompressionDictionary?) -> Int {
        dictionary?.blockSize ?? plainBlockSize
    }

    /// The block size without a dictionary at this context's level.
    private lazy var plainBlockSize: Int = (try? Compressor.measureBlockSize(cdict: nil, level: level)) ?? 0

    /// The largest compressed size of `count` input bytes.
    public static func bound(_ count: Int) -> Int { ZSTD_compressBound(count) }

    /// Compresses `source` into `destination` (at least `bound(source.count)` bytes) with the
    /// dictionary, or none; returns the number of bytes written.
    @inline(__always)
    public func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                         dictionary: CompressionDictionary?) throws -> Int {
        let wanted = dictionary.map { ObjectIdentifier($0) }
        if attached != .some(wanted) {
            _ = try ZstdError.check(ZSTD_CCtx_refCDict(cctx, dictionary?.cdict), "attaching a dictionary")
            attached = wanted
        }
        return try ZstdError.check(
            ZSTD_compress2(cctx, destination.baseAddress, destination.count, source.baseAddress, source.count),
            "compressing \(source.count) bytes")
    }

    /// The largest block zstd ever makes (128 KiB); the limit with a given dictionary may be
    /// smaller: see `blockLimit(dictionary:)`.
    public static var maxBlockSize: Int { 128 * 1024 }

    /// Compresses `source` (at most `blockLimit(dictionary:)` bytes) as one bare zstd block: no
    /// frame header, no size. Returns the bytes written, or 0 when the input does not compress
    /// (store it raw). A larger input throws (zstd's "Src size is incorrect").
    @inline(__always)
    public func compressBlock(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                              dictionary: CompressionDictionary?) throws -> Int {
        attached = .none // the block API leaves the context in another state
        return try ZstdError.check(
            lf_zstd_compress_block(cctx, dictionary?.cdict, level, destination.baseAddress, destination.count,
                                   source.baseAddress, source.count),
            "compressing a block of \(source.count) bytes")
    }

    /// Compresses `source` into a new array.
    public func compress(_ source: [UInt8], dictionary: CompressionDictionary?) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Compressor.bound(source.count))
        let n = try source.withUnsafeBytes { (s) throws -> Int in
            try out.withUnsafeMutableBytes { (d) throws -> Int in try compress(s, into: d, dictionary: dictionary) }
        }
        out.removeLast(out.count - n)
        return out
    }
}

/// A reusable decompression context with its own output buffer. Not thread-safe.
public final class Decompressor {
    @usableFromInline let dctx: OpaquePointer
    /// The dictionary attached for frame (de)compression; `.none` when unknown (after block use).
    @usableFromInline var attached: ObjectIdentifier?? = .none
    @usableFromInline var buffer: UnsafeMutableRawBufferPointer

    /// Creates a context reading magicless frames.
    public init() throws {
        guard let d = ZSTD_createDCtx() else {
            throw ZstdError(name: "out of memory", operation: "creating a decompression context", isDestinationTooSmall: false)
        }
        do {
            _ = try ZstdError.check(lf_zstd_dctx_set_magicless(d), "setting the frame format")
        } catch {
            ZSTD_freeDCtx(d)
            throw error
        }
        self.dctx = d
        self.buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
    }

    deinit {
        ZSTD_freeDCtx(dctx)
        buffer.deallocate()
    }

    /// Decompresses `source` (one magicless frame) and calls `body` with the result, which is valid
    /// only inside `body` (the buffer is reused by the next call).
    @inlinable
    public func decompress<T>(_ source: UnsafeRawBufferPointer, dictionary: CompressionDictionary?,
                              _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        let wanted = dictionary.map { ObjectIdentifier($0) }
        if attached != .some(wanted) {
            _ = try ZstdError.check(ZSTD_DCtx_refDDict(dctx, dictionary?.ddict), "attaching a dictionary")
            attached = wanted
        }
        while true {
            let code = ZSTD_decompressDCtx(dctx, buffer.baseAddress, buffer.count, source.baseAddress, source.count)
            if ZSTD_isError(code) != 0 && ZSTD_getErrorCode(code) == ZSTD_error_dstSize_tooSmall && buffer.count < (1 << 30) {
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 4, alignment: 16)
                buffer.deallocate()
                buffer = bigger
                continue
            }
            let n = try ZstdError.check(code, "decompressing \(source.count) bytes")
            return try body(UnsafeRawBufferPointer(start: buffer.baseAddress, count: n))
        }
    }

    /// Decompresses one bare block made by `Compressor.compressBlock` with the same dictionary and
    /// calls `body` with the result, valid only inside `body`.
    @inlinable
    public func decompressBlock<T>(_ source: UnsafeRawBufferPointer, dictionary: CompressionDictionary?,
                                   _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        attached = .none
        if buffer.count < Compressor.maxBlockSize {
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: Compressor.maxBlockSize, alignment: 16)
            buffer.deallocate()
            buffer = bigger
        }
        let n = try ZstdError.check(
            lf_zstd_decompress_block(dctx, dictionary?.ddict, buffer.baseAddress, buffer.count, source.baseAddress, source.count),
            "decompressing a block of \(source.count) bytes")
        return try body(UnsafeRawBufferPointer(start: buffer.baseAddress, count: n))
    }

    /// Decompresses `source` into a new array.
    public func decompress(_ source: [UInt8], dictionary: CompressionDictionary?) throws -> [UInt8] {
        try source.withUnsafeBytes { s in try decompress(s, dictionary: dictionary) { Array($0) } }
    }
}

/// Trains a zstd dictionary from samples (`ZDICT_trainFromBuffer`).
public enum DictionaryTrainer {
    /// Trains a dictionary of at most `capacity` bytes from `samples`. Throws when the samples are too
    /// few or too uniform for zstd to build one.
    public static func train(samples: [[UInt8]], capacity: Int) throws -> [UInt8] {
        var joined: [UInt8] = []
        joined.reserveCapacity(samples.reduce(0) { $0 + $1.count })
        var sizes: [Int] = []
        sizes.reserveCapacity(samples.count)
        for s in samples where !s.isEmpty {
            joined.append(contentsOf: s)
            sizes.append(s.count)
        }
        var dict = [UInt8](repeating: 0, count: capacity)
        let n = try dict.withUnsafeMutableBytes { (d) throws -> Int in
            try joined.withUnsafeBytes { (j) throws -> Int in
                try sizes.withUnsafeBufferPointer { (sz) throws -> Int in
                    let code = ZDICT_trainFromBuffer(d.baseAddress, d.count, j.baseAddress, sz.baseAddress, UInt32(sz.count))
                    if ZDICT_isError(code) != 0 {
                        throw ZstdError(name: String(cString: ZDICT_getErrorName(code)),
                                        operation: "training a dictionary from \(sizes.count) samples", isDestinationTooSmall: false)
                    }
                    return code
                }
            }
        }
        dict.removeLast(dict.count - n)
        return dict
    }
}
