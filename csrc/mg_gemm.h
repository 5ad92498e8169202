/*
 * mg_gemm.h -- exact-order dense-layer kernels: a layer of J neurons with K
 * inputs over a chunk of n lanes, computed in vector blocks yet bit for bit
 * as the scalar loops below compute it (IEEE double, each product rounded
 * before it is added).
 *
 * Layout.  A row is n doubles, one per lane, and rows are passed as arrays
 * of row pointers (the caller's rows are scattered in a workspace).  Rows
 * never alias each other, and no output row is an input row.  W and GW are
 * J x K, row-major (W[j*K + k]).  J >= 1, K >= 1; n is typically 8..256 and
 * may be any size (n = 0: fwd and bwd_in do nothing, bwd_w stores +0.0).
 *
 *   mg_gemm_fwd     y = W[j*K]*X[0][l] (the bare product, not 0.0 + it), then
 *                   for k = 1..K-1 in order: y = y + W[j*K+k]*X[k][l];
 *                   Y[j][l] = y
 *   mg_gemm_bwd_in  for each k with GX[k] != NULL:
 *                   acc = first[k] ? +0.0 : GX[k][l], then for t = 0..J-1 in
 *                   order: acc = acc + G[t][l]*W[t*K+k]; GX[k][l] = acc
 *                   (first == NULL: no k is first; rows with GX[k] == NULL
 *                   are skipped)
 *   mg_gemm_bwd_w   acc = +0.0, then for l = 0..n-1 in order:
 *                   acc = acc + G[j][l]*X[k][l]; GW[j*K+k] = acc
 *
 * No scratch buffer: bwd_w transposes X through a 16 KiB block on its own
 * stack.  Nothing is allocated, and no state is shared but the one-time
 * choice of path, so calls on different data may run on several threads.
 *
 * Why every path gives the scalar loops' bits.  An output element is
 * determined by its start value and the sequence of rounded operations
 * applied to it.  Every path gives each output element an accumulator of
 * its own, started from the scalar loop's start value, and applies to it
 * the same products (one IEEE multiply each) with one IEEE add each, in the
 * scalar loop's order of the reduction index (k for fwd, t for bwd_in, l
 * for bwd_w).  Paths differ only in how many independent elements advance
 * together: vector lanes and register tiles span the other indices (lanes
 * and j for fwd, lanes and k for bwd_in, j and k for bwd_w), never the
 * reduction index, so no sum is split, reordered or padded.  Vector lanes
 * past a row's end hold zeros and are never stored.  bwd_w leaves its
 * running sums in GW between blocks of lanes; a double survives a store and
 * a load unchanged.  MXCSR's rounding mode, FTZ and DAZ act on scalar and
 * vector instructions alike.
 *
 * What the build must do: never fuse a multiply and an add.  Compile with
 * -ffp-contract=off (GCC's default in GNU C modes fuses wherever FMA is
 * available, even in the portable loops) and never with -ffast-math.  The
 * AVX-512 path uses operations GCC cannot fuse even when told to.
 *
 * Paths: "avx512" (register tiles of zmm vectors), "avx2" (ymm tiles, with
 * separate multiply and add) and "portable" (plain C that the compiler
 * vectorises at -O2).  At first use the best path this CPU and OS support is
 * chosen; MICROGRAD_NO_SIMD set to a non-empty value other than "0" forces
 * "portable".  Only GCC or Clang on x86-64 (not Windows) build the SIMD
 * paths; elsewhere "portable" is the only one.
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
