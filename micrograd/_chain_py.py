"""The reference Chain: the twin of micrograd/_core_chain.pxi.

A Chain holds a running Number.  Each step applies one op to it right away
and returns a new Chain that remembers the old one (chains branch; nothing is
ever mutated).  The steps are kept as (name, operand) pairs in a StepLog
shared along a line of chains, so a step costs one small object; what both
Chains share (records, errors, repr) is micrograd._steps.
"""
from . import _notebook
from . import _optable as T
from ._number_py import Number, clamp, maximum, minimum, where
from ._signatures import check_class, no_arguments, wrong_self
from ._pickle import restore_chain as _restore_chain
from ._steps import applied, chain_state, log_for_step, rdiv, replay, repr_of, rsub, \
    start_value, step_error, steps_of, StepLog

__all__ = ["Chain"]


class Chain:
    """A running Number and the steps that made it (see micrograd.chain)."""

    __slots__ = ("_value", "_log", "_count")

    def __init__(self, start):
        self._value, start = start_value(start, Number)
        self._log, self._count = StepLog(start, [], []), 0

    def _then(self, name, operand, fn, *args):
        """The step: fn(*args) is the new running value."""
        try:
            value = fn(*args)
        except Exception as exc:
            raise step_error(exc, self._count + 1, name) from exc
        return _link(value, self, name, operand)

    # -- binary steps -----------------------------------------------------------
    def add(self, other):
        """Step: running value + other."""
        return self._then("add", other, self._value.add, other)
    def sub(self, other):
        """Step: running value - other."""
        return self._then("sub", other, self._value.sub, other)
    def mul(self, other):
        """Step: running value * other."""
        return self._then("mul", other, self._value.mul, other)
    def div(self, other):
        """Step: running value / other."""
        return self._then("div", other, self._value.div, other)
    def pow(self, other):
        """Step: running value ** other."""
        return self._then("pow", other, self._value.pow, other)
    def rsub(self, other):
        """Step: other - running value."""
        return self._then("rsub", other, rsub, self._value, other)
    def rdiv(self, other):
        """Step: other / running value."""
        return self._then("rdiv", other, rdiv, self._value, other)
    def maximum(self, other):
        """Step: the larger of the running value and other."""
        return self._then("maximum", other, maximum, self._value, other)
    def minimum(self, other):
        """Step: the smaller of the running value and other."""
        return self._then("minimum", other, minimum, self._value, other)

    def where(self, cond, other):
        """where(cond, running value, other): the running value where cond > 0."""
        return self._then("where", (cond, other), where, cond, self._value, other)

    # -- unary steps (one per UNARY row of the table, installed below) -----------
    def gelu(self, approximate="none"):
        """Step: gelu (approximate='tanh' for the tanh form)."""
        name = "gelu_tanh" if approximate == "tanh" else "gelu"
        return self._then(name, None, self._value.gelu, approximate)

    # -- activations with parameters ----------------------------------------------
    def softplus(self, beta=1.0, threshold=20.0):
        """Step: softplus, as torch's."""
        return self._then("softplus", (beta, threshold), self._value.softplus, beta, threshold)

    def leaky_relu(self, negative_slope=0.01):
        """Step: leaky_relu, as torch's."""
        return self._then("leaky_relu", negative_slope, self._value.leaky_relu, negative_slope)

    def elu(self, alpha=1.0):
        """Step: elu, as torch's."""
        return self._then("elu", alpha, self._value.elu, alpha)

    def clamp(self, lo=None, hi=None):
        """Step: the running value limited to [lo, hi]."""
        return self._then("clamp", (lo, hi), clamp, self._value, lo, hi)

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

    def _repr_html_(self):
        return _notebook.chain_html(self)

    def __reduce__(self):
        return _restore_chain, chain_state(self)

    def __copy__(self):
        return self                     # a Chain is never mutated

    def __deepcopy__(self, memo):
        return replay(type(self), *chain_state(self), memo=memo)


def _unary_step(name, doc):
    def step(self, *args, **kwargs):
        if args or kwargs or not isinstance(self, Chain):
            raise no_arguments(name, args, kwargs) if args or kwargs else wrong_self("Chain", self)
        return self._then(name, None, getattr(self._value, name))
    step.__name__ = step.__qualname__ = name
    step.__doc__ = f"A {name} step: {doc}."
    return step


check_class(Chain)
for _op in T.of_kind("UNARY"):
    if _op.name not in Chain.__dict__:       # a hand-written step with options wins
        setattr(Chain, _op.name, _unary_step(_op.name, _op.doc))


def _link(value, parent, name, operand):
    log = log_for_step(parent._log, parent._count)
    log.names.append(name)
    log.operands.append(operand)
    new = object.__new__(Chain)
    new._value, new._log, new._count = value, log, parent._count + 1
    return new
