# Included by _core.pyx; the twin of micrograd/_higher_py.py.
# =============================================================================
# Gradients as graphs: backward(create_graph=True), and the functional
# transforms' grad of grad, hessian and hvp.  The reverse sweep builds each
# node's gradient as a Number from ordinary ops, the local derivative of each
# op of the table written as ops in torch's formulas; the reference builds the
# same ops in the same order, so the two give the same bits.  Nodes here never
# raise: where an op of a derivative would raise on floats, it is a leaf with
# the IEEE value (see _higher_py.py for the rules' reasons).
# =============================================================================
from libc.math cimport NAN as _C_NAN, INFINITY as _C_INF

from micrograd._rules import no_rule_message as _no_rule_message


# The builders of gradient graphs: as _make_binary and the others, but an op
# that would raise on floats gives a leaf holding the IEEE value, and the node
# is made whatever the grad mode (the sweep turns it on) and never checked.
cdef Number _ib(int op, Number a, Number b):
    """a <op> b; a leaf with the IEEE value where floats raise."""
    cdef double v
    if mg_eval_binary(op, a.node.value, b.node.value, &v) != MG_OK:
        return _fresh(v)
    return _link_binary(_fresh_gc(v) if _either_tracked(a, b) else _fresh(v), op, v, a, b)


cdef Number _ik(int op, Number x, double c):
    cdef double v
    if mg_eval_binary(op, x.node.value, c, &v) != MG_OK:
        return _fresh(v)
    return _link_const(_fresh_gc(v) if _either_tracked(x, None) else _fresh(v), op, v, x, c)


cdef Number _iu(int op, Number x):
    cdef double v
    if mg_eval_unary(op, x.node.value, &v) != MG_OK:
        return _fresh(v)
    return _link_unary(_fresh_gc(v) if _either_tracked(x, None) else _fresh(v), op, v, x)


cdef inline double _fb(int op, double a, double b) noexcept:
    """op on two floats, as C gives it (the rules' arithmetic on reals)."""
    cdef double v
    mg_eval_binary(op, a, b, &v)
    return v


cdef inline double _fu(int op, double x) noexcept:
    cdef double v
    mg_eval_unary(op, x, &v)
    return v


# Each op's rule (its derivative as ops) is its MG_RULE line in csrc/mg_ops.def,
# translated by micrograd/_rules.py into _core_table.pxi (a build product):
# _unary_rule, _const_rule, _binary_rule and _range_rule dispatch on the op.


@cython.final
cdef class _Sweep:
    """The gradient graphs of one sweep, kept by position: each interior node's
    is at its place in the topological order, each leaf's after them in the
    order first reached.  While it runs, a node's float gradient field holds
    its position (the gradients are saved first and put back after), so a
    contribution finds its slot without a dict; the reference uses dicts,
    which changes nothing in the ops built or their order."""
    cdef mg_order order
    cdef list grads                 # position -> gradient Number, or None
    cdef double *saved              # the interior nodes' float gradients
    cdef mg_node **leaves
    cdef double *leaf_saved
    cdef size_t nleaves, cap

    def __cinit__(self):
        self.order.nodes = NULL
        self.order.len = 0

    cdef void start(self, Number root) except *:
        cdef size_t i
        if mg_topo_sort(&root.node, &self.order, _check_signals, NULL) == -1:
            raise MemoryError("micrograd: out of memory in backward")
        self.saved = <double *>malloc((self.order.len + 1) * sizeof(double))
        if self.saved == NULL:
            raise MemoryError("micrograd: out of memory in backward")
        for i in range(self.order.len):
            self.saved[i] = self.order.nodes[i].gradient
            self.order.nodes[i].gradient = <double>i
        self.grads = [None] * <Py_ssize_t>self.order.len

    cdef Py_ssize_t slot(self, mg_node *kid) except -1:
        cdef void *grown
        cdef double at
        if kid.op != MG_LEAF or kid.flags & MG_FLAG_MARK:
            # a position another thread's backward overwrote (it could only
            # run if a finalizer let it in) must not index anything
            at = kid.gradient
            if at >= 0.0 and at < <double>self.order.len:
                if self.order.nodes[<size_t>at] == kid:
                    return <Py_ssize_t>at
            elif at >= <double>self.order.len and at < <double>(self.order.len + self.nleaves):
                if self.leaves[<size_t>at - self.order.len] == kid:
                    return <Py_ssize_t>at
            raise RuntimeError("backward ran on the same graph while its gradient graphs "
                               "were being built (in another thread, or a finalizer)")
        if self.nleaves == self.cap:
            self.cap = self.cap * 2 if self.cap else 64
            grown = realloc(self.leaves, self.cap * sizeof(mg_node *))
            if grown == NULL:
                raise MemoryError("micrograd: out of memory in backward")
            self.leaves = <mg_node **>grown
            grown = realloc(self.leaf_saved, self.cap * sizeof(double))
            if grown == NULL:
                raise MemoryError("micrograd: out of memory in backward")
            self.leaf_saved = <double *>grown
        self.leaves[self.nleaves] = kid
        self.leaf_saved[self.nleaves] = kid.gradient
        kid.flags |= MG_FLAG_MARK
        kid.gradient = <double>(self.order.len + self.nleaves)
        self.nleaves += 1
        self.grads.append(None)
        return <Py_ssize_t>kid.gradient

    cdef void add(self, mg_node *kid, object d) except *:
        """kid's gradient graph += d (the first contribution is kept as it is)."""
        if d is None:
            return
        cdef Py_ssize_t at = self.slot(kid)
        have = self.grads[at]
        self.grads[at] = d if have is None else _ib(MG_ADD, <Number>have, <Number>d)

    cdef void finish(self) noexcept:
        """Every float gradient and mark back as they were."""
        cdef size_t i
        if self.saved != NULL:
            for i in range(self.order.len):
                self.order.nodes[i].gradient = self.saved[i]
        for i in range(self.nleaves):
            self.leaves[i].gradient = self.leaf_saved[i]
            self.leaves[i].flags &= ~MG_FLAG_MARK
        free(self.saved)
        free(self.leaves)
        free(self.leaf_saved)
        self.saved = self.leaf_saved = NULL
        self.leaves = NULL
        self.nleaves = self.cap = 0

    def __dealloc__(self):
        self.finish()
        mg_order_free(&self.order)


cdef void _spread(Number node, Number g, _Sweep sw) except *:
    """Each operand's contribution from node, in operand order."""
    cdef int op = node.node.op, kind = mg_op_kind(op)
    cdef mg_node *k0
    cdef mg_node *k1
    cdef mg_node **kids
    cdef double *consts
    cdef uint32_t i, j, half, n
    cdef double cond
    cdef tuple both
    if kind == MG_KIND_UNARY:
        k0 = mg_node_kid(&node.node, 0)
        sw.add(k0, _unary_rule(op, g, <Number>_owner(k0), node))
    elif kind == MG_KIND_CONST or kind == MG_KIND_PARAM:
        k0 = mg_node_kid(&node.node, 0)
        sw.add(k0, _const_rule(op, g, <Number>_owner(k0), node, node.node.c))
    elif kind == MG_KIND_RANGE:
        k0 = mg_node_kid(&node.node, 0)
        sw.add(k0, _range_rule(op, g, <Number>_owner(k0), node, node.node.c,
                               mg_node_hi(&node.node)))
    elif kind == MG_KIND_BINARY:
        k0 = mg_node_kid(&node.node, 0)
        k1 = mg_node_kid(&node.node, 1)
        both = _binary_rule(op, g, <Number>_owner(k0), <Number>_owner(k1), node)
        sw.add(k0, both[0])
        sw.add(k1, both[1])
    elif kind == MG_KIND_CUSTOM:                # each operand times the partial second() gives
        kids = mg_block_kids(&node.node)
        consts = mg_block_consts(&node.node)
        half = node.node.n // 2
        xs = [consts[i] if kids[i] == NULL else <Number>_owner(kids[i]) for i in range(half)]
        ps = _custom_op_of(node.node.c).second_partials(xs, node, BACKEND)
        for i in range(half):
            if kids[i] != NULL:
                p = ps[i]
                sw.add(kids[i], _ik(MG_MUL_C, g, <double>p) if type(p) is float
                       else _ib(MG_MUL, g, <Number>p))
    elif kind != MG_KIND_STOP:
        kids = mg_block_kids(&node.node)
        consts = mg_block_consts(&node.node)
        n = node.node.n
        if op == MG_SUM:
            for i in range(n):
                if kids[i] != NULL:
                    sw.add(kids[i], g)
        elif op == MG_DOT:
            half = n // 2
            for i in range(n):
                if kids[i] == NULL:
                    continue
                j = i + half if i < half else i - half
                if kids[j] == NULL:
                    sw.add(kids[i], _ik(MG_MUL_C, g, consts[j]))
                else:
                    sw.add(kids[i], _ib(MG_MUL, g, <Number>_owner(kids[j])))
        else:                               # where: the picked operand only
            cond = consts[0] if kids[0] == NULL else kids[0].value
            i = 1 if cond > 0.0 else 2
            if kids[i] != NULL:
                sw.add(kids[i], g)


cdef Number _graph_hooks(object hooks, Number g):
    """A node's hooks under create_graph (the twin: _higher_py._graph_hooks)."""
    for fn in list(hooks):
        out = fn(g)
        if out is not None:
            g = <Number>out if isinstance(out, Number) else _fresh(_real(out))
    return g


cdef dict _sweep(Number root, double seed, bint leaves_only, dict replay=None):
    """{id(node): its gradient as a Number} for each node the sweep reaches;
    with leaves_only, the leaves alone.  While any hook is registered, each
    hooked node's hooks replace its gradient graph, and replay (if given)
    gets {id(node): the value they gave} (the twin: _higher_py.sweep)."""
    cdef size_t i
    cdef int was = mg_grad_enabled()
    cdef bint watch = _hooks_live > 0
    cdef Number node
    cdef _Sweep sw
    if root.node.op == MG_LEAF:
        g = _fresh(seed)
        if watch and _hooks_of(root):
            mg_set_grad_enabled(1)
            try:
                g = _graph_hooks(_hooks_of(root), <Number>g)
            finally:
                mg_set_grad_enabled(was)
            if replay is not None:
                replay[id(root)] = (<Number>g).node.value
        return {id(root): g}
    cdef dict out = {}
    sw = _Sweep()
    mg_set_grad_enabled(1)
    try:
        sw.start(root)
        sw.grads[sw.order.len - 1] = _fresh(seed)
        for i in range(sw.order.len, 0, -1):
            g = sw.grads[i - 1]
            if g is None:                   # the branch where() did not take
                continue
            node = <Number>_owner(sw.order.nodes[i - 1])
            if watch and _hooks_of(node):
                g = sw.grads[i - 1] = _graph_hooks(_hooks_of(node), <Number>g)
                if replay is not None:
                    replay[id(node)] = (<Number>g).node.value
            _spread(node, <Number>g, sw)
        if watch:
            for i in range(sw.nleaves):
                node = <Number>_owner(sw.leaves[i])
                if _hooks_of(node):
                    g = sw.grads[sw.order.len + i] = _graph_hooks(_hooks_of(node),
                                                                  <Number>sw.grads[sw.order.len + i])
                    if replay is not None:
                        replay[id(node)] = (<Number>g).node.value
        if not leaves_only:
            for i in range(sw.order.len, 0, -1):
                if sw.grads[i - 1] is not None:
                    out[<Py_ssize_t>_owner(sw.order.nodes[i - 1])] = sw.grads[i - 1]
        for i in range(sw.nleaves):
            out[<Py_ssize_t>_owner(sw.leaves[i])] = sw.grads[sw.order.len + i]
    finally:
        mg_set_grad_enabled(was)
        sw.finish()
    return out


def gradient_graphs(Number root, seed=1.0, leaves_only=False):
    """{id(node): its gradient as a Number} for every node the sweep from root
    reaches (root included), or for the leaves it reaches alone."""
    return _sweep(root, _real(seed), bool(leaves_only))


# =============================================================================
# The watched sweep: backward with hooks called and, in anomaly mode, each step
# checked (the twin of _number_py._watched_backward).  The plain sweep,
# mg_backward, is untouched: this one runs only while a hook is registered or
# anomaly mode is on.
# =============================================================================
cdef list _operand_values(Number node):
    """Twin of _number_py.operand_values: (x, c), (x, lo, hi), (a, b), slots."""
    cdef int kind = mg_op_kind(node.node.op)
    cdef uint32_t i
    cdef mg_node *k
    cdef mg_node **kids
    cdef double *consts
    if kind == MG_KIND_CONST or kind == MG_KIND_PARAM:
        return [mg_node_kid(&node.node, 0).value, node.node.c]
    if kind == MG_KIND_CUSTOM:                # the operands, not the partials after them
        kids, consts = mg_block_kids(&node.node), mg_block_consts(&node.node)
        return [consts[i] if kids[i] == NULL else kids[i].value for i in range(node.node.n // 2)]
    if kind == MG_KIND_RANGE:
        return [mg_node_kid(&node.node, 0).value, node.node.c, mg_node_hi(&node.node)]
    if node.node.flags & MG_FLAG_BLOCK:
        kids, consts = mg_block_kids(&node.node), mg_block_consts(&node.node)
        return [consts[i] if kids[i] == NULL else kids[i].value for i in range(node.node.n)]
    return [mg_node_kid(&node.node, i).value for i in range(node.node.n)]


cdef list _kid_numbers(Number node):
    cdef uint32_t i
    cdef mg_node *k
    out = []
    for i in range(node.node.n):
        k = mg_node_kid(&node.node, i)
        if k != NULL:
            out.append(<Number>_owner(k))
    return out


cdef object _hooks_of(Number n):
    rec = _record_of(n)
    return None if rec is None else rec[1]


cdef double _run_hooks(object hooks, double g) except? -1.0:
    for fn in list(hooks):
        out = fn(g)
        if out is not None:
            g = _real(out)
    return g


cdef void _checked_propagate(Number node, bint tracked) except *:
    kids = _kid_numbers(node)
    was = [(<Number>k).node.gradient != (<Number>k).node.gradient for k in kids]
    if tracked:
        mg_propagate_tracked(&node.node)
    else:
        mg_propagate(&node.node)
    for i, (k, nan_before) in enumerate(zip(kids, was)):
        if (<Number>k).node.gradient != (<Number>k).node.gradient and not nan_before:
            operands = _operand_values(node)
            if _finite(node.node.gradient, node.node.value, *operands):
                rec = _record_of(node)
                raise _backward_error(_name_of(&node.node), i, node.node.gradient, operands,
                                      None if rec is None else rec[0])


cdef inline double _replayed(dict replay, object hooks, Number node, double g) except? -1.0:
    """Twin of _number_py._replayed: the hooks' value, or what they gave in
    the create_graph sweep that ran them."""
    if replay is None:
        return _run_hooks(hooks, g)
    return replay.get(id(node), g)


cdef void _watched_backward(Number root, double seed, dict replay=None) except *:
    cdef mg_order order
    cdef size_t i
    cdef mg_node *m
    cdef Number node
    cdef bint tracked, anomaly = mg_anomaly_enabled()
    order.nodes, order.len, order.cap, order.prunes = NULL, 0, 0, 0
    if root.node.op != MG_LEAF:
        # not zeroed while sorting: the gradients are kept to be put back
        if mg_topo_collect(&root.node, &order, 0, _check_signals, NULL) == -1:
            raise MemoryError("micrograd: out of memory in backward")
    leaves, touched = {}, {id(root): root}
    try:
        for i in range(order.len):
            touched[id(<Number>_owner(order.nodes[i]))] = <Number>_owner(order.nodes[i])
            for k in _kid_numbers(<Number>_owner(order.nodes[i])):
                touched[id(k)] = k
                if (<Number>k).node.op == MG_LEAF and _hooks_of(<Number>k):
                    leaves[id(k)] = k
        if root.node.op == MG_LEAF and _hooks_of(root):
            leaves[id(root)] = root
        # if anything raises, every gradient the pass touched is put back and
        # no leaf hook runs, as in torch (the twin: _number_py._watched_backward)
        before = [(n, (<Number>n).node.gradient) for n in touched.values()]
        saved = [(k, (<Number>k).node.gradient) for k in leaves.values()]
        try:
            for k in leaves.values():
                (<Number>k).node.gradient = 0.0
            for i in range(order.len):
                order.nodes[i].gradient = 0.0
            if root.node.op == MG_LEAF:
                root.node.gradient += seed
            else:
                tracked = order.prunes
                root.node.gradient = seed
                root.node.flags |= MG_FLAG_REACHED
                for i in range(order.len, 0, -1):
                    m = order.nodes[i - 1]
                    if (i - 1) % MG_CHECK_EVERY == 0 and _check_signals(NULL) != 0:
                        raise KeyboardInterrupt()
                    if tracked and not (m.flags & MG_FLAG_REACHED):
                        continue
                    node = <Number>_owner(m)
                    hooks = _hooks_of(node)
                    if hooks:
                        node.node.gradient = _replayed(replay, hooks, node, node.node.gradient)
                    if anomaly:
                        _checked_propagate(node, tracked)
                    elif tracked:
                        mg_propagate_tracked(m)
                    else:
                        mg_propagate(m)
            added = [(k, was, _replayed(replay, _hooks_of(<Number>k), <Number>k,
                                        (<Number>k).node.gradient))
                     for k, was in saved]
        except BaseException:
            for n, g in before:
                (<Number>n).node.gradient = g
            raise
        for k, was, g in added:
            (<Number>k).node.gradient = was + g
    finally:
        for i in range(order.len):
            order.nodes[i].flags &= ~(MG_FLAG_MARK | MG_FLAG_REACHED)
        mg_order_free(&order)
