/* test_mg.c -- unit test of the C core on its own (no Python).
 * Built and run by `make test` and, with sanitizers, by `make sanitize`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mg_graph.h"
#include "mg_tape.h"

static int failures = 0;
#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    failures++; } } while (0)

static void test_forward_errors(void)
{
    double out = 0.0;
    CHECK(mg_eval_binary(MG_DIV, 1.0, 0.0, &out) == MG_EZERODIV);
    CHECK(mg_eval_binary(MG_RDIV_C, 0.0, 1.0, &out) == MG_EZERODIV);
    CHECK(mg_pow(0.0, -1.0, &out) == MG_EZERODIV);
    CHECK(mg_pow(-8.0, 1.0 / 3.0, &out) == MG_EDOM);
    CHECK(mg_pow(10.0, 400.0, &out) == MG_ERANGE);
    CHECK(mg_pow(-2.0, 3.0, &out) == MG_OK && out == -8.0);
    CHECK(mg_pow(NAN, 0.0, &out) == MG_OK && out == 1.0);
    CHECK(mg_pow(-0.0, 3.0, &out) == MG_OK && out == 0.0 && signbit(out));
    CHECK(mg_eval_unary(MG_EXP, 710.0, &out) == MG_ERANGE);
    CHECK(mg_eval_unary(MG_EXP, INFINITY, &out) == MG_OK && isinf(out));
    CHECK(mg_eval_unary(MG_LOG, 0.0, &out) == MG_EDOM);
    CHECK(mg_eval_unary(MG_LOG, -1.0, &out) == MG_EDOM);
    CHECK(mg_eval_unary(MG_LOG, NAN, &out) == MG_OK && isnan(out));
    CHECK(mg_eval_unary(MG_SQRT, -1.0, &out) == MG_EDOM);
    CHECK(mg_eval_unary(MG_SQRT, -0.0, &out) == MG_OK && signbit(out));
    CHECK(mg_eval_unary(MG_SIN, INFINITY, &out) == MG_EDOM);
    CHECK(mg_eval_unary(MG_SIGMOID, -1000.0, &out) == MG_OK && out == 0.0);
    CHECK(mg_eval_unary(MG_SIGMOID, 1000.0, &out) == MG_OK && out == 1.0);
    CHECK(mg_eval_unary(MG_RELU, -0.0, &out) == MG_OK && signbit(out));
    CHECK(mg_eval_unary(MG_RELU, NAN, &out) == MG_OK && isnan(out));
    CHECK(strcmp(mg_op_name(MG_RSUB_C), "rsub") == 0);
    CHECK(mg_op_arity(MG_MUL) == 2 && mg_op_arity(MG_MUL_C) == 2 && mg_op_arity(MG_DOT) == -1);
    CHECK(mg_op_kind(MG_EXP) == MG_KIND_UNARY && mg_op_kind(MG_WHERE) == MG_KIND_SELECT);
    CHECK(mg_eval_unary(MG_LOG1P, -1.0, &out) == MG_EDOM && isinf(out) && out < 0.0);
    CHECK(mg_eval_unary(MG_EXPM1, 710.0, &out) == MG_ERANGE && isinf(out));
    CHECK(mg_eval_binary(MG_DIV, -1.0, 0.0, &out) == MG_EZERODIV && isinf(out) && out < 0.0);
    CHECK(mg_eval_binary(MG_MAXIMUM, 0.0, -0.0, &out) == MG_OK && !signbit(out));
    CHECK(mg_eval_binary(MG_MAXIMUM, -0.0, 0.0, &out) == MG_OK && !signbit(out));
    CHECK(mg_eval_binary(MG_MINIMUM_C, 0.0, -0.0, &out) == MG_OK && signbit(out));
    CHECK(mg_eval_binary(MG_MAXIMUM, 1.0, NAN, &out) == MG_OK && isnan(out));
    /* comparisons: -0.0 equals 0.0, NaN compares false, the gradient is 0 */
    CHECK(mg_eval_binary(MG_GT, 0.0, -0.0, &out) == MG_OK && out == 0.0 && !signbit(out));
    CHECK(mg_eval_binary(MG_GE, 0.0, -0.0, &out) == MG_OK && out == 1.0);
    CHECK(mg_eval_binary(MG_LT, NAN, 1.0, &out) == MG_OK && out == 0.0);
    CHECK(mg_eval_binary(MG_LE_C, -INFINITY, NAN, &out) == MG_OK && out == 0.0);
    CHECK(mg_eval_binary(MG_LT_C, -INFINITY, 0.0, &out) == MG_OK && out == 1.0);
    CHECK(bwd_gt_c(INFINITY, 1.0, 1.0, 0.0) == 0.0 && !signbit(bwd_le_c(-1.0, 0.0, 1.0, 0.0)));
    CHECK(mg_eval_range(MG_CLAMP, 3.0, 1.0, 2.0, &out) == MG_OK && out == 2.0);
    CHECK(mg_eval_range(MG_CLAMP, 1.5, 2.0, 1.0, &out) == MG_OK && out == 1.0);
    CHECK(mg_eval_range(MG_CLAMP, NAN, 1.0, 2.0, &out) == MG_OK && isnan(out));
}

/* z = x*y + x: dz/dx = y + 1, dz/dy = x; twice gives leaves twice. */
static void test_backward_contract(void)
{
    mg_node x, y, m, z;
    mg_node_leaf(&x, 2.0);
    mg_node_leaf(&y, 3.0);
    mg_node_binary(&m, MG_MUL, 6.0, &x, &y);
    mg_node_binary(&z, MG_ADD, 8.0, &m, &x);
    CHECK(mg_backward(&z, 1.0, NULL, NULL) == 0);
    CHECK(x.gradient == 4.0 && y.gradient == 2.0 && m.gradient == 1.0);
    CHECK(mg_backward(&z, 1.0, NULL, NULL) == 0);
    CHECK(x.gradient == 8.0 && y.gradient == 4.0 && m.gradient == 1.0);
    CHECK(!(x.flags & MG_FLAG_MARK) && !(m.flags & MG_FLAG_MARK));
    CHECK(mg_backward(&x, 0.5, NULL, NULL) == 0 && x.gradient == 8.5);
}

static void test_topo_order(void)
{
    mg_node a, b, c, d;
    mg_order order;
    mg_node_leaf(&a, 1.0);
    mg_node_unary(&b, MG_EXP, exp(1.0), &a);
    mg_node_unary(&c, MG_SIN, sin(exp(1.0)), &b);
    mg_node_binary(&d, MG_MUL, 0.0, &c, &b);     /* diamond through b */
    CHECK(mg_topo_sort(&d, &order, NULL, NULL) == 0);
    CHECK(order.len == 3 && order.nodes[0] == &b && order.nodes[1] == &c
          && order.nodes[2] == &d);
    mg_order_free(&order);
}

static void test_nary(void)
{
    mg_node w, x, s;
    mg_node_leaf(&w, 2.0);
    mg_node_leaf(&x, 5.0);
    CHECK(mg_node_block(&s, MG_DOT, 4) == 0);     /* [w, 3] . [x, w] */
    mg_block_kids(&s)[0] = &w;
    mg_block_consts(&s)[1] = 3.0;
    mg_block_kids(&s)[2] = &x;
    mg_block_kids(&s)[3] = &w;
    CHECK(mg_block_eval(&s) == 0 && s.value == 2.0 * 5.0 + 3.0 * 2.0);
    CHECK(mg_backward(&s, 1.0, NULL, NULL) == 0);
    CHECK(w.gradient == 5.0 + 3.0 && x.gradient == 2.0);
    CHECK(mg_node_kid(&s, 1) == NULL && mg_node_kid(&s, 3) == &w);
    mg_node_release(&s);
    CHECK(s.op == MG_LEAF && s.n == 0);
}

/* A run of one chunk with its per-lane gradients. */
static mg_run grads_run(const double *x, const double *params, double *out, double *gin,
                        double *gpar)
{
    mg_run run;
    memset(&run, 0, sizeof run);
    run.x = x;
    run.params = params;
    run.out = out;
    run.backward = 1;
    run.input_grads = gin;
    run.param_grads = gpar;
    return run;
}

/* The callback of the custom op below, f(a, b, c) = a * b + c: its lanes'
 * values and partials (b, a, 1). */
static int custom_lanes(void *ctx, const mg_tape *t, mg_work *w, const double *params,
                        const mg_instr *in, size_t first, size_t n, int partials)
{
    size_t l, L = t->lanes;
    double *part = mg_tape_partials(t, w, in);
    (void)ctx;
    (void)first;
    for (l = 0; l < n; l++) {
        double a = mg_tape_value(t, w, params, t->args[in->a], l);
        double b = mg_tape_value(t, w, params, t->args[in->a + 1], l);
        double c = mg_tape_value(t, w, params, t->args[in->a + 2], l);
        w->val[(size_t)in->out * L + l] = a * b + c;
        if (partials) {
            part[l] = b;
            part[L + l] = a;
            part[2 * L + l] = 1.0;
        }
    }
    return 0;
}

/* A custom op's node: [x, 2, y] then its partials [p0, p1, p2]; backward and
 * forward mode use the partials, and the value is the builder's.  On a tape
 * its operands are args and each lane's partials come from the callback, in
 * both replays and in forward mode. */
static void test_custom(void)
{
    mg_node x, y, f, *root = &f, *input = &x, **params = NULL;
    mg_tape tape;
    mg_order order = {NULL, 0, 0, 0};
    mg_work w;
    mg_run run;
    double xs[2] = {0.5, -1.0}, yv = -3.0, out[2], gin[2], gpar[2], v[2] = {1.0, 0.5}, tout[2];
    int plain;
    mg_node_leaf(&x, 0.5);
    mg_node_leaf(&y, -3.0);
    CHECK(mg_node_block(&f, MG_CUSTOM, 6) == 0);
    mg_block_kids(&f)[0] = &x;
    mg_block_consts(&f)[1] = 2.0;
    mg_block_kids(&f)[2] = &y;
    mg_block_consts(&f)[3] = 4.0;
    mg_block_consts(&f)[4] = -8.0;           /* the constant's: never read */
    mg_block_consts(&f)[5] = 0.25;
    f.value = 7.0;
    CHECK(mg_op_kind(MG_CUSTOM) == MG_KIND_CUSTOM && mg_op_arity(MG_CUSTOM) == -1);
    CHECK(mg_block_eval(&f) == 0 && f.value == 7.0);
    CHECK(mg_backward(&f, 3.0, NULL, NULL) == 0);
    CHECK(x.gradient == 12.0 && y.gradient == 0.75);
    CHECK(mg_topo_sort(&f, &order, NULL, NULL) == 0 && order.len == 1);
    x.gradient = -1.0;
    x.flags |= MG_FLAG_REACHED;
    y.flags &= (uint8_t)~MG_FLAG_REACHED;       /* y: no tangent, nothing added */
    mg_forward_sweep(&order);
    CHECK(f.gradient == -4.0 && (f.flags & MG_FLAG_REACHED));
    f.flags &= (uint8_t)~MG_FLAG_REACHED;
    x.flags &= (uint8_t)~MG_FLAG_REACHED;
    mg_order_free(&order);
    CHECK(mg_tape_build(&tape, &root, 1, &input, 1, &params, NULL, NULL) == 0);
    CHECK(tape.ncode == 1 && tape.code[0].b == 3 && tape.npart == 3 && tape.npar == 1);
    CHECK(params[0] == &y && !(f.flags & MG_FLAG_MARK));
    CHECK(mg_work_alloc(&w, &tape) == 0);
    for (plain = 0; plain < 2; plain++) {
        run = grads_run(xs, &yv, out, gin, gpar);
        run.plain = plain;
        run.custom = custom_lanes;
        mg_tape_chunk(&tape, &w, &run, 0, 2);
        CHECK(out[0] == 0.5 * 2.0 - 3.0 && out[1] == -1.0 * 2.0 - 3.0);
        CHECK(gin[0] == 2.0 && gin[1] == 2.0 && gpar[0] == 1.0 && gpar[1] == 1.0);
    }
    CHECK(mg_tape_jvp(&tape, xs, v, &yv, 2, out, tout, custom_lanes, NULL) == 0);
    CHECK(out[1] == -5.0 && tout[0] == 2.0 && tout[1] == 1.0);
    run.custom = NULL;                          /* no callback: NaN lanes */
    mg_tape_chunk(&tape, &w, &run, 0, 2);
    CHECK(isnan(out[0]) && isnan(gin[1]));
    mg_work_free(&w);
    mg_tape_free(&tape);
    free(params);
    mg_node_release(&f);
}

/* where(c, a, b): the operand not picked gets nothing, even with an inf. */
static void test_where(void)
{
    mg_node c, a, b, w, m;
    mg_node_leaf(&c, -1.0);
    mg_node_leaf(&a, INFINITY);
    mg_node_leaf(&b, 2.0);
    CHECK(mg_node_block(&w, MG_WHERE, 3) == 0);
    mg_block_kids(&w)[0] = &c;
    mg_block_kids(&w)[1] = &a;
    mg_block_kids(&w)[2] = &b;
    CHECK(mg_block_eval(&w) == 0 && w.value == 2.0);
    mg_node_binary(&m, MG_MUL, 2.0 * 3.0, &w, &w);
    CHECK(mg_backward(&m, 1.0, NULL, NULL) == 0);
    CHECK(b.gradient == 4.0 && a.gradient == 0.0 && c.gradient == 0.0);
    mg_node_release(&w);
}

/* The branch not taken is not swept: sqrt at 0 (an infinite derivative)
 * under it cannot turn the zero it would get into a NaN for x. */
static void test_untaken_branch_is_skipped(void)
{
    mg_node x, s, d, w;
    mg_node_leaf(&x, 0.0);
    mg_node_unary(&s, MG_SQRT, 0.0, &x);
    mg_node_const(&d, MG_MUL_C, 0.0, &x, 3.0);
    CHECK(mg_node_block(&w, MG_WHERE, 3) == 0);
    mg_block_consts(&w)[0] = -1.0;              /* picks d */
    mg_block_kids(&w)[1] = &s;
    mg_block_kids(&w)[2] = &d;
    CHECK(mg_block_eval(&w) == 0 && w.value == 0.0);
    CHECK(mg_backward(&w, 1.0, NULL, NULL) == 0);
    CHECK(x.gradient == 3.0 && s.gradient == 0.0);
    CHECK(!(s.flags & (MG_FLAG_MARK | MG_FLAG_REACHED)));
    mg_node_release(&w);
}

/* The graph of one sample: y = tanh(x*w + 1) * where(x, sqrt(x), -x) + dot. */
typedef struct { mg_node x, w, m, a, t, s, n, wh, y, d, out; } sample;

static void build_sample(sample *g, double xv, double wv)
{
    double v;
    mg_node_leaf(&g->x, xv);
    mg_node_leaf(&g->w, wv);
    mg_node_binary(&g->m, MG_MUL, xv * wv, &g->x, &g->w);
    mg_node_const(&g->a, MG_ADD_C, xv * wv + 1.0, &g->m, 1.0);
    mg_eval_unary(MG_TANH, g->a.value, &v);
    mg_node_unary(&g->t, MG_TANH, v, &g->a);
    mg_eval_unary(MG_SQRT, xv, &v);
    mg_node_unary(&g->s, MG_SQRT, v, &g->x);
    mg_node_unary(&g->n, MG_NEG, -xv, &g->x);
    CHECK(mg_node_block(&g->wh, MG_WHERE, 3) == 0);
    mg_block_kids(&g->wh)[0] = &g->x;
    mg_block_kids(&g->wh)[1] = &g->s;
    mg_block_kids(&g->wh)[2] = &g->n;
    mg_block_eval(&g->wh);
    mg_node_binary(&g->y, MG_MUL, g->t.value * g->wh.value, &g->t, &g->wh);
    CHECK(mg_node_block(&g->d, MG_DOT, 4) == 0);      /* [w, 2] . [y, x] */
    mg_block_kids(&g->d)[0] = &g->w;
    mg_block_consts(&g->d)[1] = 2.0;
    mg_block_kids(&g->d)[2] = &g->y;
    mg_block_kids(&g->d)[3] = &g->x;
    mg_block_eval(&g->d);
    mg_node_binary(&g->out, MG_ADD, g->y.value + g->d.value, &g->y, &g->d);
}

static void free_sample(sample *g)
{
    mg_node_release(&g->wh);
    mg_node_release(&g->d);
}

/* Each lane of the replay is the op-by-op graph of that sample, bit for bit;
 * the lanes' parameter gradients sum in lane order. */
static void test_tape_replay(void)
{
    double xs[3] = {4.0, -9.0, 0.0}, wv = 0.75, out[3], gin[3], gpar[3], psum, osum;
    mg_tape tape;
    mg_node **params = NULL;
    mg_node *root, *input;
    mg_work w;
    mg_run run;
    sample g;
    size_t l;
    build_sample(&g, 1.0, wv);
    root = &g.out;
    input = &g.x;
    CHECK(mg_tape_build(&tape, &root, 1, &input, 1, &params, NULL, NULL) == 0);
    CHECK(tape.npar == 1 && params[0] == &g.w && tape.ncode == 9 && tape.prunes);
    CHECK(!(g.out.flags & MG_FLAG_MARK) && !(g.y.flags & MG_FLAG_MARK));
    CHECK(mg_work_alloc(&w, &tape) == 0);
    run = grads_run(xs, &wv, out, gin, gpar);
    run.param_sum = &psum;
    run.out_sum = &osum;
    mg_tape_chunk(&tape, &w, &run, 0, 3);
    for (l = 0; l < 3; l++) {
        sample h;
        build_sample(&h, xs[l], wv);
        CHECK(mg_backward(&h.out, 1.0, NULL, NULL) == 0);
        CHECK(memcmp(&h.out.value, &out[l], sizeof(double)) == 0);
        CHECK(memcmp(&h.x.gradient, &gin[l], sizeof(double)) == 0);
        CHECK(memcmp(&h.w.gradient, &gpar[l], sizeof(double)) == 0);
        free_sample(&h);
    }
    CHECK(psum == (0.0 + gpar[0]) + gpar[1] + gpar[2]);
    CHECK(isfinite(gin[2]));                   /* sqrt at 0 was not taken */
    mg_work_free(&w);
    mg_tape_free(&tape);
    free(params);
    free_sample(&g);
}

static int stop_now(void *ctx) { (void)ctx; return 1; }

/* A 10^6-deep chain: no recursion anywhere, and the abort path is clean. */
static void test_deep_chain(void)
{
    size_t i, n = 1000000;
    mg_node *nodes = malloc(n * sizeof(mg_node));
    CHECK(nodes != NULL);
    if (!nodes) return;
    mg_node_leaf(&nodes[0], 1.0);
    for (i = 1; i < n; i++)
        mg_node_const(&nodes[i], MG_MUL_C, nodes[i - 1].value, &nodes[i - 1], 1.0);
    CHECK(mg_backward(&nodes[n - 1], 1.0, NULL, NULL) == 0);
    CHECK(nodes[0].gradient == 1.0);
    CHECK(mg_backward(&nodes[n - 1], 1.0, stop_now, NULL) == -2);
    for (i = 0; i < n; i++)
        CHECK(!(nodes[i].flags & MG_FLAG_MARK));
    free(nodes);
}

/* Stops on its ctx-th call: a Ctrl-C that lands in the sort (the early
 * calls) or in the sweep (the later ones). */
static int stop_at(void *ctx)
{
    int *left = ctx;
    return --*left == 0;
}

static void test_stop_anywhere_leaves_marks_clean(void)
{
    /* x[i] = x[i-1] - x[i-2]: shared operands keep the sort's stack deep, and
     * the gradients stay bounded (they repeat with period 6) */
    size_t i, n = 200001;
    int k, calls, status;
    mg_node *nodes = malloc(n * sizeof(mg_node));
    double first0, first1;
    CHECK(nodes != NULL);
    if (!nodes) return;
    mg_node_leaf(&nodes[0], 0.5);
    mg_node_leaf(&nodes[1], 0.25);
    for (i = 2; i < n; i++)
        mg_node_binary(&nodes[i], MG_SUB, nodes[i - 1].value - nodes[i - 2].value,
                       &nodes[i - 1], &nodes[i - 2]);
    CHECK(mg_backward(&nodes[n - 1], 1.0, NULL, NULL) == 0);
    /* (x[n-1] = x[1] - x[0] for this n, so both leaves get -1 or 1) */
    first0 = nodes[0].gradient;
    first1 = nodes[1].gradient;
    CHECK(first0 != 0.0 && first1 != 0.0);
    /* about 12 checks in the sort, 12 in the sweep: stop at each in turn */
    for (k = 1; k <= 30; k++) {
        calls = k;
        status = mg_backward(&nodes[n - 1], 1.0, stop_at, &calls);
        CHECK(status == (calls == 0 ? -2 : 0));
        for (i = 0; i < n; i++)
            CHECK(!(nodes[i].flags & MG_FLAG_MARK));
        /* stopped or not, the graph is whole: a full backward gives the same */
        nodes[0].gradient = nodes[1].gradient = 0.0;
        CHECK(mg_backward(&nodes[n - 1], 1.0, NULL, NULL) == 0);
        CHECK(nodes[0].gradient == first0 && nodes[1].gradient == first1);
        nodes[0].gradient = nodes[1].gradient = 0.0;
    }
    free(nodes);
}

static void test_ieee_backward(void)
{
    mg_node x, r;
    mg_node_leaf(&x, 0.0);
    mg_node_unary(&r, MG_SQRT, 0.0, &x);
    CHECK(mg_backward(&r, 1.0, NULL, NULL) == 0 && isinf(x.gradient));
}

/* Trace ids: open for the process until their trace closes, never shared by
 * two open traces, nodes tagged by their thread's innermost trace. */
static void test_trace_ids(void)
{
    static unsigned previous[MG_TRACE_FULL];
    mg_node n;
    unsigned outer_prev = mg_trace_begin(), outer = mg_trace_current(), inner_prev, inner, k;
    memset(&n, 0, sizeof n);
    CHECK(outer_prev == 0 && outer != 0 && mg_trace_is_open(outer));
    inner_prev = mg_trace_begin();
    inner = mg_trace_current();
    CHECK(inner_prev == outer && inner != outer && mg_trace_is_open(outer));
    mg_node_leaf(&n, 1.0);
    CHECK(n.trace == inner);
    mg_trace_end(inner_prev);
    CHECK(!mg_trace_is_open(inner) && mg_trace_is_open(outer) && mg_trace_current() == outer);
    mg_trace_end(outer_prev);
    CHECK(!mg_trace_is_open(outer) && mg_trace_current() == 0 && !mg_trace_is_open(0));
    /* every id open: the next begin is refused and changes nothing */
    for (k = 0; k < MG_TRACE_FULL - 1u; k++)
        previous[k] = mg_trace_begin();
    CHECK(previous[MG_TRACE_FULL - 2u] != MG_TRACE_FULL);
    inner = mg_trace_current();
    CHECK(mg_trace_begin() == MG_TRACE_FULL && mg_trace_current() == inner);
    while (k-- > 0) {
        unsigned id = mg_trace_current();
        mg_trace_end(previous[k]);
        CHECK(!mg_trace_is_open(id));
    }
    CHECK(mg_trace_current() == 0);
}

int main(void)
{
    test_forward_errors();
    test_backward_contract();
    test_topo_order();
    test_nary();
    test_custom();
    test_where();
    test_untaken_branch_is_skipped();
    test_tape_replay();
    test_deep_chain();
    test_stop_anywhere_leaves_marks_clean();
    test_ieee_backward();
    test_trace_ids();
    if (failures) {
        fprintf(stderr, "test_mg: %d failed\n", failures);
        return 1;
    }
    printf("test_mg: all C unit tests passed\n");
    return 0;
}
