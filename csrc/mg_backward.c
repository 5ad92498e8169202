/* mg_backward.c -- the reverse sweep.
 *
 * Contract (SPEC section 3): interior nodes are zeroed and hold this pass's
 * gradient; leaves are never zeroed and accumulate.  A leaf root gains `seed`.
 * Arithmetic is IEEE-754 throughout: an infinite or undefined local
 * derivative gives inf or NaN, never an error. */
#include "mg_graph.h"

int mg_backward(mg_node *root, double seed, mg_check_fn check, void *ctx)
{
    mg_order order;
    size_t i;

    if (root->op == MG_LEAF) {
        root->gradient += seed;
        return 0;
    }
    if (mg_topo_sort(root, &order) < 0) return -1;
    for (i = 0; i < order.len; i++)
        order.nodes[i]->gradient = 0.0;
    root->gradient = seed;
    for (i = order.len; i-- > 0;) {
        if (check && (i % MG_CHECK_EVERY) == 0 && check(ctx) != 0) {
            mg_order_free(&order);
            return -2;
        }
        mg_propagate(order.nodes[i]);
    }
    mg_order_free(&order);
    return 0;
}
