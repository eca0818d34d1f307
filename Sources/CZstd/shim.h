#ifndef LEDGERFLOW_CZSTD_SHIM_H
#define LEDGERFLOW_CZSTD_SHIM_H
/* The frame-format parameters (magicless frames) live in zstd's "experimental" section; the shared
   library exports the functions that take them. Only the shims below use them. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zdict.h>
#include <zstd_errors.h>

/* Use frames without the 4-byte magic number: every stored event is one frame, and the log's own
   record header already says what the bytes are. */
static inline size_t lf_zstd_cctx_set_magicless(ZSTD_CCtx *cctx) {
    return ZSTD_CCtx_setParameter(cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless);
}
static inline size_t lf_zstd_dctx_set_magicless(ZSTD_DCtx *dctx) {
    return ZSTD_DCtx_setParameter(dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless);
}
/* Block-level API: one compressed block without a frame header (saves ~5 bytes per small event).
   Blocks are part of the zstd format (RFC 8878): a stored block stays decodable by any zstd by
   wrapping it in a frame header, should this API ever go away. */
static inline size_t lf_zstd_compress_block(ZSTD_CCtx *cctx, const ZSTD_CDict *cdict, int level,
                                            void *dst, size_t dstCapacity, const void *src, size_t srcSize) {
    size_t r = cdict ? ZSTD_compressBegin_usingCDict(cctx, cdict) : ZSTD_compressBegin(cctx, level);
    if (ZSTD_isError(r)) return r;
    return ZSTD_compressBlock(cctx, dst, dstCapacity, src, srcSize);
}
/* The largest input one block of `cctx` takes once begun with `cdict` (or plain `level`): 128 KiB,
   or less when the parameters' window is smaller (a dictionary's CDict carries parameters tuned
   for small inputs, e.g. a 32 KiB window). ZSTD_compressBlock refuses more (srcSize_wrong). */
static inline size_t lf_zstd_block_size(ZSTD_CCtx *cctx, const ZSTD_CDict *cdict, int level) {
    size_t r = cdict ? ZSTD_compressBegin_usingCDict(cctx, cdict) : ZSTD_compressBegin(cctx, level);
    if (ZSTD_isError(r)) return r;
    return ZSTD_getBlockSize(cctx);
}
static inline size_t lf_zstd_decompress_block(ZSTD_DCtx *dctx, const ZSTD_DDict *ddict,
                                              void *dst, size_t dstCapacity, const void *src, size_t srcSize) {
    size_t r = ddict ? ZSTD_decompressBegin_usingDDict(dctx, ddict) : ZSTD_decompressBegin(dctx);
    if (ZSTD_isError(r)) return r;
    return ZSTD_decompressBlock(dctx, dst, dstCapacity, src, srcSize);
}
#endif
