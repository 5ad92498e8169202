/* mg_backward.c -- the reverse sweep.
 *
 * Contract (docs/design.md, "The backward contract"): interior nodes are zeroed and hold this pass's
 * gradient; leaves are never zeroed and accumulate.  A leaf root gains `seed`.
 * Arithmetic is IEEE-754 throughout: an infinite or undefined local
 * derivative gives inf or NaN, never an error.
 *
 * Two passes over the nodes: the sort zeroes each interior node as it first
 * reaches it, and the sweep clears each node's marks after propagating it.
 * A node that got no contribution (the operand where() did not pick, and what
 * only it leads to) is not propagated (see mg_graph.h).
 * (The reference zeroes in a loop of its own after the sort; the result is
 * the same because no gradient is added before the sweep.) */
#include "mg_graph.h"

/* The sweep, specialised on `track` (see mg_graph.h): without a where() in
 * the graph every sorted node is reached, and no node needs its flag read. */
MG_SPECIALISE int sweep(mg_order *order, mg_check_fn check, void *ctx, const int track)
{
    size_t i;
    for (i = order->len; i-- > 0;) {
        mg_node *node = order->nodes[i];
        if (check && (i % MG_CHECK_EVERY) == 0 && check(ctx) != 0) {
            order->len = i + 1;
            mg_order_unmark(order);
            return -2;
        }
        if (!track) mg_propagate(node);
        else if (node->flags & MG_FLAG_REACHED) mg_propagate_tracked(node);
        node->flags &= (uint8_t)~(MG_FLAG_MARK | MG_FLAG_REACHED);
    }
    return 0;
}

int mg_backward(mg_node *root, double seed, mg_check_fn check, void *ctx)
{
    mg_order order = {NULL, 0, 0, 0};
    int status;

    if (root->op == MG_LEAF) {
        root->gradient += seed;
        return 0;
    }
    status = mg_topo_collect(root, &order, 1, check, ctx);
    if (status < 0) return status;
    root->gradient = seed;
    root->flags |= MG_FLAG_REACHED;
    status = order.prunes ? sweep(&order, check, ctx, 1) : sweep(&order, check, ctx, 0);
    mg_order_free(&order);
    return status;
}
