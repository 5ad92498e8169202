/* mg_topo.c -- the one topological order, found without recursion.
 *
 * Depth-first post-order over interior nodes with an explicit stack of
 * (node, next operand index) frames: operands are visited in operand order and
 * a node is appended once all its operands are done, so the root comes last.
 * micrograd/_number_py.py's topo_sort is the same loop in Python. */
#include <stdlib.h>
#include "mg_graph.h"

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p))
#else
#define PREFETCH(p) ((void)0)
#endif

typedef struct {
    mg_node *node;
    uint32_t next;
} frame;

static int grow(void **buf, size_t *cap, size_t item)
{
    size_t ncap = *cap ? *cap * 2 : 256;
    void *p = realloc(*buf, ncap * item);
    if (p == NULL) return -1;
    *buf = p;
    *cap = ncap;
    return 0;
}

static int push_order(mg_order *order, mg_node *node)
{
    if (order->len == order->cap
        && grow((void **)&order->nodes, &order->cap, sizeof(mg_node *)) < 0)
        return -1;
    order->nodes[order->len++] = node;
    return 0;
}

void mg_order_free(mg_order *order)
{
    free(order->nodes);
    order->nodes = NULL;
    order->len = order->cap = 0;
    order->prunes = 0;
}

void mg_order_unmark(const mg_order *order)
{
    size_t i;
    for (i = 0; i < order->len; i++)
        order->nodes[i]->flags &= (uint8_t)~(MG_FLAG_MARK | MG_FLAG_REACHED);
}

/* Prefetch a node's inline operands: they are visited next. */
static void prefetch_operands(const mg_node *node)
{
    if (!(node->flags & MG_FLAG_BLOCK)) {
        PREFETCH(node->kids.two[0]);
        if (node->n == 2) PREFETCH(node->kids.two[1]);
    }
}

/* The sort proper.  Emitted nodes keep their mark, and with `zero` set each
 * gets gradient 0.0 as it is first reached, so mg_backward needs one pass
 * less over memory.  On failure every mark in `order` and on the stack is
 * cleared and `order` is freed. */
int mg_topo_collect(mg_node *root, mg_order *order, int zero, mg_check_fn check, void *ctx)
{
    frame *stack = NULL;
    size_t depth = 0, cap = 0, i;
    int status = 0;

    if (root->op == MG_LEAF || (root->flags & MG_FLAG_MARK)) return 0;
    if (grow((void **)&stack, &cap, sizeof(frame)) < 0) {
        mg_order_unmark(order);
        mg_order_free(order);
        return -1;
    }
    root->flags |= MG_FLAG_MARK;
    if (zero) root->gradient = 0.0;
    stack[depth].node = root;
    stack[depth].next = 0;
    depth++;
    while (depth > 0) {
        frame *top = &stack[depth - 1];
        if (top->next < top->node->n) {
            mg_node *kid = mg_node_kid(top->node, top->next++);
            if (kid == NULL || kid->op == MG_LEAF || (kid->flags & MG_FLAG_MARK))
                continue;
            kid->flags |= MG_FLAG_MARK;
            if (zero) kid->gradient = 0.0;
            if (depth == cap && grow((void **)&stack, &cap, sizeof(frame)) < 0) {
                kid->flags &= (uint8_t)~MG_FLAG_MARK;
                status = -1;
                break;
            }
            stack[depth].node = kid;
            stack[depth].next = 0;
            depth++;
            prefetch_operands(kid);
        } else {
            if (push_order(order, top->node) < 0) { status = -1; break; }
            if (mg_prunes(top->node->op)) order->prunes = 1;
            if (check && (order->len % MG_CHECK_EVERY) == 0 && check(ctx) != 0) {
                status = -2;
                break;
            }
            depth--;
        }
    }
    if (status < 0) {
        mg_order_unmark(order);
        for (i = 0; i < depth; i++)
            stack[i].node->flags &= (uint8_t)~MG_FLAG_MARK;
        mg_order_free(order);
    }
    free(stack);
    return status;
}

int mg_topo_sort(mg_node *root, mg_order *order, mg_check_fn check, void *ctx)
{
    int status;
    order->nodes = NULL;
    order->len = order->cap = 0;
    order->prunes = 0;
    status = mg_topo_collect(root, order, 0, check, ctx);
    if (status == 0) mg_order_unmark(order);
    return status;
}
