/* test_gemm.c -- mg_gemm's kernels, on every path this machine can run,
 * against naive scalar loops written here: every output bit must match
 * (two NaNs match whatever their payloads), and nothing outside the outputs
 * may change.  `test_gemm bench` times the kernels instead.
 *
 *   gcc -std=c99 -Wall -Wextra -Wconversion -O2 -ffp-contract=off \
 *       mg_gemm.c test_gemm.c -lm -o test_gemm && ./test_gemm
 *
 * The reference cannot be fused (see product()), so a build that fuses the
 * kernels must fail here: `gcc -O2 -ffp-contract=fast -mfma mg_gemm.c
 * test_gemm.c -lm` fails on the portable and AVX2 paths (the AVX-512 path
 * is written so that GCC cannot fuse it).  Also check that
 * `objdump -d mg_gemm.o | grep -E 'vfn?m(add|sub)'` finds nothing.
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1
#endif
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mg_gemm.h"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#define HAVE_GUARD_PAGES 1
#endif
#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

static const char *const PATHS[] = {"avx512", "avx2", "portable"};
#define NPATH 3

static long checks, failures, path_failures[NPATH];

static void count_failure(const char *path)
{
    size_t p;
    failures++;
    for (p = 0; p < NPATH; p++)
        if (strcmp(path, PATHS[p]) == 0)
            path_failures[p]++;
}

/* ---- random numbers: splitmix64, fixed seed ------------------------------- */

static uint64_t rng = 0x6d6963726f677264ull;

static uint64_t next_u64(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t below(size_t m)          /* 0..m-1 */
{
    return (size_t)(next_u64() % m);
}

static double unit(void)               /* [-1, 1) */
{
    return (double)(int64_t)(next_u64() >> 11) / 4503599627370496.0 - 1.0;
}

static double bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static const double SPECIALS[] = {
    0.0, -0.0, 4.9406564584124654e-324, -4.9406564584124654e-324,
    2.2250738585072009e-308, -1.5e-310, DBL_MIN, 1e-160, -1e-160,
    1e308, -1e308, DBL_MAX, 1e200, -1e200, HUGE_VAL, -HUGE_VAL, 1.0, -1.0,
};
#define NSPECIAL (sizeof SPECIALS / sizeof SPECIALS[0])

enum { V_NORMAL, V_MIXED, V_SPECIAL, V_SUBNORMAL, V_ZEROS, V_PZERO, V_NZERO };

/* Values whose sums depend on the order they are added in: mixed signs and
 * magnitudes spanning many binades. */
static double value(int mode)
{
    size_t r = below(100);
    switch (mode) {
    case V_MIXED:
        if (r < 12)
            return SPECIALS[below(NSPECIAL)];
        if (r < 14)
            return bits_to_double(0x7ff8000000000000ull | (next_u64() >> 14)) * (r & 1 ? 1 : -1);
        break;
    case V_SPECIAL:
        if (r < 45)
            return SPECIALS[below(NSPECIAL)];
        if (r < 50)
            return nan("");
        break;
    case V_SUBNORMAL:           /* products and sums near and below DBL_MIN */
        if (r < 30)
            return unit() * 1e-305;
        if (r < 60)
            return unit() * 1e-155;
        if (r < 70)
            return bits_to_double(next_u64() >> 12) * (r & 1 ? 1 : -1);
        break;
    case V_PZERO:
        return 0.0;
    case V_NZERO:
        return -0.0;
    case V_ZEROS:
        if (r < 50)
            return r & 1 ? 0.0 : -0.0;
        return (double)((int)below(5) - 2);
    default:
        break;
    }
    return ldexp(unit(), (int)below(41) - 20);
}

static int same(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

/* ---- naive references ----------------------------------------------------
 * The product goes through a volatile, so even a build that contracts
 * cannot fuse the reference: an FMA anywhere else then shows as a failure. */

static double product(double a, double b)
{
    volatile double p = a * b;
    return p;
}

static void ref_fwd(size_t J, size_t K, size_t n, const double *W,
                    const double *const *X, double *const *Y)
{
    size_t j, k, l;
    for (j = 0; j < J; j++)
        for (l = 0; l < n; l++) {
            double y = product(W[j * K], X[0][l]);
            for (k = 1; k < K; k++)
                y = y + product(W[j * K + k], X[k][l]);
            Y[j][l] = y;
        }
}

static void ref_bwd_in(size_t J, size_t K, size_t n, const double *W,
                       const double *const *G, double *const *GX,
                       const unsigned char *first)
{
    size_t t, k, l;
    for (k = 0; k < K; k++) {
        if (GX[k] == NULL)
            continue;
        for (l = 0; l < n; l++) {
            double acc = (first != NULL && first[k]) ? 0.0 : GX[k][l];
            for (t = 0; t < J; t++)
                acc = acc + product(G[t][l], W[t * K + k]);
            GX[k][l] = acc;
        }
    }
}

static void ref_bwd_w(size_t J, size_t K, size_t n, const double *const *G,
                      const double *const *X, double *GW)
{
    size_t j, k, l;
    for (j = 0; j < J; j++)
        for (k = 0; k < K; k++) {
            double acc = 0.0;
            for (l = 0; l < n; l++)
                acc = acc + product(G[j][l], X[k][l]);
            GW[j * K + k] = acc;
        }
}

/* ---- a workspace with scattered rows -------------------------------------
 * Rows (and GW) sit in one buffer in shuffled order, with gaps of 0..7
 * doubles so that row starts vary in alignment.  Everything else holds a
 * canary, and after a call the whole buffer is compared, so a store past a
 * row's end or into an input shows up. */

#define CANARY (-1.2345678901234567e300)
#define MAXSEG 1024

typedef struct {
    size_t nseg, len;
    size_t size[MAXSEG], off[MAXSEG];
    double *init;               /* the buffer before the call */
} arena;

static void arena_layout(arena *a)
{
    size_t order[MAXSEG], i, pos = 0;
    for (i = 0; i < a->nseg; i++)
        order[i] = i;
    for (i = a->nseg; i > 1; i--) {
        size_t j = below(i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (i = 0; i < a->nseg; i++) {
        pos += below(8);
        a->off[order[i]] = pos;
        pos += a->size[order[i]];
    }
    a->len = pos + (below(2) ? 0 : below(8));
    a->init = malloc((a->len ? a->len : 1) * sizeof(double));
    if (a->init == NULL) {
        fprintf(stderr, "test_gemm: out of memory\n");
        exit(2);
    }
    for (i = 0; i < a->len; i++)
        a->init[i] = CANARY;
}

static size_t arena_add(arena *a, size_t size)
{
    if (a->nseg == MAXSEG) {
        fprintf(stderr, "test_gemm: too many rows\n");
        exit(2);
    }
    a->size[a->nseg] = size;
    return a->nseg++;
}

static double *dup_buffer(const arena *a)
{
    double *b = malloc((a->len ? a->len : 1) * sizeof(double));
    if (b == NULL) {
        fprintf(stderr, "test_gemm: out of memory\n");
        exit(2);
    }
    memcpy(b, a->init, a->len * sizeof(double));
    return b;
}

static int report(const char *what, const char *path, size_t J, size_t K, size_t n,
                  const double *want, const double *got, size_t len)
{
    size_t i;
    checks++;
    for (i = 0; i < len; i++)
        if (!same(want[i], got[i]))
            break;
    if (i == len)
        return 0;
    count_failure(path);
    if (failures <= 20) {
        uint64_t uw, ug;
        memcpy(&uw, &want[i], sizeof uw);
        memcpy(&ug, &got[i], sizeof ug);
        fprintf(stderr, "FAIL %s [%s] J=%zu K=%zu n=%zu: word %zu want %.17g (%016llx) "
                "got %.17g (%016llx)\n", what, path, J, K, n, i, want[i],
                (unsigned long long)uw, got[i], (unsigned long long)ug);
    }
    return 1;
}

static int use_path(const char *name)
{
    return mg_gemm_select(name) == 0;
}

/* One shape of one kernel: fill, run the reference, run every path. */
typedef struct {
    size_t J, K, n;
    int mode;                   /* value mode of inputs */
    int gx_mode;                /* bwd_in: 0 random, 1 all -0.0, 2 all +0.0 */
    int first_mode;             /* bwd_in: 0 NULL, 1 none, 2 all, 3 mixed */
    int null_mode;              /* bwd_in: 0 none NULL, 1 some, 2 all */
    const double *Wfix;         /* if set, W instead of random values */
} shape;

static double *make_w(size_t J, size_t K, int mode)
{
    double *W = malloc((J * K > 0 ? J * K : 1) * sizeof(double));
    size_t i;
    if (W == NULL)
        exit(2);
    for (i = 0; i < J * K; i++)
        W[i] = value(mode);
    return W;
}

static void fill_rows(arena *a, const size_t *seg, size_t count, size_t n, int mode)
{
    size_t i, l;
    for (i = 0; i < count; i++)
        for (l = 0; l < n; l++)
            a->init[a->off[seg[i]] + l] = value(mode);
}

static void rows_of(double *buf, const arena *a, const size_t *seg, size_t count,
                    double **rows)
{
    size_t i;
    for (i = 0; i < count; i++)
        rows[i] = seg[i] == (size_t)-1 ? NULL : buf + a->off[seg[i]];
}

static void test_fwd(const shape *s)
{
    const size_t J = s->J, K = s->K, n = s->n;
    arena a;
    size_t sx[512], sy[512], i, p;
    double *X[512], *Y[512], *want, *W;
    a.nseg = 0;
    for (i = 0; i < K; i++) sx[i] = arena_add(&a, n);
    for (i = 0; i < J; i++) sy[i] = arena_add(&a, n);
    arena_layout(&a);
    fill_rows(&a, sx, K, n, s->mode);
    fill_rows(&a, sy, J, n, V_NORMAL);       /* stale outputs, never read */
    W = s->Wfix ? (double *)s->Wfix : make_w(J, K, s->mode);
    want = dup_buffer(&a);
    rows_of(want, &a, sx, K, X);
    rows_of(want, &a, sy, J, Y);
    ref_fwd(J, K, n, W, (const double *const *)X, Y);
    for (p = 0; p < NPATH; p++) {
        double *got;
        if (!use_path(PATHS[p]))
            continue;
        got = dup_buffer(&a);
        rows_of(got, &a, sx, K, X);
        rows_of(got, &a, sy, J, Y);
        mg_gemm_fwd(J, K, n, W, (const double *const *)X, Y);
        report("fwd", PATHS[p], J, K, n, want, got, a.len);
        free(got);
    }
    if (!s->Wfix)
        free(W);
    free(want);
    free(a.init);
}

static void test_bwd_in(const shape *s)
{
    const size_t J = s->J, K = s->K, n = s->n;
    arena a;
    size_t sg[512], sgx[512], i, p, l;
    double *G[512], *GX[512], *want, *W;
    unsigned char first[512];
    a.nseg = 0;
    for (i = 0; i < J; i++) sg[i] = arena_add(&a, n);
    for (i = 0; i < K; i++) {
        int isnull = s->null_mode == 2 || (s->null_mode == 1 && below(3) == 0);
        sgx[i] = isnull ? (size_t)-1 : arena_add(&a, n);
        first[i] = (unsigned char)(s->first_mode == 2 || (s->first_mode == 3 && below(2)));
    }
    arena_layout(&a);
    fill_rows(&a, sg, J, n, s->mode);
    for (i = 0; i < K; i++) {
        if (sgx[i] == (size_t)-1)
            continue;
        for (l = 0; l < n; l++)
            a.init[a.off[sgx[i]] + l] = s->gx_mode == 1 ? -0.0 : s->gx_mode == 2 ? 0.0
                                        : value(s->mode);
    }
    W = s->Wfix ? (double *)s->Wfix : make_w(J, K, s->mode);
    want = dup_buffer(&a);
    rows_of(want, &a, sg, J, G);
    rows_of(want, &a, sgx, K, GX);
    ref_bwd_in(J, K, n, W, (const double *const *)G, GX, s->first_mode ? first : NULL);
    for (p = 0; p < NPATH; p++) {
        double *got;
        if (!use_path(PATHS[p]))
            continue;
        got = dup_buffer(&a);
        rows_of(got, &a, sg, J, G);
        rows_of(got, &a, sgx, K, GX);
        mg_gemm_bwd_in(J, K, n, W, (const double *const *)G, GX,
                       s->first_mode ? first : NULL);
        report("bwd_in", PATHS[p], J, K, n, want, got, a.len);
        free(got);
    }
    if (!s->Wfix)
        free(W);
    free(want);
    free(a.init);
}

static void test_bwd_w(const shape *s)
{
    const size_t J = s->J, K = s->K, n = s->n;
    arena a;
    size_t sg[512], sx[512], sw, i, p;
    double *G[512], *X[512], *want;
    a.nseg = 0;
    for (i = 0; i < J; i++) sg[i] = arena_add(&a, n);
    for (i = 0; i < K; i++) sx[i] = arena_add(&a, n);
    sw = arena_add(&a, J * K);
    arena_layout(&a);
    fill_rows(&a, sg, J, n, s->mode);
    fill_rows(&a, sx, K, n, s->mode == V_PZERO ? V_NZERO : s->mode);
    for (i = 0; i < J * K; i++)
        a.init[a.off[sw] + i] = value(V_NORMAL);   /* stale, never read */
    want = dup_buffer(&a);
    rows_of(want, &a, sg, J, G);
    rows_of(want, &a, sx, K, X);
    ref_bwd_w(J, K, n, (const double *const *)G, (const double *const *)X, want + a.off[sw]);
    for (p = 0; p < NPATH; p++) {
        double *got;
        if (!use_path(PATHS[p]))
            continue;
        got = dup_buffer(&a);
        rows_of(got, &a, sg, J, G);
        rows_of(got, &a, sx, K, X);
        mg_gemm_bwd_w(J, K, n, (const double *const *)G, (const double *const *)X,
                      got + a.off[sw]);
        report("bwd_w", PATHS[p], J, K, n, want, got, a.len);
        free(got);
    }
    free(want);
    free(a.init);
}

static void test_all(const shape *s)
{
    test_fwd(s);
    test_bwd_in(s);
    test_bwd_w(s);
}

/* ---- the cases ------------------------------------------------------------ */

static size_t edge_n(void)
{
    static const size_t fixed[] = {255, 256, 127, 128, 129, 64, 65, 63};
    size_t r = below(4);
    if (r == 0)
        return 1 + below(8);
    if (r == 3)
        return fixed[below(sizeof fixed / sizeof fixed[0])];
    return 8 * (1 + below(12)) + below(3) - 1;     /* 8m-1, 8m, 8m+1 */
}

static void random_shapes(size_t count, int modes_from, int modes_to)
{
    size_t i;
    for (i = 0; i < count; i++) {
        shape s;
        s.J = 1 + below(40);
        s.K = 1 + below(40);
        s.n = below(2) ? 1 + below(80) : edge_n();
        s.mode = modes_from + (int)below((size_t)(modes_to - modes_from + 1));
        s.gx_mode = below(4) == 0 ? 1 + (int)below(2) : 0;
        s.first_mode = (int)below(4);
        s.null_mode = below(4) == 0 ? (below(8) == 0 ? 2 : 1) : 0;
        s.Wfix = NULL;
        test_all(&s);
    }
}

static void large_shapes(void)
{
    static const size_t dims[][3] = {{128, 128, 64}, {128, 128, 256}, {300, 300, 8},
                                     {40, 300, 37}, {300, 40, 100}, {16, 16, 1000},
                                     {7, 5, 513}, {1, 1, 300}};
    size_t i;
    for (i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        shape s;
        s.J = dims[i][0];
        s.K = dims[i][1];
        s.n = dims[i][2];
        s.mode = (int)(i % 2 ? V_MIXED : V_NORMAL);
        s.gx_mode = 0;
        s.first_mode = 3;
        s.null_mode = 1;
        s.Wfix = NULL;
        test_all(&s);
    }
}

/* n = 0 (bwd_w stores sums of no terms, +0.0) and bwd_in with J = 0 (only
 * the start values). */
static void degenerate_cases(void)
{
    static const size_t dims[][3] = {{3, 5, 0}, {1, 1, 0}, {0, 6, 9}, {0, 1, 1}};
    size_t i, q;
    for (i = 0; i < sizeof dims / sizeof dims[0]; i++)
        for (q = 0; q < 4; q++) {
            shape s;
            s.J = dims[i][0];
            s.K = dims[i][1];
            s.n = dims[i][2];
            s.mode = V_NORMAL;
            s.gx_mode = (int)(q % 3);
            s.first_mode = (int)q;
            s.null_mode = q == 3;
            s.Wfix = NULL;
            if (s.J > 0)
                test_fwd(&s);
            test_bwd_in(&s);
            test_bwd_w(&s);
        }
}

/* Every product -0.0 (W negative, inputs +0.0; for bwd_w, G +0.0 and X
 * -0.0): the sign of each result shows the start value the kernel used. */
static void signed_zero_cases(void)
{
    static const size_t dims[][3] = {{1, 1, 1}, {7, 5, 13}, {16, 16, 100}, {6, 32, 64},
                                     {13, 9, 256}, {40, 40, 80}};
    size_t i, q;
    for (i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        shape s;
        double *W;
        s.J = dims[i][0];
        s.K = dims[i][1];
        s.n = dims[i][2];
        W = malloc(s.J * s.K * sizeof(double));
        if (W == NULL)
            exit(2);
        for (q = 0; q < s.J * s.K; q++)
            W[q] = -1.0 - (double)(q % 3);
        s.Wfix = W;
        s.mode = V_PZERO;
        s.null_mode = 0;
        /* GX from random, -0.0 and +0.0; first none, all, mixed */
        for (q = 0; q < 9; q++) {
            s.gx_mode = (int)(q % 3);
            s.first_mode = 1 + (int)(q / 3);
            test_all(&s);
        }
        free(W);
        /* zeros of both signs and small integers: many exact ties */
        s.Wfix = NULL;
        s.mode = V_ZEROS;
        for (q = 0; q < 4; q++) {
            s.gx_mode = (int)(q % 3);
            s.first_mode = (int)q;
            test_all(&s);
        }
    }
}

/* Explicit all-(-0.0) checks with known answers, independent of the
 * reference loops. */
static void known_zero_signs(void)
{
    double x0[9], x1[9], y0[9], g0[9], gx0[9], gx1[9], gw[2], w[2] = {-1.0, -2.0};
    const double *X[2];
    double *Y[1], *GX[2];
    const double *G[1];
    unsigned char first[2] = {1, 0};
    size_t l, p;
    for (p = 0; p < NPATH; p++) {
        if (!use_path(PATHS[p]))
            continue;
        for (l = 0; l < 9; l++) {
            x0[l] = 0.0;
            x1[l] = 0.0;
            g0[l] = 0.0;
            gx0[l] = 5.0;
            gx1[l] = -0.0;
        }
        X[0] = x0;
        X[1] = x1;
        Y[0] = y0;
        mg_gemm_fwd(1, 2, 9, w, X, Y);                 /* (-0) + (-0) = -0 */
        G[0] = g0;
        GX[0] = gx0;
        GX[1] = gx1;
        mg_gemm_bwd_in(1, 2, 9, w, G, GX, first);      /* 0 + -0 = +0; -0 + -0 = -0 */
        for (l = 0; l < 9; l++)
            x0[l] = -1.0;
        mg_gemm_bwd_w(1, 2, 9, G, X, gw);              /* 0 + (-0) + ... = +0 */
        for (l = 0; l < 9; l++) {
            checks += 3;
            if (!(y0[l] == 0.0 && signbit(y0[l])) || !(gx0[l] == 0.0 && !signbit(gx0[l]))
                || !(gx1[l] == 0.0 && signbit(gx1[l]))) {
                count_failure(PATHS[p]);
                fprintf(stderr, "FAIL zero signs [%s] lane %zu: y %g gx0 %g gx1 %g\n",
                        PATHS[p], l, y0[l], gx0[l], gx1[l]);
            }
        }
        checks++;
        if (!(gw[0] == 0.0 && !signbit(gw[0]) && gw[1] == 0.0 && !signbit(gw[1]))) {
            count_failure(PATHS[p]);
            fprintf(stderr, "FAIL zero signs [%s] gw %g %g\n", PATHS[p], gw[0], gw[1]);
        }
    }
}

/* Order matters: 1e16 + 1 - 1e16 in k order gives 0, reassociated 1. */
static void known_order(void)
{
    double w[3] = {1.0, 1.0, 1.0}, x[3][8], y[8];
    const double *X[3];
    double *Y[1];
    size_t l, p;
    for (l = 0; l < 8; l++) {
        x[0][l] = 1e16;
        x[1][l] = 1.0;
        x[2][l] = -1e16;
    }
    X[0] = x[0];
    X[1] = x[1];
    X[2] = x[2];
    Y[0] = y;
    for (p = 0; p < NPATH; p++) {
        if (!use_path(PATHS[p]))
            continue;
        mg_gemm_fwd(1, 3, 8, w, X, Y);
        for (l = 0; l < 8; l++) {
            checks++;
            if (y[l] != 0.0) {
                count_failure(PATHS[p]);
                fprintf(stderr, "FAIL order [%s] lane %zu: %g\n", PATHS[p], l, y[l]);
            }
        }
    }
}

#ifdef HAVE_GUARD_PAGES
/* Each row flush against an inaccessible page, after its end or before its
 * start: a vector load or store outside the row faults. */
static void guard_pages(void)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    static const size_t dims[][3] = {{5, 7, 1}, {6, 13, 3}, {9, 40, 17}, {13, 6, 100},
                                     {7, 33, 256}, {33, 7, 255}};
    size_t d, side;
    for (d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (side = 0; side < 2; side++) {
            const size_t J = dims[d][0], K = dims[d][1], n = dims[d][2];
            const size_t rows = 2 * J + 2 * K, span = 2 * page;
            unsigned char *mem = mmap(NULL, rows * span, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            double *row[200], *wantY[40], *W, *GW, *wantGW;
            const double *cX[40], *cG[40];
            double *Y[40], *GX[40];
            unsigned char first[40];
            size_t i, l, p;
            if (mem == MAP_FAILED) {
                fprintf(stderr, "test_gemm: mmap failed\n");
                exit(2);
            }
            for (i = 0; i < rows; i++) {
                unsigned char *base = mem + i * span;
                if (side == 0) {      /* row ends where the guard page starts */
                    mprotect(base + page, page, PROT_NONE);
                    row[i] = (double *)(void *)(base + page - n * sizeof(double));
                } else {              /* row starts where the guard page ends */
                    mprotect(base, page, PROT_NONE);
                    row[i] = (double *)(void *)(base + page);
                }
                for (l = 0; l < n; l++)
                    row[i][l] = value(V_NORMAL);
            }
            W = make_w(J, K, V_NORMAL);
            GW = malloc(J * K * sizeof(double));
            wantGW = malloc(J * K * sizeof(double));
            for (i = 0; i < 40; i++) {
                wantY[i] = malloc(n * sizeof(double));
                first[i] = (unsigned char)(i & 1);
            }
            for (i = 0; i < K; i++) cX[i] = row[i];          /* X: rows 0..K-1 */
            for (i = 0; i < J; i++) Y[i] = row[K + i];       /* Y / G: K..K+J-1 */
            for (i = 0; i < J; i++) cG[i] = row[K + J + i];  /* G: K+J.. */
            for (i = 0; i < K; i++) GX[i] = row[K + 2 * J + i];
            for (p = 0; p < NPATH; p++) {
                if (!use_path(PATHS[p]))
                    continue;
                ref_fwd(J, K, n, W, cX, wantY);
                mg_gemm_fwd(J, K, n, W, cX, Y);
                for (i = 0; i < J; i++)
                    report("fwd guard", PATHS[p], J, K, n, wantY[i], Y[i], n);
                for (i = 0; i < K; i++)
                    memcpy(wantY[i], GX[i], n * sizeof(double));
                ref_bwd_in(J, K, n, W, cG, wantY, first);
                mg_gemm_bwd_in(J, K, n, W, cG, GX, first);
                for (i = 0; i < K; i++)
                    report("bwd_in guard", PATHS[p], J, K, n, wantY[i], GX[i], n);
                ref_bwd_w(J, K, n, cG, cX, wantGW);
                mg_gemm_bwd_w(J, K, n, cG, cX, GW);
                report("bwd_w guard", PATHS[p], J, K, n, wantGW, GW, J * K);
            }
            for (i = 0; i < 40; i++)
                free(wantY[i]);
            free(W);
            free(GW);
            free(wantGW);
            munmap(mem, rows * span);
        }
}
#endif

#ifdef HAVE_MXCSR
/* FTZ (bit 15) and DAZ (bit 6): scalar and vector code must flush alike, so
 * every path still matches the reference run in the same mode. */
static void flush_modes(void)
{
    const unsigned int saved = _mm_getcsr();
    static const unsigned int modes[] = {0x8000u, 0x0040u, 0x8040u};
    size_t m;
    for (m = 0; m < 3; m++) {
        _mm_setcsr(saved | modes[m]);
        random_shapes(150, V_SUBNORMAL, V_SUBNORMAL);
        random_shapes(50, V_NORMAL, V_SPECIAL);
        _mm_setcsr(saved);
    }
    /* and the mode is really in force: a subnormal product is flushed */
    {
        volatile double tiny = 1e-160;
        double w = 1e-160, x[1], y[1];
        const double *X[1];
        double *Y[1];
        x[0] = tiny;
        X[0] = x;
        Y[0] = y;
        _mm_setcsr(saved | 0x8040u);
        mg_gemm_fwd(1, 1, 1, &w, X, Y);
        _mm_setcsr(saved);
        checks++;
        if (!(y[0] == 0.0)) {
            failures++;
            fprintf(stderr, "FAIL: FTZ not in force in %s (%g)\n", mg_gemm_path(), y[0]);
        }
    }
}
#endif

static void environment_override(void)
{
#if !defined(_WIN32)
    const char *was = getenv("MICROGRAD_NO_SIMD");
    char saved[64] = "";
    int had = was != NULL;
    if (had)
        snprintf(saved, sizeof saved, "%s", was);
    setenv("MICROGRAD_NO_SIMD", "1", 1);
    mg_gemm_select("auto");
    checks++;
    if (strcmp(mg_gemm_path(), "portable") != 0) {
        failures++;
        fprintf(stderr, "FAIL: MICROGRAD_NO_SIMD=1 gives %s\n", mg_gemm_path());
    }
    setenv("MICROGRAD_NO_SIMD", "0", 1);
    mg_gemm_select("auto");
    checks++;
    if (strcmp(mg_gemm_path(), PATHS[0]) != 0 && mg_gemm_select(PATHS[0]) == 0) {
        failures++;
        fprintf(stderr, "FAIL: MICROGRAD_NO_SIMD=0 does not pick the best path\n");
    }
    if (had)
        setenv("MICROGRAD_NO_SIMD", saved, 1);
    else
        unsetenv("MICROGRAD_NO_SIMD");
    mg_gemm_select("auto");
#endif
}

/* ---- timing --------------------------------------------------------------- */

/* CPU time of this thread where the system has it, so that other processes
 * sharing the machine's cores do not count against the kernels. */
static double now(void)
{
#if defined(_WIN32)
    return (double)clock() / CLOCKS_PER_SEC;
#else
    struct timespec ts;
#if defined(CLOCK_THREAD_CPUTIME_ID)
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
}

/* The per-lane scalar loops a tape replays today (plain products here). */
static void naive_fwd(size_t J, size_t K, size_t n, const double *W,
                      const double *const *X, double *const *Y)
{
    size_t j, k, l;
    for (l = 0; l < n; l++)
        for (j = 0; j < J; j++) {
            double y = W[j * K] * X[0][l];
            for (k = 1; k < K; k++)
                y = y + W[j * K + k] * X[k][l];
            Y[j][l] = y;
        }
}

static void naive_bwd_in(size_t J, size_t K, size_t n, const double *W,
                         const double *const *G, double *const *GX)
{
    size_t t, k, l;
    for (l = 0; l < n; l++)
        for (k = 0; k < K; k++) {
            double acc = GX[k][l];
            for (t = 0; t < J; t++)
                acc = acc + G[t][l] * W[t * K + k];
            GX[k][l] = acc;
        }
}

static void naive_bwd_w(size_t J, size_t K, size_t n, const double *const *G,
                        const double *const *X, double *GW)
{
    size_t j, k, l;
    for (j = 0; j < J; j++)
        for (k = 0; k < K; k++) {
            double acc = 0.0;
            for (l = 0; l < n; l++)
                acc = acc + G[j][l] * X[k][l];
            GW[j * K + k] = acc;
        }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench(void)
{
    static const size_t dims[][3] = {{16, 16, 100}, {64, 64, 64}, {128, 128, 64},
                                     {128, 128, 256}};
    static const char *const kern[] = {"fwd", "bwd_in", "bwd_w"};
    size_t d, q, p, i;
    printf("GMAC/s (multiply-adds per second of thread CPU time), median of 7;"
           " rows strided n + 8 doubles\n");
    printf("%-16s %-7s %8s %8s %8s %8s\n", "J x K x n", "kernel", "naive", "portable",
           "avx2", "avx512");
    for (d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        const size_t J = dims[d][0], K = dims[d][1], n = dims[d][2], stride = n + 8;
        const size_t rows = 2 * J + 2 * K;
        double *buf = malloc(rows * stride * sizeof(double)), *W = make_w(J, K, V_NORMAL);
        double *GW = malloc(J * K * sizeof(double));
        const double *cX[128], *cG[128];
        double *Y[128], *GX[128];
        const double macs = (double)J * (double)K * (double)n;
        for (i = 0; i < rows * stride; i++)
            buf[i] = value(V_NORMAL);
        for (i = 0; i < K; i++) cX[i] = buf + i * stride;
        for (i = 0; i < J; i++) Y[i] = buf + (K + i) * stride;
        for (i = 0; i < J; i++) cG[i] = buf + (K + J + i) * stride;
        for (i = 0; i < K; i++) GX[i] = buf + (K + 2 * J + i) * stride;
        for (q = 0; q < 3; q++) {
            char label[32];
            snprintf(label, sizeof label, "%zux%zux%zu", J, K, n);
            printf("%-16s %-7s", label, kern[q]);
            for (p = 0; p <= NPATH; p++) {
                /* column order: naive, portable, avx2, avx512 */
                const char *name = p == 0 ? NULL : PATHS[NPATH - p];
                double t[7], reps = 1;
                size_t s;
                if (name != NULL && !use_path(name)) {
                    printf(" %8s", "-");
                    continue;
                }
                for (s = 0; s < 7; s++) {
                    double t0, t1;
                    size_t r;
                    for (;;) {
                        t0 = now();
                        for (r = 0; r < (size_t)reps; r++) {
                            if (q == 0)
                                name ? mg_gemm_fwd(J, K, n, W, cX, Y) : naive_fwd(J, K, n, W, cX, Y);
                            else if (q == 1) {
                                if (name)
                                    mg_gemm_bwd_in(J, K, n, W, cG, GX, NULL);
                                else
                                    naive_bwd_in(J, K, n, W, cG, GX);
                            } else
                                name ? mg_gemm_bwd_w(J, K, n, cG, cX, GW)
                                     : naive_bwd_w(J, K, n, cG, cX, GW);
                        }
                        t1 = now();
                        if (t1 - t0 >= 0.02)
                            break;
                        reps *= 2;
                    }
                    t[s] = (t1 - t0) / reps;
                }
                qsort(t, 7, sizeof t[0], cmp_double);
                printf(" %8.2f", macs / t[3] * 1e-9);
                fflush(stdout);
            }
            printf("\n");
        }
        free(buf);
        free(W);
        free(GW);
    }
    mg_gemm_select("auto");
}

int main(int argc, char **argv)
{
    size_t p;
    if (argc > 1 && strcmp(argv[1], "bench") == 0) {
        bench();
        return 0;
    }
    for (p = 0; p < NPATH; p++)
        if (mg_gemm_select(PATHS[p]) != 0)
            printf("test_gemm: path %s not available here\n", PATHS[p]);
    mg_gemm_select("auto");
    known_zero_signs();
    known_order();
    signed_zero_cases();
    degenerate_cases();
    random_shapes(3000, V_NORMAL, V_ZEROS);
    large_shapes();
#ifdef HAVE_GUARD_PAGES
    guard_pages();
#endif
#ifdef HAVE_MXCSR
    flush_modes();
#endif
    environment_override();
    mg_gemm_select("auto");
    if (failures) {
        printf("test_gemm: %ld of %ld checks FAILED (", failures, checks);
        for (p = 0; p < NPATH; p++)
            printf("%s%s %ld", p ? ", " : "", PATHS[p], path_failures[p]);
        printf(")\n");
        return 1;
    }
    printf("test_gemm: %ld checks passed (path %s)\n", checks, mg_gemm_path());
    return 0;
}
