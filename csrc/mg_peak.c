/* mg_peak.c -- the one-core rate of separate multiplies and adds, the bound
 * the benchmarks hold the dense-layer kernels (mg_gemm.c) to.
 *
 * mg_mac_loop(iters) makes iters x MG_PEAK_MACS multiply-adds, each a
 * multiply and then an add (never fused), on independent accumulators so
 * that latency never stalls the loop: the caller times it.  It runs the widest
 * vectors the CPU has, as the kernels do. */
#include "mg_peak.h"

#define ACCS 12                      /* independent chains, each a vector */

typedef struct { double v[8]; } lane8;

/* The portable loop: ACCS x 8 accumulators the compiler may vectorise. */
static double loop_portable(size_t iters)
{
    double acc[ACCS][8], m[8], a[8];
    size_t i, r, k;
    for (k = 0; k < 8; k++) {
        m[k] = 1.0 - 1e-9 * (double)k;
        a[k] = 1e-12 * (double)k;
    }
    for (r = 0; r < ACCS; r++)
        for (k = 0; k < 8; k++) acc[r][k] = (double)r;
    for (i = 0; i < iters; i++)
        for (r = 0; r < ACCS; r++)
            for (k = 0; k < 8; k++) acc[r][k] = acc[r][k] * m[k] + a[k];
    for (r = 1; r < ACCS; r++)
        for (k = 0; k < 8; k++) acc[0][k] += acc[r][k];
    return acc[0][0] + acc[0][7];
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

/* Twelve named accumulators, not an array: GCC keeps an array of vectors in
 * memory, and the stores then set the pace instead of the arithmetic. */
#define MAC12(mul, add, m, a)                                                  \
    do {                                                                       \
        r0 = add(mul(r0, m), a); r1 = add(mul(r1, m), a); r2 = add(mul(r2, m), a);     \
        r3 = add(mul(r3, m), a); r4 = add(mul(r4, m), a); r5 = add(mul(r5, m), a);     \
        r6 = add(mul(r6, m), a); r7 = add(mul(r7, m), a); r8 = add(mul(r8, m), a);     \
        r9 = add(mul(r9, m), a); r10 = add(mul(r10, m), a); r11 = add(mul(r11, m), a); \
    } while (0)
#define SUM12(add) add(add(add(add(r0, r1), add(r2, r3)), add(add(r4, r5), add(r6, r7))), \
                       add(add(r8, r9), add(r10, r11)))

__attribute__((target("avx512f"))) static double loop_avx512(size_t iters)
{
    __m512d m = _mm512_set1_pd(1.0 - 1e-9), a = _mm512_set1_pd(1e-12), s;
    __m512d r0 = _mm512_set1_pd(0.0), r1 = _mm512_set1_pd(1.0), r2 = _mm512_set1_pd(2.0);
    __m512d r3 = _mm512_set1_pd(3.0), r4 = _mm512_set1_pd(4.0), r5 = _mm512_set1_pd(5.0);
    __m512d r6 = _mm512_set1_pd(6.0), r7 = _mm512_set1_pd(7.0), r8 = _mm512_set1_pd(8.0);
    __m512d r9 = _mm512_set1_pd(9.0), r10 = _mm512_set1_pd(10.0), r11 = _mm512_set1_pd(11.0);
    size_t i;
    double out[8];
    for (i = 0; i < iters; i++) MAC12(_mm512_mul_pd, _mm512_add_pd, m, a);
    s = SUM12(_mm512_add_pd);
    _mm512_storeu_pd(out, s);
    return out[0] + out[7];
}

__attribute__((target("avx2"))) static double loop_avx2(size_t iters)
{
    __m256d m = _mm256_set1_pd(1.0 - 1e-9), a = _mm256_set1_pd(1e-12), s;
    __m256d r0 = _mm256_set1_pd(0.0), r1 = _mm256_set1_pd(1.0), r2 = _mm256_set1_pd(2.0);
    __m256d r3 = _mm256_set1_pd(3.0), r4 = _mm256_set1_pd(4.0), r5 = _mm256_set1_pd(5.0);
    __m256d r6 = _mm256_set1_pd(6.0), r7 = _mm256_set1_pd(7.0), r8 = _mm256_set1_pd(8.0);
    __m256d r9 = _mm256_set1_pd(9.0), r10 = _mm256_set1_pd(10.0), r11 = _mm256_set1_pd(11.0);
    size_t i;
    double out[4];
    for (i = 0; i < 2 * iters; i++)       /* half the width: twice the steps */
        MAC12(_mm256_mul_pd, _mm256_add_pd, m, a);
    s = SUM12(_mm256_add_pd);
    _mm256_storeu_pd(out, s);
    return out[0] + out[3];
}
#endif

double mg_mac_loop(size_t iters)
{
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return loop_avx512(iters);
    if (__builtin_cpu_supports("avx2")) return loop_avx2(iters);
#endif
    return loop_portable(iters);
}
