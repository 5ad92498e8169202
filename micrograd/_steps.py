"""What both Chains share: the step records, the step log, errors and repr.

The Chain's methods are written once, in micrograd._chain_methods; the
reference Chain (micrograd/_chain_py.py) and the compiled one
(micrograd/_core_chain.pxi) differ only in how a step runs.  The records
they keep, the way a failed step is reported, the repr and the replay that
pickle and deepcopy use are here, in a module that imports no backend.

A line of chains shares one StepLog: a step appends to its parent's log
unless the parent is not the log's last chain, in which case it forks a copy
(chains branch; nothing a user holds is ever mutated).
"""
import numbers
from collections import namedtuple
from copy import deepcopy
from decimal import Decimal

from ._convert import checked, is_number

__all__ = ["Step", "StepLog", "start_value", "log_for_step", "step_error", "steps_of",
           "repr_of", "applied", "rsub", "rdiv", "chain_state", "replay"]

Step = namedtuple("Step", "name op operand")
Step.__doc__ = ("One recorded step: the method's name, the name of the op it applied "
                "(as Number.op gives it; None for apply) and its operand.")

# steps whose op name depends on the operand: a Number gives the plain op
_REVERSED = {"rsub": "sub", "rdiv": "div"}
# steps with several operands, recorded as a tuple and shown by keyword
_KEYWORDS = {"softplus": ("beta", "threshold"), "clamp": ("lo", "hi"),
             "where": ("cond", "other")}


class StepLog:
    """The steps of a line of chains: the start, then names and operands.

    The reference's.  The core has a cdef class of the same fields (in
    micrograd/_core_chain.pxi), because its _link reads them on every step
    and a Python class's fields would cost it an attribute lookup each."""

    __slots__ = ("start", "names", "operands")

    def __init__(self, start, names, operands):
        self.start, self.names, self.operands = start, names, operands


def start_value(start, number_type):
    """(the running Number a start gives, the start as recorded); reals
    become Numbers of `number_type`, the Chain's own backend."""
    if is_number(start):
        return start, start
    if isinstance(start, (numbers.Real, Decimal)) or getattr(start, "ndim", None) == 0:
        return number_type(start), start
    if isinstance(start, (str, bytes, bytearray)) or not hasattr(start, "__iter__"):
        what = "None" if start is None else f"a {type(start).__name__}"
        raise TypeError(f"Chain start must be a Number, a real or an iterable of them, "
                        f"not {what}")
    items = list(start)
    if not items:
        raise ValueError("Chain start is empty: give a Number, a real or a non-empty iterable")
    value = items[0] if is_number(items[0]) else number_type(items[0])
    for item in items[1:]:
        value = value.mul(item)
    return value, items


def log_for_step(log, count):
    """The log a step from a Chain of `count` steps appends to."""
    if len(log.names) == count:
        return log
    return StepLog(log.start, log.names[:count], log.operands[:count])


def step_error(exc, index, name):
    """The same exception type, saying which step failed."""
    message = f"Chain step {index} ({name}) failed: {exc}"
    try:
        new = type(exc)(message)
    except Exception:                  # an exception type with its own signature
        return exc
    new.__cause__ = exc
    return new


def steps_of(chain):
    log, n = chain._log, chain._count
    out = []
    for name, operand in zip(log.names[:n], log.operands[:n]):
        if name == "apply":
            op = None
        elif name in _REVERSED and is_number(operand):
            op = _REVERSED[name]
        else:
            op = name
        out.append(Step(name, op, operand))
    return tuple(out)


def repr_of(chain):
    parts = [f"Chain({_show(chain._log.start)})"]
    for step in steps_of(chain):
        parts.append(f".{step.name}({_show_operand(step)})")
    return "".join(parts) + f" -> {chain._value!r}"


def chain_state(chain):
    """(start, names, operands): what replay needs to make the chain again."""
    log, n = chain._log, chain._count
    return log.start, tuple(log.names[:n]), tuple(log.operands[:n])


def replay(chain_type, start, names, operands, memo=None):
    """The chain made again by running its steps from its start, for pickle
    and deepcopy (with memo, the start and operands are deep-copied first):
    the same values bit for bit, in a new graph of chain_type's backend."""
    if memo is not None:
        start, operands = deepcopy((start, operands), memo)
    chain = chain_type(start)
    for name, operand in zip(names, operands):
        if name == "gelu_tanh":
            chain = chain.gelu("tanh")
        elif operand is None:
            chain = getattr(chain, name)()
        elif name in _KEYWORDS:
            chain = getattr(chain, name)(*operand)
        else:
            chain = getattr(chain, name)(operand)
    return chain


def applied(fn, name, value):
    """fn(value), which must be a Number, for the apply step."""
    out = fn(value)
    if not is_number(out):
        raise TypeError(f"apply: {name} returned {type(out).__name__}, not a Number")
    return out


def rsub(value, other):
    """other - value, for the rsub step."""
    if is_number(other):
        return other - value
    return checked(value.__rsub__(other), other, value, "-")


def rdiv(value, other):
    """other / value, for the rdiv step."""
    if is_number(other):
        return other / value
    return checked(value.__rtruediv__(other), other, value, "/")


def _show(x):
    if isinstance(x, list):
        return "[" + ", ".join(_show(i) for i in x) + "]"
    return repr(x)


def _show_operand(step):
    if step.operand is None:
        return ""
    if step.name == "apply":
        return getattr(step.operand, "__name__", repr(step.operand))
    if step.name in _KEYWORDS:
        return ", ".join(f"{k}={v!r}" for k, v in zip(_KEYWORDS[step.name], step.operand))
    return repr(step.operand)
