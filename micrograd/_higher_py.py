"""Gradients as graphs (the reference): the twin of micrograd/_core_higher.pxi.

`gradient_graphs(root, seed)` runs the reverse sweep of backward, but where
backward adds floats, this builds Numbers: each node's gradient is a Number
whose graph is made of ordinary ops, so it can be differentiated again.  Each
op of the table has its local derivative written as ops here (`_local`), in
torch's formulas (so second derivatives are torch's double backward), and
the compiled twin builds the same ops in the same order: the two give the
same bits.

Two things differ from a float backward, both as torch's autograd does them:
- A gradient graph is built with IEEE arithmetic: where an op of a derivative
  would raise on floats (a division by zero, the log of a negative base), the
  node is a leaf holding the IEEE value (inf or NaN) instead.
- Edges are decided on values, as torch's masks are: relu's derivative is the
  gradient itself where x > 0 and nothing elsewhere, and so on.
"""
import math

from . import _ops_py as ops
from . import _optable as T
from ._gradmode_py import _mode, enable_grad
from ._convert import to_float
from ._number_py import _GRAPHS, BACKEND, LEAF, Number, topo_sort

__all__ = ["gradient_graphs"]

_KINDS = tuple(op.kind for op in T.OPS)
SQRT_HALF = 0.7071067811865476           # 1/sqrt(2)
INV_SQRT_2PI = 0.3989422804014327        # 1/sqrt(2 pi)
SQRT_2_OVER_PI = 0.7978845608028654      # sqrt(2/pi)
GELU_KAPPA = 0.044715


# -- nodes that never raise (mirrors _core_higher.pxi's _ieee_*) ---------------------
def _made(op, value, kids, c=0.0):
    out = Number.__new__(Number)
    trace = _mode.trace
    if not trace:               # the core's nodes inherit an operand's trace too
        for k in kids:
            if k._trace:
                trace = k._trace
                break
    out._value, out._gradient, out._code, out._kids, out._c, out._trace = \
        value, 0.0, op, kids, c, trace
    return out


def _b(op, a, b):
    """a <op> b for two Numbers; a leaf with the IEEE value where floats raise."""
    try:
        return _made(op, ops.FWD[op](a._value, b._value), (a, b))
    except (ArithmeticError, ValueError):
        return Number(ops.IEEE[op](a._value, b._value))


def _k(op, x, c):
    """x <op> c for a Number and a constant."""
    try:
        return _made(op, ops.FWD[op](x._value, c), (x,), c)
    except (ArithmeticError, ValueError):
        return Number(ops.IEEE[op](x._value, c))


def _u(op, x):
    try:
        return _made(op, ops.FWD[op](x._value), (x,))
    except (ArithmeticError, ValueError):
        return Number(ops.IEEE[op](x._value))


def _value(k):
    return k if type(k) is float else k._value


# -- local derivatives as ops ---------------------------------------------------------
def _unary(op, g, x, y):
    """g times d op(x)/dx, as ops (None: no contribution)."""
    if op == T.NEG:
        return _u(T.NEG, g)
    if op == T.ABS:
        return _k(T.MUL_C, g, ops.sgn(x._value))
    if op == T.EXP:
        return _b(T.MUL, g, y)
    if op == T.EXPM1:
        return _b(T.MUL, g, _k(T.ADD_C, y, 1.0))
    if op == T.LOG:
        return _b(T.DIV, g, x)
    if op == T.LOG1P:
        return _b(T.DIV, g, _k(T.ADD_C, x, 1.0))
    if op == T.SQRT:
        return _b(T.DIV, g, _k(T.MUL_C, y, 2.0))
    if op == T.SIN:
        return _b(T.MUL, g, _u(T.COS, x))
    if op == T.COS:
        return _b(T.MUL, g, _u(T.NEG, _u(T.SIN, x)))
    if op == T.ATAN:
        return _b(T.DIV, g, _k(T.ADD_C, _b(T.MUL, x, x), 1.0))
    if op == T.TANH:
        return _b(T.MUL, g, _k(T.RSUB_C, _b(T.MUL, y, y), 1.0))
    if op == T.SIGMOID:
        return _b(T.MUL, g, _b(T.MUL, _k(T.RSUB_C, y, 1.0), y))
    if op == T.RELU:
        return g if y._value > 0.0 else None
    if op == T.GELU:
        # Phi(x) + x phi(x); Phi(x) = (1 + erf(x / sqrt 2)) / 2, phi the normal pdf
        cdf = _k(T.MUL_C, _k(T.ADD_C, _u(T.ERF, _k(T.MUL_C, x, SQRT_HALF)), 1.0), 0.5)
        pdf = _k(T.MUL_C, _u(T.EXP, _k(T.MUL_C, _b(T.MUL, x, x), -0.5)), INV_SQRT_2PI)
        return _b(T.MUL, g, _b(T.ADD, cdf, _b(T.MUL, x, pdf)))
    if op == T.GELU_TANH:
        x2 = _b(T.MUL, x, x)
        inner = _k(T.MUL_C, _b(T.ADD, x, _k(T.MUL_C, _b(T.MUL, x2, x), GELU_KAPPA)),
                   SQRT_2_OVER_PI)
        t = _u(T.TANH, inner)
        left = _k(T.MUL_C, _k(T.ADD_C, t, 1.0), 0.5)
        slope = _k(T.MUL_C, _k(T.ADD_C, _k(T.MUL_C, x2, 3.0 * GELU_KAPPA), 1.0), SQRT_2_OVER_PI)
        right = _b(T.MUL, _b(T.MUL, _k(T.MUL_C, x, 0.5), _k(T.RSUB_C, _b(T.MUL, t, t), 1.0)),
                   slope)
        return _b(T.MUL, g, _b(T.ADD, left, right))
    if op == T.SILU:
        s = _u(T.SIGMOID, x)
        return _b(T.MUL, g, _b(T.MUL, s, _k(T.ADD_C, _b(T.MUL, x, _k(T.RSUB_C, s, 1.0)), 1.0)))
    if op == T.ERF:
        return _b(T.MUL, g, _k(T.MUL_C, _u(T.EXP, _u(T.NEG, _b(T.MUL, x, x))),
                               1.1283791670955126))          # 2/sqrt(pi)
    raise NotImplementedError(f"{T.NAMES[op]} has no rule for create_graph: its gradient "
                              f"cannot be differentiated again (see micrograd/_higher_py.py)")


def _const(op, g, x, y, c):
    """g times d op(x, c)/dx, for the ops with a constant operand."""
    if op in (T.ADD_C, T.SUB_C):
        return g
    if op == T.RSUB_C:
        return _u(T.NEG, g)
    if op == T.MUL_C:
        return _k(T.MUL_C, g, c)
    if op == T.DIV_C:
        return _k(T.DIV_C, g, c)
    if op == T.RDIV_C:                       # c / x: -g c / x^2
        return _b(T.DIV, _k(T.MUL_C, g, -c), _b(T.MUL, x, x))
    if op == T.POW_C:                        # x ** c: g c x^(c-1), nothing where c == 0
        return None if c == 0.0 else _k(T.MUL_C, _b(T.MUL, g, _k(T.POW_C, x, c - 1.0)), c)
    if op == T.RPOW_C:                       # c ** x: g y log c, nothing where c == 0, x >= 0
        if c == 0.0 and x._value >= 0.0:
            return None
        return _k(T.MUL_C, _b(T.MUL, g, y), math.log(c) if c > 0.0 else math.nan)
    if op in (T.MAXIMUM_C, T.MINIMUM_C):
        xv = x._value
        lost = xv < c if op == T.MAXIMUM_C else xv > c
        return None if lost else (_k(T.MUL_C, g, 0.5) if xv == c else g)
    if op == T.SOFTPLUS:                     # threshold c: g where x > c, else g sigmoid(x)
        return g if x._value > c else _b(T.MUL, g, _u(T.SIGMOID, x))
    if op == T.LEAKY_RELU:
        return g if x._value > 0.0 else _k(T.MUL_C, g, c)
    if op == T.ELU:                          # alpha c: g c exp(x) where x <= 0
        return g if x._value > 0.0 else _b(T.MUL, g, _k(T.MUL_C, _u(T.EXP, x), c))
    raise NotImplementedError(f"{T.NAMES[op]} has no rule for create_graph: its gradient "
                              f"cannot be differentiated again (see micrograd/_higher_py.py)")


def _binary(op, g, a, b, y):
    """(g d/da, g d/db) of a <op> b."""
    if op == T.ADD:
        return g, g
    if op == T.SUB:
        return g, _u(T.NEG, g)
    if op == T.MUL:
        return _b(T.MUL, g, b), _b(T.MUL, g, a)
    if op == T.DIV:                          # torch: g / b, -g a / b^2
        return _b(T.DIV, g, b), _u(T.NEG, _b(T.DIV, _b(T.MUL, g, a), _b(T.MUL, b, b)))
    if op == T.POW:                          # torch's masks: b == 0, and a == 0 with b >= 0
        av, bv = a._value, b._value
        da = None if bv == 0.0 else _b(T.MUL, _b(T.MUL, g, b), _b(T.POW, a, _k(T.SUB_C, b, 1.0)))
        if av == 0.0 and bv >= 0.0:
            db = None
        elif av > 0.0:
            db = _b(T.MUL, _b(T.MUL, g, y), _u(T.LOG, a))
        else:
            db = _k(T.MUL_C, _b(T.MUL, g, y), math.nan)
        return da, db
    if op in (T.MAXIMUM, T.MINIMUM):          # as pick_grad: all to the winner, half on a tie
        av, bv = a._value, b._value
        lost_a, lost_b = (av < bv, bv < av) if op == T.MAXIMUM else (av > bv, bv > av)
        share = _k(T.MUL_C, g, 0.5) if av == bv else g
        return (None if lost_a else share), (None if lost_b else share)
    raise NotImplementedError(f"{T.NAMES[op]} has no rule for create_graph: its gradient "
                              f"cannot be differentiated again (see micrograd/_higher_py.py)")


def _acc(gs, nodes, kid, d):
    """kid's gradient graph += d (the first contribution is kept as it is)."""
    if d is None:
        return
    have = gs.get(id(kid))
    gs[id(kid)] = d if have is None else _b(T.ADD, have, d)
    nodes[id(kid)] = kid


def _spread(node, g, gs, nodes):
    """Each operand's contribution from node, in operand order, into gs."""
    op, kids, kind = node._code, node._kids, _KINDS[node._code]
    if kind == "UNARY":
        _acc(gs, nodes, kids[0], _unary(op, g, kids[0], node))
    elif kind in ("CONST", "PARAM"):
        _acc(gs, nodes, kids[0], _const(op, g, kids[0], node, node._c))
    elif kind == "RANGE":                    # clamp: g inside [lo, hi], as torch's mask
        if node._c <= kids[0]._value <= kids[1]:
            _acc(gs, nodes, kids[0], g)
    elif kind == "BINARY":
        da, db = _binary(op, g, kids[0], kids[1], node)
        _acc(gs, nodes, kids[0], da)
        _acc(gs, nodes, kids[1], db)
    elif kind == "STOP":
        pass
    elif op == T.SUM:
        for k in kids:
            if type(k) is not float:
                _acc(gs, nodes, k, g)
    elif op == T.DOT:
        half = len(kids) // 2
        for i, k in enumerate(kids):
            if type(k) is not float:
                partner = kids[i + half if i < half else i - half]
                _acc(gs, nodes, k, _k(T.MUL_C, g, partner) if type(partner) is float
                     else _b(T.MUL, g, partner))
    else:                                    # where: the picked operand only
        picked = kids[1] if ops.where_picks_a(_value(kids[0])) else kids[2]
        if type(picked) is not float:
            _acc(gs, nodes, picked, g)


def sweep(root, seed):
    """({id(node): its gradient as a Number}, {id(node): node}) for each node
    the sweep reaches (the core keys by address and needs no second dict)."""
    gs, nodes = {id(root): Number(seed)}, {id(root): root}
    if root._code == LEAF:
        return gs, nodes
    with enable_grad():
        for node in reversed(topo_sort(root)):
            g = gs.get(id(node))
            if g is not None:                # None: the branch where() did not take
                _spread(node, g, gs, nodes)
    return gs, nodes


def gradient_graphs(root, seed=1.0, leaves_only=False):
    """{id(node): its gradient as a Number} for every node the sweep from root
    reaches (root included), or for the leaves it reaches alone."""
    gs, nodes = sweep(root, to_float(seed, BACKEND))
    if leaves_only:
        return {key: g for key, g in gs.items() if nodes[key]._code == LEAF}
    return gs


_GRAPHS[0] = sweep                  # for Number.backward(create_graph=True)
