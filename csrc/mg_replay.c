/* mg_replay.c -- replaying a tape over a chunk of lanes (mg_tape.h has the
 * layout, docs/design.md ("The tape") the design).
 *
 * Every kernel below is one loop over a chunk's lanes for one instruction,
 * calling the op's fwd_/bwd_ from mg_formulas.h per lane, so that a lane
 * computes what a node computes; the loops over + - * and dot's products are
 * what the compiler vectorises (never contracting: -ffp-contract=off). */
#if defined(__GNUC__) && !defined(__clang__)
/* no-trapping-math lets GCC turn a branch per lane (relu's y <= 0 ? 0 : g)
 * into a compare and a select, so such loops vectorise too; it allows no
 * change of any value (that would take -ffast-math's other parts, never
 * used), only of which IEEE flags a loop may raise, which nothing reads. */
#pragma GCC optimize("O3", "no-trapping-math")
#endif
#include <stdlib.h>
#include <string.h>
#include "mg_gemm.h"
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


/* A run's input row i: a lane slot's values, or one value (a parameter or a
 * constant) spread over the chunk's lanes in w->bcast. */
static const double *input_row(const mg_tape *t, mg_work *w, const double *params, mg_ref r,
                               size_t i, size_t n)
{
    opnd x = view(t, w, params, r);
    double *row;
    size_t l;
    if (x.s) return x.v;
    row = w->bcast + i * t->lanes;
    for (l = 0; l < n; l++) row[l] = x.v[0];
    return row;
}

/* The forward of a dense run: Y = W X, every neuron from its first product
 * and then left to right, as its dot node adds (mg_gemm.h keeps that order). */
static void forward_run(const mg_tape *t, mg_work *w, const double *params, const double *packed,
                        const mg_dense *d, size_t n)
{
    size_t L = t->lanes, i, j;
    const mg_ref *second = t->args + t->code[d->k0].a + d->half;
    for (i = 0; i < d->half; i++) w->xrows[i] = input_row(t, w, params, second[i], i, n);
    for (j = 0; j < d->len; j++) w->rows[j] = w->val + (size_t)t->code[d->k0 + j].out * L;
    mg_gemm_fwd(d->len, d->half, n, packed + d->w, w->xrows, w->rows);
}

/* A weight's per-lane adjoint from neuron in: weight i times its input, g
 * the neuron's adjoint (nothing for a constant weight). */
static void weight_adjoint(const mg_tape *t, mg_work *w, const double *params,
                           const mg_instr *in, size_t i, const double *g, size_t n)
{
    size_t half = in->b / 2;
    opnd x = view(t, w, params, t->args[in->a + i]);
    opnd p = view(t, w, params, t->args[in->a + half + i]);
    if (x.adj) scaled(x.adj, n, g, p.v, p.s, t->args_first[in->a + i]);
}

/* The backward of a dense run, as the sweep over its neurons (last to first)
 * would add: find_runs() kept the run only where no slot is both a weight
 * and an input and no input appears twice, so each slot's contributions
 * stay in the sweep's order when
 *   - the weights get theirs neuron by neuron (a lane's gradient per
 *     parameter: scaled()), except those used once whose chunk sums the call
 *     wants (MG_ONLY): their sums over lanes are one product G X^T;
 *   - the inputs get theirs as one product W^T G, summed in sweep order. */
static void backward_run(const mg_tape *t, mg_work *w, const double *params, const double *packed,
                         double *param_sum, int params_wanted, const mg_dense *d, size_t n)
{
    size_t L = t->lanes, J = d->len, K = d->half, i, j, r;
    const mg_instr *last = &t->code[d->k0 + J - 1];
    const mg_ref *second = t->args + last->a + K;
    double **sweep = w->rows, **ahead = w->rows + J;
    for (j = 0; j < J; j++) {
        ahead[j] = w->adj + (size_t)t->code[d->k0 + j].out * L;
        sweep[J - 1 - j] = ahead[j];
    }
    if (!params_wanted) {
        /* no parameter gradient asked for (wrt="inputs"): the weights'
         * adjoints would go nowhere */
    } else if (param_sum) {                      /* the weights not MG_ONLY */
        const uint32_t *rest = t->rest + 2 * d->first_rest;
        for (r = 0; r < d->nrest; r++)
            weight_adjoint(t, w, params, &t->code[d->k0 + rest[2 * r]], rest[2 * r + 1],
                           ahead[rest[2 * r]], n);
    } else {                                     /* every weight, in sweep order */
        for (j = J; j-- > 0;)
            for (i = 0; i < K; i++)
                weight_adjoint(t, w, params, &t->code[d->k0 + j], i, ahead[j], n);
    }
    for (i = 0; i < K; i++) {
        opnd x = view(t, w, params, second[i]);
        w->xrows[i] = x.adj;                     /* NULL for a constant */
        w->firsts[i] = t->args_first[last->a + K + i] != 0;
    }
    mg_gemm_bwd_in(J, K, n, packed + d->w + J * K, (const double *const *)sweep,
                   (double *const *)w->xrows, w->firsts);
    if (param_sum && d->nonly) {
        const uint32_t *only = t->only + 2 * d->first_only;
        for (i = 0; i < K; i++) w->xrows[i] = input_row(t, w, params, second[i], i, n);
        if (d->direct) {
            /* the weights are parameters p .. p + J K in order: their sums go
             * straight to param_sum; those not MG_ONLY (a bias: J x 1 times
             * the constant 1) are folded after the sweep, which overwrites
             * these entries */
            mg_gemm_bwd_w(J, K, n, (const double *const *)ahead, w->xrows,
                          param_sum + (d->direct - 1));
        } else {
            mg_gemm_bwd_w(J, K, n, (const double *const *)ahead, w->xrows, w->gw);
            for (i = 0; i < d->nonly; i++) param_sum[only[2 * i + 1]] = w->gw[only[2 * i]];
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
#define FWD_CUSTOM(CODE, stem)      /* a block kind: handled before the switch */

MG_VECTOR static void forward(const mg_tape *t, mg_work *w, const mg_run *run,
                              const double *packed, size_t first, size_t n)
{
    const double *params = run->params;
    size_t k, l, L = t->lanes;
    for (k = 0; k < t->ncode; k++) {
        const mg_instr *in = &t->code[k];
        double *y = w->val + (size_t)in->out * L;
        double c = in->c, c2 = in->c2;
        opnd x, a, b;
        (void)c; (void)c2;
        if (t->runs[k] & MG_RUN_START) {
            const mg_dense *d = &t->dense[(t->runs[k] & ~MG_RUN_START) - 1];
            forward_run(t, w, params, packed, d, n);
            k += d->len - 1;
            continue;
        }
        if (in->kind == MG_KIND_CUSTOM) {
            mg_tape_custom(t, w, params, in, first, n, run->backward, run->custom,
                           run->custom_ctx);
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
#undef FWD_CUSTOM
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
#define BWD_CUSTOM(CODE, stem)      /* a block kind: handled before the switch */

/* A custom op's contributions: each operand gets g times its lane's partial.
 * Kept out of backward_block (and not inlined): a product of two NaNs keeps
 * the first one's sign, and which operand the compiler puts first can change
 * with the code around it, which moved the NaN signs of dots' gradients. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static void backward_custom(const mg_tape *t, mg_work *w, const double *params,
                            const mg_instr *in, const double *g, const unsigned char *live,
                            size_t n)
{
    size_t l, i;
    const mg_ref *args = t->args + in->a;
    const double *part = mg_tape_partials(t, w, in);
    for (i = 0; i < in->b; i++) {
        opnd x = view(t, w, params, args[i]);
        if (!x.adj) continue;
        x.first = t->args_first[in->a + i];
        for (l = 0; l < n; l++) {
            if (live && !live[l]) continue;
            ADD_TO(x, g[l] * part[i * t->lanes + l]);
        }
    }
}

MG_VECTOR static void backward(const mg_tape *t, mg_work *w, const double *params,
                               const double *packed, double *param_sum, int params_wanted,
                               size_t n)
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
            const mg_dense *d = &t->dense[t->runs[k] - 1];
            backward_run(t, w, params, packed, param_sum, params_wanted, d, n);
            k -= d->len - 1;
            continue;
        }
        if (in->kind == MG_KIND_CUSTOM) {
            backward_custom(t, w, params, in, g, live, n);
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
#undef BWD_CUSTOM
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

void mg_tape_add(double *total, const double *part, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) total[i] += part[i];
}

void mg_tape_chunk(const mg_tape *t, mg_work *w, const mg_run *run, size_t first, size_t n)
{
    size_t i, l, L = t->lanes;
    const double *params = run->params, *packed = run->packed;
    if (run->plain) {
        mg_tape_chunk_plain(t, w, run, first, n);
        return;
    }
    for (i = 0; i < t->nin; i++)
        for (l = 0; l < n; l++)
            w->val[i * L + l] = run->x[(first + l) * t->nin + i];
    if (packed == NULL && t->ndense) {
        mg_tape_pack(t, params, w->packed);
        packed = w->packed;
    }
    forward(t, w, run, packed, first, n);
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
    backward(t, w, params, packed, run->param_grads ? NULL : run->param_sum,
             run->param_grads != NULL || run->param_sum != NULL, n);
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
