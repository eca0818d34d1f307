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
#endif
