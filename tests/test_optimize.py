"""micrograd.optimize: scipy.optimize with exact derivatives, on both backends.

Convergence is checked against known optima with a stated tolerance; what
micrograd hands scipy (gradients, Hessian-vector products) is checked against
the transforms with ==, and a tape against building the graph with ==.
"""
import subprocess
import sys

import numpy as np
import pytest

scipy_optimize = pytest.importorskip("scipy.optimize")

import micrograd as mg                      # noqa: E402
from micrograd import optimize              # noqa: E402
from micrograd.optimize import least_squares, minimize   # noqa: E402


def rosen(x):
    return sum(100 * (b - a * a) ** 2 + (1 - a) ** 2 for a, b in zip(x, x[1:]))


# scipy's own Rosenbrock example start, one more coordinate; from here every
# method reaches the global minimum at ones (from (-1.2, 1, ...) some stop at
# the local minimum near (-1, 1, ..., 1) that 6-D Rosenbrock has)
ROSEN_X0 = [1.3, 0.7, 0.8, 1.9, 1.2, 0.9]


def numbers(impl, values):
    """x0 as Numbers of impl: they pick the backend minimize works in."""
    return [impl.Number(v) for v in values]


# -- Rosenbrock --------------------------------------------------------------------

@pytest.mark.parametrize("method, options", [
    ("L-BFGS-B", {"ftol": 1e-15, "gtol": 1e-10}),
    ("Newton-CG", {"xtol": 1e-10}),
    ("trust-ncg", {"gtol": 1e-10}),
    ("trust-exact", {"gtol": 1e-10}),
])
def test_rosenbrock_6d_converges_to_ones(impl, method, options):
    res = minimize(rosen, numbers(impl, ROSEN_X0), method=method, options=options)
    assert res.success, res.message
    assert np.max(np.abs(res.x - 1.0)) < 1e-7          # the optimum is x = 1 exactly
    assert res.fun < 1e-14
    if method in ("Newton-CG", "trust-ncg"):
        assert res.nhev > 0                         # the exact hvp was used
    if method == "trust-exact":
        assert res.nhev > 0                         # the exact Hessian was used


# -- curve fit ----------------------------------------------------------------------

def curve_data():
    rng = np.random.default_rng(20)
    t = np.linspace(0.0, 4.0, 40)
    y = 2.5 * np.exp(-1.3 * t) + 0.5 + 0.05 * rng.standard_normal(len(t))
    return t, y


def curve_residuals(p):
    t, y = curve_data()
    a, b, c = p
    return [a * (-b * ti).exp() + c - yi for ti, yi in zip(t, y)]


@pytest.fixture(scope="module")
def curve_fit_params():
    t, y = curve_data()
    params, _ = scipy_optimize.curve_fit(lambda t, a, b, c: a * np.exp(-b * t) + c, t, y,
                                         p0=[1.0, 1.0, 0.0])
    return params


# the fits stop at their solvers' default tolerances (about 1e-8 relative in
# the parameters, measured 1e-7 at the most); 1e-6 relative leaves a margin
FIT_RTOL = 1e-6


def test_curve_fit_with_least_squares(impl, curve_fit_params):
    res = least_squares(curve_residuals, numbers(impl, [1.0, 1.0, 0.0]))
    assert res.success, res.message
    np.testing.assert_allclose(res.x, curve_fit_params, rtol=FIT_RTOL)
    assert res.njev > 0


def test_curve_fit_with_minimize(impl, curve_fit_params):
    res = minimize(lambda p: 0.5 * sum(r * r for r in curve_residuals(p)),
                   numbers(impl, [1.0, 1.0, 0.0]), method="Newton-CG")
    assert res.success, res.message
    np.testing.assert_allclose(res.x, curve_fit_params, rtol=FIT_RTOL)


def test_least_squares_jacobian_is_the_transforms(impl, monkeypatch):
    seen = []
    real = scipy_optimize.least_squares

    def spy(fun, x0, jac, **kw):
        def recording(x):
            seen.append((x.copy(), fun(x), jac(x)))
            return seen[-1][2]
        return real(fun, x0, jac=recording, **kw)

    monkeypatch.setattr(optimize._scipy, "least_squares", spy)
    least_squares(curve_residuals, numbers(impl, [1.0, 1.0, 0.0]))
    assert seen
    for x, values, jac in seen:
        point = numbers(impl, x)
        expected = mg.jacobian(lambda *p: curve_residuals(p))(*point)
        assert jac.dtype == np.float64 and jac.tolist() == expected
        assert values.tolist() == [r.value for r in curve_residuals(point)]


# -- bounds and constraints ------------------------------------------------------------

def bowl(x):
    return (x[0] - 3.0) ** 2 + (x[1] + 1.0) ** 2


# trust-constr keeps off a bound by a barrier: with its defaults it stops 4e-4
# short of the bound, so it is started and ended with a smaller barrier
@pytest.mark.parametrize("method, options", [
    ("L-BFGS-B", {}), ("TNC", {}),
    ("trust-constr", {"gtol": 1e-12, "xtol": 1e-14, "barrier_tol": 1e-12,
                      "initial_barrier_parameter": 1e-3})])
def test_an_active_bound(impl, method, options):
    # the unconstrained minimum (3, -1) is outside x <= 2: the answer is (2, -1)
    res = minimize(bowl, numbers(impl, [0.5, 0.5]), method=method,
                   bounds=[(0.0, 2.0), (-5.0, 5.0)], options=options)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, [2.0, -1.0], atol=1e-6)


def test_slsqp_equality_constraint(impl):
    # nearest point to the origin on x + y = 1
    # SLSQP's default ftol (1e-6, on the objective) stops it 5e-4 from the answer
    res = minimize(lambda v: v[0] * v[0] + v[1] * v[1], numbers(impl, [2.0, -3.0]),
                   method="SLSQP", options={"ftol": 1e-12},
                   constraints=[{"type": "eq", "fun": lambda v: v[0] + v[1] - 1.0}])
    assert res.success, res.message
    np.testing.assert_allclose(res.x, [0.5, 0.5], atol=1e-6)


def test_slsqp_inequality_constraint(impl):
    # (2, 1) projected onto the half plane x + y <= 2: (1.5, 0.5)
    res = minimize(lambda v: (v[0] - 2.0) ** 2 + (v[1] - 1.0) ** 2, numbers(impl, [0.0, 0.0]),
                   method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda v: 2.0 - v[0] - v[1],
                                 "jac": lambda v: np.array([-1.0, -1.0])}])
    assert res.success, res.message
    np.testing.assert_allclose(res.x, [1.5, 0.5], atol=1e-6)


def test_trust_constr_with_a_constraint_uses_hvp(impl):
    constraint = scipy_optimize.LinearConstraint([[1.0, 1.0]], 1.0, 1.0)
    res = minimize(lambda v: v[0] * v[0] + v[1] * v[1], numbers(impl, [2.0, -3.0]),
                   method="trust-constr", constraints=[constraint])
    assert res.success, res.message
    np.testing.assert_allclose(res.x, [0.5, 0.5], atol=1e-6)
    assert res.nhev > 0


# -- what scipy is handed --------------------------------------------------------------

def spy_minimize(monkeypatch):
    """Record every (x, value, gradient) and (x, p, hvp) minimize hands scipy."""
    evaluations, products = [], []
    real = scipy_optimize.minimize

    def spy(fun, x0, jac, hessp=None, **kw):
        def recording(x):
            value, g = fun(x)
            evaluations.append((x.copy(), value, g.copy()))
            return value, g

        def recording_hessp(x, p):
            products.append((x.copy(), p.copy(), hessp(x, p)))
            return products[-1][2]
        if hessp is not None:
            kw["hessp"] = recording_hessp
        return real(recording, x0, jac=jac, **kw)

    monkeypatch.setattr(optimize._scipy, "minimize", spy)
    return evaluations, products


@pytest.mark.parametrize("tape", [False, True])
def test_gradient_and_hvp_are_the_transforms_bits(impl, monkeypatch, tape):
    evaluations, products = spy_minimize(monkeypatch)
    minimize(rosen, numbers(impl, ROSEN_X0), method="Newton-CG", tape=tape)
    assert evaluations and products
    f = lambda *x: rosen(x)                                     # noqa: E731
    argnums = tuple(range(len(ROSEN_X0)))
    for x, value, g in evaluations:
        expected_value, expected = mg.value_and_grad(f, argnums)(*numbers(impl, x))
        assert type(value) is float and value == expected_value
        assert g.dtype == np.float64 and g.tolist() == list(expected)
        assert g.tolist() == list(mg.grad(f, argnums)(*numbers(impl, x)))
    for x, p, hp in products:
        assert hp.tolist() == mg.hvp(f, numbers(impl, x), p.tolist())


@pytest.mark.parametrize("method", ["L-BFGS-B", "BFGS", "Newton-CG"])
def test_tape_gives_the_same_trajectory(impl, method):
    def run(tape):
        path = []
        res = minimize(rosen, numbers(impl, ROSEN_X0), method=method, tape=tape,
                       callback=lambda xk, *rest: path.append(np.copy(xk)))
        return res, path

    (plain, plain_path), (taped, taped_path) = run(False), run(True)
    assert len(plain_path) == len(taped_path) > 0
    assert all(a.tolist() == b.tolist() for a, b in zip(plain_path, taped_path))
    assert plain.x.tolist() == taped.x.tolist() and plain.fun == taped.fun
    assert plain.jac.tolist() == taped.jac.tolist() and plain.nfev == taped.nfev


def test_the_active_backend_for_reals():
    res = minimize(rosen, ROSEN_X0, method="L-BFGS-B")
    again = minimize(rosen, numbers(mg, ROSEN_X0), method="L-BFGS-B")
    assert res.x.tolist() == again.x.tolist()


def test_args_and_closed_over_numbers(impl):
    # fun(x, *args); a Number fun closes over keeps its gradient and value
    w = impl.Number(2.0)
    w.gradient = 0.25
    res = minimize(lambda x, shift: (x[0] * w - shift) ** 2, numbers(impl, [0.0]),
                   args=(3.0,), method="BFGS")
    np.testing.assert_allclose(res.x, [1.5], atol=1e-6)
    assert (w.value, w.gradient) == (2.0, 0.25)


# -- bad input ---------------------------------------------------------------------

def untraceable(x):
    return x[0] * x[0] if x[0].value > 0 else -x[0]      # a Python if on a value


BAD = {
    "user jac": (lambda m: minimize(rosen, numbers(m, [1.0, 2.0]), jac=True), TypeError),
    "user hessp": (lambda m: minimize(rosen, numbers(m, [1.0, 2.0]), method="Newton-CG",
                                      hessp=lambda x, p: p), TypeError),
    "lsq jac": (lambda m: least_squares(curve_residuals, numbers(m, [1.0, 1.0, 0.0]),
                                        jac="2-point"), TypeError),
    "returns a list": (lambda m: minimize(lambda x: [x[0]], numbers(m, [1.0])), TypeError),
    "returns a float": (lambda m: minimize(lambda x: 1.0, numbers(m, [1.0])), TypeError),
    "residual a Number": (lambda m: least_squares(lambda x: x[0], numbers(m, [1.0])),
                          TypeError),
    "a float residual": (lambda m: least_squares(lambda x: [x[0], 1.0], numbers(m, [1.0])),
                         TypeError),
    "x0 a Number": (lambda m: minimize(rosen, m.Number(1.0)), TypeError),
    "x0 empty": (lambda m: minimize(rosen, []), ValueError),
    "untraceable": (lambda m: minimize(untraceable, numbers(m, [1.0]), tape=True),
                    mg.TraceError),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_alike_on_both_backends(both, case):
    call, kind = BAD[case]
    messages = []
    for m in both:
        with pytest.raises(kind) as info:
            call(m)
        assert type(info.value) is kind
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_bad_input_messages_say_what_to_do(impl):
    with pytest.raises(TypeError, match="jac is what micrograd.optimize computes"):
        BAD["user jac"][0](impl)
    with pytest.raises(TypeError, match="fun must return one Number, not list"):
        BAD["returns a list"][0](impl)
    with pytest.raises(mg.TraceError, match=r"minimize\(tape=True\) traces fun once") as info:
        BAD["untraceable"][0](impl)
    assert "pass tape=False" in str(info.value)
    # the same function runs op by op, where an if on a value is fine
    res = minimize(untraceable, numbers(impl, [1.0]), method="BFGS")
    assert abs(res.x[0]) < 1e-4


def test_without_scipy_the_import_names_the_extra():
    code = ("import sys; sys.modules['scipy'] = None\n"
            "try:\n    import micrograd.optimize\n"
            "except ImportError as exc:\n    print(type(exc).__name__, exc.name); print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "ModuleNotFoundError scipy",
        'micrograd.optimize needs scipy: pip install "micrograd-core[optimize]"']
