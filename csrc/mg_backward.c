/* mg_backward.c -- the reverse sweep.
 *
 * Contract (SPEC section 3): interior nodes are zeroed and hold this pass's
 * gradient; leaves are never zeroed and accumulate.  A leaf root gains `seed`.
 * Arithmetic is IEEE-754 throughout: an infinite or undefined local
 * derivative gives inf or NaN, never an error.
 *
 * Two passes over the nodes: the sort zeroes each interior node as it first
 * reaches it, and the sweep clears each node's mark after propagating it.
 * (The reference zeroes in a loop of its own after the sort; the result is
 * the same because no gradient is added before the sweep.) */
#include "mg_graph.h"

int mg_backward(mg_node *root, double seed, mg_check_fn check, void *ctx)
{
    mg_order order;
    size_t i;

    if (root->op == MG_LEAF) {
        root->gradient += seed;
        return 0;
    }
    if (mg_topo_collect(root, &order, 1) < 0) return -1;
    root->gradient = seed;
    for (i = order.len; i-- > 0;) {
        mg_node *node = order.nodes[i];
        if (check && (i % MG_CHECK_EVERY) == 0 && check(ctx) != 0) {
            for (i++; i-- > 0;)
                order.nodes[i]->flags &= (uint8_t)~MG_FLAG_MARK;
            mg_order_free(&order);
            return -2;
        }
        mg_propagate(node);
        node->flags &= (uint8_t)~MG_FLAG_MARK;
    }
    mg_order_free(&order);
    return 0;
}
