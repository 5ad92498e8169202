/* mg_interp.c -- the plain interpreter: the oracle of mg_replay.c.
 *
 * It replays a tape instruction by instruction and lane by lane, as a node
 * graph would be evaluated: every adjoint starts at 0.0 and every
 * contribution is added to it, every parameter's chunk sum is its per-lane
 * adjoints added in lane order from 0.0.  It uses none of the tape's
 * lowerings: no first-contribution stores, no dense runs, no matrix kernels,
 * no sums taken inside a dot.  mg_replay.c must give exactly its bits; the
 * tests compare the two with == on graphs generated to hit every lowering
 * (docs/design.md, "The oracle").  Speed is not a goal here: clarity is.
 *
 * It reads only the instructions, operands, constants and outputs of a tape,
 * so it is also independent of the derived fields that finish() computes
 * (runs, first contributions, folded parameters). */
#include <stdlib.h>
#include <string.h>
#include "mg_tape.h"

typedef struct {
    const mg_tape *t;
    mg_work *w;
    const double *params;
    size_t L;
} interp;

/* The value of reference r in lane l. */
static double get(const interp *s, mg_ref r, size_t l)
{
    const mg_tape *t = s->t;
    if (r < t->nlane) return s->w->val[(size_t)r * s->L + l];
    if (r < t->nlane + t->npar) return s->params[r - t->nlane];
    return t->consts[r - t->nlane - t->npar];
}

/* A contribution v to reference r's adjoint in lane l (constants have none). */
static void add(const interp *s, mg_ref r, size_t l, double v)
{
    const mg_tape *t = s->t;
    if (r < t->nlane) {
        s->w->adj[(size_t)r * s->L + l] += v;
        if (s->w->reach) s->w->reach[(size_t)r * s->L + l] = 1;
    } else if (r < t->nlane + t->npar) {
        s->w->padj[(size_t)(r - t->nlane) * s->L + l] += v;
    }
}

static double block_value(const interp *s, const mg_instr *in, size_t l)
{
    const mg_ref *args = s->t->args + in->a;
    size_t i, half = in->b / 2;
    double acc = 0.0;
    if (in->op == MG_WHERE)
        return get(s, args[mg_where_picks_a(get(s, args[0], l)) ? 1 : 2], l);
    if (in->op == MG_SUM) {
        for (i = 0; i < in->b; i++) acc += get(s, args[i], l);
        return acc;
    }
    for (i = 0; i < half; i++) {             /* dot: from the first product */
        double p = get(s, args[i], l) * get(s, args[i + half], l);
        acc = (i == 0) ? p : acc + p;
    }
    return acc;
}

#define MG_OP(CODE, stem, name, kind, arity, doc) FWD_##kind(CODE, stem)
#define FWD_LEAF(CODE, stem)
#define FWD_BINARY(CODE, stem) case MG_##CODE: (void)fwd_##stem(x, get(s, in->b, l), &y); break;
#define FWD_CONST(CODE, stem) case MG_##CODE: (void)fwd_##stem(x, in->c, &y); break;
#define FWD_PARAM FWD_CONST
#define FWD_UNARY(CODE, stem) case MG_##CODE: (void)fwd_##stem(x, &y); break;
#define FWD_RANGE(CODE, stem) case MG_##CODE: (void)fwd_##stem(x, in->c, in->c2, &y); break;
#define FWD_STOP(CODE, stem) case MG_##CODE: y = x; break;
#define FWD_SELECT(CODE, stem)
#define FWD_NARY(CODE, stem)
#define FWD_CUSTOM(CODE, stem)      /* a block kind: handled before the switch */

/* The value of instruction in for lane l: the IEEE outcome of its formula
 * (where a node would raise, the replay keeps the value). */
static double forward_one(const interp *s, const mg_instr *in, size_t l)
{
    double x, y = 0.0;
    if (mg_block_kind(in->kind)) return block_value(s, in, l);
    x = get(s, in->a, l);
    switch (in->op) {
#include "mg_ops.def"
    default:
        break;
    }
    return y;
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

static void backward_block(const interp *s, const mg_instr *in, double g, size_t l)
{
    const mg_ref *args = s->t->args + in->a;
    size_t i, half = in->b / 2;
    if (in->op == MG_WHERE) {                /* the picked operand only */
        add(s, args[mg_where_picks_a(get(s, args[0], l)) ? 1 : 2], l, g);
    } else if (in->op == MG_SUM) {
        for (i = 0; i < in->b; i++) add(s, args[i], l, g);
    } else if (in->kind == MG_KIND_CUSTOM) { /* each operand times its lane's partial */
        const double *part = mg_tape_partials(s->t, s->w, in);
        for (i = 0; i < in->b; i++) add(s, args[i], l, g * part[i * s->L + l]);
    } else {                                 /* dot: each operand times its partner */
        for (i = 0; i < in->b; i++)
            add(s, args[i], l, g * get(s, args[i < half ? i + half : i - half], l));
    }
}

#define MG_OP(CODE, stem, name, kind, arity, doc) BWD_##kind(CODE, stem)
#define BWD_LEAF(CODE, stem)
#define BWD_BINARY(CODE, stem) case MG_##CODE: {                                \
        double da, db;                                                          \
        bwd_##stem(g, x, get(s, in->b, l), y, &da, &db);                        \
        add(s, in->a, l, da);                                                   \
        add(s, in->b, l, db);                                                   \
    } break;
#define BWD_CONST(CODE, stem) case MG_##CODE: add(s, in->a, l, bwd_##stem(g, x, y, in->c)); break;
#define BWD_PARAM BWD_CONST
#define BWD_UNARY(CODE, stem) case MG_##CODE: add(s, in->a, l, bwd_##stem(g, x, y)); break;
#define BWD_RANGE(CODE, stem) case MG_##CODE:                                   \
        add(s, in->a, l, bwd_##stem(g, x, y, in->c, in->c2)); break;
#define BWD_STOP(CODE, stem) case MG_##CODE: break;
#define BWD_SELECT(CODE, stem)
#define BWD_NARY(CODE, stem)
#define BWD_CUSTOM(CODE, stem)      /* a block kind: handled before the switch */

/* Instruction in's contributions to its operands in lane l. */
static void backward_one(const interp *s, const mg_instr *in, size_t l)
{
    size_t o = (size_t)in->out * s->L + l;
    double g = s->w->adj[o], y = s->w->val[o], x;
    if (mg_block_kind(in->kind)) {
        backward_block(s, in, g, l);
        return;
    }
    x = get(s, in->a, l);
    switch (in->op) {
#include "mg_ops.def"
    default:
        break;
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
#undef MG_OP

void mg_tape_chunk_plain(const mg_tape *t, mg_work *w, const mg_run *run, size_t first, size_t n)
{
    interp s;
    size_t i, k, l, L = t->lanes;
    s.t = t;
    s.w = w;
    s.params = run->params;
    s.L = L;
    for (i = 0; i < t->nin; i++)
        for (l = 0; l < n; l++)
            w->val[i * L + l] = run->x[(first + l) * t->nin + i];
    for (k = 0; k < t->ncode; k++) {
        if (t->code[k].kind == MG_KIND_CUSTOM) {
            mg_tape_custom(t, w, run->params, &t->code[k], first, n, run->backward,
                           run->custom, run->custom_ctx);
            continue;
        }
        for (l = 0; l < n; l++)
            w->val[(size_t)t->code[k].out * L + l] = forward_one(&s, &t->code[k], l);
    }
    if (run->out)
        for (i = 0; i < t->nout; i++)
            for (l = 0; l < n; l++)
                run->out[(first + l) * t->nout + i] = get(&s, t->outs[i], l);
    if (run->out_sum) {
        double acc = 0.0;
        for (l = 0; l < n; l++) acc += get(&s, t->outs[0], l);
        *run->out_sum = acc;
    }
    if (!run->backward) return;
    for (i = 0; i < t->nlane; i++)
        for (l = 0; l < n; l++) w->adj[i * L + l] = 0.0;
    for (i = 0; i < t->npar; i++)
        for (l = 0; l < n; l++) w->padj[i * L + l] = 0.0;
    if (w->reach) memset(w->reach, 0, (size_t)t->nlane * L);
    for (l = 0; l < n; l++) add(&s, t->outs[0], l, 1.0);   /* the seed */
    for (k = t->ngrad; k-- > 0;)
        for (l = 0; l < n; l++)
            if (w->reach == NULL || w->reach[(size_t)t->code[k].out * L + l])
                backward_one(&s, &t->code[k], l);
    if (run->input_grads)
        for (i = 0; i < t->nin; i++)
            for (l = 0; l < n; l++)
                run->input_grads[(first + l) * t->nin + i] = w->adj[i * L + l];
    if (run->param_grads)
        for (i = 0; i < t->npar; i++)
            for (l = 0; l < n; l++)
                run->param_grads[(first + l) * t->npar + i] = w->padj[i * L + l];
    if (run->param_sum)
        for (i = 0; i < t->npar; i++) {
            double acc = 0.0;
            for (l = 0; l < n; l++) acc += w->padj[i * L + l];
            run->param_sum[i] = acc;
        }
}

/* -- forward mode over a tape (tape.jvp) ----------------------------------------
 * Lane by lane, each instruction's tangent from its operands', as
 * mg_forward.c does on a graph: each operand's contribution is the op's
 * backward formula applied to that operand's tangent, in operand order, the
 * first kept as it is and the next added to it; an operand without a tangent
 * (a parameter, a constant, a slot the lane's where() did not pick) gives
 * nothing.  Whether a slot has a tangent can change from lane to lane (a
 * where() picks per lane), so it is kept per lane.  There is no lowering of
 * any kind: the values come from forward_one above, the plain interpreter's,
 * so a lane gives micrograd.jvp's bits on its sample. */
typedef struct {
    const interp *s;
    double *tan;
    unsigned char *has;
} tangents;

static int has_t(const tangents *T, mg_ref r, size_t l)
{
    return r < T->s->t->nlane && T->has[(size_t)r * T->s->L + l];
}

static double tan_of(const tangents *T, mg_ref r, size_t l)
{
    return T->tan[(size_t)r * T->s->L + l];
}

/* t = v for the first contribution, else t + v */
#define TAKE(v) do { double v_ = (v); t = any ? t + v_ : v_; any = 1; } while (0)

static int jvp_block(const tangents *T, const mg_instr *in, size_t l, double *out)
{
    const interp *s = T->s;
    const mg_ref *args = s->t->args + in->a;
    size_t i, half = in->b / 2;
    double t = 0.0;
    int any = 0;
    if (in->op == MG_WHERE) {                /* the picked operand's, never the condition's */
        mg_ref picked = args[mg_where_picks_a(get(s, args[0], l)) ? 1 : 2];
        if (has_t(T, picked, l)) TAKE(tan_of(T, picked, l));
    } else if (in->op == MG_SUM) {
        for (i = 0; i < in->b; i++)
            if (has_t(T, args[i], l)) TAKE(tan_of(T, args[i], l));
    } else if (in->kind == MG_KIND_CUSTOM) { /* each operand's times its lane's partial */
        const double *part = mg_tape_partials(s->t, s->w, in);
        for (i = 0; i < in->b; i++)
            if (has_t(T, args[i], l)) TAKE(tan_of(T, args[i], l) * part[i * s->L + l]);
    } else {                                 /* dot: each operand's times its partner */
        for (i = 0; i < in->b; i++)
            if (has_t(T, args[i], l))
                TAKE(tan_of(T, args[i], l) * get(s, args[i < half ? i + half : i - half], l));
    }
    *out = t;
    return any;
}

#define HAS(r) has_t(T, (r), l)
#define TAN(r) tan_of(T, (r), l)
#define MG_OP(CODE, stem, name, kind, arity, doc) JVP_##kind(CODE, stem)
#define JVP_LEAF(CODE, stem)
#define JVP_BINARY(CODE, stem) case MG_##CODE: {                                \
        double da, db, w = get(s, in->b, l);                                    \
        if (HAS(in->a)) { bwd_##stem(TAN(in->a), x, w, y, &da, &db); TAKE(da); } \
        if (HAS(in->b)) { bwd_##stem(TAN(in->b), x, w, y, &da, &db); TAKE(db); } \
    } break;
#define JVP_CONST(CODE, stem) case MG_##CODE:                                    \
        if (HAS(in->a)) { TAKE(bwd_##stem(TAN(in->a), x, y, in->c)); } break;
#define JVP_PARAM JVP_CONST
#define JVP_UNARY(CODE, stem) case MG_##CODE:                                    \
        if (HAS(in->a)) { TAKE(bwd_##stem(TAN(in->a), x, y)); } break;
#define JVP_RANGE(CODE, stem) case MG_##CODE:                                    \
        if (HAS(in->a)) { TAKE(bwd_##stem(TAN(in->a), x, y, in->c, in->c2)); } break;
#define JVP_STOP(CODE, stem) case MG_##CODE: break;   /* a zero tangent */
#define JVP_SELECT(CODE, stem)
#define JVP_NARY(CODE, stem)
#define JVP_CUSTOM(CODE, stem)      /* a block kind: handled before the switch */

/* Instruction in's tangent in lane l (its value is computed already). */
static void jvp_one(const tangents *T, const mg_instr *in, size_t l)
{
    const interp *s = T->s;
    size_t o = (size_t)in->out * s->L + l;
    double y = s->w->val[o], x, t = 0.0;
    int any = 0;
    if (mg_block_kind(in->kind)) {
        any = jvp_block(T, in, l, &t);
    } else {
        x = get(s, in->a, l);
        switch (in->op) {
#include "mg_ops.def"
        default:
            break;
        }
    }
    T->tan[o] = any ? t : 0.0;
    T->has[o] = (unsigned char)any;
}
#undef JVP_LEAF
#undef JVP_BINARY
#undef JVP_CONST
#undef JVP_PARAM
#undef JVP_UNARY
#undef JVP_RANGE
#undef JVP_STOP
#undef JVP_SELECT
#undef JVP_NARY
#undef JVP_CUSTOM
#undef MG_OP
#undef HAS
#undef TAN
#undef TAKE

int mg_tape_jvp(const mg_tape *t, const double *x, const double *v, const double *params,
                size_t B, double *out, double *tout, mg_custom_fn custom, void *ctx)
{
    size_t L = t->lanes, first, n, i, k, l, cells = (size_t)t->nlane * L;
    mg_work w;
    interp s;
    tangents T;
    memset(&w, 0, sizeof w);
    w.val = malloc((cells ? cells : 1) * sizeof(double));
    w.part = malloc((t->npart * L + 1) * sizeof(double));
    T.tan = malloc((cells ? cells : 1) * sizeof(double));
    T.has = malloc(cells ? cells : 1);
    if (w.val == NULL || w.part == NULL || T.tan == NULL || T.has == NULL) {
        free(w.val);
        free(w.part);
        free(T.tan);
        free(T.has);
        return -1;
    }
    s.t = t;
    s.w = &w;
    s.params = params;
    s.L = L;
    T.s = &s;
    for (first = 0; first < B; first += L) {
        n = (B - first < L) ? B - first : L;
        for (i = 0; i < t->nin; i++)
            for (l = 0; l < n; l++) {
                w.val[i * L + l] = x[(first + l) * t->nin + i];
                T.tan[i * L + l] = v[(first + l) * t->nin + i];
                T.has[i * L + l] = 1;
            }
        for (k = 0; k < t->ncode; k++) {
            int custom_op = t->code[k].kind == MG_KIND_CUSTOM;
            if (custom_op)                   /* the chunk's values and partials at once */
                mg_tape_custom(t, &w, params, &t->code[k], first, n, 1, custom, ctx);
            for (l = 0; l < n; l++) {
                if (!custom_op)
                    w.val[(size_t)t->code[k].out * L + l] = forward_one(&s, &t->code[k], l);
                jvp_one(&T, &t->code[k], l);
            }
        }
        for (i = 0; i < t->nout; i++)
            for (l = 0; l < n; l++) {
                mg_ref r = t->outs[i];
                out[(first + l) * t->nout + i] = get(&s, r, l);
                tout[(first + l) * t->nout + i] = has_t(&T, r, l) ? tan_of(&T, r, l) : 0.0;
            }
    }
    free(w.val);
    free(w.part);
    free(T.tan);
    free(T.has);
    return 0;
}
