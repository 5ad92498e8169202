"""Forward mode (the reference): the twin of micrograd/_core_forward.pxi over
csrc/mg_forward.c.

A node's tangent is the sum, in operand order, of each operand's contribution:
the op's backward formula applied to that operand's tangent in place of the
gradient, the first contribution kept as it is and the next ones added to it.
An operand with no tangent (a constant, a parameter) contributes nothing.  The
C keeps tangents in the nodes' gradient fields and saves them around the
sweep; here a dict per column holds them, which changes nothing in the
arithmetic or its order.
"""
from . import _ops_py as ops
from . import _optable as T
from ._convert import to_float
from ._number_py import BACKEND, Number, collect

__all__ = ["forward_tangents"]


def _take(t, v):
    """t + v, or v for the first contribution (C's TAKE)."""
    return v if t is None else t + v


# -- one function per operand layout, as mg_forward.c's cases ---------------------
def _fwd_unary(node, ts):
    x = node._kids[0]
    tx = ts.get(id(x))
    return None if tx is None else ops.BWD[node._code](tx, x._value, node._value)


def _fwd_const(node, ts):                 # CONST and PARAM: the real operand in _c
    x = node._kids[0]
    tx = ts.get(id(x))
    return None if tx is None else ops.BWD[node._code](tx, x._value, node._value, node._c)


def _fwd_range(node, ts):                 # lo in _c, hi in the second slot
    x, hi = node._kids
    tx = ts.get(id(x))
    return None if tx is None else ops.BWD[node._code](tx, x._value, node._value, node._c, hi)


def _fwd_binary(node, ts):                # one backward per operand with a tangent
    a, b = node._kids
    ta, tb, t = ts.get(id(a)), ts.get(id(b)), None
    if ta is not None:
        t = ops.BWD[node._code](ta, a._value, b._value, node._value)[0]
    if tb is not None:
        t = _take(t, ops.BWD[node._code](tb, a._value, b._value, node._value)[1])
    return t


def _fwd_stop(node, ts):                  # JAX: a zero tangent
    return None


def _slot_tangent(ts, k):
    return None if type(k) is float else ts.get(id(k))


def _fwd_where(node, ts):                 # the picked operand's; never the condition's
    kids = node._kids
    cond = kids[0] if type(kids[0]) is float else kids[0]._value
    return _slot_tangent(ts, kids[1] if ops.where_picks_a(cond) else kids[2])


def _fwd_nary(node, ts):                  # sum and dot; a float slot is a constant
    kids, t = node._kids, None
    half = len(kids) // 2
    for i, k in enumerate(kids):
        tk = _slot_tangent(ts, k)
        if tk is None:
            continue
        if node._code == T.DOT:
            partner = kids[i + half if i < half else i - half]
            tk = tk * (partner if type(partner) is float else partner._value)
        t = _take(t, tk)
    return t


def _fwd_custom(node, ts):                # each operand's tangent times its partial
    kids, t = node._kids, None
    half = len(kids) // 2
    for k, p in zip(kids[:half], kids[half:]):
        tk = _slot_tangent(ts, k)
        if tk is not None:
            t = _take(t, tk * p)
    return t


# A kind missing here fails at import; the sorts never hand a leaf to the sweep.
_FORWARD_BY_KIND = {"LEAF": None, "UNARY": _fwd_unary, "CONST": _fwd_const,
                    "PARAM": _fwd_const, "RANGE": _fwd_range, "BINARY": _fwd_binary,
                    "STOP": _fwd_stop, "SELECT": _fwd_where, "NARY": _fwd_nary,
                    "CUSTOM": _fwd_custom}
_FORWARD = tuple(_FORWARD_BY_KIND[op.kind] for op in T.OPS)      # by op code


def forward_tangents(outs, inputs, columns):
    """[[d out / d inputs . column for each out] for each column]: one forward
    sweep per column of tangents (one real or None per input: None is no
    tangent, as JAX's symbolic zero) over the graph of outs, sorted once (the
    twin: the core's forward_tangents)."""
    roots = [_number(o) for o in outs]
    leaves = [_number(x) for x in inputs]
    cols = [[None if v is None else to_float(v, BACKEND) for v in col] for col in columns]
    for col in cols:
        if len(col) != len(leaves):
            raise ValueError(f"forward_tangents: {len(leaves)} inputs but a column of "
                             f"{len(col)} tangents")
    order = collect(roots)[0]
    result = []
    for col in cols:
        ts = {}
        for x, v in zip(leaves, col):       # None: no tangent (and not 0.0)
            if v is None:
                ts.pop(id(x), None)
            else:
                ts[id(x)] = v
        for node in order:
            t = _FORWARD[node._code](node, ts)
            if t is not None:
                ts[id(node)] = t
        result.append([ts.get(id(o), 0.0) for o in roots])
    return result


def _number(n):
    if not isinstance(n, Number):
        raise TypeError(f"forward_tangents: expected Numbers, not {type(n).__name__}")
    return n
