"""C's IEEE-754 results where Python raises, shared by both backends' Python.

Python's float division and ``math`` functions raise (ZeroDivisionError,
OverflowError, ValueError) where C's arithmetic and libm return inf or nan.
The reference's backward formulas (micrograd/_ops_py.py, the twin of
csrc/mg_formulas.h) and gradient clipping (micrograd/optim/clipping.py, on
either backend) need C's values, so these give them.  They import nothing of
a backend, so any module may use them.
"""
import math

INF, NAN = math.inf, math.nan


def _is_odd_integer(y):
    return math.fmod(abs(y), 2.0) == 1.0


def fdiv(a, b):
    """a / b as IEEE-754 gives it (b == 0 gives inf or nan, no exception)."""
    if b != 0.0 or b != b:
        return a / b
    if a != a or a == 0.0:
        return NAN
    return math.copysign(INF, a) * math.copysign(1.0, b)


def cpow(x, y):
    """C's pow(x, y): math.pow calls it, and raises where it reports an error."""
    try:
        return math.pow(x, y)
    except OverflowError:
        return -INF if x < 0.0 and _is_odd_integer(y) else INF
    except ValueError:
        if x == 0.0:                      # pole: 0 ** negative
            return math.copysign(INF, x) if _is_odd_integer(y) else INF
        return NAN                        # negative base, non-integer exponent


def clog(x):
    """C's log(x): -inf at zero, nan below."""
    if x == 0.0:
        return -INF
    return math.log(x) if x > 0.0 or x != x else NAN


def clog1p(x):
    """C's log1p(x): -inf at -1, nan below."""
    if x == -1.0:
        return -INF
    return math.log1p(x) if x > -1.0 or x != x else NAN


def cexp(x):
    """C's exp(x): inf past the overflow threshold."""
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def cexpm1(x):
    try:
        return math.expm1(x)
    except OverflowError:
        return INF


def csqrt(x):
    return math.sqrt(x) if x >= 0.0 or x != x else NAN


def csin(x):
    return NAN if math.isinf(x) else math.sin(x)


def ccos(x):
    return NAN if math.isinf(x) else math.cos(x)
