"""The pure-Python reference backend: the executable specification.

It follows the compiled core on purpose (see csrc/mg_graph.h for the node
layout and the traversal): the same op codes and formulas (_ops_py mirrors
csrc/mg_ops.c), the same topological order (``topo_sort`` mirrors
csrc/mg_topo.c) and the same accumulation order (``backward`` mirrors
csrc/mg_backward.c).  So both backends give the same values, gradients and
exceptions, bit for bit.  Nothing here recurses.

A node's operands live in ``_kids`` in operand order: Numbers for binary and
unary ops (the constant of an ``x * 2.0`` node sits in ``_c``), and for the
n-ary ``sum``/``dot`` a float in a slot is a constant operand.
"""
import threading

from . import _ops_py as ops
from ._compat import REFUSED_CHILDREN, op_symbol
from ._convert import checked as _checked, operand, to_float

__all__ = ["Number", "Chain", "ParamArray", "sum", "dot", "no_grad", "is_grad_enabled",
           "topo_sort"]

BACKEND = "python"
LEAF = ops.LEAF


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled():
    return _mode.enabled


class no_grad:
    """Context manager: operations inside it build no graph (results are leaves)."""

    def __enter__(self):
        self._prev = _mode.enabled
        _mode.enabled = False
        return self

    def __exit__(self, *exc):
        _mode.enabled = self._prev


def _node(op, value, kids, c=0.0):
    out = Number.__new__(Number)
    out._value = value
    out._gradient = 0.0
    if _mode.enabled:
        out._code, out._kids, out._c = op, kids, c
    else:
        out._code, out._kids, out._c = LEAF, (), 0.0
    return out


def _with_real(a, b, cop):
    """a <cop> b where b is not a Number: a real, or NotImplemented."""
    c = operand(b, BACKEND)
    if c is NotImplemented:
        return c
    return _param(a, cop, c)


def _binary(a, b, op, cop):
    if isinstance(b, Number):
        return _node(op, ops.eval_binary(op, a._value, b._value), (a, b))
    return _with_real(a, b, cop)


def _reflected(a, b, op, cop):
    """b <op> a, where b came second to Python (a reflected operator)."""
    if isinstance(b, Number):
        return _binary(b, a, op, cop)
    return _with_real(a, b, cop)


def _unary(x, op):
    return _node(op, ops.eval_unary(op, x._value), (x,))


def _param(x, op, c):
    """An op with one node operand and a constant (x * 2.0, leaky_relu(x, c))."""
    return _node(op, ops.eval_binary(op, x._value, c), (x,), c)


class Number:
    """A scalar in the graph: a value, a gradient, and the op that made it."""

    __slots__ = ("_value", "_gradient", "_c", "_kids", "_code")
    _mg_backend = BACKEND
    __array_ufunc__ = None          # NumPy defers to our reflected operators

    def __init__(self, value, _children=(), _op=""):
        if _children:
            raise TypeError(REFUSED_CHILDREN)
        self._value = to_float(value, BACKEND)
        self._gradient = 0.0
        self._c = 0.0
        self._kids = ()
        self._code = LEAF

    # -- attributes -----------------------------------------------------------
    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, v):
        self._value = to_float(v, BACKEND)

    @property
    def gradient(self):
        return self._gradient

    @gradient.setter
    def gradient(self, g):
        self._gradient = to_float(g, BACKEND)

    data, grad = value, gradient

    @property
    def op(self):
        return ops.NAMES[self._code]

    @property
    def children(self):
        return tuple(k for k in self._kids if type(k) is not float)

    @property
    def _prev(self):
        """micrograd 0.1.0's name: the set of children."""
        return set(self.children)

    @property
    def _op(self):
        """micrograd 0.1.0's op label ('+', '*', '**2', 'ReLU', '' for a leaf)."""
        return op_symbol(ops.NAMES[self._code], self._code, self._c)

    def __repr__(self):
        return f"Number(value={self._value!r}, gradient={self._gradient!r})"

    def __float__(self):
        return self._value

    def __format__(self, spec):
        return format(self._value, spec) if spec else str(self)

    def __reduce__(self):
        from ._backend import restore
        return restore, (self._value, self._gradient)

    # -- operators ------------------------------------------------------------
    def __add__(self, other): return _binary(self, other, ops.ADD, ops.ADD_C)
    def __radd__(self, other): return _reflected(self, other, ops.ADD, ops.ADD_C)
    def __sub__(self, other): return _binary(self, other, ops.SUB, ops.SUB_C)
    def __rsub__(self, other): return _reflected(self, other, ops.SUB, ops.RSUB_C)
    def __mul__(self, other): return _binary(self, other, ops.MUL, ops.MUL_C)
    def __rmul__(self, other): return _reflected(self, other, ops.MUL, ops.MUL_C)
    def __truediv__(self, other): return _binary(self, other, ops.DIV, ops.DIV_C)
    def __rtruediv__(self, other): return _reflected(self, other, ops.DIV, ops.RDIV_C)

    def __pow__(self, other, modulo=None):
        if modulo is not None:
            return NotImplemented
        return _binary(self, other, ops.POW, ops.POW_C)

    def __rpow__(self, other, modulo=None):
        if modulo is not None:
            return NotImplemented
        return _reflected(self, other, ops.POW, ops.RPOW_C)

    def __neg__(self): return _unary(self, ops.NEG)
    def __pos__(self): return self
    def __abs__(self): return _unary(self, ops.ABS)

    # -- methods, as the seed article names them -------------------------------
    def add(self, other): return _checked(self.__add__(other), self, other, "+")
    def sub(self, other): return _checked(self.__sub__(other), self, other, "-")
    def mul(self, other): return _checked(self.__mul__(other), self, other, "*")
    def div(self, other): return _checked(self.__truediv__(other), self, other, "/")
    def pow(self, other): return _checked(self.__pow__(other), self, other, "** or pow()")
    def neg(self): return _unary(self, ops.NEG)
    def exp(self): return _unary(self, ops.EXP)
    def log(self): return _unary(self, ops.LOG)
    def sqrt(self): return _unary(self, ops.SQRT)
    def sin(self): return _unary(self, ops.SIN)
    def cos(self): return _unary(self, ops.COS)
    def tanh(self): return _unary(self, ops.TANH)
    def sigmoid(self): return _unary(self, ops.SIGMOID)
    def relu(self): return _unary(self, ops.RELU)
    def silu(self): return _unary(self, ops.SILU)

    def gelu(self, approximate="none"):
        """x * Phi(x); approximate='tanh' for the tanh form (as torch)."""
        if approximate == "none":
            return _unary(self, ops.GELU)
        if approximate == "tanh":
            return _unary(self, ops.GELU_TANH)
        raise ValueError(f"approximate must be 'none' or 'tanh', not {approximate!r}")

    def softplus(self, beta=1.0, threshold=20.0):
        """log(1 + exp(beta*x)) / beta, and x where beta*x > threshold (as torch)."""
        b, t = to_float(beta, BACKEND), to_float(threshold, BACKEND)
        if b == 1.0:
            return _param(self, ops.SOFTPLUS, t)
        return _param(_param(_param(self, ops.MUL_C, b), ops.SOFTPLUS, t), ops.DIV_C, b)

    def leaky_relu(self, negative_slope=0.01):
        return _param(self, ops.LEAKY_RELU, to_float(negative_slope, BACKEND))

    def elu(self, alpha=1.0):
        return _param(self, ops.ELU, to_float(alpha, BACKEND))

    def detach(self):
        """A new leaf with the same value."""
        return Number(self._value)

    def backward(self, gradient=1.0):
        """Fill .gradient of every node of this graph with d self / d node."""
        backward(self, to_float(gradient, BACKEND))


def _nary(op, slots):
    kids = tuple(s if isinstance(s, Number) else to_float(s, BACKEND) for s in slots)
    if op == ops.SUM:
        value = 0.0
        for k in kids:
            value += ops._value(k)
    else:                       # from the first product, as mg_nary_eval
        value, half = 0.0, len(kids) // 2
        for i in range(half):
            p = ops._value(kids[i]) * ops._value(kids[i + half])
            value = p if i == 0 else value + p
    if all(type(k) is float for k in kids):
        return Number(value)
    return _node(op, value, kids)


def sum(numbers):
    """One n-ary node for numbers[0] + numbers[1] + ..., added left to right."""
    return _nary(ops.SUM, list(numbers))


def dot(ws, xs):
    """One n-ary node for ws[0]*xs[0] + ws[1]*xs[1] + ..., added left to right."""
    ws, xs = list(ws), list(xs)
    if len(ws) != len(xs):
        raise ValueError(f"dot: lengths differ ({len(ws)} and {len(xs)})")
    return _nary(ops.DOT, ws + xs)


def topo_sort(root):
    """Interior nodes reachable from root, operands before users, root last.

    Depth-first post-order with an explicit stack of [node, next operand]
    frames; operands are visited in operand order and leaves are skipped.
    The same loop as mg_topo_sort (a set of ids stands in for its mark bit).
    """
    order = []
    if root._code == LEAF:
        return order
    seen = {id(root)}
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
    return order


def backward(root, seed):
    """Twin of mg_backward: interior nodes restart from zero, leaves accumulate."""
    if root._code == LEAF:
        root._gradient += seed
        return
    order = topo_sort(root)
    for node in order:
        node._gradient = 0.0
    root._gradient = seed
    for node in reversed(order):
        ops.propagate(node)


from .chain import Chain  # noqa: E402  (the reference Chain, after Number exists)


class ParamArray:
    """Parameters (Numbers of this backend) and named state buffers, one float
    per parameter; the update loops are micrograd._optim_py (twin of
    csrc/mg_optim.c)."""

    def __init__(self, params):
        self.params = list(params)
        for p in self.params:
            if not isinstance(p, Number):
                operand(p, BACKEND)              # the mixing error, if it is one
                raise TypeError(f"optimizer parameters must be Numbers, not {type(p).__name__}")
        self._buffers = {}

    def state(self, name, fill=0.0):
        """The named buffer (created filled with `fill`), as floats."""
        if name not in self._buffers:
            self._buffers[name] = [float(fill)] * max(len(self.params), 1)
        return self._buffers[name]

    def sgd(self, buf_ready, lr, momentum, dampening, weight_decay, nesterov, maximize):
        _optim.sgd_step(self.params, self.state("momentum_buffer"), buf_ready, lr, momentum,
                        dampening, weight_decay, nesterov, maximize)

    def adam(self, step, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled):
        _optim.adam_step(self.params, self.state("exp_avg"), self.state("exp_avg_sq"),
                         self.state("max_exp_avg_sq"), step, lr, beta1, beta2, eps,
                         weight_decay, amsgrad, maximize, decoupled)

    def rmsprop(self, lr, alpha, eps, weight_decay, momentum, centered, maximize):
        _optim.rmsprop_step(self.params, self.state("square_avg"), self.state("grad_avg"),
                            self.state("momentum_buffer"), lr, alpha, eps, weight_decay,
                            momentum, centered, maximize)

    def adagrad(self, step, lr, lr_decay, weight_decay, eps, maximize,
                initial_accumulator_value=0.0):
        _optim.adagrad_step(self.params, self.state("sum", initial_accumulator_value), step,
                            lr, lr_decay, weight_decay, eps, maximize)


from . import _optim_py as _optim  # noqa: E402
