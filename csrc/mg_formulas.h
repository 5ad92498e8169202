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
 * Both the node graph (mg_ops.c) and the tape's replay (mg_replay.c) call these,
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
/* For the few functions written once and specialised on a constant argument. */
#if defined(__GNUC__) || defined(__clang__)
#define MG_SPECIALISE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define MG_SPECIALISE static __forceinline
#else
#define MG_SPECIALISE static inline
#endif

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

/* Error-free transformations (Dekker, Knuth), for the formulas that need
 * more than double precision in an intermediate: a + b = *s + *e and
 * a * b = *p + *e exactly (split by 2^27 + 1; with -ffp-contract=off no
 * multiply-add can fuse).  docs/design.md, "Accuracy", says where and why. */
MG_INLINE void mg_two_sum(double a, double b, double *s, double *e)
{
    double z = a + b, bb = z - a;
    *s = z;
    *e = (a - (z - bb)) + (b - bb);
}

MG_INLINE void mg_split(double a, double *hi, double *lo)
{
    double c = 134217729.0 * a, h = c - (c - a);
    *hi = h;
    *lo = a - h;
}

MG_INLINE void mg_two_prod(double a, double b, double *p, double *e)
{
    double ah, al, bh, bl, z = a * b;
    mg_split(a, &ah, &al);
    mg_split(b, &bh, &bl);
    *p = z;
    *e = ((ah * bh - z) + ah * bl + al * bh) + al * bl;
}

/* e / (1 + e)^2 for 0 <= e <= 1, with the square in double-double: the
 * derivative of the logistic function is this of e^-|x|, and tanh's is four
 * times this of e^-2|x|, without the cancellation of 1 - y*y. */
MG_INLINE double mg_e_over_1pe_sq(double e)
{
    double p = 1.0 + e, pl = e - (p - 1.0), q, ql, r;
    mg_two_prod(p, p, &q, &ql);
    ql += 2.0 * p * pl;
    r = e / q;
    return r - r * (ql / q);
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

/* Comparisons: 1.0 where the relation holds, else 0.0, so false wherever an
 * operand is NaN (IEEE, torch).  They are steps, flat on both sides: the
 * derivative is exactly 0.0 for both operands, not g * 0.0, so an infinite
 * or NaN incoming gradient does not turn into a NaN. */
MG_INLINE double mg_truth(int holds) { return holds ? 1.0 : 0.0; }
MG_INLINE void mg_flat2(double *da, double *db) { *da = 0.0; *db = 0.0; }

MG_INLINE int fwd_gt(double a, double b, double *out) { *out = mg_truth(a > b); return MG_OK; }
MG_INLINE void bwd_gt(double g, double a, double b, double y, double *da, double *db)
{
    (void)g; (void)a; (void)b; (void)y;
    mg_flat2(da, db);
}

MG_INLINE int fwd_ge(double a, double b, double *out) { *out = mg_truth(a >= b); return MG_OK; }
MG_INLINE void bwd_ge(double g, double a, double b, double y, double *da, double *db)
{
    (void)g; (void)a; (void)b; (void)y;
    mg_flat2(da, db);
}

MG_INLINE int fwd_lt(double a, double b, double *out) { *out = mg_truth(a < b); return MG_OK; }
MG_INLINE void bwd_lt(double g, double a, double b, double y, double *da, double *db)
{
    (void)g; (void)a; (void)b; (void)y;
    mg_flat2(da, db);
}

MG_INLINE int fwd_le(double a, double b, double *out) { *out = mg_truth(a <= b); return MG_OK; }
MG_INLINE void bwd_le(double g, double a, double b, double y, double *da, double *db)
{
    (void)g; (void)a; (void)b; (void)y;
    mg_flat2(da, db);
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

/* x against a real c; a real on the left is the mirrored relation
 * (gt(2, x) is lt_c: x < 2) */
MG_INLINE double mg_flat(double g, double x, double y, double c)
{
    (void)g; (void)x; (void)y; (void)c;
    return 0.0;
}

MG_INLINE int fwd_gt_c(double x, double c, double *out) { *out = mg_truth(x > c); return MG_OK; }
MG_INLINE double bwd_gt_c(double g, double x, double y, double c) { return mg_flat(g, x, y, c); }

MG_INLINE int fwd_ge_c(double x, double c, double *out) { *out = mg_truth(x >= c); return MG_OK; }
MG_INLINE double bwd_ge_c(double g, double x, double y, double c) { return mg_flat(g, x, y, c); }

MG_INLINE int fwd_lt_c(double x, double c, double *out) { *out = mg_truth(x < c); return MG_OK; }
MG_INLINE double bwd_lt_c(double g, double x, double y, double c) { return mg_flat(g, x, y, c); }

MG_INLINE int fwd_le_c(double x, double c, double *out) { *out = mg_truth(x <= c); return MG_OK; }
MG_INLINE double bwd_le_c(double g, double x, double y, double c) { return mg_flat(g, x, y, c); }

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
/* y + 1 (torch's) where it is exact enough, e^x below -ln 2, where y + 1
 * cancels */
MG_INLINE double bwd_expm1(double g, double x, double y)
{
    return (x >= -0.6931471805599453) ? g * (y + 1.0) : g * exp(x);
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
/* torch's 1 / (x*x + 1), but without x*x overflowing beyond 1e150 */
MG_INLINE double bwd_atan(double g, double x, double y)
{
    (void)y;
    return (fabs(x) <= 1e150) ? g / (x * x + 1.0) : g / x / x;
}

MG_INLINE int fwd_erf(double x, double *out) { *out = erf(x); return MG_OK; }
/* 2/sqrt(pi) e^(-x*x), the square in double-double (e^-(p+l) = e^-p (1 - l)),
 * so that no rounding of x*x is magnified by the exponential; 0 past |x| = 28,
 * where it underflows anyway */
MG_INLINE double bwd_erf(double g, double x, double y)
{
    double p, l, e;
    (void)y;
    if (fabs(x) > 28.0) return g * 0.0;
    mg_two_prod(x, x, &p, &l);
    e = exp(-p);
    return g * (1.1283791670955126 * (e - e * l));
}

MG_INLINE int fwd_tanh(double x, double *out) { *out = tanh(x); return MG_OK; }
/* torch's 1 - y*y near 0; beyond, sech^2 x = 4e/(1+e)^2 with e = e^-2|x|,
 * which does not cancel where y is near +-1 */
MG_INLINE double bwd_tanh(double g, double x, double y)
{
    if (fabs(x) < 0.25) return g * (1.0 - y * y);
    return g * (4.0 * mg_e_over_1pe_sq(exp(-2.0 * fabs(x))));
}

MG_INLINE int fwd_sigmoid(double x, double *out) { *out = mg_sigmoid(x); return MG_OK; }
/* s(x)(1 - s(x)) = e/(1+e)^2 with e = e^-|x|: (1 - y) cancels for large x */
MG_INLINE double bwd_sigmoid(double g, double x, double y)
{
    (void)y;
    return g * mg_e_over_1pe_sq(exp(-fabs(x)));
}

MG_INLINE int fwd_relu(double x, double *out) { *out = (x < 0.0) ? 0.0 : x; return MG_OK; }
MG_INLINE double bwd_relu(double g, double x, double y)
{
    (void)x;
    return (y <= 0.0) ? 0.0 : g;
}

/* GELU constants as torch writes them (products of the <math.h> literals,
 * folded in double precision; _ops_py multiplies the same literals), and the
 * low parts of two of them, for the tails (the double-double constants). */
#define MG_SQRT1_2 0.70710678118654752440
#define MG_SQRT1_2_LO (-4.833646656726457e-17)
#define MG_TWO_SQRTPI 1.12837916709551257390
#define MG_GELU_PDF (1.12837916709551257390 * 0.70710678118654752440 * 0.5)
#define MG_GELU_PDF_LO (-2.49232720227773e-17)
#define MG_GELU_BETA (1.41421356237309504880 * 1.12837916709551257390 * 0.5)
#define MG_GELU_KAPPA 0.044715

/* erfc(-x / sqrt 2) with the argument in double-double, corrected to first
 * order for its low part: Phi(x) = erfc(-x/sqrt 2) / 2 in the left tail,
 * where 1 + erf(...) would cancel. */
MG_INLINE double mg_erfc_neg_x_over_sqrt2(double x)
{
    double p, q, zh, zl;
    mg_two_prod(-x, MG_SQRT1_2, &p, &q);
    mg_two_sum(p, q + -x * MG_SQRT1_2_LO, &zh, &zl);
    return erfc(zh) - zl * (MG_TWO_SQRTPI * exp(-(zh * zh)));
}

/* the asymptotic series of the Mills ratio, for x < -35 */
MG_INLINE double mg_mills(double t)
{
    return 1.0 + t * (-1.0 + t * (3.0 + t * (-15.0 + t * (105.0 + t * (-945.0 + t * (
        10395.0 + t * (-135135.0 + t * (2027025.0 + t * (-34459425.0)))))))));
}

MG_INLINE double mg_gelu_tail(double x, double poly)
{
    double ph, pl, h;
    mg_two_prod(x, x, &ph, &pl);
    h = exp(-0.25 * ph);
    return (((MG_GELU_PDF * poly) * h) * (1.0 - 0.5 * pl)) * h;
}

/* torch's x/2 (1 + erf(x/sqrt 2)) from -0.5 up; below, where it cancels,
 * erfc in double-double, then the asymptotic tail, then 0 */
MG_INLINE int fwd_gelu(double x, double *out)
{
    double ph, pl;
    if (x >= -0.5) *out = x * 0.5 * (1.0 + erf(x * MG_SQRT1_2));
    else if (x >= -35.0) *out = (0.5 * x) * mg_erfc_neg_x_over_sqrt2(x);
    else if (x >= -40.0) {
        mg_two_prod(x, x, &ph, &pl);
        *out = mg_gelu_tail(x, -mg_mills(1.0 / ph));
    } else {
        *out = x * 0.0;
    }
    return MG_OK;
}

MG_INLINE double bwd_gelu(double g, double x, double y)
{
    double ph, pl, t;
    (void)y;
    if (x >= -0.5) {
        double cdf = 0.5 * (1.0 + erf(x * MG_SQRT1_2));
        double pdf = MG_GELU_PDF * exp(x * x * -0.5);
        return g * (cdf + x * pdf);
    }
    if (x >= -35.0) {
        double cdf = 0.5 * mg_erfc_neg_x_over_sqrt2(x), ah, al, bh, bl, sh, sl;
        mg_two_prod(x, x, &ph, &pl);
        mg_two_prod(x, exp(-0.5 * ph), &ah, &al);
        mg_two_prod(MG_GELU_PDF, ah, &bh, &bl);
        bl += (MG_GELU_PDF * al + MG_GELU_PDF_LO * ah) - bh * (0.5 * pl);
        mg_two_sum(cdf, bh, &sh, &sl);
        return g * (sh + (sl + bl));
    }
    if (x < -40.0) return g * (-0.0 * x);   /* +0, and NaN at -inf as before */
    mg_two_prod(x, x, &ph, &pl);            /* NaN lands here */
    t = 1.0 / ph;
    return g * mg_gelu_tail(x, x * (1.0 - t * mg_mills(t)));
}

/* 2u = 2 beta (x + kappa x^3) in double-double: tanh-GELU is x s(2u), s the
 * logistic function, and its derivative needs 2u to more than double
 * precision where s is far in its tail */
MG_INLINE void mg_gelu_tanh_2u(double x, double *hi, double *lo)
{
    double p, pl, c, cl, k, kl, sm, sl, u, ul;
    mg_two_prod(x, x, &p, &pl);
    mg_two_prod(p, x, &c, &cl);
    cl += pl * x;
    mg_two_prod(MG_GELU_KAPPA, c, &k, &kl);
    kl += MG_GELU_KAPPA * cl;
    mg_two_sum(x, k, &sm, &sl);
    sl += kl;
    mg_two_prod(MG_GELU_BETA, sm, &u, &ul);
    ul += MG_GELU_BETA * sl;
    *hi = 2.0 * u;
    *lo = 2.0 * ul;
}

/* du/dx = beta (1 + 3 kappa x^2), in double-double */
MG_INLINE void mg_gelu_tanh_du(double x, double *hi, double *lo)
{
    double wh, wl, kh, kl, th, tl, sh, sl, dh, dl;
    mg_two_prod(x, x, &wh, &wl);
    mg_two_prod(3.0, MG_GELU_KAPPA, &kh, &kl);
    mg_two_prod(kh, wh, &th, &tl);
    tl += kh * wl + kl * wh;
    mg_two_sum(1.0, th, &sh, &sl);
    sl += tl;
    mg_two_prod(MG_GELU_BETA, sh, &dh, &dl);
    dl += MG_GELU_BETA * sl;
    *hi = dh;
    *lo = dl;
}

/* torch's formula from -0.25 up; below, x s(2u) = x e / (1 + e), e = e^2u */
MG_INLINE int fwd_gelu_tanh(double x, double *out)
{
    double uh, ul;
    if (x >= -0.25) {
        double inner = MG_GELU_BETA * (x + MG_GELU_KAPPA * (x * x * x));
        *out = 0.5 * x * (1.0 + tanh(inner));
        return MG_OK;
    }
    if (x < -30.0) { *out = x * 0.0; return MG_OK; }
    mg_gelu_tanh_2u(x, &uh, &ul);
    if (uh >= -700.0) {
        double e = exp(uh), nh, nl, p, pl, r;
        mg_two_prod(x, e, &nh, &nl);
        p = 1.0 + e;
        pl = e - (p - 1.0);
        r = nh / p;
        *out = r + r * ((ul + nl / nh) - pl / p);
    } else {
        double h = exp(0.5 * uh), a = x * h;
        a = a + a * ul;
        *out = a * h;
    }
    return MG_OK;
}

MG_INLINE double bwd_gelu_tanh(double g, double x, double y)
{
    double uh, ul, dh, dl;
    (void)y;
    if (x >= -0.25 && x < 1.5) {        /* torch's formula */
        double x_sq = x * x;
        double inner = MG_GELU_BETA * (x + MG_GELU_KAPPA * (x_sq * x));
        double t = tanh(inner);
        double left = 0.5 * x, right = 1.0 + t, dt = 1.0 - t * t;
        double right_dx = left * dt * (MG_GELU_BETA * (1.0 + 3.0 * MG_GELU_KAPPA * x_sq));
        return g * (0.5 * right + right_dx);
    }
    if (x > 30.0) return g * 1.0;
    if (x < -30.0) return g * 0.0;
    mg_gelu_tanh_2u(x, &uh, &ul);
    mg_gelu_tanh_du(x, &dh, &dl);
    if (x > 0.0) {
        double e = exp(-uh), p = 1.0 + e, pl = e - (p - 1.0);
        double t = ((2.0 * x) * dh) * (e / p), r = (1.0 + t) / p;
        return g * (r - r * (pl / p));
    } else {
        double mh, ml, e, p, pl, q, rh, rl, corr, a, al, f;
        mg_two_prod(2.0 * x, dh, &mh, &ml);
        ml += (2.0 * x) * dl;
        e = (uh >= -700.0) ? exp(uh) : 0.0;
        p = 1.0 + e;
        pl = e - (p - 1.0);
        q = mh / p;
        mg_two_prod(q, p, &rh, &rl);
        corr = (((mh - rh) - rl) + ml - q * pl) / p;
        mg_two_sum(1.0, q, &a, &al);
        f = a + (al + corr);
        if (uh >= -700.0) {
            double nh, nl, r;
            mg_two_prod(e, f, &nh, &nl);
            r = nh / p;
            return g * (r + ((nl + nh * ul) - r * pl) / p);
        } else {
            double h = exp(0.5 * uh), b = h * f;
            b = b + b * ul;
            return g * (b * h);
        }
    }
}

/* x / (1 + e^-x), and (x e^(x/2)) e^(x/2) below -708, where e^-x overflows */
MG_INLINE int fwd_silu(double x, double *out)
{
    double h;
    if (x >= -708.0) {
        *out = x / (1.0 + exp(-x));
    } else {
        h = exp(0.5 * x);
        *out = (x * h) * h;
    }
    return MG_OK;
}

/* s (1 + x (1 - s)), rearranged so that nothing cancels near its zero at
 * x = -1.2785: in double-double where x < 0 */
MG_INLINE double bwd_silu(double g, double x, double y)
{
    (void)y;
    if (x >= 0.0) {
        double e = exp(-x), p = 1.0 + e, pl = e - (p - 1.0);
        double r = (1.0 + x * (e / p)) / p;
        return g * (r - r * (pl / p));
    }
    if (x >= -708.0) {
        double e = exp(x), p = 1.0 + e, pl = e - (p - 1.0), q = x / p;
        double m, ml, a, al, corr, f, nh, nl, r;
        mg_two_prod(q, p, &m, &ml);
        corr = (((x - m) - ml) - q * pl) / p;
        mg_two_sum(1.0, q, &a, &al);
        f = a + (al + corr);
        mg_two_prod(e, f, &nh, &nl);
        r = nh / p;
        return g * (r + (nl - r * pl) / p);
    } else {
        double h = exp(0.5 * x);
        return g * (((1.0 + x) * h) * h);
    }
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

/* min(max(x, lo), hi), as torch.clamp: NaN stays NaN, a NaN bound gives NaN
 * (as torch.clamp and np.clip), and hi wins if lo > hi */
MG_INLINE int fwd_clamp(double x, double lo, double hi, double *out)
{
    double v = (x < lo) ? lo : x;
    if (lo != lo || hi != hi) {
        *out = (lo != lo) ? lo : hi;
        return MG_OK;
    }
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
