/*
 * mg_gemm.h -- exact-order dense-layer kernels: a layer of J neurons over K
 * inputs and a chunk of n lanes (1 <= n, typically 8..256), computed in
 * blocks but bit-for-bit as the scalar loops below compute it (IEEE double,
 * every product rounded before it is added).
 *
 * Layout.  A row is n doubles, one per lane; rows are passed as arrays of
 * row pointers (the caller's rows are scattered in a workspace).  Rows never
 * alias each other and an output row is never an input row.  W and GW are
 * J x K, row-major (W[j*K + k]).
 *
 *   mg_gemm_fwd     Y[j][l]  = W[j*K]*X[0][l], then for k = 1..K-1 in order
 *                              Y[j][l] = Y[j][l] + W[j*K+k]*X[k][l]
 *                   (the first term is the bare product, not 0.0 + product)
 *   mg_gemm_bwd_in  for each k with GX[k] != NULL:
 *                   acc = first[k] ? +0.0 : GX[k][l], then for t = 0..J-1 in
 *                   order acc = acc + G[t][l]*W[t*K+k]; GX[k][l] = acc
 *                   (first == NULL: no k is first; GX[k] == NULL: skipped)
 *   mg_gemm_bwd_w   GW[j*K+k] = +0.0, then for l = 0..n-1 in order
 *                   GW[j*K+k] = GW[j*K+k] + G[j][l]*X[k][l]
 * J >= 1 and K >= 1.  No scratch buffer: bwd_w transposes X through a 16 KiB
 * block on the stack.  Nothing is allocated and no state is shared but the
 * one-time choice of path, so calls on different data may run concurrently.
 *
 * Why every path gives the scalar loop's bits.  An output element is fixed
 * by its start value and the sequence of rounded operations applied to it.
 * Every path keeps, for each output element, one accumulator of its own that
 * starts from the scalar loop's start value and receives the same products,
 * each computed by one IEEE multiply and added by one IEEE add, in the same
 * order of the reduction index (k for fwd, t for bwd_in, l for bwd_w).  The
 * paths differ only in how many independent elements they advance at once:
 * SIMD lanes and register tiles span the other indices (lanes and j for fwd,
 * lanes and k for bwd_in, j and k for bwd_w), never the reduction index, so
 * no reduction is split, reassociated or padded.  Lanes past a row's end are
 * loaded as zeros and never stored; bwd_w carries its running sums through
 * GW between lane blocks, which stores and reloads them unchanged.  Rounding
 * mode, FTZ and DAZ in MXCSR govern scalar and vector instructions alike.
 * What this needs from the build: no fused multiply-add, so the file must be
 * compiled with -ffp-contract=off (GCC's default for GNU C would fuse even
 * the portable loops), and never with -ffast-math.  The AVX-512 path is
 * written with operations the compiler cannot fuse.
 *
 * Paths: "avx512" (zmm register tiles), "avx2" (ymm tiles, separate multiply
 * and add) and "portable" (plain C the compiler vectorises at -O2).  The best
 * one the CPU and OS support is chosen at first use; MICROGRAD_NO_SIMD set to
 * a non-empty value other than "0" forces "portable".
 */
#ifndef MICROGRAD_MG_GEMM_H
#define MICROGRAD_MG_GEMM_H

#include <stddef.h>

void mg_gemm_fwd(size_t J, size_t K, size_t n, const double *W,
                 const double *const *X, double *const *Y);

void mg_gemm_bwd_in(size_t J, size_t K, size_t n, const double *W,
                    const double *const *G, double *const *GX,
                    const unsigned char *first);

void mg_gemm_bwd_w(size_t J, size_t K, size_t n, const double *const *G,
                   const double *const *X, double *GW);

/* The path in use: "avx512", "avx2" or "portable" (makes the choice if no
 * call has made it yet). */
const char *mg_gemm_path(void);

/* Use the path `name` ("avx512", "avx2", "portable", or "auto" to choose
 * again as at first use) from now on, for every thread.  0 on success, -1
 * if this CPU, OS or build cannot run it (the path in use is then kept).
 * For tests and benchmarks; not meant to be called while kernels run. */
int mg_gemm_select(const char *name);

#endif
