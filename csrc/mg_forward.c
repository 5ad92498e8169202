/* mg_forward.c -- forward mode: each node's tangent from its operands'.
 *
 * The tangent of a node is the sum, in operand order, of each operand's
 * contribution: the op's backward formula (mg_formulas.h) applied to that
 * operand's tangent in place of the gradient.  The first contribution is
 * kept as it is (not added to 0.0, which would turn -0.0 into 0.0), the next
 * ones are added to it.  A binary op's backward gives both partials from one
 * gradient, so a node whose two operands both carry a tangent calls it twice,
 * once with each, and keeps one half of each answer.
 *
 * An operand without a tangent (a constant, a parameter: JAX's symbolic zero)
 * contributes nothing at all, not 0 times its partial, so an infinite partial
 * there cannot make a NaN.  The tangent lives in the node's gradient field and
 * MG_FLAG_REACHED says that the node has one; the caller seeds the inputs (the
 * flag and the value), saves every gradient field the sweep overwrites, puts
 * them back and clears the flags afterwards (micrograd/_core_forward.pxi).
 * The reference's twin is micrograd/_number_py.py's forward sweep. */
#include "mg_graph.h"

static inline int has(const mg_node *k)
{
    return k != NULL && (k->flags & MG_FLAG_REACHED);
}

/* t = v if it is the first contribution, else t + v */
#define TAKE(v) do { double v_ = (v); t = any ? t + v_ : v_; any = 1; } while (0)

static void forward_block(const mg_node *node, double *out, int *out_any)
{
    mg_node **k = mg_block_kids(node);
    const double *cst = mg_block_consts(node);
    uint32_t i, n = node->n, half = n / 2;
    double t = 0.0;
    int any = 0;
    switch (node->op) {
    case MG_SUM:
        for (i = 0; i < n; i++)
            if (has(k[i])) TAKE(k[i]->gradient);
        break;
    case MG_DOT:
        for (i = 0; i < n; i++) {
            uint32_t j = (i < half) ? i + half : i - half;   /* the partner */
            if (has(k[i])) TAKE(k[i]->gradient * (k[j] ? k[j]->value : cst[j]));
        }
        break;
    case MG_CUSTOM:
        /* each operand's tangent times its partial, kept in the second half */
        for (i = 0; i < half; i++)
            if (has(k[i])) TAKE(k[i]->gradient * cst[i + half]);
        break;
    case MG_WHERE: {
        /* the picked operand's tangent; the condition's never counts */
        double cond = k[0] ? k[0]->value : cst[0];
        mg_node *picked = mg_where_picks_a(cond) ? k[1] : k[2];
        if (has(picked)) TAKE(picked->gradient);
        break;
    }
    default:
        break;
    }
    *out = t;
    *out_any = any;
}

void mg_forward_node(mg_node *node)
{
    double y = node->value, c = node->c, t = 0.0, da, db;
    mg_node *a = node->kids.two[0], *b = node->kids.two[1];
    int any = 0;
    switch (node->op) {
#define MG_OP(CODE, stem, name, kind, arity, doc) CASE_##kind(CODE, stem)
#define CASE_LEAF(CODE, stem)
#define CASE_BINARY(CODE, stem) \
    case MG_##CODE: \
        if (has(a)) { bwd_##stem(a->gradient, a->value, b->value, y, &da, &db); TAKE(da); } \
        if (has(b)) { bwd_##stem(b->gradient, a->value, b->value, y, &da, &db); TAKE(db); } \
        break;
#define CASE_CONST(CODE, stem) \
    case MG_##CODE: if (has(a)) TAKE(bwd_##stem(a->gradient, a->value, y, c)); break;
#define CASE_UNARY(CODE, stem) \
    case MG_##CODE: if (has(a)) TAKE(bwd_##stem(a->gradient, a->value, y)); break;
#define CASE_PARAM(CODE, stem) CASE_CONST(CODE, stem)
#define CASE_RANGE(CODE, stem) \
    case MG_##CODE: \
        if (has(a)) TAKE(bwd_##stem(a->gradient, a->value, y, c, node->kids.one.c2)); \
        break;
#define CASE_STOP(CODE, stem) case MG_##CODE: break;     /* JAX: a zero tangent */
#define CASE_SELECT(CODE, stem) case MG_##CODE: forward_block(node, &t, &any); break;
#define CASE_NARY(CODE, stem) case MG_##CODE: forward_block(node, &t, &any); break;
#define CASE_CUSTOM(CODE, stem) case MG_##CODE: forward_block(node, &t, &any); break;
#include "mg_ops.def"
    default:
        break;
    }
    if (any) {
        node->gradient = t;
        node->flags |= MG_FLAG_REACHED;
    } else {
        node->flags &= (uint8_t)~MG_FLAG_REACHED;
    }
}

void mg_forward_sweep(const mg_order *order)
{
    size_t i;
    for (i = 0; i < order->len; i++) mg_forward_node(order->nodes[i]);
}
