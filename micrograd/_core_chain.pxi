# Included by _core.pyx; the twin of micrograd/_chain_py.py.
# =============================================================================
# Chain: the same steps, records and messages as the reference Chain; the steps
# on a core Number call the node builders directly, so a step costs little
# more than the operator.  Start parsing, error wrapping, `steps` and the repr
# are micrograd._steps', shared by both Chains.
# =============================================================================
from micrograd import _notebook, _steps


@cython.final
@cython.auto_pickle(False)
cdef class StepLog:
    """The steps of a line of chains (see micrograd._steps.StepLog)."""

    cdef readonly object start
    cdef readonly list names, operands

    def __init__(self, start, list names, list operands):
        self.start, self.names, self.operands = start, names, operands


cdef inline Chain _link(Chain parent, object value, str name, object operand):
    cdef StepLog log = parent._log
    cdef Chain new
    if len(log.names) != parent._count:        # a branch: fork the log
        log = StepLog(log.start, log.names[:parent._count], log.operands[:parent._count])
    log.names.append(name)
    log.operands.append(operand)
    new = Chain.__new__(Chain)
    new._value = value
    new._log = log
    new._count = parent._count + 1
    return new


cdef Chain _bin(Chain self, str name, object other, int op, int cop, str symbol):
    cdef object v = self._value
    try:
        if isinstance(v, Number):
            out = _checked(_binary(<Number>v, other, op, cop), v, other, symbol)
        else:
            out = getattr(v, name)(other)
    except Exception as exc:
        raise _steps.step_error(exc, self._count + 1, name) from exc
    return _link(self, out, name, other)


cdef Chain _rbin(Chain self, str name, object other, int op, int cop, str symbol):
    cdef object v = self._value
    try:
        if isinstance(v, Number) and not isinstance(other, Number):
            out = _checked(_reflected(<Number>v, other, op, cop), other, v, symbol)
        else:
            out = getattr(_steps, name)(v, other)
    except Exception as exc:
        raise _steps.step_error(exc, self._count + 1, name) from exc
    return _link(self, out, name, other)


cdef Chain _un(Chain self, str name, int op):
    cdef object v = self._value
    try:
        if isinstance(v, Number):
            out = _make_unary(op, <Number>v)
        else:
            out = getattr(v, name)()
    except Exception as exc:
        raise _steps.step_error(exc, self._count + 1, name) from exc
    return _link(self, out, name, None)


@cython.freelist(256)
@cython.auto_pickle(False)
cdef class Chain:
    """A running Number and the steps that made it (see micrograd.chain)."""

    cdef readonly object _value
    cdef readonly StepLog _log
    cdef readonly Py_ssize_t _count

    def __init__(self, start):
        self._value, first = _steps.start_value(start, Number)
        self._log = StepLog(first, [], [])
        self._count = 0

    def _then(self, name, operand, fn, *args):
        """A step by fn(*args), for the rarer steps."""
        try:
            value = fn(*args)
        except Exception as exc:
            raise _steps.step_error(exc, self._count + 1, name) from exc
        return _link(self, value, name, operand)

    # -- binary steps -----------------------------------------------------------
    def add(self, other): return _bin(self, "add", other, MG_ADD, MG_ADD_C, "+")
    def sub(self, other): return _bin(self, "sub", other, MG_SUB, MG_SUB_C, "-")
    def mul(self, other): return _bin(self, "mul", other, MG_MUL, MG_MUL_C, "*")
    def div(self, other): return _bin(self, "div", other, MG_DIV, MG_DIV_C, "/")
    def pow(self, other): return _bin(self, "pow", other, MG_POW, MG_POW_C, "** or pow()")
    def rsub(self, other): return _rbin(self, "rsub", other, MG_SUB, MG_RSUB_C, "-")
    def rdiv(self, other): return _rbin(self, "rdiv", other, MG_DIV, MG_RDIV_C, "/")
    def maximum(self, other): return self._then("maximum", other, maximum, self._value, other)
    def minimum(self, other): return self._then("minimum", other, minimum, self._value, other)

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
        return self._then("apply", fn, _steps.applied, fn, name, self._value)

    # -- results ------------------------------------------------------------------
    def result(self):
        """The final Number: an ordinary graph node."""
        return self._value

    @property
    def steps(self):
        """The recorded steps, first to last, as Step(name, op, operand)."""
        return _steps.steps_of(self)

    def __len__(self):
        return self._count

    def __repr__(self):
        return _steps.repr_of(self)

    def _repr_html_(self):
        return _notebook.chain_html(self)

    def __reduce__(self):
        return _restore_chain, _steps.chain_state(self)

    def __copy__(self):
        return self                     # a Chain is never mutated

    def __deepcopy__(self, memo):
        return _steps.replay(type(self), *_steps.chain_state(self), memo=memo)


(<PyTypeObject *>Chain).tp_name = "Chain"
_set_module(Chain, "micrograd._core")
