"""Higher-order gradients: backward(create_graph=True), grad of grad, hessian,
hvp and jacobian.

Second derivatives of every op and activation are checked against torch's
double backward in float64 (relative 1e-10, with an absolute floor of 1e-13
for results that are zero up to rounding), on random points and on the edge
points (the kinks of relu, abs, clamp, leaky_relu and elu, and the branch
points of where, maximum and minimum).  The two backends give the same bits.
Third derivatives of a few compositions are checked against central finite
differences of second derivatives.
"""
import math
import random
import sys

import pytest
from hypothesis import given

import micrograd
from conftest import CORE
from graphs import programs, run, same_float
from micrograd import transforms

REL, ABS = 1e-10, 1e-13


def close(a, b, rel=REL, abs_tol=ABS):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= abs_tol + rel * max(abs(a), abs(b))


def same_bits(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


# name: (ours(impl, *xs), torch(t, *xs), domain of each operand, edge points)
def _u(method):
    return lambda m, x: getattr(x, method)()


def _tu(fn):
    return lambda t, x: fn(t)(x)


ANY = (-3.0, 3.0)
POS = (0.05, 4.0)
UNARY = {
    "neg": (lambda m, x: -x, lambda t, x: -x, [ANY], []),
    "abs": (lambda m, x: abs(x), lambda t, x: x.abs(), [ANY], [0.0]),
    "exp": (_u("exp"), _tu(lambda t: t.exp), [ANY], []),
    "expm1": (_u("expm1"), _tu(lambda t: t.expm1), [ANY], [0.0]),
    "log": (_u("log"), _tu(lambda t: t.log), [POS], [1.0]),
    "log1p": (_u("log1p"), _tu(lambda t: t.log1p), [(-0.9, 3.0)], [0.0]),
    "sqrt": (_u("sqrt"), _tu(lambda t: t.sqrt), [POS], [1.0]),
    "sin": (_u("sin"), _tu(lambda t: t.sin), [ANY], [0.0]),
    "cos": (_u("cos"), _tu(lambda t: t.cos), [ANY], [0.0]),
    "atan": (_u("atan"), _tu(lambda t: t.atan), [ANY], [0.0]),
    "erf": (_u("erf"), _tu(lambda t: t.erf), [ANY], [0.0]),
    "tanh": (_u("tanh"), _tu(lambda t: t.tanh), [ANY], [0.0]),
    "sigmoid": (_u("sigmoid"), _tu(lambda t: t.sigmoid), [ANY], [0.0]),
    "relu": (_u("relu"), _tu(lambda t: t.relu), [ANY], [0.0]),
    "gelu": (_u("gelu"), _tu(lambda t: t.nn.functional.gelu), [ANY], [0.0]),
    "gelu_tanh": (lambda m, x: x.gelu(approximate="tanh"),
                  lambda t, x: t.nn.functional.gelu(x, approximate="tanh"), [ANY], [0.0]),
    "silu": (_u("silu"), _tu(lambda t: t.nn.functional.silu), [ANY], [0.0]),
    "softplus": (_u("softplus"), _tu(lambda t: t.nn.functional.softplus), [ANY], [0.0]),
    "softplus_beta": (lambda m, x: x.softplus(beta=2.0, threshold=3.0),
                      lambda t, x: t.nn.functional.softplus(x, beta=2.0, threshold=3.0),
                      [ANY], [1.25, 1.75]),
    "leaky_relu": (lambda m, x: x.leaky_relu(0.1),
                   lambda t, x: t.nn.functional.leaky_relu(x, 0.1), [ANY], [0.0]),
    "elu": (lambda m, x: x.elu(1.5), lambda t, x: t.nn.functional.elu(x, 1.5), [ANY],
            [-1e-9, 1e-9]),
    "clamp": (lambda m, x: x.clamp(-1.0, 0.5), lambda t, x: x.clamp(-1.0, 0.5), [ANY],
              [-1.0, 0.5]),
    "stop_gradient": (lambda m, x: x.stop_gradient() * x, lambda t, x: x.detach() * x,
                      [ANY], []),
    "add_c": (lambda m, x: x + 2.5, lambda t, x: x + 2.5, [ANY], []),
    "rsub_c": (lambda m, x: 2.5 - x, lambda t, x: 2.5 - x, [ANY], []),
    "mul_c": (lambda m, x: x * 2.5, lambda t, x: x * 2.5, [ANY], []),
    "div_c": (lambda m, x: x / 2.5, lambda t, x: x / 2.5, [ANY], []),
    "rdiv_c": (lambda m, x: 2.5 / x, lambda t, x: 2.5 / x, [POS], [1.0]),
    "pow_c": (lambda m, x: x ** 2.5, lambda t, x: x ** 2.5, [POS], [1.0]),
    "pow_3": (lambda m, x: x ** 3, lambda t, x: x ** 3, [ANY], [0.0]),
    "rpow_c": (lambda m, x: 2.5 ** x, lambda t, x: 2.5 ** x, [ANY], [0.0]),
    # a tie shares the gradient, as torch.maximum with a tensor does (clamp would not)
    "maximum_c": (lambda m, x: m.maximum(x * x, 1.0),
                  lambda t, x: t.maximum(x * x, t.tensor(1.0, dtype=t.float64)), [ANY], [1.0]),
    "minimum_c": (lambda m, x: m.minimum(x * x, 1.0),
                  lambda t, x: t.minimum(x * x, t.tensor(1.0, dtype=t.float64)), [ANY], [1.0]),
}
BINARY = {
    "add": (lambda m, a, b: a + b, lambda t, a, b: a + b, [ANY, ANY], []),
    "sub": (lambda m, a, b: a - b, lambda t, a, b: a - b, [ANY, ANY], []),
    "mul": (lambda m, a, b: a * b, lambda t, a, b: a * b, [ANY, ANY], []),
    "div": (lambda m, a, b: a / b, lambda t, a, b: a / b, [ANY, POS], []),
    "pow": (lambda m, a, b: a ** b, lambda t, a, b: a ** b, [POS, ANY], [(1.0, 2.0)]),
    # the kink of max/min under a curve, and the tie itself
    "maximum": (lambda m, a, b: m.maximum(a * a, b * b * b), lambda t, a, b:
                t.maximum(a * a, b * b * b), [ANY, ANY], [(1.0, 1.0), (0.0, 0.0)]),
    "minimum": (lambda m, a, b: m.minimum(a * a, b * b * b), lambda t, a, b:
                t.minimum(a * a, b * b * b), [ANY, ANY], [(1.0, 1.0), (-1.0, 1.0)]),
    "where": (lambda m, a, b: m.where(a - b, a * a * b, b.sin() * a),
              lambda t, a, b: t.where(a - b > 0, a * a * b, b.sin() * a), [ANY, ANY],
              [(1.0, 1.0), (0.5, 0.5)]),
    "sum": (lambda m, a, b: m.sum([a * a, a * b, b.exp(), 2.0]),
            lambda t, a, b: a * a + a * b + b.exp() + 2.0, [ANY, ANY], []),
    "dot": (lambda m, a, b: m.dot([a, b, 3.0], [b.sin(), a * a, b]),
            lambda t, a, b: a * b.sin() + b * (a * a) + 3.0 * b, [ANY, ANY], []),
}


def points(domains, edges, n, seed):
    rng = random.Random(seed)
    out = [tuple(rng.uniform(lo, hi) for lo, hi in domains) for _ in range(n)]
    for e in edges:
        out.append(e if isinstance(e, tuple) else (e,))
    return out


def hessian_ours(m, f, xs):
    """The Hessian by backward(create_graph=True) and a backward of each grad_node."""
    leaves = [m.Number(v) for v in xs]
    out = f(m, *leaves)
    out.backward(create_graph=True)
    first = [x.gradient for x in leaves]
    rows = []
    for i, x in enumerate(leaves):
        node = x.grad_node
        for y in leaves:
            y.gradient = 0.0
        if node is not None:
            node.backward()
        rows.append([y.gradient for y in leaves])
    return first, rows


def hessian_torch(torch, tf, xs):
    leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in xs]
    out = tf(torch, *leaves)
    grads = torch.autograd.grad(out, leaves, create_graph=True, allow_unused=True)
    first = [0.0 if g is None else g.item() for g in grads]
    rows = []
    for g in grads:
        if g is None or not g.requires_grad:
            rows.append([0.0] * len(xs))
            continue
        second = torch.autograd.grad(g, leaves, allow_unused=True, retain_graph=True)
        rows.append([0.0 if s is None else s.item() for s in second])
    return first, rows


def compose(f):
    """f inside a curve and under one, so the incoming gradient is itself a graph."""
    return lambda m, *xs: f(m, *[x * 0.75 + 0.125 for x in xs]).sin()


def tcompose(tf):
    return lambda t, *xs: tf(t, *[x * 0.75 + 0.125 for x in xs]).sin()


CASES = [(name, row, False) for name, row in {**UNARY, **BINARY}.items()] + \
        [(name + "_composed", row, True) for name, row in {**UNARY, **BINARY}.items()]


@pytest.mark.parametrize("name,row,composed", CASES, ids=[c[0] for c in CASES])
def test_second_derivatives_match_torch_double_backward(impl, torch, name, row, composed):
    ours, theirs, domains, edges = row
    if composed:
        ours, theirs = compose(ours), tcompose(theirs)
    for xs in points(domains, edges, 12, name):
        first, rows = hessian_ours(impl, ours, xs)
        tfirst, trows = hessian_torch(torch, theirs, xs)
        assert all(close(a, b) for a, b in zip(first, tfirst)), (xs, first, tfirst)
        for r, tr in zip(rows, trows):
            assert all(close(a, b) for a, b in zip(r, tr)), (xs, rows, trows)


@pytest.mark.parametrize("name,row,composed", CASES, ids=[c[0] for c in CASES])
def test_second_derivatives_are_the_same_bits_on_both_backends(both, name, row, composed):
    core, ref = both
    ours = compose(row[0]) if composed else row[0]
    for xs in points(row[2], row[3], 8, name):
        c, r = hessian_ours(core, ours, xs), hessian_ours(ref, ours, xs)
        flat_c = c[0] + [v for rw in c[1] for v in rw]
        flat_r = r[0] + [v for rw in r[1] for v in rw]
        assert all(same_bits(a, b) for a, b in zip(flat_c, flat_r)), (xs, c, r)


# where the first derivative's branch is taken at the boundary point itself,
# torch's double backward masks with the other comparison and gives 0
BOUNDARIES = [("softplus_beta", 1.5, lambda: 2.0 * _ds(3.0)),    # beta*x == threshold
              ("elu", 0.0, lambda: 1.5)]                        # x == 0: alpha*exp(0)


def _ds(v):
    s = 1.0 / (1.0 + math.exp(-v))
    return s * (1.0 - s)


@pytest.mark.parametrize("name,x,expected", BOUNDARIES, ids=[b[0] for b in BOUNDARIES])
def test_at_a_boundary_we_differentiate_the_branch_backward_took(impl, torch, name, x,
                                                                  expected):
    """At these points torch's first derivative takes the curved branch, but its
    double backward gives 0; ours differentiates the branch the first
    derivative took, so it stays the derivative of what backward computes
    (docs/higher.md)."""
    first, rows = hessian_ours(impl, UNARY[name][0], (x,))
    tfirst, trows = hessian_torch(torch, UNARY[name][1], (x,))
    assert close(first[0], tfirst[0])
    assert trows == [[0.0]]
    assert close(rows[0][0], expected())


def test_create_graph_leaves_the_float_gradients_as_plain_backward_does(impl):
    def build():
        x, y = impl.Number(0.7), impl.Number(-1.3)
        z = (x * y).tanh() + (x / y).exp() * x.sigmoid() + impl.maximum(x, y) ** 2
        return x, y, z
    x, y, z = build()
    z.backward()
    plain = (x.gradient, y.gradient)
    x, y, z = build()
    z.backward(create_graph=True)
    assert (x.gradient, y.gradient) == plain
    # the graph computes the derivative with torch's formulas as ops, the float
    # pass with the fused ones of the op table: the same to a few ulp
    assert close(x.grad_node.value, plain[0], rel=1e-14)
    assert close(y.grad_node.value, plain[1], rel=1e-14)


def test_grad_node_is_none_before_a_create_graph_pass_and_follows_the_latest(impl):
    x = impl.Number(2.0)
    assert x.grad_node is None
    (x * x * x).backward()
    assert x.grad_node is None
    (x * x * x).backward(create_graph=True)
    assert x.grad_node.value == 12.0
    (x * x).backward(create_graph=True)
    assert x.grad_node.value == 4.0          # the latest pass's graph, not a sum
    assert x.gradient == 12.0 + 12.0 + 4.0   # the float accumulates, as always
    x.grad_node = None
    assert x.grad_node is None
    with pytest.raises(TypeError, match="grad_node must be a Number"):
        x.grad_node = 3.0


def test_gradient_graphs_can_be_differentiated_again_through_a_model(impl):
    """A gradient penalty: d/dw of (d loss / d x)^2, against torch."""
    torch = pytest.importorskip("torch")
    w = [impl.Number(v) for v in (0.3, -0.8, 1.1)]
    x = impl.Number(0.4)
    loss = (x * w[0] + w[1]).tanh() * w[2]
    loss.backward(create_graph=True)
    penalty = x.grad_node * x.grad_node
    for p in w:
        p.gradient = 0.0
    penalty.backward()
    tw = torch.tensor([0.3, -0.8, 1.1], dtype=torch.float64, requires_grad=True)
    tx = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    tl = torch.tanh(tx * tw[0] + tw[1]) * tw[2]
    g, = torch.autograd.grad(tl, tx, create_graph=True)
    (g * g).backward()
    assert all(close(p.gradient, t) for p, t in zip(w, tw.grad.tolist()))


THIRD = [
    ("tanh(x y) + x^3", lambda x, y: (x * y).tanh() + x ** 3),
    ("exp(sin x) / y", lambda x, y: x.sin().exp() / y),
    ("sigmoid(x) log(y)", lambda x, y: x.sigmoid() * y.log()),
    ("gelu(x y) + erf(x)", lambda x, y: (x * y).gelu() + x.erf()),
]


@pytest.mark.parametrize("label,f", THIRD, ids=[t[0] for t in THIRD])
def test_third_derivatives_match_finite_differences_of_second(impl, label, f):
    d2 = transforms.grad(transforms.grad(f))     # d2 f / dx2 at (x, y)
    d3 = transforms.grad(transforms.grad(transforms.grad(f)))
    x0 = impl.Number(0.6)
    y0 = impl.Number(1.4)
    h = 1e-5
    numeric = (d2(impl.Number(0.6 + h), y0) - d2(impl.Number(0.6 - h), y0)) / (2 * h)
    exact = d3(x0, y0)
    assert math.isclose(exact, numeric, rel_tol=1e-6, abs_tol=1e-8), (exact, numeric)


def test_grad_of_grad_is_the_second_derivative(impl, torch):
    f = lambda x: x.tanh() * x              # noqa: E731
    got = transforms.grad(transforms.grad(f))(impl.Number(0.3))
    x = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    g, = torch.autograd.grad(torch.tanh(x) * x, x, create_graph=True)
    g2, = torch.autograd.grad(g, x)
    assert close(got, g2.item())
    # on plain floats too, and the caller's Number keeps its gradient
    x0 = impl.Number(0.3)
    x0.gradient = 5.0
    assert transforms.grad(transforms.grad(f))(x0) == got and x0.gradient == 5.0
    assert transforms.grad(transforms.grad(f))(0.3) == got


def _f2(x, y):
    return (x * y).sin() + x.exp() * y.tanh() + (x / y).sigmoid() + x.atan() * y.log()


def _t2(t):
    return lambda x, y: (torch_sin(t, x * y) + t.exp(x) * t.tanh(y) + t.sigmoid(x / y)
                         + t.atan(x) * t.log(y))


def torch_sin(t, x):
    return t.sin(x)


def test_hessian_hvp_and_jacobian_match_torch(impl, torch):
    xs = (0.7, 1.3)
    tx = tuple(torch.tensor(v, dtype=torch.float64) for v in xs)
    H = transforms.hessian(_f2)(*[impl.Number(v) for v in xs])
    tH = torch.autograd.functional.hessian(_t2(torch), tx)
    assert all(close(H[i][j], tH[i][j].item()) for i in range(2) for j in range(2))
    assert H[0][1] == H[1][0] or close(H[0][1], H[1][0])
    v = [1.0, -2.0]
    hv = transforms.hvp(_f2, [impl.Number(x) for x in xs], v)
    _, thv = torch.autograd.functional.hvp(_t2(torch), tx, tuple(
        torch.tensor(e, dtype=torch.float64) for e in v))
    assert all(close(a, b.item()) for a, b in zip(hv, thv))

    def fs(x, y):
        return x * y, x + y, x.exp() * y
    J = transforms.jacobian(fs)(*xs)
    tJ = torch.autograd.functional.jacobian(
        lambda x, y: (x * y, x + y, torch.exp(x) * y), tx)
    assert all(close(J[i][j], tJ[i][j].item()) for i in range(3) for j in range(2))
    assert transforms.jacobian(_f2)(*xs) == [list(transforms.grad(_f2, (0, 1))(*xs))]


def test_hessian_of_a_function_that_ignores_an_input_has_a_zero_row(impl):
    H = transforms.hessian(lambda x, y: x * x * x)(2.0, 5.0)
    assert H == [[12.0, 0.0], [0.0, 0.0]]


def test_hvp_equals_the_hessian_times_the_vector(impl):
    xs, v = (0.2, -0.4, 0.9), (0.5, 1.5, -1.0)

    def f(a, b, c):
        return (a * b * c).tanh() + (a - c).exp() * b.sin()
    H = transforms.hessian(f)(*xs)
    hv = transforms.hvp(f, xs, v)
    for row, got in zip(H, hv):
        assert close(got, sum(h * e for h, e in zip(row, v)), rel=1e-13)
    with pytest.raises(ValueError, match="2 points but 3 vector entries"):
        transforms.hvp(f, xs[:2], v)


def test_newtons_method_converges_quadratically(impl):
    """The docs' example: Newton's method on a smooth function of two variables."""
    def f(x, y):
        return (x - 1.0) ** 4 + (x - 2.0 * y) ** 2 + (y * 0.5).exp()
    point = [0.0, 0.0]
    for _ in range(30):
        g = transforms.grad(f, (0, 1))(*point)
        H = transforms.hessian(f)(*point)
        det = H[0][0] * H[1][1] - H[0][1] * H[1][0]
        step = [(H[1][1] * g[0] - H[0][1] * g[1]) / det, (H[0][0] * g[1] - H[1][0] * g[0]) / det]
        point = [point[0] - step[0], point[1] - step[1]]
    g = transforms.grad(f, (0, 1))(*point)
    assert max(abs(e) for e in g) < 1e-12


def test_top_level_names(impl):
    for name in ("hessian", "hvp", "jacobian", "detect_anomaly", "is_anomaly_enabled",
                 "AnomalyError"):
        assert name in micrograd.__all__ and hasattr(micrograd, name)
    assert micrograd.hessian is transforms.hessian


def _unary_rows():
    from micrograd import _optable as T
    return [op.name for op in T.of_kind("UNARY")]


@pytest.mark.parametrize("name", _unary_rows())
def test_every_unary_row_differentiates_twice_the_same_on_both_backends(both, name):
    """Any row of the table, a new one included: the second derivative has the
    same bits on both backends, or both say the op has no rule (its first
    derivative still works; CONTRIBUTING.md)."""
    results = []
    for impl in both:
        got = []
        for v in (0.3, 0.9, 1.7):
            x = impl.Number(v)
            y = getattr(x, name)()
            try:
                y.backward(create_graph=True)
                x.gradient = 0.0
                x.grad_node.backward()
                got.append(x.gradient)
            except NotImplementedError as exc:
                got.append(str(exc))
        results.append(got)
    assert len(results[0]) == 3
    assert all(same_bits(a, b) if isinstance(a, float) else a == b
               for a, b in zip(*results)), results


def test_a_backward_run_by_a_finalizer_during_the_sweep_cannot_corrupt_it(impl):
    """The core's sweep keeps each node's position in its gradient field while
    it runs; a backward on the same graph from a finalizer (the one way other
    code can run inside it) overwrites them.  The sweep then stops with an
    error instead of indexing with a float it did not write, and the graph's
    gradients are as before."""
    import gc
    x, y = impl.Number(0.5), impl.Number(-1.5)
    root = impl.sum([(x * y).tanh() * x.sin() for _ in range(200)])
    root.backward()
    before = (x.gradient, y.gradient)

    left = [10**6]

    class Trap:                              # garbage that leaves garbage behind it
        def __del__(self):
            root.backward()
            if left[0] > 0:
                left[0] -= 1
                t = Trap()
                t.self = t
    old = gc.get_threshold()
    gc.collect()
    gc.disable()
    t = Trap()
    t.self = t
    del t
    gc.set_threshold(1)
    gc.enable()
    try:
        try:
            graphs = impl.gradient_graphs(root)
            error = None
        except RuntimeError as exc:
            error = str(exc)
        if impl is CORE and sys.version_info < (3, 12):
            # the collector runs at an allocation, inside the sweep
            assert error is not None and "backward ran on the same graph" in error
        else:
            # the reference keeps dicts (nothing to overwrite); from 3.12 the
            # collector runs only between bytecodes, never inside the core's sweep
            assert error is None
            assert close(graphs[id(x)].value, before[0], rel=1e-13)
        assert left[0] < 10**6               # the finalizers did run
    finally:
        gc.set_threshold(*old)
        left[0] = 0
        gc.collect()
    x.gradient, y.gradient = 0.0, 0.0
    root.backward()
    assert (x.gradient, y.gradient) == before
    graphs = impl.gradient_graphs(root)
    assert close(graphs[id(x)].value, before[0], rel=1e-13)
    assert close(graphs[id(y)].value, before[1], rel=1e-13)


@given(programs())
def test_random_graphs_differentiate_twice_with_the_same_bits_on_both_backends(both, program):
    """Random programs over every op (special values included): the gradient
    graphs of backward(create_graph=True), and a backward of each, give the
    same bits on both backends, and the float gradients are those of a plain
    backward."""
    results = []
    for impl in both:
        nodes, outcomes = run(impl, program)
        leaves = nodes[:len(program[0])]
        root = impl.sum(nodes[len(program[0]):])
        root.backward()
        plain = [x.gradient for x in leaves]
        for x in leaves:
            x.gradient = 0.0
        root.backward(create_graph=True)
        got = [outcomes, plain, [x.gradient for x in leaves]]
        for x in leaves:
            node = x.grad_node
            got.append(None if node is None else node.value)
            for y in leaves:
                y.gradient = 0.0
            if node is not None:
                node.backward()
            got.append([y.gradient for y in leaves])
        assert all(same_float(a, b) for a, b in zip(got[1], got[2]))
        results.append(got)
    core, ref = results
    assert core[0] == ref[0]
    flat = []
    for c, r in zip(core[1:], ref[1:]):
        if isinstance(c, list):
            flat += list(zip(c, r))
        else:
            assert (c is None) == (r is None)
            if c is not None:
                flat.append((c, r))
    assert all(same_float(a, b) for a, b in flat), (core, ref)
