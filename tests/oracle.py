"""The 50-digit truth (mpmath) for every unary op and activation: its value
and its derivative, written so that mpmath itself does not cancel.

Used where a result is compared with torch and torch is not exact enough to
be the judge: ours must then be at least as close to the truth as torch's.
"""
import math

import pytest

mpmath = pytest.importorskip("mpmath")
mp = mpmath.mp
mp.dps = 50

# torch's tanh-GELU constants, as doubles (the op is defined with them)
GELU_BETA = 1.41421356237309504880 * 1.12837916709551257390 * 0.5
GELU_KAPPA = 0.044715


def _s(x):
    return 1 / (1 + mpmath.exp(-x))


def _ds(x):
    e = mpmath.exp(-abs(x))
    return e / (1 + e) ** 2


def _ncdf(x):
    return mpmath.erfc(-x / mpmath.sqrt(2)) / 2


def _npdf(x):
    return mpmath.exp(-x * x / 2) / mpmath.sqrt(2 * mpmath.pi)


def _gelu_tanh(x):
    u = mpmath.mpf(GELU_BETA) * (x + mpmath.mpf(GELU_KAPPA) * x ** 3)
    du = mpmath.mpf(GELU_BETA) * (1 + 3 * mpmath.mpf(GELU_KAPPA) * x * x)
    return x * _s(2 * u), _s(2 * u) + x * 2 * du * _ds(2 * u)


def _softplus(x, beta, threshold):
    if beta * x > threshold:
        return x, mpmath.mpf(1)
    return mpmath.log1p(mpmath.exp(beta * x)) / beta, _s(beta * x)


TRUTH = {   # name: x (an mpf) -> (value, derivative)
    "exp": lambda x: (mpmath.exp(x), mpmath.exp(x)),
    "expm1": lambda x: (mpmath.expm1(x), mpmath.exp(x)),
    "log": lambda x: (mpmath.log(x), 1 / x),
    "log1p": lambda x: (mpmath.log1p(x), 1 / (1 + x)),
    "sqrt": lambda x: (mpmath.sqrt(x), 1 / (2 * mpmath.sqrt(x))),
    "sin": lambda x: (mpmath.sin(x), mpmath.cos(x)),
    "cos": lambda x: (mpmath.cos(x), -mpmath.sin(x)),
    "atan": lambda x: (mpmath.atan(x), 1 / (1 + x * x)),
    "erf": lambda x: (mpmath.erf(x), 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x)),
    "tanh": lambda x: (mpmath.tanh(x), mpmath.sech(x) ** 2),
    "sigmoid": lambda x: (_s(x), _ds(x)),
    "silu": lambda x: (x * _s(x), _s(x) + x * _ds(x)),
    "gelu": lambda x: (x * _ncdf(x), _ncdf(x) + x * _npdf(x)),
    "gelu_tanh": _gelu_tanh,
    "softplus": lambda x: _softplus(x, 1, 20),
    "softplus_b2": lambda x: _softplus(x, 2, 20),
    "softplus_t5": lambda x: _softplus(x, 1, 5),
    "elu": lambda x: (x, 1) if x > 0 else (mpmath.expm1(x), mpmath.exp(x)),
    "elu_1.5": lambda x: (x, 1) if x > 0 else (1.5 * mpmath.expm1(x), 1.5 * mpmath.exp(x)),
}


def truth(name, v):
    """(value, derivative) at the double v, as mpf numbers."""
    return TRUTH[name](mpmath.mpf(v))


def ulps(approx, exact):
    """|approx - exact| in units in the last place of exact rounded to a double."""
    t = float(exact)
    if math.isinf(t):
        return math.nan
    if math.isnan(approx) or math.isinf(approx):
        return math.inf
    return float(abs(mpmath.mpf(approx) - exact) / max(math.ulp(t), 5e-324))


def at_least_as_close(ours, theirs, exact):
    """ours is no farther from the truth than theirs (NaN only if theirs is)."""
    if math.isnan(ours) or math.isnan(theirs):
        return math.isnan(theirs)
    return abs(mpmath.mpf(ours) - exact) <= abs(mpmath.mpf(theirs) - exact)
