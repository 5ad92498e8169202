# Included by _core.pyx; the twin of micrograd/_forward_py.py.
# =============================================================================
# Forward mode (micrograd.jvp, jacfwd): csrc/mg_forward.c sweeps the graph from
# the inputs up, each node's tangent in its gradient field; this saves the
# fields it overwrites and puts them back, so no .gradient anyone can see moves.
# =============================================================================

cdef Number _forward_number(object n):
    if not isinstance(n, Number):
        raise TypeError(f"forward_tangents: expected Numbers, not {type(n).__name__}")
    return <Number>n


def forward_tangents(outs, inputs, columns):
    """[[d out / d inputs . column for each out] for each column]: one forward
    sweep per column of tangents (one real or None per input: None is no
    tangent, as JAX's symbolic zero) over the graph of outs, sorted once.  The inputs must be leaves (the transforms make them); an out
    that does not depend on them gets 0.0."""
    cdef list roots = [_forward_number(each) for each in outs]
    cdef list leaves = [_forward_number(each) for each in inputs]
    cdef list cols = [[None if v is None else _real(v) for v in col] for col in columns]
    cdef mg_order order
    cdef double *saved = NULL
    cdef size_t i
    cdef Py_ssize_t j
    cdef Number x, o
    for col in cols:
        if len(<list>col) != len(leaves):
            raise ValueError(f"forward_tangents: {len(leaves)} inputs but a column of "
                             f"{len(<list>col)} tangents")
    order.nodes, order.len, order.cap, order.prunes = NULL, 0, 0, 0
    kept = [(x, x.node.gradient) for x in leaves]
    result = []
    try:
        for o in roots:
            if o.node.op != MG_LEAF and mg_topo_collect(&o.node, &order, 0, _check_signals,
                                                        NULL) == -1:
                raise MemoryError("micrograd: out of memory in forward mode")
        saved = <double *>malloc((order.len + 1) * sizeof(double))
        if saved == NULL:
            raise MemoryError("micrograd: out of memory in forward mode")
        for i in range(order.len):
            saved[i] = order.nodes[i].gradient
        for col in cols:
            for j in range(len(leaves)):
                x = <Number>leaves[j]
                v = (<list>col)[j]
                if v is None:               # no tangent (and not 0.0)
                    x.node.flags &= ~MG_FLAG_REACHED
                else:
                    x.node.gradient = <double>v
                    x.node.flags |= MG_FLAG_REACHED
            mg_forward_sweep(&order)
            result.append([o.node.gradient if o.node.flags & MG_FLAG_REACHED else 0.0
                           for o in roots])
    finally:
        if saved != NULL:
            for i in range(order.len):
                order.nodes[i].gradient = saved[i]
        for i in range(order.len):
            order.nodes[i].flags &= ~MG_FLAG_REACHED
        for x, g in kept:
            x.node.gradient = g
            x.node.flags &= ~MG_FLAG_REACHED
        mg_order_unmark(&order)
        mg_order_free(&order)
        free(saved)
    return result
