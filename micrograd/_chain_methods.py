"""Every Chain method, written once for both backends.

ChainMethods is a plain class of the Chain's methods, in terms of what each
backend's Chain provides: the attributes _value, _log and _count, a method
_link(value, name, operand) that makes the next Chain, and a class attribute
_kit holding its backend's where, maximum, minimum and clamp.

- The reference Chain (micrograd/_chain_py.py) inherits it as it is.
- The compiled Chain (micrograd/_core_chain.pxi) is a cdef class, which
  cannot inherit a Python class: the core installs these functions into
  its type dict at import (_core.pyx's _install), where a method the core
  compiles itself wins.  It compiles only what is a hot path: the binary
  steps add ... rdiv (straight to the C node builders; the ones here are
  the reference's, and their docstrings are the core's too), the table's
  unary steps, result, and _link; and __init__, __len__ and __repr__,
  which CPython calls through type slots that a function installed after
  the type is made does not fill, as one-line delegations.

What the methods share with other modules (records, errors, repr, replay)
is micrograd._steps.  This module imports no backend.
"""
from . import _notebook
from ._pickle import restore_chain
from ._signatures import check_class
from ._steps import applied, chain_state, rdiv, replay, repr_of, rsub, step_error, steps_of

__all__ = ["ChainMethods", "BINARY_STEPS"]

# the steps the core compiles over its C node builders (docstrings from here)
BINARY_STEPS = ("add", "sub", "mul", "div", "pow", "rsub", "rdiv")


class ChainMethods:
    """The methods of both backends' Chain (see micrograd.chain)."""

    __slots__ = ()           # the Chains hold the slots; this adds no __dict__

    def _then(self, name, operand, fn, *args):
        """The step: fn(*args) is the new running value."""
        try:
            value = fn(*args)
        except Exception as exc:
            raise step_error(exc, self._count + 1, name) from exc
        return self._link(value, name, operand)

    # -- binary steps (the core compiles its own: BINARY_STEPS) -------------------
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
        return self._then("maximum", other, self._kit.maximum, self._value, other)
    def minimum(self, other):
        """Step: the smaller of the running value and other."""
        return self._then("minimum", other, self._kit.minimum, self._value, other)

    def where(self, cond, other):
        """where(cond, running value, other): the running value where cond > 0."""
        return self._then("where", (cond, other), self._kit.where, cond, self._value,
                          other)

    # -- the unary step with an option (the others come from the op table) ---------
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
        return self._then("clamp", (lo, hi), self._kit.clamp, self._value, lo, hi)

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

    # the core compiles these two as the same one-liners (type slots)
    def __len__(self):
        return self._count

    def __repr__(self):
        return repr_of(self)

    def _repr_html_(self):
        return _notebook.chain_html(self)

    def __reduce__(self):
        return restore_chain, chain_state(self)

    def __copy__(self):
        return self                     # a Chain is never mutated

    def __deepcopy__(self, memo):
        return replay(type(self), *chain_state(self), memo=memo)


# Python's own messages and tracebacks name a function by its qualname: say
# Chain, as the methods did when each Chain had its own.
for _name, _fn in vars(ChainMethods).items():
    _fn = getattr(_fn, "fget", _fn)
    if hasattr(_fn, "__qualname__"):
        _fn.__qualname__ = f"Chain.{_name}"
del _name, _fn

# Arity errors in Cython's words (the core's compiled methods give those), so
# both backends refuse a bad call alike; the core installs these wrappers too.
check_class(ChainMethods, "Chain")
