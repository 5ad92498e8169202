/* mg_ops.c -- the op table's C side: names, kinds and arities from
 * mg_ops.def, and the dispatch of each op's formulas (mg_formulas.h) over
 * graph nodes.  Every switch here is generated from the table, so a new row
 * needs no edit in this file. */
#include "mg_graph.h"

#define KIND_OF(kind) MG_KIND_##kind

static const char *const NAMES[MG_NUM_OPS] = {
#define MG_OP(CODE, stem, name, kind, arity, doc) name,
#include "mg_ops.def"
#undef MG_OP
};

const signed char mg_kinds[MG_NUM_OPS] = {
#define MG_OP(CODE, stem, name, kind, arity, doc) KIND_OF(kind),
#include "mg_ops.def"
#undef MG_OP
};

static const signed char ARITIES[MG_NUM_OPS] = {
#define MG_OP(CODE, stem, name, kind, arity, doc) arity,
#include "mg_ops.def"
#undef MG_OP
};

const char *mg_op_name(int op)
{
    return (op >= 0 && op < MG_NUM_OPS) ? NAMES[op] : "?";
}

int mg_op_kind(int op)
{
    return (op >= 0 && op < MG_NUM_OPS) ? mg_kinds[op] : -1;
}

int mg_op_arity(int op)
{
    return (op >= 0 && op < MG_NUM_OPS) ? ARITIES[op] : 0;
}

/* Each MG_OP row expands through the CASE_ macro named after its kind.  All
 * of them expand to nothing by default; a switch defines the kinds it
 * handles around its #include and puts them back after. */
#define MG_OP(CODE, stem, name, kind, arity, doc) CASE_##kind(CODE, stem)
#define CASE_LEAF(CODE, stem)
#define CASE_BINARY(CODE, stem)
#define CASE_CONST(CODE, stem)
#define CASE_UNARY(CODE, stem)
#define CASE_PARAM(CODE, stem)
#define CASE_RANGE(CODE, stem)
#define CASE_STOP(CODE, stem)
#define CASE_SELECT(CODE, stem)
#define CASE_NARY(CODE, stem)
#define CASE_CUSTOM(CODE, stem)

int mg_eval_unary(int op, double x, double *out)
{
    switch (op) {
#undef CASE_UNARY
#undef CASE_STOP
#define CASE_UNARY(CODE, stem) case MG_##CODE: return fwd_##stem(x, out);
#define CASE_STOP(CODE, stem) case MG_##CODE: *out = x; return MG_OK;
#include "mg_ops.def"
#undef CASE_UNARY
#undef CASE_STOP
#define CASE_UNARY(CODE, stem)
#define CASE_STOP(CODE, stem)
    default: return MG_EDOM;
    }
}

/* BINARY, and CONST and PARAM with x = a and c = b */
int mg_eval_binary(int op, double a, double b, double *out)
{
    switch (op) {
#undef CASE_BINARY
#undef CASE_CONST
#undef CASE_PARAM
#define CASE_BINARY(CODE, stem) case MG_##CODE: return fwd_##stem(a, b, out);
#define CASE_CONST(CODE, stem) case MG_##CODE: return fwd_##stem(a, b, out);
#define CASE_PARAM(CODE, stem) case MG_##CODE: return fwd_##stem(a, b, out);
#include "mg_ops.def"
#undef CASE_BINARY
#undef CASE_CONST
#undef CASE_PARAM
#define CASE_BINARY(CODE, stem)
#define CASE_CONST(CODE, stem)
#define CASE_PARAM(CODE, stem)
    default: return MG_EDOM;
    }
}

int mg_eval_range(int op, double x, double lo, double hi, double *out)
{
    switch (op) {
#undef CASE_RANGE
#define CASE_RANGE(CODE, stem) case MG_##CODE: return fwd_##stem(x, lo, hi, out);
#include "mg_ops.def"
#undef CASE_RANGE
#define CASE_RANGE(CODE, stem)
    default: return MG_EDOM;
    }
}

/* With `track` set, every contribution marks its operand reached, and
 * mg_backward sweeps only the nodes something reached: the branch where() did
 * not take gets no contribution at all, so it is skipped with everything only
 * it leads to.  A graph without where() needs no marks (every node it sorts
 * is reached), and its sweep does not pay for them: the two propagations
 * below are the same code, specialised on the constant `track`. */
MG_SPECIALISE void add_to(mg_node *k, double v, const int track)
{
    k->gradient += v;
    if (track) k->flags |= MG_FLAG_REACHED;
}

MG_SPECIALISE void propagate_block(mg_node *node, double g, const int track)
{
    mg_node **k = mg_block_kids(node);
    double *cst = mg_block_consts(node);
    uint32_t i, n = node->n, half = n / 2;
    switch (node->op) {
    case MG_SUM:
        for (i = 0; i < n; i++)
            if (k[i]) add_to(k[i], g, track);
        break;
    case MG_DOT:
        for (i = 0; i < n; i++) {
            uint32_t j = (i < half) ? i + half : i - half;   /* the partner */
            if (k[i]) add_to(k[i], g * (k[j] ? k[j]->value : cst[j]), track);
        }
        break;
    case MG_CUSTOM:
        /* each operand times its partial, kept in the second half */
        for (i = 0; i < half; i++)
            if (k[i]) add_to(k[i], g * cst[i + half], track);
        break;
    case MG_WHERE: {
        /* the picked operand only: the other is skipped, not multiplied by 0 */
        double cond = k[0] ? k[0]->value : cst[0];
        mg_node *picked = mg_where_picks_a(cond) ? k[1] : k[2];
        if (picked) add_to(picked, g, track);
        break;
    }
    default:
        break;
    }
}

MG_SPECIALISE void propagate(mg_node *node, const int track)
{
    double g = node->gradient, y = node->value, c = node->c;
    mg_node *a = node->kids.two[0], *b = node->kids.two[1];
    double da, db;
    switch (node->op) {
#undef CASE_BINARY
#undef CASE_CONST
#undef CASE_UNARY
#undef CASE_PARAM
#undef CASE_RANGE
#undef CASE_STOP
#undef CASE_SELECT
#undef CASE_NARY
#undef CASE_CUSTOM
#define CASE_BINARY(CODE, stem) \
    case MG_##CODE: \
        bwd_##stem(g, a->value, b->value, y, &da, &db); \
        add_to(a, da, track); \
        add_to(b, db, track); \
        break;
#define CASE_CONST(CODE, stem) \
    case MG_##CODE: add_to(a, bwd_##stem(g, a->value, y, c), track); break;
#define CASE_UNARY(CODE, stem) \
    case MG_##CODE: add_to(a, bwd_##stem(g, a->value, y), track); break;
#define CASE_PARAM(CODE, stem) \
    case MG_##CODE: add_to(a, bwd_##stem(g, a->value, y, c), track); break;
#define CASE_RANGE(CODE, stem) \
    case MG_##CODE: add_to(a, bwd_##stem(g, a->value, y, c, node->kids.one.c2), track); break;
#define CASE_STOP(CODE, stem) case MG_##CODE: break;
#define CASE_SELECT(CODE, stem) case MG_##CODE: propagate_block(node, g, track); break;
#define CASE_NARY(CODE, stem) case MG_##CODE: propagate_block(node, g, track); break;
#define CASE_CUSTOM(CODE, stem) case MG_##CODE: propagate_block(node, g, track); break;
#include "mg_ops.def"
    default:
        break;
    }
}

void mg_propagate(mg_node *node) { propagate(node, 0); }
void mg_propagate_tracked(mg_node *node) { propagate(node, 1); }
