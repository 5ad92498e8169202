# Included by _core.pyx; the twin of micrograd/_chain_py.py.
# =============================================================================
# Chain: the compiled Chain holds only what is this backend's own or a hot
# path; every other method is written once, in micrograd._chain_methods, and
# installed into this class's dict at import (see that module's docstring).
#
# Compiled here: the state and __init__; _link; the binary steps add ... rdiv,
# which call the node builders directly, so a step costs little more than the
# operator (their docstrings are written again here, as ChainMethods' are:
# a compiled method's cannot be set, and tests/test_chain.py keeps the two
# equal); result; and the one-line __len__ and __repr__, which CPython calls
# through type slots that an installed function cannot fill.  The table's
# unary steps are generated into _core_table.pxi by tools/regen.py and call _un.
# =============================================================================
from types import SimpleNamespace as _Namespace

from micrograd import _chain_methods, _steps


# The same fields as the reference's micrograd._steps.StepLog, typed: _link
# runs on every step, and reading a cdef class's fields is a C struct access
# where a Python class's __slots__ would cost an attribute lookup each.
@cython.final
@cython.auto_pickle(False)
@cython.binding(False)     # see Number
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
@cython.binding(False)     # see Number: methods check self when called unbound
cdef class Chain:
    """A running Number and the steps that made it (see micrograd.chain)."""

    cdef readonly object _value
    cdef readonly StepLog _log
    cdef readonly Py_ssize_t _count

    def __init__(self, start):
        self._value, first = _steps.start_value(start, Number)
        self._log = StepLog(first, [], [])
        self._count = 0

    def _link(self, value, name, operand):
        # for ChainMethods._then, the rarer steps
        return _link(self, value, name, operand)

    # -- binary steps: their docstrings are ChainMethods' (tests/test_chain.py) ------
    def add(self, other):
        """Step: running value + other."""
        return _bin(self, "add", other, MG_ADD, MG_ADD_C, "+")
    def sub(self, other):
        """Step: running value - other."""
        return _bin(self, "sub", other, MG_SUB, MG_SUB_C, "-")
    def mul(self, other):
        """Step: running value * other."""
        return _bin(self, "mul", other, MG_MUL, MG_MUL_C, "*")
    def div(self, other):
        """Step: running value / other."""
        return _bin(self, "div", other, MG_DIV, MG_DIV_C, "/")
    def pow(self, other):
        """Step: running value ** other."""
        return _bin(self, "pow", other, MG_POW, MG_POW_C, "** or pow()")
    def rsub(self, other):
        """Step: other - running value."""
        return _rbin(self, "rsub", other, MG_SUB, MG_RSUB_C, "-")
    def rdiv(self, other):
        """Step: other / running value."""
        return _rbin(self, "rdiv", other, MG_DIV, MG_RDIV_C, "/")

    # compiled, not installed: a Python call would add a tenth to a short chain
    def result(self):
        """The final Number: an ordinary graph node."""
        return self._value

    # type slots: installed functions would not fill them
    def __len__(self): return self._count
    def __repr__(self): return _steps.repr_of(self)


(<PyTypeObject *>Chain).tp_name = "Chain"
_set_module(Chain, "micrograd._core")

# everything else ChainMethods has (a compiled method of the same name wins)
for _name, _fn in vars(_chain_methods.ChainMethods).items():
    if _name not in ("__module__", "__qualname__", "__doc__", "__slots__"):
        _install(Chain, _name, _fn)
_install(Chain, "_kit", _Namespace(owner="Chain", where=where, maximum=maximum, minimum=minimum,
                                         clamp=clamp))
del _name, _fn
