/* mg_graph.c -- node construction and the operand block of SELECT, NARY and
 * CUSTOM ops.
 * Nodes live inside their Python objects; the only memory owned here is the
 * operand block of a block-layout node, freed by mg_node_release(). */
#include <stdlib.h>
#include <string.h>
#include "mg_graph.h"

#if defined(_MSC_VER)
#define MG_THREAD_LOCAL __declspec(thread)
#else
#define MG_THREAD_LOCAL __thread
#endif

/* One word per thread: bit 1 grad mode off, bit 2 anomaly mode on; zero is
 * the common case, so mg_plain() is one load and one compare. */
#define NO_GRAD 1
#define ANOMALY 2
static MG_THREAD_LOCAL int mode = 0;

int mg_grad_enabled(void) { return !(mode & NO_GRAD); }
void mg_set_grad_enabled(int enabled) { mode = enabled ? (mode & ~NO_GRAD) : (mode | NO_GRAD); }
int mg_anomaly_enabled(void) { return (mode & ANOMALY) != 0; }
void mg_set_anomaly(int enabled) { mode = enabled ? (mode | ANOMALY) : (mode & ~ANOMALY); }
int mg_plain(void) { return mode == 0; }

/* A trace's id tags the nodes its own thread makes while it is open
 * (trace_current is thread-local: another thread's nodes are not the trace's).
 * Whether an id is open is process-wide (trace_open), so that a traced node is
 * refused in every thread, and inside a trace nested in its own, for as long
 * as its trace is open, and reads as any node once it closes.  For that, two
 * open traces must never share an id (closing one would open the other's
 * nodes), so ids come from one process-wide counter, skipping 0 and the ids
 * still open.  Only callers holding the GIL open and close traces, which
 * serialises them.  Ids wrap at 2^16 - 1: a stale id can only matter for a
 * node made inside a trace 65,535 traces ago and read while another trace
 * with the same id is open. */
static MG_THREAD_LOCAL unsigned trace_current = 0;
static unsigned trace_last = 0;
static unsigned char trace_open[MG_TRACE_FULL];

unsigned mg_trace_current(void) { return trace_current; }

int mg_trace_is_open(unsigned id) { return id != 0 && id < MG_TRACE_FULL && trace_open[id]; }

unsigned mg_trace_begin(void)
{
    unsigned previous = trace_current, id = trace_last, tries;
    for (tries = 0; tries < MG_TRACE_FULL - 1u; tries++) {
        id = (id % (MG_TRACE_FULL - 1u)) + 1u;
        if (!trace_open[id]) {
            trace_open[id] = 1;
            trace_last = trace_current = id;
            return previous;
        }
    }
    return MG_TRACE_FULL;               /* every id is open: nothing changed */
}

void mg_trace_end(unsigned previous)
{
    trace_open[trace_current] = 0;      /* this thread's innermost trace */
    trace_current = previous;
}

static void node_init(mg_node *node, int op, double value, uint32_t n)
{
    node->value = value;
    node->gradient = 0.0;
    node->c = 0.0;
    node->kids.two[0] = node->kids.two[1] = NULL;
    node->op = (uint8_t)op;
    node->flags &= MG_FLAG_EXTRA;     /* the Cython layer's; never cleared here */
    node->trace = (uint16_t)trace_current;
    node->n = n;
}

/* A node made outside any trace (another thread) from a traced operand is
 * that trace's too: a thread that fn starts must not read a traced value
 * through an op on it, any more than the value itself. */
static void inherit(mg_node *node, const mg_node *kid)
{
    if (node->trace == 0 && kid != NULL) node->trace = kid->trace;
}

void mg_node_leaf(mg_node *node, double value)
{
    node_init(node, MG_LEAF, value, 0);
}

void mg_node_unary(mg_node *node, int op, double value, mg_node *x)
{
    node_init(node, op, value, 1);
    node->kids.two[0] = x;
    inherit(node, x);
}

void mg_node_binary(mg_node *node, int op, double value, mg_node *a, mg_node *b)
{
    node_init(node, op, value, 2);
    node->kids.two[0] = a;
    node->kids.two[1] = b;
    inherit(node, a);
    inherit(node, b);
}

void mg_node_const(mg_node *node, int op, double value, mg_node *x, double c)
{
    node_init(node, op, value, 1);
    node->kids.two[0] = x;
    node->c = c;
    inherit(node, x);
}

void mg_node_range(mg_node *node, int op, double value, mg_node *x, double lo, double hi)
{
    node_init(node, op, value, 1);
    node->kids.one.x = x;
    node->kids.one.c2 = hi;
    node->c = lo;
    inherit(node, x);
}

/* Operand block layout: n pointers, then n doubles.  Pointers come first so
 * the doubles stay 8-byte aligned on every ABI we build for. */
int mg_node_block(mg_node *node, int op, uint32_t n)
{
    void *block;
    node_init(node, MG_LEAF, 0.0, 0);
    if (n == 0) return -1;
    block = calloc(n, sizeof(mg_node *) + sizeof(double));
    if (block == NULL) return -1;
    node->op = (uint8_t)op;
    node->flags = MG_FLAG_BLOCK;
    node->n = n;
    node->kids.many = (mg_node **)block;
    return 0;
}

mg_node **mg_block_kids(const mg_node *node) { return node->kids.many; }

double *mg_block_consts(const mg_node *node)
{
    return (double *)(void *)(node->kids.many + node->n);
}

static double slot_value(mg_node *const *k, const double *cst, uint32_t i)
{
    return k[i] ? k[i]->value : cst[i];
}

int mg_block_eval(mg_node *node)
{
    mg_node **k = mg_block_kids(node);
    double *cst = mg_block_consts(node);
    double acc = 0.0;
    uint32_t i, n = node->n, half = n / 2;
    for (i = 0; i < n; i++) inherit(node, k[i]);
    if (node->op == MG_SUM) {
        for (i = 0; i < n; i++)
            acc += slot_value(k, cst, i);
    } else if (node->op == MG_DOT && n % 2 == 0) {
        /* from the first product, not from 0.0: dot([b, w...], [1, x...]) is
         * then b + w0*x0 + ... bit for bit, -0.0 included */
        for (i = 0; i < half; i++) {
            double p = slot_value(k, cst, i) * slot_value(k, cst, i + half);
            acc = (i == 0) ? p : acc + p;
        }
    } else if (node->op == MG_WHERE && n == 3) {
        acc = slot_value(k, cst, mg_where_picks_a(slot_value(k, cst, 0)) ? 1 : 2);
    } else if (node->op == MG_CUSTOM && n % 2 == 0) {
        return 0;               /* forward() ran in Python: the builder set the value */
    } else {
        return -1;
    }
    node->value = acc;
    return 0;
}

void mg_node_release(mg_node *node)
{
    if ((node->flags & MG_FLAG_BLOCK) && node->n > 0) {
        free(node->kids.many);
        node->kids.many = NULL;
    }
    node->n = 0;
    node->flags &= MG_FLAG_EXTRA;
    node->op = MG_LEAF;
}
