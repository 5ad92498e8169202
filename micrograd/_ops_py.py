"""Every op's formulas in Python: the twin of csrc/mg_formulas.h.

One pair per row of csrc/mg_ops.def, named after the row's stem, operation
for operation as in C, so both backends produce the same bits:

- ``fwd_<stem>(operands...)`` is the forward value.  It raises what the same
  operation on Python floats or the ``math`` module raises (the C twin
  returns a status instead, and the compiled core calls these functions on
  its error path so that both backends raise the very same exception).
- ``bwd_<stem>(g, operands..., y, ...)`` is the contribution to the operand
  (a pair for BINARY ops).  It never raises: ``fdiv``, ``cpow``, ``clog``,
  ``csin`` and ``ccos`` (micrograd/_ieee.py) give what C's IEEE-754 arithmetic
  gives where Python would raise.
- ``ieee_<stem>`` exists for the ops whose forward can raise: the IEEE-754
  value that C computes there, which the tape keeps per lane.

``FWD``, ``BWD`` and ``IEEE`` map op codes to these functions; they are built
from the table, so a new row needs no edit here beyond its two functions.
"""
import math

from . import _optable as T
# C's results where Python would raise: in micrograd/_ieee.py so that public
# modules use them without importing the reference; named here for the formulas
# below and for the modules that read them as ops.INF, ops.fdiv, ...
from ._ieee import (INF, NAN, ccos, cexp, cexpm1, clog, clog1p,  # noqa: F401
                    cpow, csin, csqrt, fdiv)


# -- shared helpers (mg_formulas.h's mg_*) -----------------------------------
def float_pow(x, y):
    """x ** y on floats, except that a complex result raises ValueError."""
    if x < 0.0 and x != -INF and math.isfinite(y) and y != math.floor(y):
        # a complex result, decided before Python computes it: (-5e-324) **
        # -745.2 would raise OverflowError from the complex power first
        return math.pow(x, y)             # raises ValueError: math domain error
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


# Error-free transformations (mg_formulas.h's mg_two_sum, mg_split, mg_two_prod).
def two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def split(a):
    c = 134217729.0 * a
    h = c - (c - a)
    return h, a - h


def two_prod(a, b):
    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def e_over_1pe_sq(e):
    """e / (1 + e)^2 for 0 <= e <= 1, the square in double-double."""
    p = 1.0 + e
    pl = e - (p - 1.0)
    q, ql = two_prod(p, p)
    ql += 2.0 * p * pl
    r = e / q
    return r - r * (ql / q)


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


# comparisons (mg_formulas.h): 1.0 or 0.0, false at NaN; flat, so the
# derivative is 0.0 whatever g is (never g * 0.0, a NaN at an infinite g)
def truth(holds): return 1.0 if holds else 0.0
def fwd_gt(a, b): return truth(a > b)
def bwd_gt(g, a, b, y): return 0.0, 0.0
def fwd_ge(a, b): return truth(a >= b)
def bwd_ge(g, a, b, y): return 0.0, 0.0
def fwd_lt(a, b): return truth(a < b)
def bwd_lt(g, a, b, y): return 0.0, 0.0
def fwd_le(a, b): return truth(a <= b)
def bwd_le(g, a, b, y): return 0.0, 0.0


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
def fwd_gt_c(x, c): return truth(x > c)
def bwd_gt_c(g, x, y, c): return 0.0
def fwd_ge_c(x, c): return truth(x >= c)
def bwd_ge_c(g, x, y, c): return 0.0
def fwd_lt_c(x, c): return truth(x < c)
def bwd_lt_c(g, x, y, c): return 0.0
def fwd_le_c(x, c): return truth(x <= c)
def bwd_le_c(g, x, y, c): return 0.0


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
def bwd_expm1(g, x, y): return g * (y + 1.0) if x >= -0.6931471805599453 else g * math.exp(x)
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
def bwd_atan(g, x, y): return g / (x * x + 1.0) if abs(x) <= 1e150 else g / x / x
def fwd_erf(x): return math.erf(x)


def bwd_erf(g, x, y):
    """2/sqrt(pi) e^(-x*x), the square in double-double; 0 past |x| = 28."""
    if abs(x) > 28.0:
        return g * 0.0
    p, lo = two_prod(x, x)
    e = math.exp(-p)
    return g * (1.1283791670955126 * (e - e * lo))


def fwd_tanh(x): return math.tanh(x)


def bwd_tanh(g, x, y):
    if abs(x) < 0.25:
        return g * (1.0 - y * y)
    return g * (4.0 * e_over_1pe_sq(math.exp(-2.0 * abs(x))))



def fwd_sigmoid(x): return sigmoid(x)
def bwd_sigmoid(g, x, y): return g * e_over_1pe_sq(math.exp(-abs(x)))
def fwd_relu(x): return 0.0 if x < 0.0 else x
def bwd_relu(g, x, y): return 0.0 if y <= 0.0 else g


# GELU constants as mg_formulas.h writes them: products of the same literals,
# and the low parts of two of them.
SQRT1_2 = 0.70710678118654752440
SQRT1_2_LO = -4.833646656726457e-17
TWO_SQRTPI = 1.12837916709551257390
GELU_PDF = 1.12837916709551257390 * 0.70710678118654752440 * 0.5
GELU_PDF_LO = -2.49232720227773e-17
GELU_BETA = 1.41421356237309504880 * 1.12837916709551257390 * 0.5
GELU_KAPPA = 0.044715


def erfc_neg_x_over_sqrt2(x):
    p, q = two_prod(-x, SQRT1_2)
    zh, zl = two_sum(p, q + -x * SQRT1_2_LO)
    return math.erfc(zh) - zl * (TWO_SQRTPI * math.exp(-(zh * zh)))


def mills(t):
    return 1.0 + t * (-1.0 + t * (3.0 + t * (-15.0 + t * (105.0 + t * (-945.0 + t * (
        10395.0 + t * (-135135.0 + t * (2027025.0 + t * (-34459425.0)))))))))


def gelu_tail(x, poly):
    ph, pl = two_prod(x, x)
    h = math.exp(-0.25 * ph)
    return (((GELU_PDF * poly) * h) * (1.0 - 0.5 * pl)) * h


def fwd_gelu(x):
    if x >= -0.5:
        return x * 0.5 * (1.0 + math.erf(x * SQRT1_2))
    if x >= -35.0:
        return (0.5 * x) * erfc_neg_x_over_sqrt2(x)
    if x >= -40.0:
        ph, pl = two_prod(x, x)
        return gelu_tail(x, -mills(1.0 / ph))
    return x * 0.0


def bwd_gelu(g, x, y):
    if x >= -0.5:
        cdf = 0.5 * (1.0 + math.erf(x * SQRT1_2))
        pdf = GELU_PDF * math.exp(x * x * -0.5)
        return g * (cdf + x * pdf)
    if x >= -35.0:
        cdf = 0.5 * erfc_neg_x_over_sqrt2(x)
        ph, pl = two_prod(x, x)
        ah, al = two_prod(x, math.exp(-0.5 * ph))
        bh, bl = two_prod(GELU_PDF, ah)
        bl += (GELU_PDF * al + GELU_PDF_LO * ah) - bh * (0.5 * pl)
        sh, sl = two_sum(cdf, bh)
        return g * (sh + (sl + bl))
    if x < -40.0:
        return g * (-0.0 * x)
    ph, pl = two_prod(x, x)                     # NaN lands here
    t = 1.0 / ph
    return g * gelu_tail(x, x * (1.0 - t * mills(t)))


def gelu_tanh_2u(x):
    p, pl = two_prod(x, x)
    c, cl = two_prod(p, x)
    cl += pl * x
    k, kl = two_prod(GELU_KAPPA, c)
    kl += GELU_KAPPA * cl
    sm, sl = two_sum(x, k)
    sl += kl
    u, ul = two_prod(GELU_BETA, sm)
    ul += GELU_BETA * sl
    return 2.0 * u, 2.0 * ul


def gelu_tanh_du(x):
    wh, wl = two_prod(x, x)
    kh, kl = two_prod(3.0, GELU_KAPPA)
    th, tl = two_prod(kh, wh)
    tl += kh * wl + kl * wh
    sh, sl = two_sum(1.0, th)
    sl += tl
    dh, dl = two_prod(GELU_BETA, sh)
    dl += GELU_BETA * sl
    return dh, dl


def fwd_gelu_tanh(x):
    if x >= -0.25:
        inner = GELU_BETA * (x + GELU_KAPPA * (x * x * x))
        return 0.5 * x * (1.0 + math.tanh(inner))
    if x < -30.0:
        return x * 0.0
    uh, ul = gelu_tanh_2u(x)
    if uh >= -700.0:
        e = math.exp(uh)
        nh, nl = two_prod(x, e)
        p = 1.0 + e
        pl = e - (p - 1.0)
        r = nh / p
        return r + r * ((ul + nl / nh) - pl / p)
    h = math.exp(0.5 * uh)
    a = x * h
    a = a + a * ul
    return a * h


def bwd_gelu_tanh(g, x, y):
    if -0.25 <= x < 1.5:                        # torch's formula
        x_sq = x * x
        inner = GELU_BETA * (x + GELU_KAPPA * (x_sq * x))
        t = math.tanh(inner)
        left, right, dt = 0.5 * x, 1.0 + t, 1.0 - t * t
        right_dx = left * dt * (GELU_BETA * (1.0 + 3.0 * GELU_KAPPA * x_sq))
        return g * (0.5 * right + right_dx)
    if x > 30.0:
        return g * 1.0
    if x < -30.0:
        return g * 0.0
    uh, ul = gelu_tanh_2u(x)
    dh, dl = gelu_tanh_du(x)
    if x > 0.0:
        e = math.exp(-uh)
        p = 1.0 + e
        pl = e - (p - 1.0)
        t = ((2.0 * x) * dh) * (e / p)
        r = (1.0 + t) / p
        return g * (r - r * (pl / p))
    mh, ml = two_prod(2.0 * x, dh)
    ml += (2.0 * x) * dl
    e = math.exp(uh) if uh >= -700.0 else 0.0
    p = 1.0 + e
    pl = e - (p - 1.0)
    q = mh / p
    rh, rl = two_prod(q, p)
    corr = (((mh - rh) - rl) + ml - q * pl) / p
    a, al = two_sum(1.0, q)
    f = a + (al + corr)
    if uh >= -700.0:
        nh, nl = two_prod(e, f)
        r = nh / p
        return g * (r + ((nl + nh * ul) - r * pl) / p)
    h = math.exp(0.5 * uh)
    b = h * f
    b = b + b * ul
    return g * (b * h)


def fwd_silu(x):
    if x >= -708.0:
        return x / (1.0 + math.exp(-x))
    h = math.exp(0.5 * x)
    return (x * h) * h


def bwd_silu(g, x, y):
    if x >= 0.0:
        e = math.exp(-x)
        p = 1.0 + e
        pl = e - (p - 1.0)
        r = (1.0 + x * (e / p)) / p
        return g * (r - r * (pl / p))
    if x >= -708.0:
        e = math.exp(x)
        p = 1.0 + e
        pl = e - (p - 1.0)
        q = x / p
        m, ml = two_prod(q, p)
        corr = (((x - m) - ml) - q * pl) / p
        a, al = two_sum(1.0, q)
        f = a + (al + corr)
        nh, nl = two_prod(e, f)
        r = nh / p
        return g * (r + (nl - r * pl) / p)
    h = math.exp(0.5 * x)
    return g * (((1.0 + x) * h) * h)


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
    """min(max(x, lo), hi), as torch.clamp: NaN stays NaN, a NaN bound gives
    NaN (as torch.clamp and np.clip), hi wins if lo > hi."""
    if lo != lo or hi != hi:
        return lo if lo != lo else hi
    v = lo if x < lo else x
    return hi if v > hi else v


def bwd_clamp(g, x, y, lo, hi):
    """torch's convention: the gradient passes where lo <= x <= hi."""
    return g if (x >= lo and x <= hi) else 0.0


# -- STOP: the identity forward; no backward at all ------------------------------
def fwd_stop_gradient(x): return x


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
def _formula(prefix, op):
    try:
        return globals()[prefix + op.stem]
    except KeyError:
        raise ImportError(f"micrograd: the op table ({T.source_path()}) has {op.CODE}, but "
                          f"micrograd/_ops_py.py has no {prefix}{op.stem} (see "
                          f"CONTRIBUTING.md for the four places of a new op)") from None


_FORMULAS = T.of_kind("BINARY", "CONST", "UNARY", "PARAM", "RANGE")
FWD = {op.code: _formula("fwd_", op) for op in _FORMULAS + T.of_kind("STOP")}
BWD = {op.code: _formula("bwd_", op) for op in _FORMULAS}
IEEE = {code: globals().get("ieee_" + T.OPS[code].stem, fwd) for code, fwd in FWD.items()}
