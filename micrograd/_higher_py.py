"""Gradients as graphs (the reference): the twin of micrograd/_core_higher.pxi.

`gradient_graphs(root, seed)` runs the reverse sweep of backward, but where
backward adds floats, this builds Numbers: each node's gradient is a Number
whose graph is made of ordinary ops, so it can be differentiated again.  Each
op's local derivative as ops is its rule, written once beside its row in
csrc/mg_ops.def (MG_RULE) in torch's formulas, so second derivatives are
torch's double backward; micrograd/_rules.py translates the rules into the
Python run here and the Cython the core runs, so the two backends build the
same ops in the same order and give the same bits.  The gradients of the
structural kinds (where, sum, dot) are written here and in the core.

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
from . import _rules
from ._gradmode_py import _mode, enable_grad
from ._convert import to_float
from ._custom import op_of
from ._number_py import BACKEND, LEAF, Number, _hooks_live, _hooks_of, topo_sort

__all__ = ["gradient_graphs"]


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


# -- local derivatives as ops: each row's MG_RULE, translated (micrograd/_rules.py) ---
def _fb(op, a, b):
    """op on two floats, as C gives it (never raises)."""
    return ops.IEEE[op](a, b)


def _fu(op, x):
    return ops.IEEE[op](x)


_NAN, _INF = math.nan, math.inf
_SOURCE = _rules.source(T.OPS, "py")
_names = {"T": T, "_b": _b, "_k": _k, "_u": _u, "_fb": _fb, "_fu": _fu, "_NAN": _NAN,
          "_INF": _INF}
exec(compile(_SOURCE, "<the MG_RULE lines of mg_ops.def>", "exec"), _names)
RULES = _names["RULES"]          # code -> rule(g, operands..., y, reals...)


def _rule(op):
    rule = RULES.get(op)
    if rule is None:
        raise NotImplementedError(_rules.no_rule_message(T.NAMES[op]))
    return rule


def _acc(gs, nodes, kid, d):
    """kid's gradient graph += d (the first contribution is kept as it is)."""
    if d is None:
        return
    have = gs.get(id(kid))
    gs[id(kid)] = d if have is None else _b(T.ADD, have, d)
    nodes[id(kid)] = kid


# -- each operand's contribution from a node, in operand order: one function per
# operand layout, as _number_py's propagation (the rule's arguments follow the row)
def _spread_unary(node, g, gs, nodes):
    x = node._kids[0]
    _acc(gs, nodes, x, _rule(node._code)(g, x, node))


def _spread_const(node, g, gs, nodes):       # CONST and PARAM: the real operand in _c
    x = node._kids[0]
    _acc(gs, nodes, x, _rule(node._code)(g, x, node, node._c))


def _spread_range(node, g, gs, nodes):       # the bounds: lo in _c, hi in the second slot
    x, hi = node._kids
    _acc(gs, nodes, x, _rule(node._code)(g, x, node, node._c, hi))


def _spread_binary(node, g, gs, nodes):
    a, b = node._kids
    da, db = _rule(node._code)(g, a, b, node)
    _acc(gs, nodes, a, da)
    _acc(gs, nodes, b, db)


def _spread_stop(node, g, gs, nodes):        # a stop passes nothing back
    pass


def _spread_where(node, g, gs, nodes):       # the picked operand only
    kids = node._kids
    picked = kids[1] if ops.where_picks_a(_value(kids[0])) else kids[2]
    if type(picked) is not float:
        _acc(gs, nodes, picked, g)


def _spread_nary(node, g, gs, nodes):        # sum and dot; a float slot is a constant
    kids = node._kids
    if node._code == T.SUM:
        for k in kids:
            if type(k) is not float:
                _acc(gs, nodes, k, g)
    else:                                    # dot: each operand times its partner
        half = len(kids) // 2
        for i, k in enumerate(kids):
            if type(k) is not float:
                partner = kids[i + half if i < half else i - half]
                _acc(gs, nodes, k, _k(T.MUL_C, g, partner) if type(partner) is float
                     else _b(T.MUL, g, partner))


def _spread_custom(node, g, gs, nodes):      # each operand times the partial second() gives
    kids = node._kids
    xs = kids[:len(kids) // 2]
    for k, p in zip(xs, op_of(node._c).second_partials(xs, node, BACKEND)):
        if type(k) is not float:
            _acc(gs, nodes, k, _k(T.MUL_C, g, p) if type(p) is float else _b(T.MUL, g, p))


# A kind missing here fails at import.  LEAF has no entry to call: the sort
# never hands a leaf to the sweep.
_SPREAD_BY_KIND = {"LEAF": None, "UNARY": _spread_unary, "CONST": _spread_const,
                   "PARAM": _spread_const, "RANGE": _spread_range, "BINARY": _spread_binary,
                   "STOP": _spread_stop, "SELECT": _spread_where, "NARY": _spread_nary,
                   "CUSTOM": _spread_custom}
_SPREAD = tuple(_SPREAD_BY_KIND[op.kind] for op in T.OPS)      # by op code


def _graph_hooks(hooks, g):
    """A node's hooks under create_graph, as torch's: each gets the gradient
    as a Number; one that returns a Number makes it the gradient's graph from
    then on, one that returns a real makes it a constant (its derivative 0)."""
    for fn in list(hooks):
        out = fn(g)
        if out is not None:
            g = out if isinstance(out, Number) else Number(to_float(out, BACKEND))
    return g


def sweep(root, seed, replay=None):
    """({id(node): its gradient as a Number}, {id(node): node}) for each node
    the sweep reaches (the core keys by address and needs no second dict).
    While any hook is registered, each hooked node's hooks are called on its
    gradient graph (a leaf's: what this sweep adds to it) and replace it;
    replay, a dict, then gets {id(node): the value its hooks gave}, for the
    float backward that follows, which uses them instead of calling the
    hooks again (the twin: the core's _sweep)."""
    gs, nodes = {id(root): Number(seed)}, {id(root): root}
    watch = _hooks_live[0] > 0
    with enable_grad():
        if root._code != LEAF:
            for node in reversed(topo_sort(root)):
                g = gs.get(id(node))
                if g is None:                # the branch where() did not take
                    continue
                if watch and _hooks_of(node):
                    g = gs[id(node)] = _graph_hooks(_hooks_of(node), g)
                    if replay is not None:
                        replay[id(node)] = g._value
                _SPREAD[node._code](node, g, gs, nodes)
        if watch:
            for key, node in nodes.items():
                if node._code == LEAF and _hooks_of(node):
                    gs[key] = _graph_hooks(_hooks_of(node), gs[key])
                    if replay is not None:
                        replay[key] = gs[key]._value
    return gs, nodes


def gradient_graphs(root, seed=1.0, leaves_only=False):
    """{id(node): its gradient as a Number} for every node the sweep from root
    reaches (root included), or for the leaves it reaches alone."""
    gs, nodes = sweep(root, to_float(seed, BACKEND))
    if leaves_only:
        return {key: g for key, g in gs.items() if nodes[key]._code == LEAF}
    return gs

