/* mg_replay.c -- replaying a tape over a chunk of lanes (mg_tape.h has the
 * layout, docs/design.md ("The tape") the design).
 *
 * Every kernel below is one loop over a chunk's lanes for one instruction,
 * calling the op's fwd_/bwd_ from mg_formulas.h per lane, so that a lane
 * computes what a node computes; the loops over + - * and dot's products are
 * what the compiler vectorises (never contracting: -ffp-contract=off). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include <stdlib.h>
#include <string.h>
#include "mg_tape.h"

/* On x86-64 Linux with GCC, the replay loops are also compiled for AVX2 and
 * the machine picks the version it can run: wider vectors, the same IEEE
 * operations, so the same bits (AVX2 alone has no fused multiply-add, and
 * -ffp-contract=off forbids contracting anyway). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MG_VECTOR __attribute__((target_clones("avx2", "default")))
#else
#define MG_VECTOR
#endif

/* ---- replaying ------------------------------------------------------------ */

/* An operand as a kernel sees it: values with stride 1 (a lane slot) or 0
 * (a parameter or a constant), and where its contributions go, if anywhere. */
typedef struct {
    const double *v;
    size_t s;
    double *adj;              /* NULL for a constant */
    unsigned char *reach;     /* lane slots of a tape that prunes */
    int first;                /* this is the adjoint's first contribution */
} opnd;

static opnd view(const mg_tape *t, mg_work *w, const double *params, mg_ref r)
{
    opnd o;
    size_t L = t->lanes;
    o.first = 0;
    if (r < t->nlane) {
        o.v = w->val + (size_t)r * L;
        o.s = 1;
        o.adj = w->adj + (size_t)r * L;
        o.reach = w->reach ? w->reach + (size_t)r * L : NULL;
    } else if (r < t->nlane + t->npar) {
        o.v = params + (r - t->nlane);
        o.s = 0;
        o.adj = w->padj + (size_t)(r - t->nlane) * L;
        o.reach = NULL;
    } else {
        o.v = t->consts + (r - t->nlane - t->npar);
        o.s = 0;
        o.adj = NULL;
        o.reach = NULL;
    }
    return o;
}

/* One loop per stride combination, so that the common ones vectorise. */
#define LOOP1(call)                                                          \
    if (x.s) { for (l = 0; l < n; l++) { double xv = x.v[l]; call; } }      \
    else { double xv = x.v[0]; for (l = 0; l < n; l++) { call; } }
#define LOOP2(call)                                                          \
    if (a.s && b.s) { for (l = 0; l < n; l++) { double av = a.v[l], bv = b.v[l]; call; } } \
    else if (a.s) { double bv = b.v[0]; for (l = 0; l < n; l++) { double av = a.v[l]; call; } } \
    else if (b.s) { double av = a.v[0]; for (l = 0; l < n; l++) { double bv = b.v[l]; call; } } \
    else { double av = a.v[0], bv = b.v[0]; for (l = 0; l < n; l++) { call; } }

/* Four products of a dot at once, where each is a parameter (or constant)
 * times a lane value, as in a neuron: y = (((y + w0 x0) + w1 x1) + w2 x2) + w3 x3
 * per lane, the same additions in the same order as one at a time, with y
 * kept in a register.  0 if the four are not of that shape. */
MG_VECTOR static void axpy4(double *restrict y, size_t n, double w0, const double *restrict x0,
                            double w1, const double *restrict x1, double w2,
                            const double *restrict x2, double w3, const double *restrict x3)
{
    size_t l;
    for (l = 0; l < n; l++)
        y[l] = (((y[l] + w0 * x0[l]) + w1 * x1[l]) + w2 * x2[l]) + w3 * x3[l];
}

static int dot4(const mg_tape *t, mg_work *w, const double *params, const mg_ref *args,
                size_t i, size_t half, double *y, size_t n)
{
    opnd a0 = view(t, w, params, args[i]), b0 = view(t, w, params, args[i + half]);
    opnd a1 = view(t, w, params, args[i + 1]), b1 = view(t, w, params, args[i + 1 + half]);
    opnd a2 = view(t, w, params, args[i + 2]), b2 = view(t, w, params, args[i + 2 + half]);
    opnd a3 = view(t, w, params, args[i + 3]), b3 = view(t, w, params, args[i + 3 + half]);
    if (a0.s || a1.s || a2.s || a3.s || !b0.s || !b1.s || !b2.s || !b3.s) return 0;
    /* y is the dot's own slot, never one of its operands: restrict holds */
    axpy4(y, n, a0.v[0], b0.v, a1.v[0], b1.v, a2.v[0], b2.v, a3.v[0], b3.v);
    return 1;
}

MG_VECTOR static void forward_block(const mg_tape *t, mg_work *w, const double *params,
                          const mg_instr *in, double *y, size_t n)
{
    size_t l, i, half = in->b / 2;
    const mg_ref *args = t->args + in->a;
    if (in->op == MG_WHERE) {
        opnd c = view(t, w, params, args[0]);
        opnd a = view(t, w, params, args[1]), b = view(t, w, params, args[2]);
        for (l = 0; l < n; l++)
            y[l] = mg_where_picks_a(c.v[l * c.s]) ? a.v[l * a.s] : b.v[l * b.s];
    } else if (in->op == MG_SUM) {
        for (l = 0; l < n; l++) y[l] = 0.0;
        for (i = 0; i < in->b; i++) {
            opnd x = view(t, w, params, args[i]);
            LOOP1(y[l] = y[l] + xv)
        }
    } else {                                   /* dot: from the first product */
        for (i = 0; i < half; i++) {
            opnd a = view(t, w, params, args[i]), b = view(t, w, params, args[i + half]);
            if (i == 0) { LOOP2(y[l] = av * bv) }
            else if (i + 4 <= half && dot4(t, w, params, args, i, half, y, n)) { i += 3; }
            else { LOOP2(y[l] = y[l] + av * bv) }
        }
    }
}

/* ---- dense runs (mg_tape.h) --------------------------------------------------- */

/* adj (+)= g * v per lane, v a lane slot (stride 1) or one value (stride 0):
 * a dot's contribution to one operand.  adj is never g's or v's slot. */
MG_VECTOR static void scaled(double *restrict adj, size_t n, const double *restrict g,
                             const double *restrict v, size_t stride, int first)
{
    size_t l;
    if (stride && first) for (l = 0; l < n; l++) adj[l] = 0.0 + g[l] * v[l];
    else if (stride) for (l = 0; l < n; l++) adj[l] += g[l] * v[l];
    else {
        double c = v[0];
        if (first) for (l = 0; l < n; l++) adj[l] = 0.0 + g[l] * c;
        else for (l = 0; l < n; l++) adj[l] += g[l] * c;
    }
}


/* Four neurons at once: y[k][l] += w[k][q] * x[q][l] for q = 0..3 in turn,
 * each lane value loaded once for the four. */
MG_VECTOR static void layer44(double *restrict y0, double *restrict y1, double *restrict y2,
                              double *restrict y3, const double *const *x, const double *w,
                              size_t n)
{
    const double *restrict x0 = x[0], *restrict x1 = x[1], *restrict x2 = x[2];
    const double *restrict x3 = x[3];
    size_t l;
    for (l = 0; l < n; l++) {
        double a = x0[l], b = x1[l], c = x2[l], d = x3[l];
        y0[l] = (((y0[l] + w[0] * a) + w[1] * b) + w[2] * c) + w[3] * d;
        y1[l] = (((y1[l] + w[4] * a) + w[5] * b) + w[6] * c) + w[7] * d;
        y2[l] = (((y2[l] + w[8] * a) + w[9] * b) + w[10] * c) + w[11] * d;
        y3[l] = (((y3[l] + w[12] * a) + w[13] * b) + w[14] * c) + w[15] * d;
    }
}

/* The forward of a run: each neuron's first product, then the others in
 * order, four neurons and four lane operands at a time where they are so. */
static void forward_run(const mg_tape *t, mg_work *w, const double *params, size_t k0,
                        size_t len, size_t n)
{
    size_t L = t->lanes, half = t->code[k0].b / 2, kk, i, j, l;
    for (kk = 0; kk < len; kk += 4) {
        size_t m = (len - kk < 4) ? len - kk : 4;
        const mg_instr *ins[4];
        double *ys[4];
        for (j = 0; j < m; j++) {
            ins[j] = &t->code[k0 + kk + j];
            ys[j] = w->val + (size_t)ins[j]->out * L;
            {
                opnd a = view(t, w, params, t->args[ins[j]->a]);
                opnd b = view(t, w, params, t->args[ins[j]->a + half]);
                double *y = ys[j];
                LOOP2(y[l] = av * bv)
            }
        }
        for (i = 1; i < half;) {
            const double *xs[4];
            double ws[16];
            size_t q = 0;
            while (q < 4 && i + q < half && t->args[ins[0]->a + half + i + q] < t->nlane) q++;
            if (m == 4 && q == 4) {
                for (q = 0; q < 4; q++) {
                    xs[q] = view(t, w, params, t->args[ins[0]->a + half + i + q]).v;
                    for (j = 0; j < 4; j++)
                        ws[4 * j + q] = view(t, w, params, t->args[ins[j]->a + i + q]).v[0];
                }
                layer44(ys[0], ys[1], ys[2], ys[3], xs, ws, n);
                i += 4;
                continue;
            }
            for (j = 0; j < m; j++) {
                opnd a = view(t, w, params, t->args[ins[j]->a + i]);
                opnd b = view(t, w, params, t->args[ins[j]->a + half + i]);
                double *y = ys[j];
                LOOP2(y[l] = y[l] + av * bv)
            }
            i++;
        }
    }
}

/* The chunk sums of parameters used once: acc[q][k] = sum over lanes, in
 * order, of gt[l][k] * x[q][l], for four operands q and eight neurons k at a
 * time (gt holds the run's adjoints lane by lane, padded to eight).  Written
 * with vectors of four doubles where the compiler has them (each element
 * its own IEEE multiply and add, as in the scalar loop below). */
#if defined(__GNUC__) || defined(__clang__)
typedef double mg_v4 __attribute__((vector_size(32)));

#define MG_LOAD4(v, p) memcpy(&(v), (p), sizeof(v))

MG_VECTOR static void run_sums(const double *restrict gt, size_t stride,
                               const double *const *x, double *acc, size_t n)
{
    mg_v4 a0 = {0.0, 0.0, 0.0, 0.0}, b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0;
    mg_v4 a3 = a0, b3 = a0;
    const double *restrict x0 = x[0], *restrict x1 = x[1], *restrict x2 = x[2];
    const double *restrict x3 = x[3];
    size_t l;
    for (l = 0; l < n; l++) {
        mg_v4 g0, g1;
        MG_LOAD4(g0, gt + l * stride);
        MG_LOAD4(g1, gt + l * stride + 4);
        mg_v4 v0 = {x0[l], x0[l], x0[l], x0[l]}, v1 = {x1[l], x1[l], x1[l], x1[l]};
        mg_v4 v2 = {x2[l], x2[l], x2[l], x2[l]}, v3 = {x3[l], x3[l], x3[l], x3[l]};
        a0 += g0 * v0; b0 += g1 * v0;
        a1 += g0 * v1; b1 += g1 * v1;
        a2 += g0 * v2; b2 += g1 * v2;
        a3 += g0 * v3; b3 += g1 * v3;
    }
    memcpy(acc, &a0, sizeof a0); memcpy(acc + 4, &b0, sizeof b0);
    memcpy(acc + 8, &a1, sizeof a1); memcpy(acc + 12, &b1, sizeof b1);
    memcpy(acc + 16, &a2, sizeof a2); memcpy(acc + 20, &b2, sizeof b2);
    memcpy(acc + 24, &a3, sizeof a3); memcpy(acc + 28, &b3, sizeof b3);
}
#else
static void run_sums(const double *restrict gt, size_t stride,
                     const double *const *x, double *acc, size_t n)
{
    size_t l, k, q;
    for (k = 0; k < 32; k++) acc[k] = 0.0;
    for (l = 0; l < n; l++)
        for (q = 0; q < 4; q++)
            for (k = 0; k < 8; k++) acc[8 * q + k] += gt[l * stride + k] * x[q][l];
}
#endif

/* An operand's contributions from the run's neurons, last neuron first:
 * adj[l] (=0.0 +, or +=) g[k][l] * wk, in that order, four neurons a pass. */
MG_VECTOR static void run_adds(double *restrict adj, int first, const double *const *g,
                               const double *wv, size_t m, size_t n)
{
    size_t k = 0, l;
    if (first) {
        const double *restrict g0 = g[0];
        double w0 = wv[0];
        for (l = 0; l < n; l++) adj[l] = 0.0 + g0[l] * w0;
        k = 1;
    }
    for (; k + 4 <= m; k += 4) {
        const double *restrict g0 = g[k], *restrict g1 = g[k + 1], *restrict g2 = g[k + 2];
        const double *restrict g3 = g[k + 3];
        double w0 = wv[k], w1 = wv[k + 1], w2 = wv[k + 2], w3 = wv[k + 3];
        for (l = 0; l < n; l++)
            adj[l] = (((adj[l] + g0[l] * w0) + g1[l] * w1) + g2[l] * w2) + g3[l] * w3;
    }
    for (; k < m; k++) {
        const double *restrict g0 = g[k];
        double w0 = wv[k];
        for (l = 0; l < n; l++) adj[l] += g0[l] * w0;
    }
}

/* The backward of a run [k0, k0 + len): neurons last to first, as the nodes
 * would be swept.  Each parameter of a first half gets its contributions (or,
 * used once and summed, a share of run_sums); each operand of the common
 * second half gets the run's contributions in one pass (run_adds). */
static void backward_run(const mg_tape *t, mg_work *w, const double *params, double *param_sum,
                         size_t k0, size_t len, size_t n)
{
    size_t L = t->lanes, half = t->code[k0].b / 2, kk, i, l;
    const double *gs[64];
    double wv[64];
    /* the first halves, neuron by neuron */
    for (kk = len; kk-- > 0;) {
        const mg_instr *in = &t->code[k0 + kk];
        const double *g = w->adj + (size_t)in->out * L;
        for (i = 0; i < half; i++) {
            opnd x = view(t, w, params, t->args[in->a + i]);
            opnd p = view(t, w, params, t->args[in->a + half + i]);
            if (!x.adj || (param_sum && t->args_first[in->a + i] == MG_ONLY)) continue;
            scaled(x.adj, n, g, p.v, p.s, t->args_first[in->a + i]);
        }
    }
    /* the second half, operand by operand, the run's neurons in sweep order */
    for (i = 0; i < half; i++) {
        mg_ref r = t->args[t->code[k0].a + half + i];
        opnd x = view(t, w, params, r);
        size_t done = 0;
        if (!x.adj) continue;
        while (done < len) {
            size_t m = (len - done < 64) ? len - done : 64, j;
            for (j = 0; j < m; j++) {
                const mg_instr *in = &t->code[k0 + len - 1 - done - j];
                gs[j] = w->adj + (size_t)in->out * L;
                wv[j] = view(t, w, params, t->args[in->a + i]).v[0];
            }
            run_adds(x.adj, done == 0 && t->args_first[t->code[k0 + len - 1].a + half + i],
                     gs, wv, m, n);
            done += m;
        }
    }
    /* the parameters used once, eight neurons and four operands at a time */
    if (param_sum) {
        size_t stride = (len + 7) / 8 * 8, kb, q;
        double acc[32];
        for (kk = 0; kk < len; kk++) {
            const double *g = w->adj + (size_t)t->code[k0 + kk].out * L;
            for (l = 0; l < n; l++) w->gt[l * stride + kk] = g[l];
        }
        for (kk = len; kk < stride; kk++)
            for (l = 0; l < n; l++) w->gt[l * stride + kk] = 0.0;
        for (i = 0; i < half; i += 4) {
            const double *xs[4];
            size_t nq = (half - i < 4) ? half - i : 4;
            int any = 0;
            for (q = 0; q < 4; q++) {
                mg_ref r = t->args[t->code[k0].a + half + i + (q < nq ? q : 0)];
                xs[q] = (r < t->nlane) ? w->val + (size_t)r * L : w->gt;   /* not MG_ONLY */
            }
            for (kk = 0; kk < len && !any; kk++)
                for (q = 0; q < nq; q++)
                    if (t->args_first[t->code[k0 + kk].a + i + q] == MG_ONLY) any = 1;
            if (!any) continue;
            for (kb = 0; kb < stride; kb += 8) {
                run_sums(w->gt + kb, stride, xs, acc, n);
                for (q = 0; q < nq; q++)
                    for (kk = kb; kk < kb + 8 && kk < len; kk++) {
                        size_t at = t->code[k0 + kk].a + i + q;
                        if (t->args_first[at] == MG_ONLY)
                            param_sum[t->args[at] - t->nlane] = acc[8 * q + (kk - kb)];
                    }
            }
        }
    }
}

/* The outcome of fwd_ is the IEEE value; its status only matters op by op. */
#define MG_OP(CODE, stem, name, kind, arity, doc) FWD_##kind(CODE, stem)
#define FWD_LEAF(CODE, stem)
#define FWD_BINARY(CODE, stem) case MG_##CODE: { LOOP2((void)fwd_##stem(av, bv, &y[l])) } break;
#define FWD_CONST(CODE, stem) case MG_##CODE: { LOOP1((void)fwd_##stem(xv, c, &y[l])) } break;
#define FWD_PARAM FWD_CONST
#define FWD_UNARY(CODE, stem) case MG_##CODE: { LOOP1((void)fwd_##stem(xv, &y[l])) } break;
#define FWD_RANGE(CODE, stem) case MG_##CODE: { LOOP1((void)fwd_##stem(xv, c, c2, &y[l])) } break;
#define FWD_STOP(CODE, stem) case MG_##CODE: { LOOP1(y[l] = xv) } break;
#define FWD_SELECT(CODE, stem)
#define FWD_NARY(CODE, stem)

MG_VECTOR static void forward(const mg_tape *t, mg_work *w, const double *params, size_t n)
{
    size_t k, l, L = t->lanes;
    for (k = 0; k < t->ncode; k++) {
        const mg_instr *in = &t->code[k];
        double *y = w->val + (size_t)in->out * L;
        double c = in->c, c2 = in->c2;
        opnd x, a, b;
        (void)c; (void)c2;
        if (t->runs[k] & MG_RUN_START) {
            size_t len = t->runs[k] & ~MG_RUN_START;
            forward_run(t, w, params, k, len, n);
            k += len - 1;
            continue;
        }
        if (mg_block_kind(in->kind)) {
            forward_block(t, w, params, in, y, n);
            continue;
        }
        x = a = b = view(t, w, params, in->a);
        if (in->kind == MG_KIND_BINARY) b = view(t, w, params, in->b);
        switch (in->op) {
#include "mg_ops.def"
        default:
            break;
        }
    }
}
#undef FWD_LEAF
#undef FWD_BINARY
#undef FWD_CONST
#undef FWD_PARAM
#undef FWD_UNARY
#undef FWD_RANGE
#undef FWD_STOP
#undef FWD_SELECT
#undef FWD_NARY
#undef MG_OP

/* A contribution to an operand: stored if it is the first (as 0.0 + v: what
 * adding to a zero gives, -0.0 included), else added; the operand reached. */
#define ADD_TO(o, v) do {                                                       \
        if ((o).first) (o).adj[l] = 0.0 + (v); else (o).adj[l] += (v);         \
        if ((o).reach) (o).reach[l] = 1;                                        \
    } while (0)

/* The chunk sums of up to eight parameters that a dot uses once each, with
 * lane partners x[k]: sum[k] = 0.0 + g[0] x[k][0] + g[1] x[k][1] + ..., in
 * lane order, the eight sums in flight together.  (A lane's gradient for
 * such a parameter is 0.0 + g x; adding that or g x to a sum that started at
 * +0.0 gives the same bits, as such a sum is never -0.0.) */
#define MG_SUMS 8
static void dot_sums(const double *restrict g, const double *const *x, double *const *sum,
                     size_t k, size_t n)
{
    double acc[MG_SUMS] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    const double *xk[MG_SUMS];
    size_t l, j;
    for (j = 0; j < MG_SUMS; j++) xk[j] = x[j < k ? j : 0];
    for (l = 0; l < n; l++) {
        double gl = g[l];
        for (j = 0; j < MG_SUMS; j++) acc[j] += gl * xk[j][l];
    }
    for (j = 0; j < k; j++) *sum[j] = acc[j];
}

MG_VECTOR static void backward_block(const mg_tape *t, mg_work *w, const double *params,
                                     double *param_sum,
                           const mg_instr *in, const double *g, const unsigned char *live,
                           size_t n)
{
    size_t l, i, half = in->b / 2;
    const mg_ref *args = t->args + in->a;
    if (in->op == MG_WHERE) {
        /* the picked operand only: the other is skipped, never multiplied by 0 */
        opnd c = view(t, w, params, args[0]);
        opnd a = view(t, w, params, args[1]), b = view(t, w, params, args[2]);
        for (l = 0; l < n; l++) {
            if (!live[l]) continue;
            if (mg_where_picks_a(c.v[l * c.s])) { if (a.adj) ADD_TO(a, g[l]); }
            else if (b.adj) ADD_TO(b, g[l]);
        }
    } else if (in->op == MG_SUM) {
        for (i = 0; i < in->b; i++) {
            opnd x = view(t, w, params, args[i]);
            if (!x.adj) continue;
            x.first = t->args_first[in->a + i];
            for (l = 0; l < n; l++) {
                if (live && !live[l]) continue;
                ADD_TO(x, g[l]);
            }
        }
    } else {                                   /* dot: each operand times its partner */
        const double *xs[MG_SUMS];
        double *sums[MG_SUMS];
        size_t k = 0;
        for (i = 0; i < in->b; i++) {
            opnd x = view(t, w, params, args[i]);
            opnd p = view(t, w, params, args[i < half ? i + half : i - half]);
            if (param_sum && t->args_first[in->a + i] == MG_ONLY) {
                xs[k] = p.v;
                sums[k++] = param_sum + (args[i] - t->nlane);
                if (k == MG_SUMS) {
                    dot_sums(g, xs, sums, k, n);
                    k = 0;
                }
                continue;
            }
            if (!x.adj) continue;
            if (live || x.reach) {
                for (l = 0; l < n; l++) {
                    if (live && !live[l]) continue;
                    ADD_TO(x, g[l] * p.v[l * p.s]);
                }
            } else {
                scaled(x.adj, n, g, p.v, p.s, t->args_first[in->a + i]);
            }
        }
        if (k) dot_sums(g, xs, sums, k, n);
    }
}

#define MG_OP(CODE, stem, name, kind, arity, doc) BWD_##kind(CODE, stem)
#define LIVE (live == NULL || live[l])
#define BWD_LEAF(CODE, stem)
#define BWD_BINARY(CODE, stem) case MG_##CODE: {                                \
        for (l = 0; l < n; l++) {                                               \
            double da, db;                                                      \
            if (!LIVE) continue;                                                \
            bwd_##stem(g[l], a.v[l * a.s], b.v[l * b.s], y[l], &da, &db);       \
            if (a.adj) ADD_TO(a, da);                                           \
            if (b.adj) ADD_TO(b, db);                                           \
        } } break;
/* One operand's contributions, call(xv) per lane: a tracked loop where the
 * tape prunes, else plain loops with restrict pointers (the operand, the
 * node's value and its adjoint are three different slots), which vectorise. */
#define BWD1(call)                                                              \
    if (!x.adj) break;                                                          \
    if (live) {                                                                 \
        for (l = 0; l < n; l++) {                                               \
            double xv, gl, yl;                                                  \
            if (!live[l]) continue;                                             \
            xv = x.v[l * x.s];                                                  \
            gl = g[l];                                                          \
            yl = y[l];                                                          \
            ADD_TO(x, call);                                                    \
        }                                                                       \
    } else {                                                                    \
        double *restrict ad = x.adj;                                            \
        const double *restrict gg = g, *restrict yy = y, *restrict xs = x.v;    \
        if (x.s && x.first)                                                     \
            for (l = 0; l < n; l++) { double xv = xs[l], gl = gg[l], yl = yy[l]; \
                                      ad[l] = 0.0 + (call); }                   \
        else if (x.s)                                                           \
            for (l = 0; l < n; l++) { double xv = xs[l], gl = gg[l], yl = yy[l]; \
                                      ad[l] += (call); }                        \
        else {                                                                  \
            double xv = xs[0];                                                  \
            if (x.first)                                                        \
                for (l = 0; l < n; l++) { double gl = gg[l], yl = yy[l];        \
                                          ad[l] = 0.0 + (call); }               \
            else                                                                \
                for (l = 0; l < n; l++) { double gl = gg[l], yl = yy[l];        \
                                          ad[l] += (call); }                    \
        }                                                                       \
    }
#define BWD_CONST(CODE, stem) case MG_##CODE: { BWD1(bwd_##stem(gl, xv, yl, c)) } break;
#define BWD_PARAM BWD_CONST
#define BWD_UNARY(CODE, stem) case MG_##CODE: { BWD1(bwd_##stem(gl, xv, yl)) } break;
#define BWD_RANGE(CODE, stem) case MG_##CODE: { BWD1(bwd_##stem(gl, xv, yl, c, c2)) } break;
#define BWD_STOP(CODE, stem) case MG_##CODE: break;
#define BWD_SELECT(CODE, stem)
#define BWD_NARY(CODE, stem)

MG_VECTOR static void backward(const mg_tape *t, mg_work *w, const double *params,
                               double *param_sum, size_t n)
{
    size_t k, l, L = t->lanes;
    for (k = t->ngrad; k-- > 0;) {
        const mg_instr *in = &t->code[k];
        const double *y = w->val + (size_t)in->out * L;
        const double *g = w->adj + (size_t)in->out * L;
        const unsigned char *live = w->reach ? w->reach + (size_t)in->out * L : NULL;
        double c = in->c, c2 = in->c2;
        opnd x, a, b;
        (void)c; (void)c2; (void)y;
        if (t->runs[k] && !(t->runs[k] & MG_RUN_START)) {
            size_t len = t->runs[k];
            backward_run(t, w, params, param_sum, k + 1 - len, len, n);
            k -= len - 1;
            continue;
        }
        if (mg_block_kind(in->kind)) {
            backward_block(t, w, params, param_sum, in, g, live, n);
            continue;
        }
        x = a = b = view(t, w, params, in->a);
        x.first = a.first = in->first & 1u;
        if (in->kind == MG_KIND_BINARY) {
            b = view(t, w, params, in->b);
            b.first = (in->first >> 1) & 1u;
        }
        switch (in->op) {
#include "mg_ops.def"
        default:
            break;
        }
    }
}
#undef BWD_LEAF
#undef BWD_BINARY
#undef BWD_CONST
#undef BWD_PARAM
#undef BWD_UNARY
#undef BWD_RANGE
#undef BWD_STOP
#undef BWD_SELECT
#undef BWD_NARY
#undef LIVE
#undef BWD1
#undef MG_OP

/* sum[p] = 0.0 + adj[p][0] + adj[p][1] + ..., in lane order, for the m
 * parameters p[0..m): eight at a time, so that eight independent sums are
 * in flight. */
MG_VECTOR static void fold(const mg_tape *t, const uint32_t *p, size_t m, const double *adj,
                           size_t n, double *sum)
{
    size_t L = t->lanes, i = 0, l, k;
    for (; i + 8 <= m; i += 8) {
        double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
        for (l = 0; l < n; l++)
            for (k = 0; k < 8; k++) acc[k] += adj[p[i + k] * L + l];
        for (k = 0; k < 8; k++) sum[p[i + k]] = acc[k];
    }
    for (; i < m; i++) {
        double acc = 0.0;
        for (l = 0; l < n; l++) acc += adj[p[i] * L + l];
        sum[p[i]] = acc;
    }
}

void mg_tape_chunk(const mg_tape *t, mg_work *w, const mg_run *run, size_t first, size_t n)
{
    size_t i, l, L = t->lanes;
    const double *params = run->params;
    if (run->plain) {
        mg_tape_chunk_plain(t, w, run, first, n);
        return;
    }
    for (i = 0; i < t->nin; i++)
        for (l = 0; l < n; l++)
            w->val[i * L + l] = run->x[(first + l) * t->nin + i];
    forward(t, w, params, n);
    if (run->out)
        for (i = 0; i < t->nout; i++) {
            opnd o = view(t, w, params, t->outs[i]);
            for (l = 0; l < n; l++)
                run->out[(first + l) * t->nout + i] = o.v[l * o.s];
        }
    if (run->out_sum) {
        opnd o = view(t, w, params, t->outs[0]);
        double acc = 0.0;
        for (l = 0; l < n; l++) acc += o.v[l * o.s];
        *run->out_sum = acc;
    }
    if (!run->backward) return;
    if (t->prunes) {
        for (i = 0; i < (size_t)t->nlane; i++)
            memset(w->adj + i * L, 0, n * sizeof(double));
        for (i = 0; i < t->npar; i++)
            memset(w->padj + i * L, 0, n * sizeof(double));
        for (i = 0; i < (size_t)t->nlane; i++)
            memset(w->reach + i * L, 0, n);
    } else {
        for (i = 0; i < t->nunreached; i++) {
            opnd o = view(t, w, params, t->unreached[i]);
            memset(o.adj, 0, n * sizeof(double));
        }
    }
    {
        /* the seed, d out / d out = 1 in every lane: always the output's
         * first contribution (a leaf output has no instructions above it) */
        opnd o = view(t, w, params, t->outs[0]);
        for (l = 0; l < n; l++) {
            o.adj[l] = 1.0;
            if (o.reach) o.reach[l] = 1;
        }
    }
    /* with no per-lane parameter gradients wanted, a dot sums its parameters
     * used once straight into param_sum; fold() sums the others */
    backward(t, w, params, run->param_grads ? NULL : run->param_sum, n);
    if (run->input_grads)
        for (i = 0; i < t->nin; i++)
            for (l = 0; l < n; l++)
                run->input_grads[(first + l) * t->nin + i] = w->adj[i * L + l];
    if (run->param_grads)
        for (i = 0; i < t->npar; i++)
            for (l = 0; l < n; l++)
                run->param_grads[(first + l) * t->npar + i] = w->padj[i * L + l];
    /* fold() sums the parameters no dot summed; with per-lane gradients
     * wanted no dot summed any, so it sums them all (t->all lists them) */
    if (run->param_sum) {
        if (run->param_grads) fold(t, t->all, t->npar, w->padj, n, run->param_sum);
        else fold(t, t->folded, t->nfolded, w->padj, n, run->param_sum);
    }
}
