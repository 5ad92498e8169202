/* test_mg.c -- unit test of the C core on its own (no Python).
 * Built and run by `make test` and, with sanitizers, by `make sanitize`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mg_graph.h"

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

static void test_ieee_backward(void)
{
    mg_node x, r;
    mg_node_leaf(&x, 0.0);
    mg_node_unary(&r, MG_SQRT, 0.0, &x);
    CHECK(mg_backward(&r, 1.0, NULL, NULL) == 0 && isinf(x.gradient));
}

int main(void)
{
    test_forward_errors();
    test_backward_contract();
    test_topo_order();
    test_nary();
    test_where();
    test_untaken_branch_is_skipped();
    test_deep_chain();
    test_ieee_backward();
    if (failures) {
        fprintf(stderr, "test_mg: %d failed\n", failures);
        return 1;
    }
    printf("test_mg: all C unit tests passed\n");
    return 0;
}
