"""micrograd.optimize against scipy's finite differences and JAX, in one run.

    python benchmarks/optimize_bench.py [--runs 9]

Problems: Rosenbrock in 6 and 50 dimensions and the curve fit a*exp(-b*t) + c
on 40 noisy points (0.5 * the sum of squared residuals), each minimised by
L-BFGS-B from the same start; Rosenbrock 6-D also by Newton-CG, where
micrograd and JAX hand scipy a Hessian-vector product as well.

Systems:
  micrograd       micrograd.optimize.minimize on the compiled core, a graph per
                  evaluation (value and gradient from one backward)
  micrograd tape  the same with tape=True: traced once per minimize call (in
                  its time), replayed per evaluation
  scipy FD        scipy.optimize.minimize on a NumPy version of the function,
                  jac=None: scipy's 2-point finite differences (n + 1 calls)
  JAX             jax.jit(jax.value_and_grad(f)) in float64 passed with jac=True
                  (and a jitted hvp for Newton-CG); compiled before the clock
                  starts, the compile time shown apart

Reported, medians of --runs runs after one warm-up run, the systems taking
turns within each run: evaluations per second of what scipy is
handed (value and gradient at the start point, called 200 times per run, the
float/array conversion scipy needs included), the wall time of the whole
minimize call, the evaluations scipy asked for (nfev; for finite differences
every call of f) and how far the answer is from the known optimum.
"""
import gc
import os
import statistics
import sys
import time
import types

import numpy as np
import scipy.optimize as so

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import micrograd as mg                      # noqa: E402
from micrograd import optimize              # noqa: E402

CALLS = 200


# -- the problems, once on Numbers, once in NumPy, once in jax.numpy ---------------------

def rosen_mg(x):
    return sum(100 * (b - a * a) ** 2 + (1 - a) ** 2 for a, b in zip(x, x[1:]))


def rosen_np(xp, x):
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


T = np.linspace(0.0, 4.0, 40)
Y = 2.5 * np.exp(-1.3 * T) + 0.5 + 0.05 * np.random.default_rng(20).standard_normal(len(T))


def fit_mg(p):
    a, b, c = p
    return 0.5 * sum((a * (-b * t).exp() + c - y) ** 2 for t, y in zip(T, Y))


def fit_np(xp, p):
    return 0.5 * xp.sum((p[0] * xp.exp(-p[1] * T) + p[2] - Y) ** 2)


def fit_optimum():
    params, _ = so.curve_fit(lambda t, a, b, c: a * np.exp(-b * t) + c, T, Y, p0=[1.0, 1.0, 0.0])
    return params


PROBLEMS = [
    # name, method, Numbers version, array version, start, optimum
    ("Rosenbrock 6-D", "L-BFGS-B", rosen_mg, rosen_np, [1.3, 0.7, 0.8, 1.9, 1.2, 0.9],
     np.ones(6)),
    ("Rosenbrock 50-D", "L-BFGS-B", rosen_mg, rosen_np, [1.3, 0.7, 0.8, 1.9, 1.2] * 10,
     np.ones(50)),
    ("curve fit, 40 points", "L-BFGS-B", fit_mg, fit_np, [1.0, 1.0, 0.0], fit_optimum()),
    ("Rosenbrock 6-D", "Newton-CG", rosen_mg, rosen_np, [1.3, 0.7, 0.8, 1.9, 1.2, 0.9],
     np.ones(6)),
]


# -- what each system hands scipy ----------------------------------------------------

def handed(fun, x0, method, **kw):
    """The (value, gradient) callable micrograd.optimize.minimize gives scipy:
    its scipy is swapped, for this one call, for a stub that returns it."""
    real = optimize._scipy
    optimize._scipy = types.SimpleNamespace(minimize=lambda f, *a, **k: f)
    try:
        return optimize.minimize(fun, x0, method, **kw)
    finally:
        optimize._scipy = real


def systems(jax, fn_mg, fn_np, x0, method):
    """{system: (the evaluation to time, a function running minimize, compile time)}."""
    out = {}
    for name, tape in (("micrograd", False), ("micrograd tape", True)):
        out[name] = (handed(fn_mg, x0, method, tape=tape),
                     lambda tape=tape: optimize.minimize(fn_mg, x0, method, tape=tape), None)

    def fd_eval(x, f=lambda x: float(fn_np(np, x))):
        return f(x), so.approx_fprime(x, f)            # 2-point, as jac=None does
    if method != "Newton-CG":                          # Newton-CG needs a gradient
        out["scipy FD"] = (fd_eval, lambda: so.minimize(lambda x: float(fn_np(np, x)), x0,
                                                        method=method), None)
    if jax is not None:
        import jax.numpy as jnp
        t0 = time.perf_counter()
        vg = jax.jit(jax.value_and_grad(lambda x: fn_np(jnp, x)))
        grad = jax.grad(lambda x: fn_np(jnp, x))
        hvp = jax.jit(lambda x, v: jax.jvp(grad, (x,), (v,))[1])
        start = np.array(x0, dtype=np.float64)
        vg(start)[1].block_until_ready()
        if method == "Newton-CG":
            hvp(start, start).block_until_ready()
        compile_s = time.perf_counter() - t0

        def jax_eval(x):
            value, g = vg(x)
            return float(value), np.asarray(g)
        extra = {}
        if method == "Newton-CG":
            extra["hessp"] = lambda x, v: np.asarray(hvp(x, v))
        out["JAX"] = (jax_eval, lambda: so.minimize(jax_eval, x0, method=method, jac=True,
                                                    **extra), compile_s)
    return out


def clocked(fn):
    """fn's wall time in seconds, the cyclic GC collected first and off while
    the clock runs (as micrograd/bench does), and fn's result."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out
    finally:
        gc.enable()


def measure(table, x0, optimum, runs):
    """{system: figures}.  The systems take turns within each run, so that a
    burst of load from elsewhere on a shared machine falls on all of them."""
    start = np.array(x0, dtype=np.float64)
    rates = {name: [] for name in table}
    walls = {name: [] for name in table}
    last = {}
    for name, (_, run, _) in table.items():
        run()                                   # a warm-up, not counted
    for _ in range(runs):
        for name, (evaluate, run, _) in table.items():
            seconds, _ = clocked(lambda: [evaluate(start) for _ in range(CALLS)])
            rates[name].append(CALLS / seconds)
            seconds, last[name] = clocked(run)
            walls[name].append(seconds)
    return {name: {"rate": statistics.median(rates[name]),
                   "wall": statistics.median(walls[name]), "nfev": last[name].nfev,
                   "error": float(np.max(np.abs(last[name].x - optimum))),
                   "ok": bool(last[name].success), "compile": table[name][2]}
            for name in table}


def load_jax():
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def main(argv):
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 9
    if mg.BACKEND != "core":
        sys.exit("optimize_bench: the compiled core is not active (build it; unset "
                 "MICROGRAD_PUREPYTHON)")
    jax = load_jax()
    print(f"micrograd {mg.__version__} ({mg.BACKEND}), scipy {__import__('scipy').__version__}, "
          f"JAX {jax.__version__ if jax else 'not installed'}; medians of {runs} runs\n")
    print("| problem | method | system | f+g evals/s | time to converge | nfev "
          "| max abs error | vs micrograd (time) |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name, method, fn_mg, fn_np, x0, optimum in PROBLEMS:
        rows = measure(systems(jax, fn_mg, fn_np, x0, method), x0, optimum, runs)
        base = rows["micrograd"]["wall"]
        for system, r in rows.items():
            note = f" (+{r['compile'] * 1e3:.0f} ms compile)" if r["compile"] else ""
            flag = "" if r["ok"] else " (not converged)"
            print(f"| {name} | {method} | {system} | {r['rate']:,.0f} | "
                  f"{r['wall'] * 1e3:.2f} ms{note} | {r['nfev']} | {r['error']:.1e}{flag} | "
                  f"{r['wall'] / base:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
