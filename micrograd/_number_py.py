"""The reference Number and its graph: the twin of micrograd/_core_number.pxi
over csrc/mg_graph.c, mg_ops.c, mg_topo.c and mg_backward.c.

It follows the C on purpose (see csrc/mg_graph.h and docs/design.md): the
same op table (micrograd._optable reads csrc/mg_ops.def), the same formulas
(micrograd._ops_py), the same topological order (``topo_sort``) and the same
accumulation order (``backward``), so both backends give the same values,
gradients and exceptions, bit for bit.  Nothing here recurses.

A node's operands live in ``_kids`` in operand order, as in C: Numbers for
the inline layouts (the constant of ``x * 2.0`` sits in ``_c``; a RANGE
op's upper bound sits in the second slot, where C keeps it too), and for the
block layouts (where, sum, dot) a float in a slot is a constant operand.
"""
import threading
from copy import deepcopy

from . import _ops_py as ops
from . import _optable as T
from ._anomaly import backward_error, finite, forward_error, site
from ._compat import REFUSED_CHILDREN, op_symbol
from ._convert import checked, is_number, operand, to_float
from ._custom import name_of
from ._errors import traced_read
from ._gradmode_py import _mode, _open
from ._number_methods import NumberMethods
from ._pickle import restore, restore_subclass
from ._signatures import (check_class, checked_args, format_spec, no_arguments, no_delete,
                          read_only, wrong_self)

BACKEND = "python"
LEAF = T.LEAF


def _read_only(name):
    """A property setter and deleter that refuse, as a C getset without a setter does."""
    def refuse(self, *value):
        raise read_only("Number", name)
    return refuse


# -- node builders (mg_graph.c) ------------------------------------------------
def _node(op, value, kids, c=0.0):
    out = Number.__new__(Number)
    out._value = value
    out._gradient = 0.0
    if _mode.anomaly:
        _anomalous(op, value, kids, c, out)
    if _mode.enabled:
        trace = _mode.trace
        if not trace:           # made in another thread from a traced operand: mg_graph.c
            for k in kids:
                if type(k) is not float and k._trace:
                    trace = k._trace
                    break
        out._code, out._kids, out._c, out._trace = op, kids, c, trace
    else:
        out._code, out._kids, out._c, out._trace = LEAF, (), 0.0, 0
        for k in kids:
            if type(k) is not float and _traced(k):
                _refuse(k, "a no_grad result")
    return out


# -- records: anomaly sites, hooks, gradient graphs (see micrograd/_anomaly.py) --------
SITE, HOOKS, GRAPH = 0, 1, 2
_hooks_live = [0]           # hooks registered and not removed: backward watches while > 0


def _record(n):
    rec = getattr(n, "_rec", None)
    if rec is None:
        rec = n._rec = [None, None, None]
    return rec


def drop_graph(n):
    """Twin of the core's _drop_graph: zero_grad drops the gradient graph too."""
    rec = getattr(n, "_rec", None)
    if rec is not None:
        rec[GRAPH] = None


def _hook_removed():
    _hooks_live[0] -= 1


def operand_values(op, kids, c):
    """An op's operands as floats, constants included, in the order the core
    reports them: (x, c), (x, lo, hi), (a, b), or the slots of a block."""
    return _OPERANDS[op]([k if type(k) is float else k._value for k in kids], c)


# Where each layout keeps its real operand: the kids' values (the slots of a
# block included) already hold every operand but the inline constant in _c.
def _operands_in_kids(values, c):
    return values


def _operands_then_c(values, c):         # x * 2.0, leaky_relu(x, 0.1): (x, c)
    return values + [c]


def _operands_range(values, c):          # lo sits in _c, hi in the second slot: (x, lo, hi)
    return [values[0], c, values[1]]


def _operands_custom(values, c):         # the operands, not the partials after them
    return values[:len(values) // 2]


_OPERANDS_BY_KIND = {"LEAF": _operands_in_kids, "UNARY": _operands_in_kids,
                     "CONST": _operands_then_c, "PARAM": _operands_then_c,
                     "RANGE": _operands_range, "BINARY": _operands_in_kids,
                     "STOP": _operands_in_kids, "SELECT": _operands_in_kids,
                     "NARY": _operands_in_kids, "CUSTOM": _operands_custom}
_OPERANDS = tuple(_OPERANDS_BY_KIND[op.kind] for op in T.OPS)      # by op code


def _anomalous(op, value, kids, c, out):
    """Anomaly mode's check of a new result, and the note of where it was made."""
    where = site()
    if value != value:
        operands = operand_values(op, kids, c)
        if not any(v != v for v in operands):
            raise forward_error(name_of(op, c), operands, where)
    _record(out)[SITE] = where


# -- traced Numbers (see micrograd/tape.py) ------------------------------------------
# Made by a thread while its trace is open; reading their value raises
# TraceError, in any thread and in any trace opened inside theirs, until their
# trace closes (micrograd/_gradmode_py.py).
def _traced(n):
    return n._trace != 0 and _open[n._trace] != 0


def _refuse(n, how):
    raise traced_read(n.op, how)


def trace_input(value):
    """A leaf for an input of the function being traced: reading it raises."""
    n = Number(value)
    n._trace = _mode.trace
    return n


def _binary(a, b, op, cop):
    if isinstance(b, Number):
        return _node(op, ops.FWD[op](a._value, b._value), (a, b))
    return _with_real(a, b, cop)


def _reflected(a, b, op, cop):
    """b <op> a, where b came second to Python (a reflected operator)."""
    if isinstance(b, Number):
        return _binary(b, a, op, cop)
    return _with_real(a, b, cop)


def _with_real(a, b, cop):
    """a <cop> b where b is not a Number: a real, or NotImplemented."""
    c = operand(b, BACKEND)
    if c is NotImplemented:
        return c
    return _param(a, cop, c)


def _unary(x, op):
    return _node(op, ops.FWD[op](x._value), (x,))


def _param(x, op, c):
    """An op with one Number and a constant (x * 2.0, leaky_relu(x, c))."""
    return _node(op, ops.FWD[op](x._value, c), (x,), c)


def _range(x, op, lo, hi):
    return _node(op, ops.FWD[op](x._value, lo, hi), (x, hi), lo)


def _slot(s):
    return s if isinstance(s, Number) else to_float(s, BACKEND)


def _block(op, slots):
    """A SELECT or NARY node; a leaf when no operand is a Number."""
    kids = tuple(_slot(s) for s in slots)
    value = ops.block_value(op, [k if type(k) is float else k._value for k in kids])
    if all(type(k) is float for k in kids):
        return Number(value)
    return _node(op, value, kids)


def _custom(op, operands):
    """A custom op's node (micrograd/_custom.py): forward's value, and the
    partials derivative gives, kept as constants after the operands; a leaf
    when no operand is a Number, or under no_grad (derivative not called)."""
    kids = tuple(_slot(s) for s in operands)
    values = [k if type(k) is float else k._value for k in kids]
    value = op.value(values)
    if all(type(k) is float for k in kids):
        return Number(value)
    # under no_grad the node is a leaf: its partial slots are never read
    partials = op.partials(values, value) if _mode.enabled else (0.0,) * len(kids)
    return _node(T.CUSTOM, value, kids + partials, op._index)


class Number(NumberMethods):
    """A scalar in the graph: a value, a gradient, and the op that made it."""

    # _rec, set only where needed: [where anomaly mode saw it made, hooks,
    # gradient graph] (the core keeps the same record in a side table)
    __slots__ = ("_value", "_gradient", "_c", "_kids", "_code", "_trace", "_rec")
    _mg_backend = BACKEND
    __array_ufunc__ = None          # NumPy defers to our reflected operators

    def __init__(self, value, _children=(), _op=""):
        if _children:
            raise TypeError(REFUSED_CHILDREN)
        v = to_float(value, BACKEND)
        if getattr(self, "_code", LEAF) != LEAF:
            raise TypeError(f"Number.__init__: this Number is the result of an op "
                            f"({self.op!r}) and cannot become a leaf; make a new one")
        self._value = v
        self._gradient = 0.0
        self._c = 0.0
        self._kids = ()
        self._code = LEAF
        self._trace = 0

    # -- attributes -----------------------------------------------------------
    @property
    def value(self):
        """The number this node holds (a Python float)."""
        if self._trace and _traced(self):
            _refuse(self, "reading .value")
        return self._value

    @value.setter
    def value(self, v):
        self._value = to_float(v, BACKEND)

    @value.deleter
    def value(self):
        raise no_delete("Number", "value")

    @property
    def data(self):
        """micrograd 0.1.0's name for .value."""
        if self._trace and _traced(self):
            _refuse(self, "reading .data")
        return self._value

    @data.setter
    def data(self, v):
        self._value = to_float(v, BACKEND)

    @data.deleter
    def data(self):
        raise no_delete("Number", "data")

    @property
    def gradient(self):
        """d(root)/d(self) after root.backward(); leaves accumulate, as in torch."""
        return self._gradient

    @gradient.setter
    def gradient(self, g):
        self._gradient = to_float(g, BACKEND)

    @gradient.deleter
    def gradient(self):
        raise no_delete("Number", "gradient")

    @property
    def grad(self):
        """micrograd 0.1.0's name for .gradient."""
        return self._gradient

    @grad.setter
    def grad(self, g):
        self._gradient = to_float(g, BACKEND)

    @grad.deleter
    def grad(self):
        raise no_delete("Number", "grad")

    op = property(lambda self: name_of(self._code, self._c), _read_only("op"), _read_only("op"),
                  "The name of the op that made this node ('' for a leaf, as in 0.1.0).")
    children = property(lambda self: tuple(k for k in self._kids if type(k) is not float),
                        _read_only("children"), _read_only("children"),
                        "The Numbers this node was made from, in operand order.")
    # micrograd 0.1.0's names: the set of children, and the op label
    # ('+', '*', '**2', 'ReLU', '' for a leaf)
    _prev = property(lambda self: set(self.children), _read_only("_prev"), _read_only("_prev"))
    _op = property(lambda self: op_symbol(self._code, self._c), _read_only("_op"),
                   _read_only("_op"))

    def __repr__(self):
        if self._trace and _traced(self):
            return f"Number(traced, op={self.op!r})"
        return f"Number(value={self._value!r}, gradient={self._gradient!r})"

    def __float__(self):
        if self._trace and _traced(self):
            _refuse(self, "float()")
        return self._value

    def __bool__(self):
        """True, as for any object; refused while traced (an `if` on a value)."""
        if self._trace and _traced(self):
            _refuse(self, "bool() (an `if` or `and`/`or`)")
        return True

    def __format__(self, spec):
        format_spec(spec)
        if self._trace and _traced(self):
            _refuse(self, "formatting")
        return format(self._value, spec) if spec else str(self)

    def __reduce__(self):
        if self._trace and _traced(self):
            _refuse(self, "pickling")           # a pickle would carry the example's value
        if type(self) is Number:
            return restore, (self._value, self._gradient)
        return restore_subclass, (type(self), self._value, self._gradient), \
            getattr(self, "__dict__", None)

    # -- operators ------------------------------------------------------------
    def __add__(self, other): return _binary(self, other, T.ADD, T.ADD_C)
    def __radd__(self, other): return _reflected(self, other, T.ADD, T.ADD_C)
    def __sub__(self, other): return _binary(self, other, T.SUB, T.SUB_C)
    def __rsub__(self, other): return _reflected(self, other, T.SUB, T.RSUB_C)
    def __mul__(self, other): return _binary(self, other, T.MUL, T.MUL_C)
    def __rmul__(self, other): return _reflected(self, other, T.MUL, T.MUL_C)
    def __truediv__(self, other): return _binary(self, other, T.DIV, T.DIV_C)
    def __rtruediv__(self, other): return _reflected(self, other, T.DIV, T.RDIV_C)

    def __pow__(self, other, modulo=None):
        if modulo is not None:
            return NotImplemented
        return _binary(self, other, T.POW, T.POW_C)

    def __rpow__(self, other, modulo=None):
        if modulo is not None:
            return NotImplemented
        return _reflected(self, other, T.POW, T.RPOW_C)

    def __neg__(self): return _unary(self, T.NEG)
    def __pos__(self): return self
    def __abs__(self): return _unary(self, T.ABS)

    # -- binary methods, the names the original Chain article gave them -------------------------
    def add(self, other):
        """self + other, as a method (the Chain article's name)."""
        return checked(self.__add__(other), self, other, "+")
    def sub(self, other):
        """self - other, as a method."""
        return checked(self.__sub__(other), self, other, "-")
    def mul(self, other):
        """self * other, as a method."""
        return checked(self.__mul__(other), self, other, "*")
    def div(self, other):
        """self / other, as a method."""
        return checked(self.__truediv__(other), self, other, "/")
    def pow(self, other):
        """self ** other, as a method."""
        return checked(self.__pow__(other), self, other, "** or pow()")

    # -- unary methods: one per UNARY row of the table, installed below ----------
    def gelu(self, approximate="none"):
        """x * Phi(x); approximate='tanh' for the tanh form (as torch)."""
        if approximate == "none":
            return _unary(self, T.GELU)
        if approximate == "tanh":
            return _unary(self, T.GELU_TANH)
        raise ValueError(f"approximate must be 'none' or 'tanh', not {approximate!r}")

    # -- activations with parameters ----------------------------------------------
    def softplus(self, beta=1.0, threshold=20.0):
        """log(1 + exp(beta*x)) / beta, and x where beta*x > threshold (as torch)."""
        b, t = to_float(beta, BACKEND), to_float(threshold, BACKEND)
        if b == 1.0:
            return _param(self, T.SOFTPLUS, t)
        return _param(_param(_param(self, T.MUL_C, b), T.SOFTPLUS, t), T.DIV_C, b)

    def leaky_relu(self, negative_slope=0.01):
        """x where x > 0, else negative_slope * x (as torch)."""
        return _param(self, T.LEAKY_RELU, to_float(negative_slope, BACKEND))

    def elu(self, alpha=1.0):
        """x where x > 0, else alpha * (exp(x) - 1) (as torch)."""
        return _param(self, T.ELU, to_float(alpha, BACKEND))

    def clamp(self, lo=None, hi=None):
        """self limited to [lo, hi] (either bound may be None), as torch.clamp."""
        return clamp(self, lo, hi)

    def stop_gradient(self):
        """self's value, in the graph, through which no gradient flows back
        (JAX's stop_gradient; traced code uses it where it would detach)."""
        return _unary(self, T.STOP_GRADIENT)

    def _backward(self):
        """micrograd 0.1.0's one local step of backward, which its lectures call
        by hand on each node in turn: each operand gains this node's gradient
        times the local derivative (nothing for a leaf)."""
        if self._code != LEAF:
            propagate(self, set())

    def detach(self):
        """A new leaf with the same value."""
        if self._trace and _traced(self):
            _refuse(self, "detach()")
        return Number(self._value)

    def backward(self, gradient=1.0, create_graph=False):
        """Fill .gradient of every node of this graph with d self / d node.
        With create_graph=True, each leaf it reaches also gets .grad_node, its
        gradient as a Number whose graph can be differentiated again."""
        seed = to_float(gradient, BACKEND)
        if not create_graph:
            backward(self, seed)
            return
        # the graphs first, with the hooks (called once, on Numbers), then
        # the floats, given what the hooks returned: if either raises,
        # nothing has changed
        replay = {}
        gs, nodes = _Kit.sweep(self, seed, replay)
        backward(self, seed, replay)
        for key, g in gs.items():
            node = nodes[key]
            if node._code == LEAF:
                _record(node)[GRAPH] = g


def _unary_method(code, name, doc):
    def method(self, *args, **kwargs):
        if args or kwargs or not isinstance(self, Number):
            raise no_arguments(name, args, kwargs) if args or kwargs else wrong_self("Number", self)
        return _unary(self, code)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = T.sentence(doc)
    return method


check_class(Number, "Number")
for _op in T.of_kind("UNARY"):
    if _op.name not in Number.__dict__:      # a hand-written method with options wins
        setattr(Number, _op.name, _unary_method(_op.code, _op.name, _op.doc))


def _copied(n, memo):
    """copy (memo None) and deepcopy: a leaf of the same type and backend with
    the same value and gradient, and a subclass's attributes copied along."""
    if n._trace and _traced(n):                 # a leaf holding the one example's value
        _refuse(n, "copy.copy()" if memo is None else "copy.deepcopy()")
    out = Number.__new__(type(n))
    out._value, out._gradient, out._c, out._kids, out._code = n._value, n._gradient, 0.0, (), LEAF
    out._trace = 0
    if hasattr(n, "__dict__"):
        out.__dict__.update(n.__dict__ if memo is None else deepcopy(n.__dict__, memo))
    return out


# -- functions of several operands ---------------------------------------------
@checked_args
def sum(numbers):
    """One n-ary node for numbers[0] + numbers[1] + ..., added left to right."""
    return _block(T.SUM, list(numbers))


@checked_args
def dot(ws, xs):
    """One n-ary node for ws[0]*xs[0] + ws[1]*xs[1] + ..., added left to right."""
    ws, xs = list(ws), list(xs)
    if len(ws) != len(xs):
        raise ValueError(f"dot: lengths differ ({len(ws)} and {len(xs)})")
    return _block(T.DOT, ws + xs)


@checked_args
def where(cond, a, b):
    """a where cond > 0, else b; the gradient flows to the picked operand only."""
    return _block(T.WHERE, [cond, a, b])


def _pairwise(a, b, op, cop, rcop, name):
    """op(a, b): cop for a Number and a real, rcop for a real and a Number."""
    if isinstance(a, Number):
        out = _binary(a, b, op, cop)
    elif isinstance(b, Number):
        out = _reflected(b, a, op, rcop)
    else:
        return Number(ops.FWD[op](to_float(a, BACKEND), to_float(b, BACKEND)))
    return checked(out, a, b, name)


@checked_args
def maximum(a, b):
    """The larger of a and b (NaN if either is NaN); ties split the gradient."""
    return _pairwise(a, b, T.MAXIMUM, T.MAXIMUM_C, T.MAXIMUM_C, "maximum()")


@checked_args
def minimum(a, b):
    """The smaller of a and b (NaN if either is NaN); ties split the gradient."""
    return _pairwise(a, b, T.MINIMUM, T.MINIMUM_C, T.MINIMUM_C, "minimum()")


# comparisons: a real first is the mirrored relation on the Number (2 > x is x < 2)
def _comparison(name, op, cop, rcop):
    def compare(a, b):
        return _pairwise(a, b, op, cop, rcop, f"{name}()")
    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"{T.OPS[op].doc}; no gradient flows back."
    return checked_args(compare)


gt = _comparison("gt", T.GT, T.GT_C, T.LT_C)
ge = _comparison("ge", T.GE, T.GE_C, T.LE_C)
lt = _comparison("lt", T.LT, T.LT_C, T.GT_C)
le = _comparison("le", T.LE, T.LE_C, T.GE_C)


@checked_args
def clamp(x, lo=None, hi=None):
    """x limited to [lo, hi], as torch.clamp (either bound may be None)."""
    if lo is None and hi is None:
        raise ValueError("clamp: at least one of lo and hi must not be None")
    lo = -ops.INF if lo is None else to_float(lo, BACKEND)
    hi = ops.INF if hi is None else to_float(hi, BACKEND)
    if not is_number(x):
        return Number(ops.fwd_clamp(to_float(x, BACKEND), lo, hi))
    if not isinstance(x, Number):
        operand(x, BACKEND)                   # the mixing error
    return _range(x, T.CLAMP, lo, hi)


class _Kit:
    """What micrograd/_number_methods.py needs of this backend (its twin: the
    core's _Kit)."""
    owner = "Number"             # whose methods take this kit's objects (_signatures)
    Number = Number
    record = staticmethod(_record)
    record_of = staticmethod(lambda n: getattr(n, "_rec", None))
    hook_removed = staticmethod(_hook_removed)
    copied = staticmethod(_copied)
    maximum = staticmethod(maximum)
    minimum = staticmethod(minimum)
    traced = staticmethod(_traced)
    sweep = None                 # _higher_py.sweep, joined by micrograd/_core_py.py

    @staticmethod
    def hooks_changed(k):
        _hooks_live[0] += k


Number._kit = _Kit


# -- traversal and backward (mg_topo.c, mg_ops.c, mg_backward.c) ------------------
def collect(roots):
    """Interior nodes reachable from the roots, operands before users, each
    root's graph in turn; and how many of them the first root's graph holds.

    Depth-first post-order with an explicit stack of [node, next operand]
    frames; operands are visited in operand order and leaves are skipped.
    The same loop as mg_topo_collect (a set of ids stands in for its mark
    bit, kept across the roots).
    """
    order, seen, first = [], set(), 0
    for r, root in enumerate(roots):
        if root._code != LEAF and id(root) not in seen:
            seen.add(id(root))
            stack = [[root, 0]]
            while stack:
                top = stack[-1]
                node, i = top
                if i < len(node._kids):
                    top[1] = i + 1
                    kid = node._kids[i]
                    if type(kid) is float or kid._code == LEAF or id(kid) in seen:
                        continue
                    seen.add(id(kid))
                    stack.append([kid, 0])
                else:
                    order.append(node)
                    stack.pop()
        if r == 0:
            first = len(order)
    return order, first


def topo_sort(root):
    """Interior nodes reachable from root, operands before users, root last
    (mg_topo_sort)."""
    return collect([root])[0]


def _add(kid, v, reached):
    """kid gains v, and is reached (mg_ops.c's add_to and its flag)."""
    kid._gradient += v
    reached.add(id(kid))


# -- propagation: one function per operand layout (mg_ops.c's propagate) --------------
# Each takes the node and the reached set and adds node-gradient x local
# derivative to its operands, in operand order (the order the C adds them).
def _back_unary(node, reached):
    x = node._kids[0]
    _add(x, ops.BWD[node._code](node._gradient, x._value, node._value), reached)


def _back_const(node, reached):          # CONST and PARAM: the real operand sits in _c
    x = node._kids[0]
    _add(x, ops.BWD[node._code](node._gradient, x._value, node._value, node._c), reached)


def _back_range(node, reached):          # lo in _c, hi in the second slot
    x, hi = node._kids
    _add(x, ops.BWD[node._code](node._gradient, x._value, node._value, node._c, hi), reached)


def _back_binary(node, reached):
    a, b = node._kids
    da, db = ops.BWD[node._code](node._gradient, a._value, b._value, node._value)
    _add(a, da, reached)
    _add(b, db, reached)


def _back_stop(node, reached):           # a stop passes nothing back
    pass


def _back_where(node, reached):          # the picked operand only, never times 0
    kids = node._kids
    cond = kids[0] if type(kids[0]) is float else kids[0]._value
    picked = kids[1] if ops.where_picks_a(cond) else kids[2]
    if type(picked) is not float:
        _add(picked, node._gradient, reached)


def _back_custom(node, reached):         # each operand times its partial (second half)
    g, kids = node._gradient, node._kids
    half = len(kids) // 2
    for k, p in zip(kids[:half], kids[half:]):
        if type(k) is not float:
            _add(k, g * p, reached)


def _back_nary(node, reached):           # sum and dot; a float slot is a constant
    g, kids = node._gradient, node._kids
    if node._code == T.SUM:
        for k in kids:
            if type(k) is not float:
                _add(k, g, reached)
    else:                                # dot: each operand times its partner
        half = len(kids) // 2
        for i, k in enumerate(kids):
            if type(k) is not float:
                partner = kids[i + half if i < half else i - half]
                _add(k, g * (partner if type(partner) is float else partner._value), reached)


# A kind missing here fails at import, not in a backward.  LEAF has no entry
# to call: a leaf has no operands, and the sorts never hand one to propagate.
_BACK_BY_KIND = {"LEAF": None, "UNARY": _back_unary, "CONST": _back_const,
                 "PARAM": _back_const, "RANGE": _back_range, "BINARY": _back_binary,
                 "STOP": _back_stop, "SELECT": _back_where, "NARY": _back_nary,
                 "CUSTOM": _back_custom}
_PROPAGATE = tuple(_BACK_BY_KIND[op.kind] for op in T.OPS)      # by op code


def propagate(node, reached):
    """Twin of mg_propagate: operands gain node-gradient x local derivative."""
    _PROPAGATE[node._code](node, reached)


# The core's backward holds the GIL from start to end, so two threads calling
# it on one graph take turns; this lock gives the reference the same turns
# (without it, one thread zeroes the interior gradients the other is using).
_BACKWARD_LOCK = threading.RLock()


def backward(root, seed, replay=None):
    """Twin of mg_backward: interior nodes restart from zero, leaves accumulate,
    and only the nodes something reached are propagated (see mg_graph.h).
    replay: see _watched_backward."""
    with _BACKWARD_LOCK:
        _backward(root, seed, replay)


def _backward(root, seed, replay):
    if _hooks_live[0] > 0 or _mode.anomaly:
        _watched_backward(root, seed, replay)
        return
    if root._code == LEAF:
        root._gradient += seed
        return
    order = topo_sort(root)
    for node in order:
        node._gradient = 0.0
    root._gradient = seed
    reached = {id(root)}
    for node in reversed(order):
        if id(node) in reached:
            _PROPAGATE[node._code](node, reached)      # propagate(), one call fewer a node


def _hooks_of(n):
    rec = getattr(n, "_rec", None)
    return None if rec is None else rec[HOOKS]


def _run_hooks(hooks, g):
    for fn in list(hooks):
        out = fn(g)
        if out is not None:
            g = to_float(out, BACKEND)
    return g


def _replayed(replay, hooks, key, g):
    """A hooked node's gradient: what its hooks give, or, after a create_graph
    sweep called them (replay, {id(node): value}), what they gave there."""
    if replay is None:
        return _run_hooks(hooks, g)
    return replay.get(key, g)


def _watched_backward(root, seed, replay=None):
    """Twin of the core's watched sweep: backward with hooks called and, in
    anomaly mode, each step checked for a NaN gradient made from finite numbers.
    A hooked leaf's hooks get what this pass adds to it, then it accumulates.
    If anything raises (a hook, anomaly mode, Ctrl-C), every gradient the pass
    touched is put back as it was and no leaf hook runs, as in torch.  With
    replay (backward(create_graph=True)), the hooks are not called again."""
    order = topo_sort(root) if root._code != LEAF else []
    leaves, touched = {}, {id(root): root}
    for node in [root] + order:
        touched[id(node)] = node
        for k in (node._kids if node._code != LEAF else ()):
            if type(k) is not float:
                touched[id(k)] = k
                if k._code == LEAF and _hooks_of(k):
                    leaves[id(k)] = k
    if root._code == LEAF and _hooks_of(root):
        leaves[id(root)] = root
    before = [(n, n._gradient) for n in touched.values()]
    saved = {i: (k, k._gradient) for i, k in leaves.items()}
    try:
        for k in leaves.values():
            k._gradient = 0.0
        if root._code == LEAF:
            root._gradient += seed
        else:
            for node in order:
                node._gradient = 0.0
            root._gradient = seed
            reached = {id(root)}
            for node in reversed(order):
                if id(node) not in reached:
                    continue
                hooks = _hooks_of(node)
                if hooks:
                    node._gradient = _replayed(replay, hooks, id(node), node._gradient)
                if _mode.anomaly:
                    _checked_propagate(node, reached)
                else:
                    propagate(node, reached)
        added = [(k, was, _replayed(replay, _hooks_of(k), i, k._gradient))
                 for i, (k, was) in saved.items()]
    except BaseException:
        for n, g in before:
            n._gradient = g
        raise
    for k, was, g in added:
        k._gradient = was + g


def _checked_propagate(node, reached):
    kids = [k for k in node._kids if type(k) is not float]
    was = [k._gradient != k._gradient for k in kids]
    propagate(node, reached)
    for i, (k, nan_before) in enumerate(zip(kids, was)):
        if k._gradient != k._gradient and not nan_before:
            operands = operand_values(node._code, node._kids, node._c)
            if finite(node._gradient, node._value, *operands):
                rec = getattr(node, "_rec", None)
                raise backward_error(node.op, i, node._gradient, operands,
                                     None if rec is None else rec[SITE])
