/*
 * mg_formulas.h -- every op's forward value and local derivative, once.
 *
 * One pair of functions per row of mg_ops.def, named after the row's stem:
 *
 *   fwd_<stem>(operands..., double *out)  writes the IEEE-754 result to *out
 *       and returns MG_OK, or the MG_E* status saying which exception the same
 *       operation on Python floats (or the math module) raises.  The node
 *       builders raise on a status; the tape keeps the IEEE value per lane.
 *   bwd_<stem>(g, operands..., y, ...)    the contribution of a node with
 *       gradient g and value y to its operand: g times the local derivative,
 *       written as PyTorch's float64 autograd writes it, except where that
 *       loses accuracy (docs/design.md, "Accuracy").  It never fails: where a
 *       derivative is infinite or undefined it gives inf or NaN.
 *
 * Both the node graph (mg_ops.c) and the tape's replay (mg_tape.c) call these,
 * so a lane of the tape computes exactly what a node computes.  The Python
 * reference has the same functions, operation for operation, in
 * micrograd/_ops_py.py.  Everything here is compiled with -ffp-contract=off
 * and without fast-math: no fused multiply-adds, no reassociation.
 */
#ifndef MICROGRAD_MG_FORMULAS_H
#define MICROGRAD_MG_FORMULAS_H

#include <math.h>

/* Forward status: which Python exception the same float/math call raises. */
enum {
    MG_OK = 0,
    MG_EZERODIV,   /* ZeroDivisionError */
    MG_EDOM,       /* ValueError (math domain error, or a complex result) */
    MG_ERANGE      /* OverflowError */
};

#define MG_INLINE static inline

/* ---- shared helpers ------------------------------------------------------ */

MG_INLINE int mg_is_odd_integer(double y)
{
    return fmod(fabs(y), 2.0) == 1.0;
}

/* x ** y exactly as CPython's float_pow decides it, except that a complex
 * result is reported as MG_EDOM (ValueError, as math.pow raises).  On an
 * error *out is C's pow(x, y): inf at a pole or on overflow, NaN for a
 * negative base with a fractional exponent. */
MG_INLINE int mg_pow(double x, double y, double *out)
{
    int negate = 0;
    double r;
    if (y == 0.0) { *out = 1.0; return MG_OK; }
    if (isnan(x)) { *out = x; return MG_OK; }
    if (isnan(y)) { *out = (x == 1.0) ? 1.0 : y; return MG_OK; }
    if (isinf(y)) {
        double ax = fabs(x);
        if (ax == 1.0) *out = 1.0;
        else if ((ax > 1.0) == (y > 0.0)) *out = fabs(y);
        else *out = 0.0;
        return MG_OK;
    }
    if (isinf(x)) {
        int odd = mg_is_odd_integer(y);
        if (y > 0.0) *out = odd ? x : fabs(x);
        else *out = odd ? copysign(0.0, x) : 0.0;
        return MG_OK;
    }
    if (x == 0.0) {
        *out = pow(x, y);
        if (y < 0.0) return MG_EZERODIV;
        *out = mg_is_odd_integer(y) ? x : 0.0;
        return MG_OK;
    }
    if (x < 0.0) {
        if (y != floor(y)) { *out = pow(x, y); return MG_EDOM; }
        x = -x;
        negate = mg_is_odd_integer(y);
    }
    if (x == 1.0) { *out = negate ? -1.0 : 1.0; return MG_OK; }
    r = pow(x, y);
    *out = negate ? -r : r;
    return isinf(r) ? MG_ERANGE : MG_OK;
}

/* d(x**y)/dx and d(x**y)/dy as torch's pow_backward and
 * pow_backward_exponent define them, masks included. */
MG_INLINE double mg_pow_dx(double g, double x, double y)
{
    return (y == 0.0) ? 0.0 : g * (y * pow(x, y - 1.0));
}

MG_INLINE double mg_pow_dy(double g, double x, double y, double result)
{
    return (x == 0.0 && y >= 0.0) ? 0.0 : g * (result * log(x));
}

/* The logistic function, in the form that cannot overflow. */
MG_INLINE double mg_sigmoid(double x)
{
    double e;
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    e = exp(x);
    return e / (1.0 + e);
}

MG_INLINE double mg_sgn(double x)
{
    return (x > 0.0) ? 1.0 : ((x < 0.0) ? -1.0 : 0.0);
}

/* IEEE 754-2019 maximum and minimum: NaN if either operand is NaN (the first
 * NaN), and -0.0 < +0.0, so the result does not depend on operand order. */
MG_INLINE double mg_max(double a, double b)
{
    if (isnan(a)) return a;
    if (isnan(b)) return b;
    if (a == b) return signbit(a) ? b : a;
    return (a > b) ? a : b;
}

MG_INLINE double mg_min(double a, double b)
{
    if (isnan(a)) return a;
    if (isnan(b)) return b;
    if (a == b) return signbit(a) ? a : b;
    return (a < b) ? a : b;
}

/* torch's maximum/minimum backward: the whole gradient to the chosen operand,
 * half to each on a tie, the whole to both where an operand is NaN. */
MG_INLINE double mg_pick_grad(double g, int lost, int tie)
{
    return lost ? 0.0 : (tie ? g / 2.0 : g);
}

/* ---- BINARY: two Numbers ------------------------------------------------- */

MG_INLINE int fwd_add(double a, double b, double *out) { *out = a + b; return MG_OK; }
MG_INLINE void bwd_add(double g, double a, double b, double y, double *da, double *db)
{
    (void)a; (void)b; (void)y;
    *da = g;
    *db = g;
}

MG_INLINE int fwd_sub(double a, double b, double *out) { *out = a - b; return MG_OK; }
MG_INLINE void bwd_sub(double g, double a, double b, double y, double *da, double *db)
{
    (void)a; (void)b; (void)y;
    *da = g;
    *db = -g;
}

MG_INLINE int fwd_mul(double a, double b, double *out) { *out = a * b; return MG_OK; }
MG_INLINE void bwd_mul(double g, double a, double b, double y, double *da, double *db)
{
    (void)y;
    *da = g * b;
    *db = g * a;
}

MG_INLINE int fwd_div(double a, double b, double *out)
{
    *out = a / b;
    return (b == 0.0) ? MG_EZERODIV : MG_OK;
}
MG_INLINE void bwd_div(double g, double a, double b, double y, double *da, double *db)
{
    (void)y;
    *da = g / b;
    *db = -g * ((a / b) / b);
}

MG_INLINE int fwd_pow(double a, double b, double *out) { return mg_pow(a, b, out); }
MG_INLINE void bwd_pow(double g, double a, double b, double y, double *da, double *db)
{
    *da = mg_pow_dx(g, a, b);
    *db = mg_pow_dy(g, a, b, y);
}

MG_INLINE int fwd_maximum(double a, double b, double *out) { *out = mg_max(a, b); return MG_OK; }
MG_INLINE void bwd_maximum(double g, double a, double b, double y, double *da, double *db)
{
    (void)y;
    *da = mg_pick_grad(g, a < b, a == b);
    *db = mg_pick_grad(g, b < a, a == b);
}

MG_INLINE int fwd_minimum(double a, double b, double *out) { *out = mg_min(a, b); return MG_OK; }
MG_INLINE void bwd_minimum(double g, double a, double b, double y, double *da, double *db)
{
    (void)y;
    *da = mg_pick_grad(g, a > b, a == b);
    *db = mg_pick_grad(g, b > a, a == b);
}

/* ---- CONST: a Number x and a real c -------------------------------------- */

MG_INLINE int fwd_add_c(double x, double c, double *out) { *out = x + c; return MG_OK; }
MG_INLINE double bwd_add_c(double g, double x, double y, double c)
{
    (void)x; (void)y; (void)c;
    return g;
}

MG_INLINE int fwd_sub_c(double x, double c, double *out) { *out = x - c; return MG_OK; }
MG_INLINE double bwd_sub_c(double g, double x, double y, double c)
{
    (void)x; (void)y; (void)c;
    return g;
}

MG_INLINE int fwd_rsub_c(double x, double c, double *out) { *out = c - x; return MG_OK; }
MG_INLINE double bwd_rsub_c(double g, double x, double y, double c)
{
    (void)x; (void)y; (void)c;
    return -g;
}

MG_INLINE int fwd_mul_c(double x, double c, double *out) { *out = x * c; return MG_OK; }
MG_INLINE double bwd_mul_c(double g, double x, double y, double c)
{
    (void)x; (void)y;
    return g * c;
}

MG_INLINE int fwd_div_c(double x, double c, double *out)
{
    *out = x / c;
    return (c == 0.0) ? MG_EZERODIV : MG_OK;
}
MG_INLINE double bwd_div_c(double g, double x, double y, double c)
{
    (void)x; (void)y;
    return g / c;
}

MG_INLINE int fwd_rdiv_c(double x, double c, double *out)
{
    *out = c / x;
    return (x == 0.0) ? MG_EZERODIV : MG_OK;
}
MG_INLINE double bwd_rdiv_c(double g, double x, double y, double c)
{
    (void)y;
    return -g * ((c / x) / x);
}

MG_INLINE int fwd_pow_c(double x, double c, double *out) { return mg_pow(x, c, out); }
MG_INLINE double bwd_pow_c(double g, double x, double y, double c)
{
    (void)y;
    return mg_pow_dx(g, x, c);
}

MG_INLINE int fwd_rpow_c(double x, double c, double *out) { return mg_pow(c, x, out); }
MG_INLINE double bwd_rpow_c(double g, double x, double y, double c)
{
    return mg_pow_dy(g, c, x, y);
}

MG_INLINE int fwd_maximum_c(double x, double c, double *out) { *out = mg_max(x, c); return MG_OK; }
MG_INLINE double bwd_maximum_c(double g, double x, double y, double c)
{
    (void)y;
    return mg_pick_grad(g, x < c, x == c);
}

MG_INLINE int fwd_minimum_c(double x, double c, double *out) { *out = mg_min(x, c); return MG_OK; }
MG_INLINE double bwd_minimum_c(double g, double x, double y, double c)
{
    (void)y;
    return mg_pick_grad(g, x > c, x == c);
}

/* ---- UNARY --------------------------------------------------------------- */

MG_INLINE int fwd_neg(double x, double *out) { *out = -x; return MG_OK; }
MG_INLINE double bwd_neg(double g, double x, double y)
{
    (void)x; (void)y;
    return -g;
}

MG_INLINE int fwd_abs(double x, double *out) { *out = fabs(x); return MG_OK; }
MG_INLINE double bwd_abs(double g, double x, double y)
{
    (void)y;
    return g * mg_sgn(x);
}

MG_INLINE int fwd_exp(double x, double *out)
{
    *out = exp(x);
    return (isinf(*out) && isfinite(x)) ? MG_ERANGE : MG_OK;
}
MG_INLINE double bwd_exp(double g, double x, double y)
{
    (void)x;
    return g * y;
}

MG_INLINE int fwd_expm1(double x, double *out)
{
    *out = expm1(x);
    return (isinf(*out) && isfinite(x)) ? MG_ERANGE : MG_OK;
}
/* e^x itself, not y + 1, which cancels where y is near -1 */
MG_INLINE double bwd_expm1(double g, double x, double y)
{
    (void)y;
    return g * exp(x);
}

MG_INLINE int fwd_log(double x, double *out)
{
    *out = log(x);
    return (x > 0.0 || isnan(x)) ? MG_OK : MG_EDOM;
}
MG_INLINE double bwd_log(double g, double x, double y)
{
    (void)y;
    return g / x;
}

MG_INLINE int fwd_log1p(double x, double *out)
{
    *out = log1p(x);
    return (x > -1.0 || isnan(x)) ? MG_OK : MG_EDOM;
}
MG_INLINE double bwd_log1p(double g, double x, double y)
{
    (void)y;
    return g / (x + 1.0);
}

MG_INLINE int fwd_sqrt(double x, double *out)
{
    *out = sqrt(x);
    return (x < 0.0) ? MG_EDOM : MG_OK;
}
MG_INLINE double bwd_sqrt(double g, double x, double y)
{
    (void)x;
    return g / (2.0 * y);
}

MG_INLINE int fwd_sin(double x, double *out)
{
    *out = sin(x);
    return isinf(x) ? MG_EDOM : MG_OK;
}
MG_INLINE double bwd_sin(double g, double x, double y)
{
    (void)y;
    return g * cos(x);
}

MG_INLINE int fwd_cos(double x, double *out)
{
    *out = cos(x);
    return isinf(x) ? MG_EDOM : MG_OK;
}
MG_INLINE double bwd_cos(double g, double x, double y)
{
    (void)y;
    return g * -sin(x);
}

MG_INLINE int fwd_atan(double x, double *out) { *out = atan(x); return MG_OK; }
MG_INLINE double bwd_atan(double g, double x, double y)
{
    (void)y;
    return g / (x * x + 1.0);
}

MG_INLINE int fwd_tanh(double x, double *out) { *out = tanh(x); return MG_OK; }
MG_INLINE double bwd_tanh(double g, double x, double y)
{
    (void)x;
    return g * (1.0 - y * y);
}

MG_INLINE int fwd_sigmoid(double x, double *out) { *out = mg_sigmoid(x); return MG_OK; }
MG_INLINE double bwd_sigmoid(double g, double x, double y)
{
    (void)x;
    return (g * (1.0 - y)) * y;
}

MG_INLINE int fwd_relu(double x, double *out) { *out = (x < 0.0) ? 0.0 : x; return MG_OK; }
MG_INLINE double bwd_relu(double g, double x, double y)
{
    (void)x;
    return (y <= 0.0) ? 0.0 : g;
}

/* GELU constants as torch writes them (products of the <math.h> literals,
 * folded in double precision; _ops_py multiplies the same literals). */
#define MG_SQRT1_2 0.70710678118654752440
#define MG_GELU_PDF (1.12837916709551257390 * 0.70710678118654752440 * 0.5)
#define MG_GELU_BETA (1.41421356237309504880 * 1.12837916709551257390 * 0.5)
#define MG_GELU_KAPPA 0.044715

MG_INLINE int fwd_gelu(double x, double *out)
{
    *out = x * 0.5 * (1.0 + erf(x * MG_SQRT1_2));
    return MG_OK;
}
MG_INLINE double bwd_gelu(double g, double x, double y)
{
    double cdf = 0.5 * (1.0 + erf(x * MG_SQRT1_2));
    double pdf = MG_GELU_PDF * exp(x * x * -0.5);
    (void)y;
    return g * (cdf + x * pdf);
}

MG_INLINE int fwd_gelu_tanh(double x, double *out)
{
    double inner = MG_GELU_BETA * (x + MG_GELU_KAPPA * (x * x * x));
    *out = 0.5 * x * (1.0 + tanh(inner));
    return MG_OK;
}
MG_INLINE double bwd_gelu_tanh(double g, double x, double y)
{
    double x_sq = x * x;
    double inner = MG_GELU_BETA * (x + MG_GELU_KAPPA * (x_sq * x));
    double t = tanh(inner);
    double left = 0.5 * x, right = 1.0 + t, dt = 1.0 - t * t;
    /* where tanh has saturated the term is exactly 0, even if x^2 overflowed */
    double right_dx = (dt == 0.0) ? 0.0
                      : left * dt * (MG_GELU_BETA * (1.0 + 3.0 * MG_GELU_KAPPA * x_sq));
    (void)y;
    return g * (0.5 * right + right_dx);
}

MG_INLINE int fwd_silu(double x, double *out) { *out = x * mg_sigmoid(x); return MG_OK; }
MG_INLINE double bwd_silu(double g, double x, double y)
{
    double s = mg_sigmoid(x);
    (void)y;
    return g * (s * (1.0 + x * (1.0 - s)));
}

/* ---- PARAM: a Number x and an activation's parameter c ------------------- */

/* log(1 + e^x) without overflow; x itself above the threshold c, as torch. */
MG_INLINE int fwd_softplus(double x, double c, double *out)
{
    if (x > c) *out = x;
    else *out = (x > 0.0) ? x + log1p(exp(-x)) : log1p(exp(x));
    return MG_OK;
}
MG_INLINE double bwd_softplus(double g, double x, double y, double c)
{
    (void)y;
    return (x > c) ? g : g * mg_sigmoid(x);
}

MG_INLINE int fwd_leaky_relu(double x, double c, double *out)
{
    *out = (x > 0.0) ? x : x * c;
    return MG_OK;
}
MG_INLINE double bwd_leaky_relu(double g, double x, double y, double c)
{
    (void)y;
    return (x > 0.0) ? g : g * c;
}

MG_INLINE int fwd_elu(double x, double c, double *out)
{
    *out = (x <= 0.0) ? c * expm1(x) : x;
    return MG_OK;
}
MG_INLINE double bwd_elu(double g, double x, double y, double c)
{
    (void)y;
    return (x <= 0.0) ? g * (c * exp(x)) : g;
}

/* ---- RANGE: a Number x and bounds lo, hi ---------------------------------- */

/* min(max(x, lo), hi), as torch.clamp: NaN stays NaN, and hi wins if lo > hi */
MG_INLINE int fwd_clamp(double x, double lo, double hi, double *out)
{
    double v = (x < lo) ? lo : x;
    *out = (v > hi) ? hi : v;
    return MG_OK;
}
/* torch's convention: the gradient passes where lo <= x <= hi, bounds included */
MG_INLINE double bwd_clamp(double g, double x, double y, double lo, double hi)
{
    (void)y;
    return (x >= lo && x <= hi) ? g : 0.0;
}

/* ---- SELECT --------------------------------------------------------------- */

/* where(cond, a, b) takes a where cond > 0 (NaN takes b).  Its backward adds
 * g to the picked operand only: the other is skipped, never multiplied by 0,
 * so an inf or NaN in the branch not taken cannot reach any gradient. */
MG_INLINE int mg_where_picks_a(double cond) { return cond > 0.0; }

#endif /* MICROGRAD_MG_FORMULAS_H */
