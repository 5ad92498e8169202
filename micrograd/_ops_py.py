"""Every op's formulas in Python: the twin of csrc/mg_formulas.h.

One pair per row of csrc/mg_ops.def, named after the row's stem, operation
for operation as in C, so both backends produce the same bits:

- ``fwd_<stem>(operands...)`` is the forward value.  It raises what the same
  operation on Python floats or the ``math`` module raises (the C twin
  returns a status instead, and the compiled core calls these functions on
  its error path so that both backends raise the very same exception).
- ``bwd_<stem>(g, operands..., y, ...)`` is the contribution to the operand
  (a pair for BINARY ops).  It never raises: ``fdiv``, ``cpow``, ``clog``,
  ``csin`` and ``ccos`` give what C's IEEE-754 arithmetic gives where Python
  would raise.
- ``ieee_<stem>`` exists for the ops whose forward can raise: the IEEE-754
  value that C computes there, which the tape keeps per lane.

``FWD``, ``BWD`` and ``IEEE`` map op codes to these functions; they are built
from the table, so a new row needs no edit here beyond its two functions.
"""
import math

from . import _optable as T

INF, NAN = math.inf, math.nan


def _is_odd_integer(y):
    return math.fmod(abs(y), 2.0) == 1.0


# -- C arithmetic where Python would raise -----------------------------------
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


# -- shared helpers (mg_formulas.h's mg_*) -----------------------------------
def float_pow(x, y):
    """x ** y on floats, except that a complex result raises ValueError."""
    r = x ** y
    if isinstance(r, complex):
        return math.pow(x, y)             # raises ValueError: math domain error
    return r


def pow_dx(g, x, y):
    return 0.0 if y == 0.0 else g * (y * cpow(x, y - 1.0))


def pow_dy(g, x, y, result):
    return 0.0 if (x == 0.0 and y >= 0.0) else g * (result * clog(x))


def sigmoid(x):
    """The logistic function, in the form that cannot overflow."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def sgn(x):
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


def fmax(a, b):
    """IEEE 754-2019 maximum: NaN wins, and -0.0 < +0.0."""
    if a != a:
        return a
    if b != b:
        return b
    if a == b:
        return b if math.copysign(1.0, a) < 0.0 else a
    return a if a > b else b


def fmin(a, b):
    if a != a:
        return a
    if b != b:
        return b
    if a == b:
        return a if math.copysign(1.0, a) < 0.0 else b
    return a if a < b else b


def pick_grad(g, lost, tie):
    """torch's maximum/minimum backward: all to the chosen, half on a tie."""
    return 0.0 if lost else (g / 2.0 if tie else g)


# -- BINARY: two Numbers -----------------------------------------------------
def fwd_add(a, b): return a + b
def bwd_add(g, a, b, y): return g, g
def fwd_sub(a, b): return a - b
def bwd_sub(g, a, b, y): return g, -g
def fwd_mul(a, b): return a * b
def bwd_mul(g, a, b, y): return g * b, g * a
def fwd_div(a, b): return a / b                   # ZeroDivisionError at b == 0
def ieee_div(a, b): return fdiv(a, b)
def bwd_div(g, a, b, y): return fdiv(g, b), -g * fdiv(fdiv(a, b), b)
def fwd_pow(a, b): return float_pow(a, b)
def ieee_pow(a, b): return cpow(a, b)
def bwd_pow(g, a, b, y): return pow_dx(g, a, b), pow_dy(g, a, b, y)
def fwd_maximum(a, b): return fmax(a, b)
def fwd_minimum(a, b): return fmin(a, b)


def bwd_maximum(g, a, b, y):
    return pick_grad(g, a < b, a == b), pick_grad(g, b < a, a == b)


def bwd_minimum(g, a, b, y):
    return pick_grad(g, a > b, a == b), pick_grad(g, b > a, a == b)


# -- CONST: a Number x and a real c ------------------------------------------
def fwd_add_c(x, c): return x + c
def bwd_add_c(g, x, y, c): return g
def fwd_sub_c(x, c): return x - c
def bwd_sub_c(g, x, y, c): return g
def fwd_rsub_c(x, c): return c - x
def bwd_rsub_c(g, x, y, c): return -g
def fwd_mul_c(x, c): return x * c
def bwd_mul_c(g, x, y, c): return g * c
def fwd_div_c(x, c): return x / c
def ieee_div_c(x, c): return fdiv(x, c)
def bwd_div_c(g, x, y, c): return fdiv(g, c)
def fwd_rdiv_c(x, c): return c / x
def ieee_rdiv_c(x, c): return fdiv(c, x)
def bwd_rdiv_c(g, x, y, c): return -g * fdiv(fdiv(c, x), x)
def fwd_pow_c(x, c): return float_pow(x, c)
def ieee_pow_c(x, c): return cpow(x, c)
def bwd_pow_c(g, x, y, c): return pow_dx(g, x, c)
def fwd_rpow_c(x, c): return float_pow(c, x)
def ieee_rpow_c(x, c): return cpow(c, x)
def bwd_rpow_c(g, x, y, c): return pow_dy(g, c, x, y)
def fwd_maximum_c(x, c): return fmax(x, c)
def bwd_maximum_c(g, x, y, c): return pick_grad(g, x < c, x == c)
def fwd_minimum_c(x, c): return fmin(x, c)
def bwd_minimum_c(g, x, y, c): return pick_grad(g, x > c, x == c)


# -- UNARY -------------------------------------------------------------------
def fwd_neg(x): return -x
def bwd_neg(g, x, y): return -g
def fwd_abs(x): return abs(x)
def bwd_abs(g, x, y): return g * sgn(x)
def fwd_exp(x): return math.exp(x)               # OverflowError past ~709.78
def ieee_exp(x): return cexp(x)
def bwd_exp(g, x, y): return g * y
def fwd_expm1(x): return math.expm1(x)
def ieee_expm1(x): return cexpm1(x)
def bwd_expm1(g, x, y): return g * cexp(x)        # not y + 1, which cancels near -1
def fwd_log(x): return math.log(x)               # ValueError at x <= 0
def ieee_log(x): return clog(x)
def bwd_log(g, x, y): return fdiv(g, x)
def fwd_log1p(x): return math.log1p(x)           # ValueError at x <= -1
def ieee_log1p(x): return clog1p(x)
def bwd_log1p(g, x, y): return fdiv(g, x + 1.0)
def fwd_sqrt(x): return math.sqrt(x)             # ValueError at x < 0
def ieee_sqrt(x): return csqrt(x)
def bwd_sqrt(g, x, y): return fdiv(g, 2.0 * y)
def fwd_sin(x): return math.sin(x)               # ValueError at +-inf
def ieee_sin(x): return csin(x)
def bwd_sin(g, x, y): return g * ccos(x)
def fwd_cos(x): return math.cos(x)
def ieee_cos(x): return ccos(x)
def bwd_cos(g, x, y): return g * -csin(x)
def fwd_atan(x): return math.atan(x)
def bwd_atan(g, x, y): return fdiv(g, x * x + 1.0)
def fwd_tanh(x): return math.tanh(x)
def bwd_tanh(g, x, y): return g * (1.0 - y * y)
def fwd_sigmoid(x): return sigmoid(x)
def bwd_sigmoid(g, x, y): return (g * (1.0 - y)) * y
def fwd_relu(x): return 0.0 if x < 0.0 else x
def bwd_relu(g, x, y): return 0.0 if y <= 0.0 else g


# GELU constants as mg_formulas.h writes them: products of the same literals.
SQRT1_2 = 0.70710678118654752440
GELU_PDF = 1.12837916709551257390 * 0.70710678118654752440 * 0.5
GELU_BETA = 1.41421356237309504880 * 1.12837916709551257390 * 0.5
GELU_KAPPA = 0.044715


def fwd_gelu(x):
    return x * 0.5 * (1.0 + math.erf(x * SQRT1_2))


def bwd_gelu(g, x, y):
    cdf = 0.5 * (1.0 + math.erf(x * SQRT1_2))
    pdf = GELU_PDF * math.exp(x * x * -0.5)
    return g * (cdf + x * pdf)


def fwd_gelu_tanh(x):
    inner = GELU_BETA * (x + GELU_KAPPA * (x * x * x))
    return 0.5 * x * (1.0 + math.tanh(inner))


def bwd_gelu_tanh(g, x, y):
    x_sq = x * x
    inner = GELU_BETA * (x + GELU_KAPPA * (x_sq * x))
    t = math.tanh(inner)
    left, right, dt = 0.5 * x, 1.0 + t, 1.0 - t * t
    # where tanh has saturated the term is exactly 0, even if x^2 overflowed
    right_dx = 0.0 if dt == 0.0 else left * dt * (GELU_BETA * (1.0 + 3.0 * GELU_KAPPA * x_sq))
    return g * (0.5 * right + right_dx)


def fwd_silu(x): return x * sigmoid(x)


def bwd_silu(g, x, y):
    s = sigmoid(x)
    return g * (s * (1.0 + x * (1.0 - s)))


# -- PARAM: a Number x and an activation's parameter c ------------------------
def fwd_softplus(x, c):
    """log(1 + e^x) without overflow; x itself above the threshold c, as torch."""
    if x > c:
        return x
    return x + math.log1p(math.exp(-x)) if x > 0.0 else math.log1p(math.exp(x))


def bwd_softplus(g, x, y, c): return g if x > c else g * sigmoid(x)
def fwd_leaky_relu(x, c): return x if x > 0.0 else x * c
def bwd_leaky_relu(g, x, y, c): return g if x > 0.0 else g * c
def fwd_elu(x, c): return c * math.expm1(x) if x <= 0.0 else x
def bwd_elu(g, x, y, c): return g * (c * math.exp(x)) if x <= 0.0 else g


# -- RANGE: a Number x and bounds lo, hi --------------------------------------
def fwd_clamp(x, lo, hi):
    """min(max(x, lo), hi), as torch.clamp: NaN stays NaN, hi wins if lo > hi."""
    v = lo if x < lo else x
    return hi if v > hi else v


def bwd_clamp(g, x, y, lo, hi):
    """torch's convention: the gradient passes where lo <= x <= hi."""
    return g if (x >= lo and x <= hi) else 0.0


# -- SELECT and NARY: operand blocks (mg_graph.c's mg_block_eval) --------------
def where_picks_a(cond):
    """where(cond, a, b) takes a where cond > 0 (NaN takes b)."""
    return cond > 0.0


def block_value(op, values):
    """The value of a block-layout node from its operands' values."""
    if op == T.SUM:
        acc = 0.0
        for v in values:
            acc += v
        return acc
    if op == T.DOT:                       # from the first product, as mg_block_eval
        acc, half = 0.0, len(values) // 2
        for i in range(half):
            p = values[i] * values[i + half]
            acc = p if i == 0 else acc + p
        return acc
    return values[1] if where_picks_a(values[0]) else values[2]


# -- dispatch, from the table ---------------------------------------------------
_FORMULAS = T.of_kind("BINARY", "CONST", "UNARY", "PARAM", "RANGE")
FWD = {op.code: globals()["fwd_" + op.stem] for op in _FORMULAS}
BWD = {op.code: globals()["bwd_" + op.stem] for op in _FORMULAS}
IEEE = {op.code: globals().get("ieee_" + op.stem, FWD[op.code]) for op in _FORMULAS}
