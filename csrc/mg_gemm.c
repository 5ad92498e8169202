/* mg_gemm.c -- the exact-order dense-layer kernels of mg_gemm.h: a portable
 * path, and on x86-64 with GCC or Clang an AVX2 and an AVX-512 path chosen
 * at run time.  mg_gemm.h says why every path gives the scalar loops' bits;
 * the comments here say how each keeps to that. */
#include <stdlib.h>
#include <string.h>
#include "mg_gemm.h"

#if defined(__clang__)
/* Clang honours the standard pragma; GCC ignores it (and would warn), so
 * there -ffp-contract=off on the command line is what forbids fusing. */
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__GNUC__)
#define MG_INLINE static inline __attribute__((always_inline))
#else
#define MG_INLINE static
#endif

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ---- portable path --------------------------------------------------------
 * Each output element has its own accumulator in a small local array, which
 * starts from the scalar loop's start value and takes the terms in the
 * reduction's order; the inner loops run across independent elements, so
 * the compiler may vectorise them without changing any element's sequence.
 * Full blocks have a fixed size, so that GCC's -O2 cost model vectorises
 * them and, unrolled, keeps the accumulators in registers; a partial block
 * runs the same code with a variable count. */

#if defined(__GNUC__)
#define MG_UNROLL_LANES _Pragma("GCC unroll 16")
#else
#define MG_UNROLL_LANES
#endif

#define PL 16      /* lanes per portable block (8 SSE2 or NEON registers) */

MG_INLINE void fwd_lanes(size_t K, size_t m, const double *w,
                         const double *const *X, size_t l0, double *y)
{
    double acc[PL] = {0.0};     /* (all set below; this quiets -Wmaybe-uninitialized) */
    size_t i, k;
    const double *x = X[0] + l0;
    MG_UNROLL_LANES for (i = 0; i < m; i++)
        acc[i] = w[0] * x[i];
    for (k = 1; k < K; k++) {
        const double wk = w[k];
        x = X[k] + l0;
        MG_UNROLL_LANES for (i = 0; i < m; i++)
            acc[i] = acc[i] + wk * x[i];
    }
    MG_UNROLL_LANES for (i = 0; i < m; i++)
        y[l0 + i] = acc[i];
}

static void fwd_portable(size_t J, size_t K, size_t n, const double *W,
                         const double *const *X, double *const *Y)
{
    size_t l0, j;
    for (l0 = 0; l0 + PL <= n; l0 += PL)
        for (j = 0; j < J; j++)
            fwd_lanes(K, PL, W + j * K, X, l0, Y[j]);
    if (l0 < n)
        for (j = 0; j < J; j++)
            fwd_lanes(K, n - l0, W + j * K, X, l0, Y[j]);
}

MG_INLINE void bin_lanes(size_t J, size_t K, size_t m, const double *w,
                         const double *const *G, size_t l0, double *gx, int first)
{
    double acc[PL] = {0.0};     /* (as in fwd_lanes) */
    size_t i, t;
    MG_UNROLL_LANES for (i = 0; i < m; i++)
        acc[i] = first ? 0.0 : gx[l0 + i];
    for (t = 0; t < J; t++) {
        const double wt = w[t * K];
        const double *g = G[t] + l0;
        MG_UNROLL_LANES for (i = 0; i < m; i++)
            acc[i] = acc[i] + g[i] * wt;
    }
    MG_UNROLL_LANES for (i = 0; i < m; i++)
        gx[l0 + i] = acc[i];
}

static void bin_portable(size_t J, size_t K, size_t n, const double *W,
                         const double *const *G, double *const *GX,
                         const unsigned char *first)
{
    size_t l0, k;
    /* (full blocks in a loop of their own: GCC vectorises them only so) */
    for (l0 = 0; l0 + PL <= n; l0 += PL)
        for (k = 0; k < K; k++)
            if (GX[k] != NULL)
                bin_lanes(J, K, PL, W + k, G, l0, GX[k], first != NULL && first[k]);
    if (l0 < n)
        for (k = 0; k < K; k++)
            if (GX[k] != NULL)
                bin_lanes(J, K, n - l0, W + k, G, l0, GX[k], first != NULL && first[k]);
}

/* bwd_w reduces over lanes, so it runs across k, which needs X transposed:
 * TL lanes by up to TK inputs at a time, into a block T on the stack (16 KiB,
 * well inside any thread's default stack, so the caller provides no
 * scratch).  Between blocks of lanes each running sum waits in GW, which
 * holds it exactly. */
#define TL 64
#define TK 32
#define PK 16      /* inputs per portable block */

static void bw_portable(size_t J, size_t K, size_t n, const double *const *G,
                        const double *const *X, double *GW)
{
    double T[TL * TK];
    size_t kb, lb, j, l, c, c0, i;
    for (kb = 0; kb < K; kb += TK) {
        const size_t kw = min_sz(TK, K - kb);
        const size_t kpad = (kw + PK - 1) / PK * PK;
        for (lb = 0; lb < n; lb += TL) {
            const size_t lw = min_sz(TL, n - lb);
            for (c = 0; c < kpad; c++) {
                if (c < kw) {
                    const double *x = X[kb + c] + lb;
                    for (l = 0; l < lw; l++)
                        T[l * TK + c] = x[l];
                } else {
                    /* padding: multiplied, never stored */
                    for (l = 0; l < lw; l++)
                        T[l * TK + c] = 0.0;
                }
            }
            for (j = 0; j < J; j++) {
                const double *g = G[j] + lb;
                double *gw = GW + j * K + kb;
                for (c0 = 0; c0 < kw; c0 += PK) {
                    const size_t m = min_sz(PK, kw - c0);
                    double acc[PK];
                    for (i = 0; i < PK; i++)
                        acc[i] = (lb == 0 || i >= m) ? 0.0 : gw[c0 + i];
                    for (l = 0; l < lw; l++) {
                        const double gl = g[l];
                        const double *t = T + l * TK + c0;
                        MG_UNROLL_LANES for (i = 0; i < PK; i++)
                            acc[i] = acc[i] + gl * t[i];
                    }
                    for (i = 0; i < m; i++)
                        gw[c0 + i] = acc[i];
                }
            }
        }
    }
}

/* ---- x86-64 SIMD paths ----------------------------------------------------
 * Register tiles of MR rows (j for fwd and bwd_w, k for bwd_in) by NV
 * vectors (lanes for fwd and bwd_in, k for bwd_w), with the reduction loop
 * innermost around the whole tile: each accumulator is one output vector,
 * advanced by one multiply and one add per reduction step.  A tile function
 * takes its shape as constants so that, inlined into one switch case per
 * shape, its accumulators live in registers. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(_WIN32)
/* (not on Windows: GCC there does not keep the stack aligned for AVX
 * spills, GCC PR 54412) */
#define MG_X86 1
#include <immintrin.h>

#define MG_UNROLL _Pragma("GCC unroll 8")

/* `total` items in `parts` nearly equal runs: the length of run i.  Equal
 * tiles keep every register tile near its full size instead of leaving one
 * thin remainder tile. */
static size_t run_len(size_t total, size_t parts, size_t i)
{
    return total / parts + (i < total % parts ? 1u : 0u);
}

/* ---- AVX-512: tiles up to 6 x 4 zmm (24 accumulators of 32) */
#define MG512 static inline __attribute__((always_inline, target("avx512f")))
#define MR5 6
#define NV5 4
/* The _round forms with the current rounding mode are the plain vmulpd and
 * vaddpd, but GCC cannot contract them into an FMA even when asked to. */
#if !defined(__clang__) && !defined(__OPTIMIZE__)
/* (unoptimised, GCC's headers spell these as macros that convert -1 to a
 * mask, which -Wsign-conversion reports in every use) */
#pragma GCC diagnostic ignored "-Wsign-conversion"
#endif
#define ADD5(a, b) _mm512_add_round_pd((a), (b), _MM_FROUND_CUR_DIRECTION)
#define MUL5(a, b) _mm512_mul_round_pd((a), (b), _MM_FROUND_CUR_DIRECTION)

static __mmask8 mask_of(size_t count)   /* the low `count` (1..8) bits */
{
    return (__mmask8)(0xFFu >> (8 - count));
}

/* Only the last vector of a tile may be partial; it is loaded with zeros
 * past the end and stored under its mask. */
#define LOAD5(p, last, ml) ((last) ? _mm512_maskz_loadu_pd((ml), (p)) : _mm512_loadu_pd(p))
#define STORE5(p, v, last, ml) \
    do { if (last) _mm512_mask_storeu_pd((p), (ml), (v)); else _mm512_storeu_pd((p), (v)); } while (0)

MG512 void fwd_t5(const size_t MR, const size_t NV, size_t K, const double *w,
                  const double *const *X, size_t l0, __mmask8 ml, double *const *Y)
{
    __m512d acc[MR5][NV5], x[NV5];
    const double *wr[MR5];
    size_t k, r, v;
    MG_UNROLL for (r = 0; r < MR; r++) wr[r] = w + r * K;
    MG_UNROLL for (v = 0; v < NV; v++) x[v] = LOAD5(X[0] + l0 + 8 * v, v == NV - 1, ml);
    /* the first term is the bare product, as in the scalar loop */
    MG_UNROLL for (r = 0; r < MR; r++) {
        const __m512d b = _mm512_set1_pd(wr[r][0]);
        MG_UNROLL for (v = 0; v < NV; v++) acc[r][v] = MUL5(b, x[v]);
    }
    for (k = 1; k < K; k++) {
        const double *xk = X[k] + l0;
        MG_UNROLL for (v = 0; v < NV; v++) x[v] = LOAD5(xk + 8 * v, v == NV - 1, ml);
        MG_UNROLL for (r = 0; r < MR; r++) {
            const __m512d b = _mm512_set1_pd(wr[r][k]);
            MG_UNROLL for (v = 0; v < NV; v++) acc[r][v] = ADD5(acc[r][v], MUL5(b, x[v]));
        }
    }
    MG_UNROLL for (r = 0; r < MR; r++) {
        double *y = Y[r] + l0;
        MG_UNROLL for (v = 0; v < NV; v++) STORE5(y + 8 * v, acc[r][v], v == NV - 1, ml);
    }
}

MG512 void bin_t5(const size_t MR, const size_t NV, size_t J, size_t K,
                  const double *W, const size_t *kx, const double *const *G,
                  size_t l0, __mmask8 ml, double *const *GX, const unsigned char *first)
{
    __m512d acc[MR5][NV5], g[NV5];
    size_t t, r, v;
    MG_UNROLL for (r = 0; r < MR; r++) {
        const double *gx = GX[kx[r]] + l0;
        if (first != NULL && first[kx[r]]) {
            MG_UNROLL for (v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_pd();
        } else {
            MG_UNROLL for (v = 0; v < NV; v++) acc[r][v] = LOAD5(gx + 8 * v, v == NV - 1, ml);
        }
    }
    for (t = 0; t < J; t++) {
        const double *gt = G[t] + l0, *wt = W + t * K;
        MG_UNROLL for (v = 0; v < NV; v++) g[v] = LOAD5(gt + 8 * v, v == NV - 1, ml);
        MG_UNROLL for (r = 0; r < MR; r++) {
            const __m512d b = _mm512_set1_pd(wt[kx[r]]);
            MG_UNROLL for (v = 0; v < NV; v++) acc[r][v] = ADD5(acc[r][v], MUL5(g[v], b));
        }
    }
    MG_UNROLL for (r = 0; r < MR; r++) {
        double *gx = GX[kx[r]] + l0;
        MG_UNROLL for (v = 0; v < NV; v++) STORE5(gx + 8 * v, acc[r][v], v == NV - 1, ml);
    }
}

/* T holds lanes lb.. as rows of TK doubles, k contiguous, zero past kw in
 * the tile's last vector (so it loads whole). */
MG512 void bw_t5(const size_t MR, const size_t NV, const double *T, size_t lw,
                 const double *const *G, size_t lb, int fresh, double *gw, size_t K,
                 __mmask8 ml)
{
    __m512d acc[MR5][NV5], x[NV5];
    const double *gr[MR5];
    size_t l, r, v;
    MG_UNROLL for (r = 0; r < MR; r++) {
        gr[r] = G[r] + lb;
        if (fresh) {
            MG_UNROLL for (v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_pd();
        } else {
            MG_UNROLL for (v = 0; v < NV; v++)
                acc[r][v] = LOAD5(gw + r * K + 8 * v, v == NV - 1, ml);
        }
    }
    for (l = 0; l < lw; l++) {
        const double *tl = T + l * TK;
        MG_UNROLL for (v = 0; v < NV; v++) x[v] = _mm512_loadu_pd(tl + 8 * v);
        MG_UNROLL for (r = 0; r < MR; r++) {
            const __m512d b = _mm512_set1_pd(gr[r][l]);
            MG_UNROLL for (v = 0; v < NV; v++) acc[r][v] = ADD5(acc[r][v], MUL5(b, x[v]));
        }
    }
    MG_UNROLL for (r = 0; r < MR; r++)
        MG_UNROLL for (v = 0; v < NV; v++)
            STORE5(gw + r * K + 8 * v, acc[r][v], v == NV - 1, ml);
}

/* One switch case per tile shape, rows 1..6 by vectors 1..4. */
#define SW5(mr, nv, F, ...) \
    switch (((mr) - 1) * NV5 + (nv) - 1) { \
    case 0: F(1, 1, __VA_ARGS__); break;  case 1: F(1, 2, __VA_ARGS__); break; \
    case 2: F(1, 3, __VA_ARGS__); break;  case 3: F(1, 4, __VA_ARGS__); break; \
    case 4: F(2, 1, __VA_ARGS__); break;  case 5: F(2, 2, __VA_ARGS__); break; \
    case 6: F(2, 3, __VA_ARGS__); break;  case 7: F(2, 4, __VA_ARGS__); break; \
    case 8: F(3, 1, __VA_ARGS__); break;  case 9: F(3, 2, __VA_ARGS__); break; \
    case 10: F(3, 3, __VA_ARGS__); break; case 11: F(3, 4, __VA_ARGS__); break; \
    case 12: F(4, 1, __VA_ARGS__); break; case 13: F(4, 2, __VA_ARGS__); break; \
    case 14: F(4, 3, __VA_ARGS__); break; case 15: F(4, 4, __VA_ARGS__); break; \
    case 16: F(5, 1, __VA_ARGS__); break; case 17: F(5, 2, __VA_ARGS__); break; \
    case 18: F(5, 3, __VA_ARGS__); break; case 19: F(5, 4, __VA_ARGS__); break; \
    case 20: F(6, 1, __VA_ARGS__); break; case 21: F(6, 2, __VA_ARGS__); break; \
    case 22: F(6, 3, __VA_ARGS__); break; case 23: F(6, 4, __VA_ARGS__); break; \
    default: break; \
    }

__attribute__((target("avx512f")))
static void fwd_avx512(size_t J, size_t K, size_t n, const double *W,
                       const double *const *X, double *const *Y)
{
    const size_t nvec = (n + 7) / 8, ltiles = (nvec + NV5 - 1) / NV5;
    const size_t jtiles = (J + MR5 - 1) / MR5;
    const __mmask8 mtail = mask_of(n - 8 * (nvec - 1));
    size_t li, ji, v0 = 0;
    for (li = 0; li < ltiles; li++) {
        const size_t nv = run_len(nvec, ltiles, li), l0 = 8 * v0;
        const __mmask8 ml = v0 + nv == nvec ? mtail : (__mmask8)0xFF;
        size_t j0 = 0;
        for (ji = 0; ji < jtiles; ji++) {
            const size_t mr = run_len(J, jtiles, ji);
            SW5(mr, nv, fwd_t5, K, W + j0 * K, X, l0, ml, Y + j0)
            j0 += mr;
        }
        v0 += nv;
    }
}

__attribute__((target("avx512f")))
static void bin_avx512(size_t J, size_t K, size_t n, const double *W,
                       const double *const *G, double *const *GX,
                       const unsigned char *first)
{
    const size_t nvec = (n + 7) / 8, ltiles = (nvec + NV5 - 1) / NV5;
    const __mmask8 mtail = mask_of(n - 8 * (nvec - 1));
    size_t li, ki, k, nk = 0, v0 = 0, ktiles;
    for (k = 0; k < K; k++)
        nk += GX[k] != NULL;
    if (nk == 0)
        return;
    ktiles = (nk + MR5 - 1) / MR5;
    for (li = 0; li < ltiles; li++) {
        const size_t nv = run_len(nvec, ltiles, li), l0 = 8 * v0;
        const __mmask8 ml = v0 + nv == nvec ? mtail : (__mmask8)0xFF;
        k = 0;
        for (ki = 0; ki < ktiles; ki++) {
            const size_t mr = run_len(nk, ktiles, ki);
            size_t kx[MR5], r = 0;
            /* the tile's rows: the next mr inputs that want a gradient */
            while (r < mr) {
                if (GX[k] != NULL)
                    kx[r++] = k;
                k++;
            }
            SW5(mr, nv, bin_t5, J, K, W, kx, G, l0, ml, GX, first)
        }
        v0 += nv;
    }
}

/* Rows k0..k0+kc-1 (kc <= 8) of X, lanes lb+l0.., transposed in registers
 * into T rows l0.. (at most 8, lc of them), columns c..c+7; rows past kc
 * become zero columns. */
MG512 void transpose8_5(const double *const *Xc, size_t kc, size_t lb, size_t l0,
                        size_t lc, double *T)
{
    __m512d a[8], b[8], col[8];
    const __mmask8 m = mask_of(lc);
    size_t i;
    MG_UNROLL for (i = 0; i < 8; i++)
        a[i] = i < kc ? _mm512_maskz_loadu_pd(m, Xc[i] + lb + l0) : _mm512_setzero_pd();
    /* pairs of rows interleaved within 128-bit blocks ... */
    MG_UNROLL for (i = 0; i < 8; i += 2) {
        b[i] = _mm512_unpacklo_pd(a[i], a[i + 1]);      /* lanes 0 2 4 6 */
        b[i + 1] = _mm512_unpackhi_pd(a[i], a[i + 1]);  /* lanes 1 3 5 7 */
    }
    /* ... then four rows' blocks gathered: blocks {0,2} and {1,3} ... */
    MG_UNROLL for (i = 0; i < 8; i += 4) {
        a[i] = _mm512_shuffle_f64x2(b[i], b[i + 2], 0x88);      /* lanes 0 4 */
        a[i + 1] = _mm512_shuffle_f64x2(b[i], b[i + 2], 0xDD);  /* lanes 2 6 */
        a[i + 2] = _mm512_shuffle_f64x2(b[i + 1], b[i + 3], 0x88);  /* lanes 1 5 */
        a[i + 3] = _mm512_shuffle_f64x2(b[i + 1], b[i + 3], 0xDD);  /* lanes 3 7 */
    }
    /* ... and rows 0-3 joined with rows 4-7 */
    col[0] = _mm512_shuffle_f64x2(a[0], a[4], 0x88);
    col[4] = _mm512_shuffle_f64x2(a[0], a[4], 0xDD);
    col[2] = _mm512_shuffle_f64x2(a[1], a[5], 0x88);
    col[6] = _mm512_shuffle_f64x2(a[1], a[5], 0xDD);
    col[1] = _mm512_shuffle_f64x2(a[2], a[6], 0x88);
    col[5] = _mm512_shuffle_f64x2(a[2], a[6], 0xDD);
    col[3] = _mm512_shuffle_f64x2(a[3], a[7], 0x88);
    col[7] = _mm512_shuffle_f64x2(a[3], a[7], 0xDD);
    MG_UNROLL for (i = 0; i < 8; i++)
        if (i < lc)
            _mm512_storeu_pd(T + (l0 + i) * TK, col[i]);
}

__attribute__((target("avx512f")))
static void bw_avx512(size_t J, size_t K, size_t n, const double *const *G,
                      const double *const *X, double *GW)
{
    __attribute__((aligned(64))) double T[TL * TK];
    const size_t nvec = (K + 7) / 8, ktiles = (nvec + NV5 - 1) / NV5;
    const size_t jtiles = (J + MR5 - 1) / MR5;
    const __mmask8 mtail = mask_of(K - 8 * (nvec - 1));
    size_t ki, ji, lb, c, l, v0 = 0;
    for (ki = 0; ki < ktiles; ki++) {
        const size_t nv = run_len(nvec, ktiles, ki), kb = 8 * v0;
        const size_t kw = min_sz(8 * nv, K - kb);
        const __mmask8 ml = v0 + nv == nvec ? mtail : (__mmask8)0xFF;
        for (lb = 0; lb < n; lb += TL) {
            const size_t lw = min_sz(TL, n - lb);
            size_t j0 = 0;
            for (c = 0; c < kw; c += 8)
                for (l = 0; l < lw; l += 8)
                    transpose8_5(X + kb + c, min_sz(8, kw - c), lb, l, min_sz(8, lw - l),
                                 T + c);
            for (ji = 0; ji < jtiles; ji++) {
                const size_t mr = run_len(J, jtiles, ji);
                SW5(mr, nv, bw_t5, T, lw, G + j0, lb, lb == 0, GW + j0 * K + kb, K, ml)
                j0 += mr;
            }
        }
        v0 += nv;
    }
}

/* ---- AVX2: tiles up to 4 x 3 ymm (12 accumulators of 16).  Without
 * AVX-512 there is no form GCC will not contract, but code compiled for
 * target("avx2") cannot use FMA unless the whole file is built with it. */
#define MG256 static inline __attribute__((always_inline, target("avx2")))
#define MR2 4
#define NV2 3

static const long long mask_src2[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

__attribute__((target("avx2")))
static __m256i mask2_of(size_t count)   /* lanes 0..count-1 (1..4) */
{
    return _mm256_loadu_si256((const __m256i *)(const void *)(mask_src2 + 4 - count));
}

#define LOAD2(p, last, ml) ((last) ? _mm256_maskload_pd((p), (ml)) : _mm256_loadu_pd(p))
#define STORE2(p, v, last, ml) \
    do { if (last) _mm256_maskstore_pd((p), (ml), (v)); else _mm256_storeu_pd((p), (v)); } while (0)

MG256 void fwd_t2(const size_t MR, const size_t NV, size_t K, const double *w,
                  const double *const *X, size_t l0, __m256i ml, double *const *Y)
{
    __m256d acc[MR2][NV2], x[NV2];
    const double *wr[MR2];
    size_t k, r, v;
    MG_UNROLL for (r = 0; r < MR; r++) wr[r] = w + r * K;
    MG_UNROLL for (v = 0; v < NV; v++) x[v] = LOAD2(X[0] + l0 + 4 * v, v == NV - 1, ml);
    MG_UNROLL for (r = 0; r < MR; r++) {
        const __m256d b = _mm256_set1_pd(wr[r][0]);
        MG_UNROLL for (v = 0; v < NV; v++) acc[r][v] = _mm256_mul_pd(b, x[v]);
    }
    for (k = 1; k < K; k++) {
        const double *xk = X[k] + l0;
        MG_UNROLL for (v = 0; v < NV; v++) x[v] = LOAD2(xk + 4 * v, v == NV - 1, ml);
        MG_UNROLL for (r = 0; r < MR; r++) {
            const __m256d b = _mm256_set1_pd(wr[r][k]);
            MG_UNROLL for (v = 0; v < NV; v++)
                acc[r][v] = _mm256_add_pd(acc[r][v], _mm256_mul_pd(b, x[v]));
        }
    }
    MG_UNROLL for (r = 0; r < MR; r++) {
        double *y = Y[r] + l0;
        MG_UNROLL for (v = 0; v < NV; v++) STORE2(y + 4 * v, acc[r][v], v == NV - 1, ml);
    }
}

MG256 void bin_t2(const size_t MR, const size_t NV, size_t J, size_t K,
                  const double *W, const size_t *kx, const double *const *G,
                  size_t l0, __m256i ml, double *const *GX, const unsigned char *first)
{
    __m256d acc[MR2][NV2], g[NV2];
    size_t t, r, v;
    MG_UNROLL for (r = 0; r < MR; r++) {
        const double *gx = GX[kx[r]] + l0;
        if (first != NULL && first[kx[r]]) {
            MG_UNROLL for (v = 0; v < NV; v++) acc[r][v] = _mm256_setzero_pd();
        } else {
            MG_UNROLL for (v = 0; v < NV; v++) acc[r][v] = LOAD2(gx + 4 * v, v == NV - 1, ml);
        }
    }
    for (t = 0; t < J; t++) {
        const double *gt = G[t] + l0, *wt = W + t * K;
        MG_UNROLL for (v = 0; v < NV; v++) g[v] = LOAD2(gt + 4 * v, v == NV - 1, ml);
        MG_UNROLL for (r = 0; r < MR; r++) {
            const __m256d b = _mm256_set1_pd(wt[kx[r]]);
            MG_UNROLL for (v = 0; v < NV; v++)
                acc[r][v] = _mm256_add_pd(acc[r][v], _mm256_mul_pd(g[v], b));
        }
    }
    MG_UNROLL for (r = 0; r < MR; r++) {
        double *gx = GX[kx[r]] + l0;
        MG_UNROLL for (v = 0; v < NV; v++) STORE2(gx + 4 * v, acc[r][v], v == NV - 1, ml);
    }
}

MG256 void bw_t2(const size_t MR, const size_t NV, const double *T, size_t lw,
                 const double *const *G, size_t lb, int fresh, double *gw, size_t K,
                 __m256i ml)
{
    __m256d acc[MR2][NV2], x[NV2];
    const double *gr[MR2];
    size_t l, r, v;
    MG_UNROLL for (r = 0; r < MR; r++) {
        gr[r] = G[r] + lb;
        if (fresh) {
            MG_UNROLL for (v = 0; v < NV; v++) acc[r][v] = _mm256_setzero_pd();
        } else {
            MG_UNROLL for (v = 0; v < NV; v++)
                acc[r][v] = LOAD2(gw + r * K + 4 * v, v == NV - 1, ml);
        }
    }
    for (l = 0; l < lw; l++) {
        const double *tl = T + l * TK;
        MG_UNROLL for (v = 0; v < NV; v++) x[v] = _mm256_loadu_pd(tl + 4 * v);
        MG_UNROLL for (r = 0; r < MR; r++) {
            const __m256d b = _mm256_set1_pd(gr[r][l]);
            MG_UNROLL for (v = 0; v < NV; v++)
                acc[r][v] = _mm256_add_pd(acc[r][v], _mm256_mul_pd(b, x[v]));
        }
    }
    MG_UNROLL for (r = 0; r < MR; r++)
        MG_UNROLL for (v = 0; v < NV; v++)
            STORE2(gw + r * K + 4 * v, acc[r][v], v == NV - 1, ml);
}

#define SW2(mr, nv, F, ...) \
    switch (((mr) - 1) * NV2 + (nv) - 1) { \
    case 0: F(1, 1, __VA_ARGS__); break;  case 1: F(1, 2, __VA_ARGS__); break; \
    case 2: F(1, 3, __VA_ARGS__); break;  case 3: F(2, 1, __VA_ARGS__); break; \
    case 4: F(2, 2, __VA_ARGS__); break;  case 5: F(2, 3, __VA_ARGS__); break; \
    case 6: F(3, 1, __VA_ARGS__); break;  case 7: F(3, 2, __VA_ARGS__); break; \
    case 8: F(3, 3, __VA_ARGS__); break;  case 9: F(4, 1, __VA_ARGS__); break; \
    case 10: F(4, 2, __VA_ARGS__); break; case 11: F(4, 3, __VA_ARGS__); break; \
    default: break; \
    }

__attribute__((target("avx2")))
static void fwd_avx2(size_t J, size_t K, size_t n, const double *W,
                     const double *const *X, double *const *Y)
{
    const size_t nvec = (n + 3) / 4, ltiles = (nvec + NV2 - 1) / NV2;
    const size_t jtiles = (J + MR2 - 1) / MR2;
    const __m256i mtail = mask2_of(n - 4 * (nvec - 1));
    size_t li, ji, v0 = 0;
    for (li = 0; li < ltiles; li++) {
        const size_t nv = run_len(nvec, ltiles, li), l0 = 4 * v0;
        const __m256i ml = v0 + nv == nvec ? mtail : mask2_of(4);
        size_t j0 = 0;
        for (ji = 0; ji < jtiles; ji++) {
            const size_t mr = run_len(J, jtiles, ji);
            SW2(mr, nv, fwd_t2, K, W + j0 * K, X, l0, ml, Y + j0)
            j0 += mr;
        }
        v0 += nv;
    }
}

__attribute__((target("avx2")))
static void bin_avx2(size_t J, size_t K, size_t n, const double *W,
                     const double *const *G, double *const *GX,
                     const unsigned char *first)
{
    const size_t nvec = (n + 3) / 4, ltiles = (nvec + NV2 - 1) / NV2;
    const __m256i mtail = mask2_of(n - 4 * (nvec - 1));
    size_t li, ki, k, nk = 0, v0 = 0, ktiles;
    for (k = 0; k < K; k++)
        nk += GX[k] != NULL;
    if (nk == 0)
        return;
    ktiles = (nk + MR2 - 1) / MR2;
    for (li = 0; li < ltiles; li++) {
        const size_t nv = run_len(nvec, ltiles, li), l0 = 4 * v0;
        const __m256i ml = v0 + nv == nvec ? mtail : mask2_of(4);
        k = 0;
        for (ki = 0; ki < ktiles; ki++) {
            const size_t mr = run_len(nk, ktiles, ki);
            size_t kx[MR2], r = 0;
            while (r < mr) {
                if (GX[k] != NULL)
                    kx[r++] = k;
                k++;
            }
            SW2(mr, nv, bin_t2, J, K, W, kx, G, l0, ml, GX, first)
        }
        v0 += nv;
    }
}

/* As transpose8_5 with 4 x 4 blocks. */
MG256 void transpose4_2(const double *const *Xc, size_t kc, size_t lb, size_t l0,
                        size_t lc, double *T)
{
    __m256d a[4], b[4];
    const __m256i m = mask2_of(lc);
    size_t i;
    MG_UNROLL for (i = 0; i < 4; i++)
        a[i] = i < kc ? _mm256_maskload_pd(Xc[i] + lb + l0, m) : _mm256_setzero_pd();
    b[0] = _mm256_unpacklo_pd(a[0], a[1]);   /* lanes 0 2 of rows 0 1 */
    b[1] = _mm256_unpackhi_pd(a[0], a[1]);   /* lanes 1 3 */
    b[2] = _mm256_unpacklo_pd(a[2], a[3]);
    b[3] = _mm256_unpackhi_pd(a[2], a[3]);
    a[0] = _mm256_permute2f128_pd(b[0], b[2], 0x20);
    a[1] = _mm256_permute2f128_pd(b[1], b[3], 0x20);
    a[2] = _mm256_permute2f128_pd(b[0], b[2], 0x31);
    a[3] = _mm256_permute2f128_pd(b[1], b[3], 0x31);
    MG_UNROLL for (i = 0; i < 4; i++)
        if (i < lc)
            _mm256_storeu_pd(T + (l0 + i) * TK, a[i]);
}

__attribute__((target("avx2")))
static void bw_avx2(size_t J, size_t K, size_t n, const double *const *G,
                    const double *const *X, double *GW)
{
    __attribute__((aligned(32))) double T[TL * TK];
    const size_t nvec = (K + 3) / 4, ktiles = (nvec + NV2 - 1) / NV2;
    const size_t jtiles = (J + MR2 - 1) / MR2;
    const __m256i mtail = mask2_of(K - 4 * (nvec - 1));
    size_t ki, ji, lb, c, l, v0 = 0;
    for (ki = 0; ki < ktiles; ki++) {
        const size_t nv = run_len(nvec, ktiles, ki), kb = 4 * v0;
        const size_t kw = min_sz(4 * nv, K - kb);
        const __m256i ml = v0 + nv == nvec ? mtail : mask2_of(4);
        for (lb = 0; lb < n; lb += TL) {
            const size_t lw = min_sz(TL, n - lb);
            size_t j0 = 0;
            for (c = 0; c < kw; c += 4)
                for (l = 0; l < lw; l += 4)
                    transpose4_2(X + kb + c, min_sz(4, kw - c), lb, l, min_sz(4, lw - l),
                                 T + c);
            for (ji = 0; ji < jtiles; ji++) {
                const size_t mr = run_len(J, jtiles, ji);
                SW2(mr, nv, bw_t2, T, lw, G + j0, lb, lb == 0, GW + j0 * K + kb, K, ml)
                j0 += mr;
            }
        }
        v0 += nv;
    }
}
#endif /* __GNUC__ && __x86_64__ */

/* ---- choosing a path ------------------------------------------------------ */

typedef struct {
    const char *name;
    void (*fwd)(size_t, size_t, size_t, const double *, const double *const *,
                double *const *);
    void (*bwd_in)(size_t, size_t, size_t, const double *, const double *const *,
                   double *const *, const unsigned char *);
    void (*bwd_w)(size_t, size_t, size_t, const double *const *, const double *const *,
                  double *);
} mg_path;

static const mg_path paths[] = {
#ifdef MG_X86
    {"avx512", fwd_avx512, bin_avx512, bw_avx512},
    {"avx2", fwd_avx2, bin_avx2, bw_avx2},
#endif
    {"portable", fwd_portable, bin_portable, bw_portable},
};
#define NPATHS (sizeof paths / sizeof paths[0])

static int runnable(const mg_path *p)
{
#ifdef MG_X86
    /* GCC's and Clang's checks include the OS's XCR0 support for the
     * registers, not only the CPUID bits. */
    __builtin_cpu_init();
    if (strcmp(p->name, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") != 0;
    if (strcmp(p->name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") != 0;
#endif
    return strcmp(p->name, "portable") == 0;
}

static const mg_path *choose(void)
{
    const char *off = getenv("MICROGRAD_NO_SIMD");
    size_t i;
    if (off != NULL && off[0] != '\0' && strcmp(off, "0") != 0)
        return &paths[NPATHS - 1];
    for (i = 0; i < NPATHS; i++)       /* best first, portable last */
        if (runnable(&paths[i]))
            return &paths[i];
    return &paths[NPATHS - 1];
}

/* The choice, made at first use.  Two threads may both find it unset and
 * both choose: they read the same CPU and environment, so they store the
 * same pointer, and whichever store lands last changes nothing.  The pointer
 * is read and written whole (atomically where the compiler offers it), and
 * it points into constant data, so no other ordering is needed. */
static const mg_path *current;

#if defined(__GNUC__)
#define LOAD_PATH() __atomic_load_n(&current, __ATOMIC_RELAXED)
#define STORE_PATH(p) __atomic_store_n(&current, (p), __ATOMIC_RELAXED)
#else
#define LOAD_PATH() (current)
#define STORE_PATH(p) (current = (p))
#endif

static const mg_path *path(void)
{
    const mg_path *p = LOAD_PATH();
    if (p == NULL) {
        p = choose();
        STORE_PATH(p);
    }
    return p;
}

const char *mg_gemm_path(void)
{
    return path()->name;
}

int mg_gemm_select(const char *name)
{
    size_t i;
    if (name == NULL)
        return -1;
    if (strcmp(name, "auto") == 0) {
        STORE_PATH(choose());
        return 0;
    }
    for (i = 0; i < NPATHS; i++) {
        if (strcmp(paths[i].name, name) == 0) {
            if (!runnable(&paths[i]))
                return -1;
            STORE_PATH(&paths[i]);
            return 0;
        }
    }
    return -1;
}

/* ---- the kernels ---------------------------------------------------------- */

void mg_gemm_fwd(size_t J, size_t K, size_t n, const double *W,
                 const double *const *X, double *const *Y)
{
    if (J == 0 || K == 0 || n == 0)
        return;
    path()->fwd(J, K, n, W, X, Y);
}

void mg_gemm_bwd_in(size_t J, size_t K, size_t n, const double *W,
                    const double *const *G, double *const *GX,
                    const unsigned char *first)
{
    if (K == 0 || n == 0)
        return;
    path()->bwd_in(J, K, n, W, G, GX, first);
}

void mg_gemm_bwd_w(size_t J, size_t K, size_t n, const double *const *G,
                   const double *const *X, double *GW)
{
    if (n == 0) {               /* sums of no terms */
        size_t i;
        for (i = 0; i < J * K; i++)
            GW[i] = 0.0;
        return;
    }
    if (J == 0 || K == 0)
        return;
    path()->bwd_w(J, K, n, G, X, GW);
}
