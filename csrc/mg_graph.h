/*
 * mg_graph.h -- the graph core of micrograd, in plain C99 (no Python.h).
 *
 * docs/design.md describes the design; this header is its C contract.
 *
 * Node layout
 * -----------
 * A node is a small struct, `mg_node`, that the Cython layer embeds inside the
 * Python object (one allocation per op).  It holds the forward value, the
 * gradient, one constant operand `c`, an op code (a row of mg_ops.def) and
 * its operands in operand order, in one of two layouts:
 *
 *   inline  kids.two[0..n-1]          n = 1 or 2 Numbers; a RANGE op keeps
 *                                     its upper bound in kids.one.c2
 *   block   kids.many -> one block:   n operand pointers, then n doubles;
 *           (SELECT, NARY and         a NULL pointer at slot i means the
 *            CUSTOM ops, flag         operand is the constant in double i
 *            MG_FLAG_BLOCK)
 *
 * A CUSTOM node (micrograd.custom_op) has 2m slots: its m operands, then the
 * m partials its derivative gave when the node was built (NULL pointers,
 * the partials in the doubles), as a dot's two halves; its value is set by
 * the builder, and `c` holds the op's index in the Python layer's registry.
 *
 * A real operand never costs a node: `x * 2.0` is one MG_MUL_C node with
 * c = 2.0 and one child.  A node only ever points to older nodes, so the graph
 * is a DAG and can hold no reference cycle.
 *
 * Traversal
 * ---------
 * mg_topo_sort() orders the interior (non-leaf) nodes reachable from a root by
 * an iterative depth-first post-order: operands are visited in operand order,
 * a node is emitted after all its operands, the root comes last.  Leaves are
 * not emitted (they have nothing to propagate).  Visited marks are a flag bit
 * in the node.  Pushing a node prefetches its operands, which come next.
 *
 * mg_backward() zeroes every interior node as the sort first reaches it, seeds
 * the root and sweeps the order in reverse, adding each node's contributions
 * to its operands in operand order and clearing each node's mark behind it:
 * two passes over the nodes.  Leaves are never zeroed, so their gradients
 * accumulate across calls; interior nodes hold the latest pass.  Nothing here
 * is recursive.
 *
 * Where the graph holds a where() or a stop_gradient, the sweep propagates
 * only the nodes that got a contribution (the flag MG_FLAG_REACHED, set by
 * every add).  Every edge contributes, even a zero, except the edge to the
 * operand where() did not pick and the edge under a stop_gradient: so that
 * operand, and whatever only it leads to, is skipped, and an inf or NaN local
 * derivative there cannot turn into a NaN gradient (0 * inf) elsewhere.
 *
 * The depth-first order was measured against Kahn's breadth-first order (see
 * benchmarks/RESULTS.md): it is the faster one on graphs built a sample at a
 * time, as training loops build them.
 *
 * The pure-Python reference (micrograd/_core_py.py and the modules it names)
 * follows this file: same op table, same formulas, same loop order, so both
 * give the same bits.
 *
 * Error contract: functions that can fail return int (0 ok, -1 out of memory,
 * -2 aborted by the check callback) or an MG_E* forward status; the Cython
 * layer turns those into Python exceptions.
 */
#ifndef MICROGRAD_MG_GRAPH_H
#define MICROGRAD_MG_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include "mg_formulas.h"

/* Op codes: one per row of mg_ops.def, in row order. */
enum {
#define MG_OP(CODE, stem, name, kind, arity, doc) MG_##CODE,
#include "mg_ops.def"
#undef MG_OP
    MG_NUM_OPS
};

/* Op kinds (the `kind` column of mg_ops.def). */
enum {
    MG_KIND_LEAF, MG_KIND_BINARY, MG_KIND_CONST, MG_KIND_UNARY, MG_KIND_PARAM,
    MG_KIND_RANGE, MG_KIND_STOP, MG_KIND_SELECT, MG_KIND_NARY, MG_KIND_CUSTOM
};

#define MG_FLAG_MARK 1u     /* visited, only while mg_topo_sort runs */
#define MG_FLAG_BLOCK 2u    /* operands live in the kids.many block */
#define MG_FLAG_REACHED 4u  /* got a contribution in this backward pass (clear
                               outside a sweep: every sweep clears it behind it) */
#define MG_FLAG_EXTRA 8u    /* the Cython layer keeps a record for this node (a hook,
                               a gradient graph, where anomaly mode saw it made) */

typedef struct mg_node mg_node;
struct mg_node {
    double value;
    double gradient;
    double c;                 /* constant operand (CONST, PARAM, RANGE's lo) */
    union {
        mg_node *two[2];
        struct { mg_node *x; double c2; } one;   /* RANGE: x and hi */
        mg_node **many;       /* block: n pointers followed by n doubles */
    } kids;
    uint8_t op;
    uint8_t flags;
    uint16_t trace;           /* the trace that made this node, 0 if none */
    uint32_t n;               /* operand slots (block: constants included) */
};

/* Op table ------------------------------------------------------------- */
const char *mg_op_name(int op);             /* "?" for a code out of range */
int mg_op_kind(int op);                     /* MG_KIND_*, or -1 */
extern const signed char mg_kinds[MG_NUM_OPS];   /* the same, unchecked, for hot loops */

/* Ops after which backward may reach only some operands: where() (the
 * operand it did not pick) and stop_gradient (its operand). */
static inline int mg_prunes(int op)
{
    return mg_kinds[op] == MG_KIND_SELECT || mg_kinds[op] == MG_KIND_STOP;
}
int mg_op_arity(int op);                    /* operands, -1 for any number */

/* Forward values by kind (for CONST and PARAM, x is the Number's value and c
 * the constant): the IEEE-754 result in *out and MG_OK, or the MG_E* status
 * naming the exception Python raises for the same operation. */
int mg_eval_unary(int op, double x, double *out);
int mg_eval_binary(int op, double a, double b, double *out);
int mg_eval_range(int op, double x, double lo, double hi, double *out);

/* Nodes ---------------------------------------------------------------- */
void mg_node_leaf(mg_node *node, double value);
void mg_node_unary(mg_node *node, int op, double value, mg_node *x);
void mg_node_binary(mg_node *node, int op, double value, mg_node *a, mg_node *b);
void mg_node_const(mg_node *node, int op, double value, mg_node *x, double c);
void mg_node_range(mg_node *node, int op, double value, mg_node *x, double lo, double hi);
/* block layout (SELECT, NARY, CUSTOM): allocates the operand block, all constants
 * 0.0 and pointers NULL; -1 on out of memory (node left a leaf). */
int mg_node_block(mg_node *node, int op, uint32_t n);
mg_node **mg_block_kids(const mg_node *node);
double *mg_block_consts(const mg_node *node);
/* value from the operands (a CUSTOM node keeps the value its builder set),
 * and the trace of a traced operand; -1 bad shape */
int mg_block_eval(mg_node *node);
void mg_node_release(mg_node *node);        /* frees a block; the node becomes a leaf */

/* A RANGE node's upper bound (its lower one is `c`). */
static inline double mg_node_hi(const mg_node *node) { return node->kids.one.c2; }

/* Operand i's node, or NULL for a constant slot (inline: the sort's hot path). */
static inline mg_node *mg_node_kid(const mg_node *node, uint32_t i)
{
    if (i >= node->n) return NULL;
    if (node->flags & MG_FLAG_BLOCK) return node->kids.many[i];
    return (i < 2) ? node->kids.two[i] : NULL;
}

/* Grad mode (thread-local, like torch.no_grad) --------------------------- */
int mg_grad_enabled(void);
void mg_set_grad_enabled(int enabled);
/* Anomaly mode (thread-local, micrograd.detect_anomaly): the Cython layer
 * checks each new value for NaN and records where each node was made.
 * mg_plain() is 1 when grad mode is on and anomaly mode off, the common case:
 * one call tells the node builders they may take their fast path. */
int mg_anomaly_enabled(void);
void mg_set_anomaly(int enabled);
int mg_plain(void);

/* Tracing: while a trace is open, every node its thread makes gets its id in
 * `trace`, so the Cython layer can refuse to read such a node's value, from
 * any thread, until the trace closes (docs/design.md, "The tape").
 * mg_trace_begin opens a new trace in this thread and returns the id that was
 * current before, for mg_trace_end to restore (closing this thread's
 * innermost trace), or MG_TRACE_FULL if every id is open (nothing changes).
 * mg_trace_is_open: whether the trace of this id is open, in any thread. */
#define MG_TRACE_FULL 65536u
unsigned mg_trace_current(void);
unsigned mg_trace_begin(void);
void mg_trace_end(unsigned previous);
int mg_trace_is_open(unsigned id);

/* Traversal ------------------------------------------------------------ */
typedef struct {
    mg_node **nodes;          /* interior nodes, operands before users */
    size_t len, cap;
    int prunes;               /* whether any of them may leave an operand unreached */
} mg_order;

/* Called every MG_CHECK_EVERY nodes during a long sort or sweep; a nonzero
 * return aborts it (used for Ctrl-C).  May be NULL. */
typedef int (*mg_check_fn)(void *ctx);
#define MG_CHECK_EVERY 16384

/* 0; -1 out of memory; -2 the check callback aborted.  Marks are clear after. */
int mg_topo_sort(mg_node *root, mg_order *order, mg_check_fn check, void *ctx);
/* The same order from several roots in turn (one DFS, roots in the order
 * given), appended to `order`, leaving the marks set and, with `zero`, the
 * gradients of the nodes it emits zeroed; the caller clears every mark with
 * mg_order_unmark.  On failure the marks it set are cleared. */
int mg_topo_collect(mg_node *root, mg_order *order, int zero, mg_check_fn check, void *ctx);
void mg_order_unmark(const mg_order *order);
void mg_order_free(mg_order *order);

/* Local derivatives: adds node's contributions to its operands' gradients;
 * the tracked form also marks each operand MG_FLAG_REACHED. */
void mg_propagate(mg_node *node);
void mg_propagate_tracked(mg_node *node);
/* The whole pass.  0 ok; -1 out of memory; -2 the check callback aborted. */
int mg_backward(mg_node *root, double seed, mg_check_fn check, void *ctx);

/* Forward mode (mg_forward.c): a node's tangent from its operands', into its
 * gradient field, MG_FLAG_REACHED set where it has one (cleared where it has
 * none); the sweep does each node of an order in turn, operands first. */
void mg_forward_node(mg_node *node);
void mg_forward_sweep(const mg_order *order);

#endif /* MICROGRAD_MG_GRAPH_H */
