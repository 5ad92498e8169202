"""Chain: a graph built one step at a time, fluently (SPEC section 4).

    >>> x, y = Number(2), Number(3)
    >>> z = Chain([x, y]).add(x.mul(y)).result()     # (x*y) + (x*y) = 12.0

A Chain holds a running Number.  This is the reference Chain; the compiled
core has a twin (micrograd._core.Chain) with the same steps and messages that
runs the hot steps in C, and ``micrograd.Chain`` is the active backend's.  Each step applies one op to it right away
and returns a new Chain that remembers the old one (chains branch; nothing is
ever mutated).  The steps are kept as (name, operand) pairs in a linked list,
so a step costs one small object; ``steps`` turns them into ``Step`` records
with op codes from the core's op table (micrograd._ops_py mirrors
csrc/mg_ops.c), the form a later compiler will turn into a flat tape.
"""
import numbers
from collections import namedtuple
from decimal import Decimal

from . import _ops_py as ops
from ._convert import checked as _checked

__all__ = ["Chain", "Step"]

Step = namedtuple("Step", "name op operand")
Step.__doc__ = "One recorded step: its name, its op code (None for apply) and its operand."

# name -> (op code with a Number operand, op code with a real operand)
_CODES = {
    "add": (ops.ADD, ops.ADD_C), "sub": (ops.SUB, ops.SUB_C), "mul": (ops.MUL, ops.MUL_C),
    "div": (ops.DIV, ops.DIV_C), "pow": (ops.POW, ops.POW_C),
    "rsub": (ops.SUB, ops.RSUB_C), "rdiv": (ops.DIV, ops.RDIV_C),
    "neg": ops.NEG, "abs": ops.ABS, "exp": ops.EXP, "log": ops.LOG, "sqrt": ops.SQRT,
    "sin": ops.SIN, "cos": ops.COS, "tanh": ops.TANH, "sigmoid": ops.SIGMOID,
    "relu": ops.RELU, "silu": ops.SILU, "gelu": ops.GELU, "gelu_tanh": ops.GELU_TANH,
    "softplus": ops.SOFTPLUS, "leaky_relu": ops.LEAKY_RELU, "elu": ops.ELU,
}
_UNARY = ("neg", "abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "silu")


def _is_number(x):
    return hasattr(type(x), "_mg_backend")


def start_value(start):
    """(the running Number a start gives, the start as recorded)."""
    from ._backend import impl, module_of
    if _is_number(start):
        return start, start
    if isinstance(start, (numbers.Real, Decimal)):
        return impl.Number(start), start
    if isinstance(start, (str, bytes, bytearray)):
        raise TypeError(f"Chain start must be a Number, a real or an iterable of them, "
                        f"not {type(start).__name__}")
    items = list(start)
    if not items:
        raise ValueError("Chain start is empty: give a Number, a real or a non-empty iterable")
    mod = module_of(items)
    value = items[0] if _is_number(items[0]) else mod.Number(items[0])
    for item in items[1:]:
        value = value.mul(item)
    return value, items


def step_error(exc, index, name):
    """The same exception type, saying which step failed."""
    message = f"Chain step {index} ({name}) failed: {exc}"
    try:
        new = type(exc)(message)
    except Exception:                  # an exception type with its own signature
        return exc
    new.__cause__ = exc
    return new


class StepLog:
    """The steps of a line of chains: the start, then names and operands."""

    __slots__ = ("start", "names", "operands")

    def __init__(self, start, names, operands):
        self.start, self.names, self.operands = start, names, operands


def log_for_step(log, count):
    """The log a step from a Chain of `count` steps appends to."""
    if len(log.names) == count:
        return log
    return StepLog(log.start, log.names[:count], log.operands[:count])


class Chain:
    """A running Number and the steps that made it; see the module docstring."""

    __slots__ = ("_value", "_log", "_count")

    def __init__(self, start):
        self._value, start = start_value(start)
        self._log, self._count = StepLog(start, [], []), 0

    def _then(self, name, operand, fn, *args):
        """The step: fn(*args) is the new running value."""
        try:
            value = fn(*args)
        except Exception as exc:
            raise step_error(exc, self._count + 1, name) from exc
        return _link(value, self, name, operand)

    def _then1(self, name, operand, method):
        """The common step, kept lean: method(operand) is the new value."""
        try:
            value = method(operand)
        except Exception as exc:
            raise step_error(exc, self._count + 1, name) from exc
        return _link(value, self, name, operand)

    # -- binary steps -----------------------------------------------------------
    def add(self, other): return self._then1("add", other, self._value.add)
    def sub(self, other): return self._then1("sub", other, self._value.sub)
    def mul(self, other): return self._then1("mul", other, self._value.mul)
    def div(self, other): return self._then1("div", other, self._value.div)
    def pow(self, other): return self._then1("pow", other, self._value.pow)
    def rsub(self, other): return self._then("rsub", other, rsub, self._value, other)
    def rdiv(self, other): return self._then("rdiv", other, rdiv, self._value, other)

    # -- unary steps and activations ----------------------------------------------
    def neg(self): return self._then("neg", None, self._value.neg)
    def abs(self): return self._then("abs", None, self._value.__abs__)
    def exp(self): return self._then("exp", None, self._value.exp)
    def log(self): return self._then("log", None, self._value.log)
    def sqrt(self): return self._then("sqrt", None, self._value.sqrt)
    def sin(self): return self._then("sin", None, self._value.sin)
    def cos(self): return self._then("cos", None, self._value.cos)
    def tanh(self): return self._then("tanh", None, self._value.tanh)
    def sigmoid(self): return self._then("sigmoid", None, self._value.sigmoid)
    def relu(self): return self._then("relu", None, self._value.relu)
    def silu(self): return self._then("silu", None, self._value.silu)

    def gelu(self, approximate="none"):
        name = "gelu_tanh" if approximate == "tanh" else "gelu"
        return self._then(name, None, self._value.gelu, approximate)

    def softplus(self, beta=1.0, threshold=20.0):
        return self._then("softplus", (beta, threshold), self._value.softplus, beta, threshold)

    def leaky_relu(self, negative_slope=0.01):
        return self._then("leaky_relu", negative_slope, self._value.leaky_relu, negative_slope)

    def elu(self, alpha=1.0):
        return self._then("elu", alpha, self._value.elu, alpha)

    def apply(self, fn):
        """A step by any callable from Number to Number."""
        name = getattr(fn, "__name__", type(fn).__name__)

        return self._then("apply", fn, applied, fn, name, self._value)

    # -- results ------------------------------------------------------------------
    def result(self):
        """The final Number: an ordinary graph node."""
        return self._value

    @property
    def steps(self):
        """The recorded steps, first to last, as Step(name, op, operand)."""
        return steps_of(self)

    def __len__(self):
        return self._count

    def __repr__(self):
        return repr_of(self)


def steps_of(chain):
    log, n = chain._log, chain._count
    out = []
    for name, operand in zip(log.names[:n], log.operands[:n]):
        code = _CODES.get(name)
        if isinstance(code, tuple):
            code = code[0] if _is_number(operand) else code[1]
        out.append(Step(name, code, operand))
    return tuple(out)


def repr_of(chain):
    parts = [f"Chain({_show(chain._log.start)})"]
    for step in steps_of(chain):
        parts.append(f".{step.name}({_show_operand(step)})")
    return "".join(parts) + f" -> {chain._value!r}"


for _name in _UNARY:
    getattr(Chain, _name).__doc__ = f"A {_name} step."


def _link(value, parent, name, operand):
    log = log_for_step(parent._log, parent._count)
    log.names.append(name)
    log.operands.append(operand)
    new = _new_chain(Chain)
    new._value, new._log, new._count = value, log, parent._count + 1
    return new


_new_chain = object.__new__


def applied(fn, name, value):
    """fn(value), which must be a Number, for the apply step."""
    out = fn(value)
    if not _is_number(out):
        raise TypeError(f"apply: {name} returned {type(out).__name__}, not a Number")
    return out


def rsub(value, other):
    """other - value, for the rsub step."""
    if _is_number(other):
        return other - value
    return _checked(value.__rsub__(other), other, value, "-")


def rdiv(value, other):
    """other / value, for the rdiv step."""
    if _is_number(other):
        return other / value
    return _checked(value.__rtruediv__(other), other, value, "/")


def _show(x):
    if isinstance(x, list):
        return "[" + ", ".join(_show(i) for i in x) + "]"
    return repr(x)


def _show_operand(step):
    if step.operand is None:
        return ""
    if step.name == "apply":
        return getattr(step.operand, "__name__", repr(step.operand))
    if step.name == "softplus":
        return f"beta={step.operand[0]!r}, threshold={step.operand[1]!r}"
    return repr(step.operand)
