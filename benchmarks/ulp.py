#!/usr/bin/env python
"""Worst-case error in ulps of micrograd's unary ops, against mpmath and torch.

    python benchmarks/ulp.py              # full run, a table on stdout (~1 minute)
    python benchmarks/ulp.py --quick      # a quarter of the grid
    python benchmarks/ulp.py --json       # the same figures as one JSON object
    python benchmarks/ulp.py --op tanh --op gelu      # a subset
    python benchmarks/ulp.py --check-oracle           # also re-run mpmath at 80 digits

For every op in OPS (below) and every point x of a grid, it computes
  * micrograd's value y and local derivative dy/dx (backward with seed 1.0) on
    both backends, _core and _core_py, and checks that they are bit-identical;
  * torch float64: the whole grid as one tensor with requires_grad, then
    y.backward(torch.ones_like(y)), as users run torch;
  * the truth, with mpmath at 50 significant digits, from formulas written so
    that mpmath itself cancels nothing (sech(x)**2 rather than 1 - tanh(x)**2).
The error of an approximation a of the true t is |a - t| / ulp(t), where ulp(t)
is the spacing of doubles at |t| rounded to double (5e-324 for the subnormal
range).  Points where the truth is undefined, infinite or overflows a double are
skipped; where the truth is a finite double but an approximation is NaN, inf or
(micrograd) raises, that is counted apart, as a non-finite mismatch.

The table gives, per op: the worst value and derivative errors of micrograd and
of torch, the number of grid points where micrograd's error is larger than
torch's (value / derivative; a non-finite mismatch counts as infinitely large),
and the x of micrograd's worst value and worst derivative point.

Ops that micrograd does not have yet (a Number method missing on either
backend) are skipped with a note, so the script runs before and after they land.
To add an op, add one Op(...) entry to OPS.
"""
import argparse
import json
import math
import struct
import sys
import time

import mpmath
from mpmath import mp

import torch
import torch.nn.functional as F

from micrograd import _core, _core_py

DPS = 50
mp.dps = DPS
BACKENDS = (("core", _core), ("python", _core_py))

# tanh-GELU constants exactly as torch (and micrograd) write them, folded in
# double precision: M_SQRT2 * M_2_SQRTPI * 0.5 and 0.044715.  The oracle uses
# these exact double values, so it measures the function torch defines; with
# the real sqrt(2/pi) the error of the constant alone (~6e-17 relative) would
# show up as tens of ulps wherever |u| = |beta*(x + kappa*x^3)| is large.
GELU_BETA = 1.41421356237309504880 * 1.12837916709551257390 * 0.5
GELU_KAPPA = 0.044715
LEAKY_SLOPE = 0.01
SOFTPLUS_THRESHOLD = 20.0


# -- the truth: mpmath helpers taking a double ---------------------------------
def M(x):
    return mp.mpf(x)                       # exact: every double is an mpf


def _sigmoid(x):
    """1 / (1 + e^-x) and its complement 1 / (1 + e^x), each without cancellation."""
    x = M(x)
    return 1 / (1 + mp.exp(-x)), 1 / (1 + mp.exp(x))


def _phi_cdf(x):
    """Normal cdf without cancellation: erfc(-x / sqrt 2) / 2 (mpmath's erfc
    raises OverflowError for huge arguments, where it is 0 or 2 anyway)."""
    z = -M(x) / mp.sqrt(2)
    if z > 1e6:
        return mp.zero
    if z < -1e6:
        return mp.one
    return mp.erfc(z) / 2


def _phi_pdf(x):
    return mp.exp(-M(x) ** 2 / 2) / mp.sqrt(2 * mp.pi)


def _gelu_tanh_parts(x):
    """s = (1 + tanh u) / 2 = sigmoid(2u), its complement, and du/dx."""
    x = M(x)
    b, k = M(GELU_BETA), M(GELU_KAPPA)
    u = b * (x + k * x ** 3)
    return 1 / (1 + mp.exp(-2 * u)), 1 / (1 + mp.exp(2 * u)), b * (1 + 3 * k * x ** 2)


def _gelu_tanh_d(x):
    s, sc, du = _gelu_tanh_parts(x)
    return s + 2 * M(x) * s * sc * du


def _softplus(x):
    if x > SOFTPLUS_THRESHOLD:             # the op is x above the threshold, as torch
        return M(x)
    return mp.log1p(mp.exp(M(x)))


def _log1p(x):
    return mp.log1p(M(x)) if x > -1.0 else None


# -- torch ---------------------------------------------------------------------
# torch evaluates a contiguous float64 tensor with vectorised kernels (ATen's
# Vectorized<double>, which calls SLEEF for exp, log, tanh, erf, sin, ... on
# AVX2/AVX512 builds) and the scalar std:: functions for the tail of each chunk,
# so torch's bits for one x can depend on where x sits in the tensor.  This
# script feeds the whole grid as one tensor, the way users call torch.


class Op:
    """One row of the table.

    name    -- the row's name
    method  -- the Number method micrograd needs (the op is skipped without it)
    ours    -- Number -> Number
    torch   -- tensor -> tensor
    value   -- double x -> mpf truth, None where undefined
    deriv   -- double x -> mpf true derivative, None where undefined
    extra   -- op-specific grid points: a list of (lo, hi, n) linear ranges or floats
    """

    def __init__(self, name, method, ours, torch_fn, value, deriv, extra=()):
        self.name, self.method, self.ours, self.torch = name, method, ours, torch_fn
        self.value, self.deriv, self.extra = value, deriv, extra


def _pos(f):
    return lambda x: f(M(x)) if x > 0.0 else None


OPS = [
    Op("neg", "neg", lambda n: -n, lambda t: -t,
       lambda x: -M(x), lambda x: mp.mpf(-1)),
    Op("abs", "__abs__", lambda n: abs(n), torch.abs,
       lambda x: abs(M(x)), lambda x: mp.mpf((x > 0) - (x < 0))),
    Op("exp", "exp", lambda n: n.exp(), torch.exp,
       lambda x: mp.exp(M(x)), lambda x: mp.exp(M(x)),
       [(-745.2, -700.0, 300), (700.0, 709.9, 200)]),
    Op("log", "log", lambda n: n.log(), torch.log,
       _pos(mp.log), _pos(lambda x: 1 / x),
       [(0.5, 2.0, 400), (1 - 1e-6, 1 + 1e-6, 100)]),
    Op("sqrt", "sqrt", lambda n: n.sqrt(), torch.sqrt,
       lambda x: mp.sqrt(M(x)) if x >= 0.0 else None,
       _pos(lambda x: 1 / (2 * mp.sqrt(x)))),
    Op("sin", "sin", lambda n: n.sin(), torch.sin,
       lambda x: mp.sin(M(x)), lambda x: mp.cos(M(x)),
       [math.pi, 2 * math.pi, 3 * math.pi, 100 * math.pi, 1e22, 1e100, (3.0, 3.3, 100)]),
    Op("cos", "cos", lambda n: n.cos(), torch.cos,
       lambda x: mp.cos(M(x)), lambda x: -mp.sin(M(x)),
       [math.pi / 2, 3 * math.pi / 2, 101 * math.pi / 2, 1e22, 1e100, (1.4, 1.7, 100)]),
    Op("tanh", "tanh", lambda n: n.tanh(), torch.tanh,
       lambda x: mp.tanh(M(x)), lambda x: mp.sech(M(x)) ** 2,
       [(0.2, 1.5, 200), (-1.5, -0.2, 200), (8.0, 20.0, 600), (-20.0, -8.0, 600),
        (350.0, 375.0, 100), (-375.0, -350.0, 100)]),
    Op("sigmoid", "sigmoid", lambda n: n.sigmoid(), torch.sigmoid,
       lambda x: _sigmoid(x)[0], lambda x: _sigmoid(x)[0] * _sigmoid(x)[1],
       [(-1.0, 1.0, 400), (30.0, 40.0, 200), (-40.0, -30.0, 200),
        (-745.2, -700.0, 200), (700.0, 745.2, 200)]),
    Op("relu", "relu", lambda n: n.relu(), torch.relu,
       lambda x: M(max(x, 0.0)), lambda x: mp.mpf(x > 0)),
    Op("gelu", "gelu", lambda n: n.gelu(), F.gelu,
       lambda x: M(x) * _phi_cdf(x), lambda x: _phi_cdf(x) + M(x) * _phi_pdf(x),
       [(-1.0, 1.0, 200), (-40.0, -5.0, 800), (5.0, 40.0, 300)]),
    Op("gelu_tanh", "gelu", lambda n: n.gelu(approximate="tanh"),
       lambda t: F.gelu(t, approximate="tanh"),
       lambda x: M(x) * _gelu_tanh_parts(x)[0], _gelu_tanh_d,
       [(-1.0, 1.0, 200), (-25.0, -3.0, 800), (3.0, 12.0, 300)]),
    Op("silu", "silu", lambda n: n.silu(), F.silu,
       lambda x: M(x) * _sigmoid(x)[0],
       lambda x: _sigmoid(x)[0] * (1 + M(x) * _sigmoid(x)[1]),
       [(-1.5, -1.0, 200), (-40.0, -20.0, 300), (20.0, 40.0, 300),
        (-745.2, -700.0, 300), (700.0, 745.2, 100)]),
    Op("softplus", "softplus", lambda n: n.softplus(1.0, SOFTPLUS_THRESHOLD),
       lambda t: F.softplus(t, beta=1.0, threshold=SOFTPLUS_THRESHOLD),
       _softplus, lambda x: mp.one if x > SOFTPLUS_THRESHOLD else _sigmoid(x)[0],
       [(-1.0, 1.0, 200), (19.0, 21.0, 300), 20.0, math.nextafter(20.0, 30.0),
        math.nextafter(20.0, 0.0), (30.0, 40.0, 100), (-40.0, -30.0, 100),
        (-745.2, -700.0, 200)]),
    Op("leaky_relu", "leaky_relu", lambda n: n.leaky_relu(LEAKY_SLOPE),
       lambda t: F.leaky_relu(t, LEAKY_SLOPE),
       lambda x: M(x) if x > 0.0 else M(x) * M(LEAKY_SLOPE),
       lambda x: mp.one if x > 0.0 else M(LEAKY_SLOPE)),
    Op("elu", "elu", lambda n: n.elu(1.0), lambda t: F.elu(t, 1.0),
       lambda x: M(x) if x > 0.0 else mp.expm1(M(x)),
       lambda x: mp.one if x > 0.0 else mp.exp(M(x)),
       [(-1.0, 0.0, 200), (-40.0, -30.0, 200), (-745.2, -700.0, 200)]),
    # ops about to be added; skipped while the Number method is missing
    Op("log1p", "log1p", lambda n: n.log1p(), torch.log1p,
       _log1p, lambda x: 1 / (1 + M(x)) if x > -1.0 else None,
       [(-1.0, -0.5, 200), -1.0 + 2.0 ** -52, -1.0 + 2.0 ** -30, -1.0 + 1e-10,
        (-1e-3, 1e-3, 200), (0.5, 2.0, 100)]),
    Op("expm1", "expm1", lambda n: n.expm1(), torch.expm1,
       lambda x: mp.expm1(M(x)), lambda x: mp.exp(M(x)),
       [(-1.0, 1.0, 200), (-45.0, -30.0, 300), (-745.2, -700.0, 100), (700.0, 709.9, 100)]),
    Op("atan", "atan", lambda n: n.atan(), torch.atan,
       lambda x: mp.atan(M(x)), lambda x: 1 / (1 + M(x) ** 2),
       [(-3.0, 3.0, 300), 1.34e154, 1.35e154, 1e155, 1e160, 4e161, 5e161, -1.4e154, -1e158]),
    Op("erf", "erf", lambda n: n.erf(), torch.erf,
       lambda x: mp.erf(M(x)), lambda x: 2 / mp.sqrt(mp.pi) * mp.exp(-M(x) ** 2),
       [(-6.0, 6.0, 400), (-27.0, -5.0, 100), (5.0, 27.0, 100)]),
]


# -- the grid ------------------------------------------------------------------
DBL_MIN = 2.2250738585072014e-308
SUBNORMAL_ULP = 5e-324


def base_grid(scale):
    """Dense log-spaced magnitudes 5e-324..1e300, both signs, a dense linear grid
    on [-40, 40], and fixed special points.  scale thins every range."""
    pts = {0.0, -0.0}
    n_log = max(20, int(1400 * scale))             # per sign
    lo, hi = math.log10(5e-324), 300.0
    for i in range(n_log + 1):
        v = 10.0 ** (lo + (hi - lo) * i / n_log)
        pts.update((v, -v))
    n_lin = max(20, int(1601 * scale))
    pts.update(-40.0 + 80.0 * i / (n_lin - 1) for i in range(n_lin))
    for v in (5e-324, 1e-323, 1e-320, 1e-310, 2.225073858507201e-308, DBL_MIN,
              1e-300, 1e-200, 1e-100, 1e-20, 1e-8, 0.5, 1.0, 2.0, 1e8, 1e20,
              1e100, 1e154, 1e200, 1e300):
        pts.update((v, -v))
    return pts


def op_grid(op, base, scale):
    pts = set(base)
    for e in op.extra:
        if isinstance(e, tuple):
            a, b, n = e
            n = max(5, int(n * scale))
            pts.update(a + (b - a) * i / (n - 1) for i in range(n))
        else:
            pts.add(float(e))
    # sorted by value, -0.0 right after 0.0 (sorted() keeps the set's order of ties)
    return sorted(pts, key=lambda v: (v, math.copysign(1.0, v)))


# -- measuring -----------------------------------------------------------------
RAISED = "raised"
OVERFLOW_EDGE = mp.mpf(2) ** 1024 - mp.mpf(2) ** 970   # rounds to inf at and above


def bits(v):
    if isinstance(v, str):
        return v
    return "nan" if v != v else struct.pack("<d", v)


def ours_at(mod, call, x):
    """(value, derivative) of one backend, or (RAISED:<type>,) * 2."""
    n = mod.Number(x)
    try:
        y = call(n)
    except (ArithmeticError, ValueError) as e:
        tag = RAISED + ":" + type(e).__name__
        return tag, tag
    y.backward()
    return y.value, n.gradient


def truth_at(f, x):
    """mpf, or None where the truth is not a finite double (undefined, infinite,
    complex, or overflowing)."""
    try:
        t = f(x)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    if t is None or not isinstance(t, mpmath.mpf) or not mp.isfinite(t):
        return None
    if abs(t) >= OVERFLOW_EDGE:
        return None
    return t


def ulp_of(t):
    a = abs(float(t))
    return SUBNORMAL_ULP if a < DBL_MIN else math.ulp(a)


def ulp_error(a, t):
    """Error of the double a against the truth t (not None), in ulps of t;
    math.inf for a non-finite or raised a."""
    if isinstance(a, str) or not math.isfinite(a):
        return math.inf
    return float(abs(M(a) - t) / ulp_of(t))


def truths(op, grid):
    vt = [truth_at(op.value, x) for x in grid]
    dt = [truth_at(op.deriv, x) for x in grid]
    return vt, dt


def torch_eval(op, grid):
    xt = torch.tensor(grid, dtype=torch.float64, requires_grad=True)
    y = op.torch(xt)
    y.backward(torch.ones_like(y))
    return y.detach().tolist(), xt.grad.tolist()


def summarize(name, grid, vt, dt, ours_v, ours_d, torch_v, torch_d):
    """Per-op figures; ours_* and torch_* are lists of doubles (or RAISED tags)."""
    res = {"op": name, "points": len(grid)}
    for kind, truth, ov, tv in (("value", vt, ours_v, torch_v),
                                ("deriv", dt, ours_d, torch_d)):
        worst = {"ours": (0.0, None), "torch": (0.0, None)}
        nonfinite = {"ours": 0, "torch": 0}
        worse = worse1 = skipped = 0
        margin = (-math.inf, None)          # max over points of ours - torch (both finite)
        for x, t, a, b in zip(grid, truth, ov, tv):
            if t is None:
                skipped += 1
                continue
            ea, eb = ulp_error(a, t), ulp_error(b, t)
            for who, e in (("ours", ea), ("torch", eb)):
                if math.isinf(e):
                    nonfinite[who] += 1
                elif e > worst[who][0]:
                    worst[who] = (e, x)
            if ea > eb:
                worse += 1
                if ea - eb > 1.0 + 1e-9:    # not counting "exactly one ulp" (rounding)
                    worse1 += 1
            if not (math.isinf(ea) or math.isinf(eb)) and ea - eb > margin[0]:
                margin = (ea - eb, x)
        res[kind] = {
            "ours_worst_ulp": worst["ours"][0], "ours_worst_x": worst["ours"][1],
            "torch_worst_ulp": worst["torch"][0], "torch_worst_x": worst["torch"][1],
            "ours_nonfinite": nonfinite["ours"], "torch_nonfinite": nonfinite["torch"],
            "ours_worse_points": worse, "ours_worse_by_1ulp_points": worse1,
            "ours_minus_torch_max_ulp": margin[0] if margin[1] is not None else None,
            "ours_minus_torch_max_x": margin[1],
            "skipped": skipped,
        }
    return res


def measure(op, grid):
    """Evaluate one op on its grid: micrograd (both backends), torch, the truth."""
    ours_v, ours_d, mismatches = [], [], []
    for x in grid:
        (cv, cd), (pv, pd) = (ours_at(mod, op.ours, x) for _, mod in BACKENDS)
        if (bits(cv), bits(cd)) != (bits(pv), bits(pd)):
            mismatches.append({"x": x, "core": [cv, cd], "python": [pv, pd]})
        ours_v.append(cv)
        ours_d.append(cd)
    torch_v, torch_d = torch_eval(op, grid)
    vt, dt = truths(op, grid)
    res = summarize(op.name, grid, vt, dt, ours_v, ours_d, torch_v, torch_d)
    res["backend_mismatches"] = mismatches
    return res, vt, dt


def check_oracle(op, grid, vt, dt, dps=80):
    """Recompute the truth at more digits; count points whose double rounding or
    whose error scale moved (a sign that an oracle formula cancels)."""
    bad = []
    with mp.workdps(dps):
        vt2, dt2 = truths(op, grid)
    for x, a, b in list(zip(grid, vt, vt2)) + list(zip(grid, dt, dt2)):
        if (a is None) != (b is None):
            bad.append(x)
        elif a is not None and abs(a - b) > M(ulp_of(b)) / 10 ** 6:   # in mpf: no underflow
            bad.append(x)
    return bad


def missing(op):
    return [name for name, mod in BACKENDS if not hasattr(mod.Number, op.method)]


def fmt_ulp(e, nonfinite):
    s = "%.3g" % e if e < 1e6 else "%.2e" % e
    return s + (" (+%d nf)" % nonfinite if nonfinite else "")


def fmt_x(x):
    return "-" if x is None else "%.6g" % x


def table(results, notes):
    head = ["op", "ours val", "torch val", "ours der", "torch der",
            "ours worse (val/der)", "x@ours worst (val / der)"]
    rows = []
    for r in results:
        v, d = r["value"], r["deriv"]
        rows.append([r["op"],
                     fmt_ulp(v["ours_worst_ulp"], v["ours_nonfinite"]),
                     fmt_ulp(v["torch_worst_ulp"], v["torch_nonfinite"]),
                     fmt_ulp(d["ours_worst_ulp"], d["ours_nonfinite"]),
                     fmt_ulp(d["torch_worst_ulp"], d["torch_nonfinite"]),
                     "%d/%d" % (v["ours_worse_points"], d["ours_worse_points"]),
                     "%s / %s" % (fmt_x(v["ours_worst_x"]), fmt_x(d["ours_worst_x"]))])
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    out.append("")
    out.append("Worst error in ulps of the true value (mpmath, %d digits); '+N nf' = N grid "
               "points where the truth is a finite double but the result is NaN/inf or "
               "micrograd raised. 'ours worse' counts points where micrograd's error "
               "exceeds torch's (of those, more than 1 ulp worse: %s)."
               % (DPS, ", ".join("%s %d/%d" % (r["op"], r["value"]["ours_worse_by_1ulp_points"],
                                               r["deriv"]["ours_worse_by_1ulp_points"])
                                  for r in results
                                  if r["value"]["ours_worse_by_1ulp_points"]
                                  or r["deriv"]["ours_worse_by_1ulp_points"]) or "none"))
    for n in notes:
        out.append("note: " + n)
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--quick", action="store_true", help="a quarter of the grid")
    ap.add_argument("--op", action="append", help="only these ops (repeatable)")
    ap.add_argument("--check-oracle", action="store_true",
                    help="recompute the truth at 80 digits and report disagreements")
    args = ap.parse_args(argv)
    scale = 0.25 if args.quick else 1.0
    base = base_grid(scale)
    torch.set_num_threads(1)
    results, notes, t0 = [], [], time.perf_counter()
    for op in OPS:
        if args.op and op.name not in args.op:
            continue
        gone = missing(op)
        if gone:
            notes.append("%s skipped: Number.%s missing on %s" % (op.name, op.method,
                                                                 " and ".join(gone)))
            continue
        grid = op_grid(op, base, scale)
        t = time.perf_counter()
        res, vt, dt = measure(op, grid)
        if args.check_oracle:
            res["oracle_disagreements"] = check_oracle(op, grid, vt, dt)
            if res["oracle_disagreements"]:
                notes.append("%s: oracle moved at 80 digits at %d points, e.g. x=%r"
                             % (op.name, len(res["oracle_disagreements"]),
                                res["oracle_disagreements"][0]))
        res["seconds"] = round(time.perf_counter() - t, 2)
        if res["backend_mismatches"]:
            notes.append("%s: the backends differ at %d points, e.g. %r"
                         % (op.name, len(res["backend_mismatches"]), res["backend_mismatches"][0]))
        print("%-11s %5d points  %.1fs" % (op.name, len(grid), res["seconds"]), file=sys.stderr)
        results.append(res)
    identical = all(not r["backend_mismatches"] for r in results)
    if args.json:
        print(json.dumps({"dps": DPS, "torch": torch.__version__,
                          "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
                          "mpmath": mpmath.__version__, "quick": args.quick,
                          "backends_bit_identical": identical, "notes": notes,
                          "seconds": round(time.perf_counter() - t0, 1),
                          "ops": results}, indent=1))
    else:
        print(table(results, notes))
        print("backends bit-identical on every grid point: %s" % ("yes" if identical else "NO"))
        print("(%.1f s, torch %s %s, mpmath %s)" % (time.perf_counter() - t0, torch.__version__,
                                                    torch.backends.cpu.get_cpu_capability(),
                                                    mpmath.__version__))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
