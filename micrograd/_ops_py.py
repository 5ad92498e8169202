"""The op table in Python: the twin of csrc/mg_ops.c.

Op codes, names, forward formulas and local derivatives are the C ones,
operation for operation, so both backends produce the same bits.  Forward
formulas raise what Python floats and ``math`` raise; the compiled core calls
``eval_unary``/``eval_binary`` from here on its error path, so the two
backends raise the very same exceptions.  Local derivatives never raise:
``fdiv``, ``cpow``, ``clog``, ``csin`` and ``ccos`` give what C's IEEE-754
arithmetic gives where Python would raise.
"""
import math

(LEAF, ADD, SUB, MUL, DIV, POW,
 ADD_C, SUB_C, RSUB_C, MUL_C, DIV_C, RDIV_C, POW_C, RPOW_C,
 NEG, ABS, EXP, LOG, SQRT, SIN, COS, TANH, SIGMOID, RELU, GELU, GELU_TANH, SILU,
 SOFTPLUS, LEAKY_RELU, ELU,
 SUM, DOT, NUM_OPS) = range(33)

NAMES = ("", "add", "sub", "mul", "div", "pow",
         "add", "sub", "rsub", "mul", "div", "rdiv", "pow", "rpow",
         "neg", "abs", "exp", "log", "sqrt", "sin", "cos", "tanh",
         "sigmoid", "relu", "gelu", "gelu_tanh", "silu",
         "softplus", "leaky_relu", "elu", "sum", "dot")

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


def csin(x):
    return NAN if math.isinf(x) else math.sin(x)


def ccos(x):
    return NAN if math.isinf(x) else math.cos(x)


# -- forward -----------------------------------------------------------------
def float_pow(x, y):
    """x ** y on floats, except that a complex result raises ValueError."""
    r = x ** y
    if isinstance(r, complex):
        return math.pow(x, y)             # raises ValueError: math domain error
    return r


def sigmoid(x):
    """The logistic function, in the form that cannot overflow."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


# GELU constants as mg_ops.c writes them: products of the same literals.
SQRT1_2 = 0.70710678118654752440
GELU_PDF = 1.12837916709551257390 * 0.70710678118654752440 * 0.5
GELU_BETA = 1.41421356237309504880 * 1.12837916709551257390 * 0.5
GELU_KAPPA = 0.044715


def gelu(x):
    return x * 0.5 * (1.0 + math.erf(x * SQRT1_2))


def gelu_tanh(x):
    inner = GELU_BETA * (x + GELU_KAPPA * (x * x * x))
    return 0.5 * x * (1.0 + math.tanh(inner))


def gelu_dx(x):
    cdf = 0.5 * (1.0 + math.erf(x * SQRT1_2))
    pdf = GELU_PDF * math.exp(x * x * -0.5)
    return cdf + x * pdf


def gelu_tanh_dx(x):
    x_sq = x * x
    inner = GELU_BETA * (x + GELU_KAPPA * (x_sq * x))
    t = math.tanh(inner)
    left, right, dt = 0.5 * x, 1.0 + t, 1.0 - t * t
    # where tanh has saturated the term is exactly 0, even if x^2 overflowed
    right_dx = 0.0 if dt == 0.0 else left * dt * (GELU_BETA * (1.0 + 3.0 * GELU_KAPPA * x_sq))
    return 0.5 * right + right_dx


def softplus(x, threshold):
    """log(1 + e^x) without overflow; x itself above the threshold, as torch."""
    if x > threshold:
        return x
    return x + math.log1p(math.exp(-x)) if x > 0.0 else math.log1p(math.exp(x))


_UNARY = {
    NEG: lambda x: -x,
    ABS: abs,
    EXP: math.exp,                        # OverflowError past ~709.78
    LOG: math.log,                        # ValueError at x <= 0
    SQRT: math.sqrt,                      # ValueError at x < 0
    SIN: math.sin,                        # ValueError at +-inf
    COS: math.cos,
    TANH: math.tanh,
    SIGMOID: sigmoid,
    RELU: lambda x: 0.0 if x < 0.0 else x,
    GELU: gelu,
    GELU_TANH: gelu_tanh,
    SILU: lambda x: x * sigmoid(x),
}


def eval_unary(op, x):
    return _UNARY[op](x)


def eval_binary(op, a, b):
    """For the _C ops, a is the node's value and b the constant."""
    if op == ADD or op == ADD_C:
        return a + b
    if op == SUB or op == SUB_C:
        return a - b
    if op == RSUB_C:
        return b - a
    if op == MUL or op == MUL_C:
        return a * b
    if op == DIV or op == DIV_C:
        return a / b                      # ZeroDivisionError at b == 0
    if op == RDIV_C:
        return b / a
    if op == POW or op == POW_C:
        return float_pow(a, b)
    if op == RPOW_C:
        return float_pow(b, a)
    if op == SOFTPLUS:
        return softplus(a, b)
    if op == LEAKY_RELU:
        return a if a > 0.0 else a * b
    if op == ELU:
        return b * math.expm1(a) if a <= 0.0 else a
    raise ValueError(f"not a binary op: {op}")


# -- local derivatives: add node's contributions to its operands -------------
def _pow_dx(g, x, y):
    return 0.0 if y == 0.0 else g * (y * cpow(x, y - 1.0))


def _pow_dy(g, x, y, result):
    return 0.0 if (x == 0.0 and y >= 0.0) else g * (result * clog(x))


def _sgn(x):
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


def _value(slot):
    return slot if type(slot) is float else slot._value


def propagate(node):
    """Twin of mg_propagate: operands gain node-gradient x local derivative."""
    op, g, y, c, kids = node._code, node._gradient, node._value, node._c, node._kids
    if op == SUM:
        for k in kids:
            if type(k) is not float:
                k._gradient += g
        return
    if op == DOT:
        half = len(kids) // 2
        for i, k in enumerate(kids):
            if type(k) is not float:
                k._gradient += g * _value(kids[i + half if i < half else i - half])
        return
    a = kids[0]
    if op <= POW:
        b = kids[1]
        if op == ADD:
            a._gradient += g
            b._gradient += g
        elif op == SUB:
            a._gradient += g
            b._gradient += -g
        elif op == MUL:
            a._gradient += g * b._value
            b._gradient += g * a._value
        elif op == DIV:
            a._gradient += fdiv(g, b._value)
            b._gradient += -g * fdiv(fdiv(a._value, b._value), b._value)
        else:
            a._gradient += _pow_dx(g, a._value, b._value)
            b._gradient += _pow_dy(g, a._value, b._value, y)
        return
    x = a._value
    if op == ADD_C or op == SUB_C:
        a._gradient += g
    elif op == RSUB_C or op == NEG:
        a._gradient += -g
    elif op == MUL_C:
        a._gradient += g * c
    elif op == DIV_C:
        a._gradient += fdiv(g, c)
    elif op == RDIV_C:
        a._gradient += -g * fdiv(fdiv(c, x), x)
    elif op == POW_C:
        a._gradient += _pow_dx(g, x, c)
    elif op == RPOW_C:
        a._gradient += _pow_dy(g, c, x, y)
    elif op == ABS:
        a._gradient += g * _sgn(x)
    elif op == EXP:
        a._gradient += g * y
    elif op == LOG:
        a._gradient += fdiv(g, x)
    elif op == SQRT:
        a._gradient += fdiv(g, 2.0 * y)
    elif op == SIN:
        a._gradient += g * ccos(x)
    elif op == COS:
        a._gradient += g * -csin(x)
    elif op == TANH:
        a._gradient += g * (1.0 - y * y)
    elif op == SIGMOID:
        a._gradient += (g * (1.0 - y)) * y
    elif op == RELU:
        a._gradient += 0.0 if y <= 0.0 else g
    elif op == GELU:
        a._gradient += g * gelu_dx(x)
    elif op == GELU_TANH:
        a._gradient += g * gelu_tanh_dx(x)
    elif op == SILU:
        s = sigmoid(x)
        a._gradient += g * (s * (1.0 + x * (1.0 - s)))
    elif op == SOFTPLUS:
        a._gradient += g if x > c else g * sigmoid(x)
    elif op == LEAKY_RELU:
        a._gradient += g if x > 0.0 else g * c
    elif op == ELU:
        a._gradient += g * (c * math.exp(x)) if x <= 0.0 else g
