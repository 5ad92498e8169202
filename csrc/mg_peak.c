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

__attribute__((target("avx512f"))) static double loop_avx512(size_t iters)
{
    __m512d acc[ACCS], m = _mm512_set1_pd(1.0 - 1e-9), a = _mm512_set1_pd(1e-12);
    size_t i, r;
    double out[8];
    for (r = 0; r < ACCS; r++) acc[r] = _mm512_set1_pd((double)r);
    for (i = 0; i < iters; i++)
        for (r = 0; r < ACCS; r++) acc[r] = _mm512_add_pd(_mm512_mul_pd(acc[r], m), a);
    for (r = 1; r < ACCS; r++) acc[0] = _mm512_add_pd(acc[0], acc[r]);
    _mm512_storeu_pd(out, acc[0]);
    return out[0] + out[7];
}

__attribute__((target("avx2"))) static double loop_avx2(size_t iters)
{
    __m256d acc[ACCS], m = _mm256_set1_pd(1.0 - 1e-9), a = _mm256_set1_pd(1e-12);
    size_t i, r;
    double out[4];
    for (r = 0; r < ACCS; r++) acc[r] = _mm256_set1_pd((double)r);
    for (i = 0; i < 2 * iters; i++)       /* half the width: twice the steps */
        for (r = 0; r < ACCS; r++) acc[r] = _mm256_add_pd(_mm256_mul_pd(acc[r], m), a);
    for (r = 1; r < ACCS; r++) acc[0] = _mm256_add_pd(acc[0], acc[r]);
    _mm256_storeu_pd(out, acc[0]);
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
