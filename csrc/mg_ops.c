/* mg_ops.c -- the op table: names, forward formulas with Python's error
 * rules, and local derivatives.  micrograd/_core_py.py mirrors every formula
 * here operation for operation; change both or neither. */
#include <math.h>
#include "mg_graph.h"

static const char *const NAMES[MG_NUM_OPS] = {
    "",
    "add", "sub", "mul", "div", "pow",
    "add", "sub", "rsub", "mul", "div", "rdiv", "pow", "rpow",
    "neg", "abs", "exp", "log", "sqrt", "sin", "cos", "tanh",
    "sigmoid", "relu", "gelu", "gelu_tanh", "silu",
    "softplus", "leaky_relu", "elu",
    "sum", "dot",
};

const char *mg_op_name(int op)
{
    return (op >= 0 && op < MG_NUM_OPS) ? NAMES[op] : "?";
}

int mg_op_arity(int op)
{
    if (op == MG_LEAF) return 0;
    if (op <= MG_POW) return 2;
    if (op < MG_SUM) return 1;    /* the _C forms have one node operand */
    return -1;
}

static int is_odd_integer(double y)
{
    return fmod(fabs(y), 2.0) == 1.0;
}

/* x ** y exactly as CPython's float_pow decides it, except that a complex
 * result is reported as MG_EDOM (ValueError, as math.pow raises). */
int mg_pow(double x, double y, double *out)
{
    int negate = 0;
    double r;
    if (y == 0.0) { *out = 1.0; return MG_OK; }
    if (isnan(x)) { *out = x; return MG_OK; }
    if (isnan(y)) { *out = (x == 1.0) ? 1.0 : y; return MG_OK; }
    if (isinf(y)) {
        x = fabs(x);
        if (x == 1.0) *out = 1.0;
        else if ((x > 1.0) == (y > 0.0)) *out = fabs(y);
        else *out = 0.0;
        return MG_OK;
    }
    if (isinf(x)) {
        int odd = is_odd_integer(y);
        if (y > 0.0) *out = odd ? x : fabs(x);
        else *out = odd ? copysign(0.0, x) : 0.0;
        return MG_OK;
    }
    if (x == 0.0) {
        if (y < 0.0) return MG_EZERODIV;
        *out = is_odd_integer(y) ? x : 0.0;
        return MG_OK;
    }
    if (x < 0.0) {
        if (y != floor(y)) return MG_EDOM;
        x = -x;
        negate = is_odd_integer(y);
    }
    if (x == 1.0) { *out = negate ? -1.0 : 1.0; return MG_OK; }
    r = pow(x, y);
    if (isinf(r)) return MG_ERANGE;
    *out = negate ? -r : r;
    return MG_OK;
}

/* The logistic function, in the form that cannot overflow. */
static double sigmoid(double x)
{
    double e;
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    e = exp(x);
    return e / (1.0 + e);
}

/* GELU constants as torch writes them (products of the <math.h> literals,
 * folded in double precision; _ops_py multiplies the same literals). */
#define SQRT1_2 0.70710678118654752440
#define GELU_PDF (1.12837916709551257390 * 0.70710678118654752440 * 0.5)
#define GELU_BETA (1.41421356237309504880 * 1.12837916709551257390 * 0.5)
#define GELU_KAPPA 0.044715

static double gelu(double x)
{
    return x * 0.5 * (1.0 + erf(x * SQRT1_2));
}

static double gelu_tanh(double x)
{
    double inner = GELU_BETA * (x + GELU_KAPPA * (x * x * x));
    return 0.5 * x * (1.0 + tanh(inner));
}

static double gelu_dx(double x)
{
    double cdf = 0.5 * (1.0 + erf(x * SQRT1_2));
    double pdf = GELU_PDF * exp(x * x * -0.5);
    return cdf + x * pdf;
}

static double gelu_tanh_dx(double x)
{
    double x_sq = x * x;
    double inner = GELU_BETA * (x + GELU_KAPPA * (x_sq * x));
    double t = tanh(inner);
    double left = 0.5 * x, right = 1.0 + t, dt = 1.0 - t * t;
    /* where tanh has saturated the term is exactly 0, even if x^2 overflowed */
    double right_dx = (dt == 0.0) ? 0.0
                      : left * dt * (GELU_BETA * (1.0 + 3.0 * GELU_KAPPA * x_sq));
    return 0.5 * right + right_dx;
}

/* log(1 + e^x) without overflow; x itself above the threshold, as torch. */
static double softplus(double x, double threshold)
{
    if (x > threshold) return x;
    return (x > 0.0) ? x + log1p(exp(-x)) : log1p(exp(x));
}

int mg_eval_unary(int op, double x, double *out)
{
    double r;
    switch (op) {
    case MG_NEG: r = -x; break;
    case MG_ABS: r = fabs(x); break;
    case MG_EXP:
        r = exp(x);
        if (isinf(r) && isfinite(x)) return MG_ERANGE;
        break;
    case MG_LOG:
        if (!(x > 0.0) && !isnan(x)) return MG_EDOM;
        r = log(x);
        break;
    case MG_SQRT:
        if (x < 0.0) return MG_EDOM;
        r = sqrt(x);
        break;
    case MG_SIN:
        if (isinf(x)) return MG_EDOM;
        r = sin(x);
        break;
    case MG_COS:
        if (isinf(x)) return MG_EDOM;
        r = cos(x);
        break;
    case MG_TANH: r = tanh(x); break;
    case MG_SIGMOID: r = sigmoid(x); break;
    case MG_RELU: r = (x < 0.0) ? 0.0 : x; break;
    case MG_GELU: r = gelu(x); break;
    case MG_GELU_TANH: r = gelu_tanh(x); break;
    case MG_SILU: r = x * sigmoid(x); break;
    default: return MG_EDOM;
    }
    *out = r;
    return MG_OK;
}

int mg_eval_binary(int op, double a, double b, double *out)
{
    switch (op) {
    case MG_ADD: case MG_ADD_C: *out = a + b; return MG_OK;
    case MG_SUB: case MG_SUB_C: *out = a - b; return MG_OK;
    case MG_RSUB_C: *out = b - a; return MG_OK;
    case MG_MUL: case MG_MUL_C: *out = a * b; return MG_OK;
    case MG_DIV: case MG_DIV_C:
        if (b == 0.0) return MG_EZERODIV;
        *out = a / b;
        return MG_OK;
    case MG_RDIV_C:
        if (a == 0.0) return MG_EZERODIV;
        *out = b / a;
        return MG_OK;
    case MG_POW: case MG_POW_C: return mg_pow(a, b, out);
    case MG_RPOW_C: return mg_pow(b, a, out);
    case MG_SOFTPLUS: *out = softplus(a, b); return MG_OK;
    case MG_LEAKY_RELU: *out = (a > 0.0) ? a : a * b; return MG_OK;
    case MG_ELU: *out = (a <= 0.0) ? b * expm1(a) : a; return MG_OK;
    default: return MG_EDOM;
    }
}

/* d(x**y)/dx and d(x**y)/dy as torch's pow_backward and
 * pow_backward_exponent define them, masks included. */
static double pow_dx(double g, double x, double y)
{
    return (y == 0.0) ? 0.0 : g * (y * pow(x, y - 1.0));
}

static double pow_dy(double g, double x, double y, double result)
{
    return (x == 0.0 && y >= 0.0) ? 0.0 : g * (result * log(x));
}

static double sgn(double x)
{
    return (x > 0.0) ? 1.0 : ((x < 0.0) ? -1.0 : 0.0);
}

static void propagate_nary(mg_node *node, double g)
{
    mg_node **k = mg_nary_kids(node);
    double *cst = mg_nary_consts(node);
    uint32_t i, n = node->n, half = n / 2;
    if (node->op == MG_SUM) {
        for (i = 0; i < n; i++)
            if (k[i]) k[i]->gradient += g;
        return;
    }
    for (i = 0; i < n; i++) {
        uint32_t j = (i < half) ? i + half : i - half;   /* the partner */
        if (k[i]) k[i]->gradient += g * (k[j] ? k[j]->value : cst[j]);
    }
}

void mg_propagate(mg_node *node)
{
    double g = node->gradient, y = node->value, c = node->c;
    mg_node *a = node->kids.two[0], *b = node->kids.two[1];
    switch (node->op) {
    case MG_ADD: a->gradient += g; b->gradient += g; break;
    case MG_SUB: a->gradient += g; b->gradient += -g; break;
    case MG_MUL:
        a->gradient += g * b->value;
        b->gradient += g * a->value;
        break;
    case MG_DIV:
        a->gradient += g / b->value;
        b->gradient += -g * ((a->value / b->value) / b->value);
        break;
    case MG_POW:
        a->gradient += pow_dx(g, a->value, b->value);
        b->gradient += pow_dy(g, a->value, b->value, y);
        break;
    case MG_ADD_C: case MG_SUB_C: a->gradient += g; break;
    case MG_RSUB_C: case MG_NEG: a->gradient += -g; break;
    case MG_MUL_C: a->gradient += g * c; break;
    case MG_DIV_C: a->gradient += g / c; break;
    case MG_RDIV_C: a->gradient += -g * ((c / a->value) / a->value); break;
    case MG_POW_C: a->gradient += pow_dx(g, a->value, c); break;
    case MG_RPOW_C: a->gradient += pow_dy(g, c, a->value, y); break;
    case MG_ABS: a->gradient += g * sgn(a->value); break;
    case MG_EXP: a->gradient += g * y; break;
    case MG_LOG: a->gradient += g / a->value; break;
    case MG_SQRT: a->gradient += g / (2.0 * y); break;
    case MG_SIN: a->gradient += g * cos(a->value); break;
    case MG_COS: a->gradient += g * -sin(a->value); break;
    case MG_TANH: a->gradient += g * (1.0 - y * y); break;
    case MG_SIGMOID: a->gradient += (g * (1.0 - y)) * y; break;
    case MG_RELU: a->gradient += (y <= 0.0) ? 0.0 : g; break;
    case MG_GELU: a->gradient += g * gelu_dx(a->value); break;
    case MG_GELU_TANH: a->gradient += g * gelu_tanh_dx(a->value); break;
    case MG_SILU: {
        double s = sigmoid(a->value);
        a->gradient += g * (s * (1.0 + a->value * (1.0 - s)));
        break;
    }
    case MG_SOFTPLUS:
        a->gradient += (a->value > c) ? g : g * sigmoid(a->value);
        break;
    case MG_LEAKY_RELU: a->gradient += (a->value > 0.0) ? g : g * c; break;
    case MG_ELU: a->gradient += (a->value <= 0.0) ? g * (c * exp(a->value)) : g; break;
    case MG_SUM: case MG_DOT: propagate_nary(node, g); break;
    default: break;
    }
}
