/*
 * mg_graph.h -- the graph core of micrograd, in plain C99 (no Python.h).
 *
 * Node layout
 * -----------
 * A node is a small struct, `mg_node`, that the Cython layer embeds inside the
 * Python object (one allocation per op).  It holds the forward value, the
 * gradient, one constant operand `c`, an op code from the op table below and
 * pointers to its child nodes, in operand order:
 *
 *   n <= 2   kids.two[0..n-1]           binary and unary ops (no allocation)
 *   n  > 2   kids.many -> one block:    n child pointers, then n doubles
 *            or n-ary  (sum, dot)       a NULL pointer at slot i means the
 *                                       operand is the constant in double i
 *
 * A real operand never costs a node: `x * 2.0` is one MG_MUL_C node with
 * c = 2.0 and one child.  A node only ever points to older nodes, so the graph
 * is a DAG and can hold no reference cycle.
 *
 * Traversal
 * ---------
 * mg_topo_sort() orders the interior (non-leaf) nodes reachable from a root by
 * an iterative depth-first post-order: children are visited in operand order,
 * a node is emitted after all its children, the root comes last.  Leaves are
 * not emitted (they have nothing to propagate).  Visited marks are a flag bit
 * in the node.  Pushing a node prefetches its operands, which come next.
 *
 * mg_backward() zeroes every interior node as the sort first reaches it, seeds
 * the root and sweeps the order in reverse, adding each child's contribution
 * in operand order and clearing each node's mark behind it: two passes over
 * the nodes.  Leaves are never zeroed, so their gradients accumulate across
 * calls; interior nodes hold the latest pass.  Nothing here is recursive.
 *
 * The depth-first order was measured against Kahn's breadth-first order (see
 * benchmarks/RESULTS.md): it is the faster one on graphs built a sample at a
 * time, as training loops build them.
 *
 * The pure-Python reference (micrograd/_core_py.py) follows this file: same op
 * codes, same formulas, same loop order, so both give the same bits.
 *
 * Error contract: functions that can fail return int (0 ok, -1 failure) or an
 * MG_E* status; the Cython layer turns those into Python exceptions.
 */
#ifndef MICROGRAD_MG_GRAPH_H
#define MICROGRAD_MG_GRAPH_H

#include <stddef.h>
#include <stdint.h>

/* Op codes.  The order is part of the op table in mg_ops.c and of the codes
 * in micrograd/_ops_py.py: binary ops first (up to MG_POW), then the ops with
 * one node operand (the _C forms and the parametrised activations keep their
 * constant in b.c), n-ary ops last. */
enum {
    MG_LEAF = 0,
    /* binary, two node operands */
    MG_ADD, MG_SUB, MG_MUL, MG_DIV, MG_POW,
    /* binary with a constant c: x+c, x-c, c-x, x*c, x/c, c/x, x**c, c**x */
    MG_ADD_C, MG_SUB_C, MG_RSUB_C, MG_MUL_C, MG_DIV_C, MG_RDIV_C, MG_POW_C, MG_RPOW_C,
    /* unary */
    MG_NEG, MG_ABS, MG_EXP, MG_LOG, MG_SQRT, MG_SIN, MG_COS, MG_TANH,
    MG_SIGMOID, MG_RELU, MG_GELU, MG_GELU_TANH, MG_SILU,
    /* activations with a parameter c: softplus (threshold), leaky_relu
     * (negative slope), elu (alpha) */
    MG_SOFTPLUS, MG_LEAKY_RELU, MG_ELU,
    /* n-ary */
    MG_SUM, MG_DOT,
    MG_NUM_OPS
};

/* Forward status: which Python exception the same float/math call raises. */
enum {
    MG_OK = 0,
    MG_EZERODIV,   /* ZeroDivisionError */
    MG_EDOM,       /* ValueError (math domain error, or a complex result) */
    MG_ERANGE      /* OverflowError */
};

#define MG_FLAG_MARK 1u  /* visited, only while mg_topo_sort runs */

typedef struct mg_node mg_node;
struct mg_node {
    double value;
    double gradient;
    double c;                 /* constant operand, 0.0 if none */
    union {
        mg_node *two[2];
        mg_node **many;       /* n pointers followed by n doubles */
    } kids;
    uint8_t op;
    uint8_t flags;
    uint16_t reserved;
    uint32_t n;               /* operand slots, constants included for n-ary */
};

/* Op table ------------------------------------------------------------- */
const char *mg_op_name(int op);
int mg_op_arity(int op);                    /* 0 leaf, 1, 2, -1 n-ary */

/* Forward for unary ops (MG_NEG..MG_RELU) and binary ops (MG_ADD..MG_RPOW_C;
 * for the _C forms b is the constant and x the node operand).  Writes *out and
 * returns MG_OK, or returns an MG_E* status and leaves *out alone. */
int mg_eval_unary(int op, double x, double *out);
int mg_eval_binary(int op, double a, double b, double *out);
int mg_pow(double x, double y, double *out);

/* Nodes ---------------------------------------------------------------- */
void mg_node_leaf(mg_node *node, double value);
void mg_node_unary(mg_node *node, int op, double value, mg_node *x);
void mg_node_binary(mg_node *node, int op, double value, mg_node *a, mg_node *b);
void mg_node_const(mg_node *node, int op, double value, mg_node *x, double c);
/* n-ary: allocates the operand block; -1 on out of memory (node left a leaf). */
int mg_node_nary(mg_node *node, int op, uint32_t n);
mg_node **mg_nary_kids(const mg_node *node);
double *mg_nary_consts(const mg_node *node);
int mg_nary_eval(mg_node *node);            /* sum or dot of the operands */
void mg_node_release(mg_node *node);         /* frees an n-ary block */

/* Operand i's node, or NULL for a constant slot (inline: the sort's hot path). */
static inline mg_node *mg_node_kid(const mg_node *node, uint32_t i)
{
    if (i >= node->n) return NULL;
    if (node->op >= MG_SUM) return node->kids.many[i];
    return (i < 2) ? node->kids.two[i] : NULL;
}

/* Grad mode (thread-local, like torch.no_grad) --------------------------- */
int mg_grad_enabled(void);
void mg_set_grad_enabled(int enabled);

/* Traversal ------------------------------------------------------------ */
typedef struct {
    mg_node **nodes;          /* interior nodes, children before parents */
    size_t len, cap;
} mg_order;

int mg_topo_sort(mg_node *root, mg_order *order);     /* 0, or -1 (memory) */
/* The same order, leaving the marks set (and, with zero, zeroing gradients);
 * the caller clears every mark.  For mg_backward. */
int mg_topo_collect(mg_node *root, mg_order *order, int zero);
void mg_order_free(mg_order *order);

/* Called every MG_CHECK_EVERY nodes during backward; a nonzero return aborts
 * the pass (used for Ctrl-C).  May be NULL. */
typedef int (*mg_check_fn)(void *ctx);
#define MG_CHECK_EVERY 16384

/* Local derivatives: adds node's contributions to its children's gradients. */
void mg_propagate(mg_node *node);
/* The whole pass.  0 ok; -1 out of memory; -2 the check callback aborted. */
int mg_backward(mg_node *root, double seed, mg_check_fn check, void *ctx);

#endif /* MICROGRAD_MG_GRAPH_H */
