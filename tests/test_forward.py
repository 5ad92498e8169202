"""Forward mode: micrograd.jvp and micrograd.jacfwd.

Every op of the table against torch.func.jvp in float64 (1e-12 relative), at
random points and at its edge points; random graphs give the same bits on
both backends; jacfwd gives jacobian's rows; forward-over-reverse is mg.hvp
and reverse-over-forward torch's; an input without a tangent contributes
nothing (JAX's symbolic zero), where a 0.0 would make a NaN of an infinite
partial; no .gradient anyone can see moves.
"""
import math

import pytest
from hypothesis import given

import micrograd as mg
from graphs import programs, run, same_float
from test_higher import BINARY, UNARY, points

# torch.func reaches torch.jit.script, which torch 2.13 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")

REL = 1e-12


def close(a, b, rel=REL):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-300 + rel * max(abs(a), abs(b))


def torch_jvp(torch, theirs, xs, vs):
    from torch.func import jvp
    t = [torch.tensor(v, dtype=torch.float64) for v in xs]
    tv = [torch.tensor(v, dtype=torch.float64) for v in vs]
    out, tan = jvp(lambda *a: theirs(torch, *a), tuple(t), tuple(tv))
    return out.item(), tan.item()


CASES = [(name, row) for table in (UNARY, BINARY) for name, row in table.items()]


@pytest.mark.parametrize("name,row", CASES, ids=[c[0] for c in CASES])
def test_every_op_agrees_with_torch_func_jvp(impl, torch, name, row):
    ours, theirs, domains, edges = row
    for k, xs in enumerate(points(domains, edges, 6, seed=len(name))):
        vs = [1.5 - 0.75 * i for i in range(len(xs))]
        value, tangent = mg.jvp(lambda *a: ours(impl, *a), [impl.Number(x) for x in xs], vs)
        tvalue, ttangent = torch_jvp(torch, theirs, xs, vs)
        assert value == tvalue or close(value, tvalue), (name, xs)
        assert close(tangent, ttangent), (name, xs, tangent, ttangent)


def test_jacfwd_agrees_with_torch_func_jacfwd(impl, torch):
    from torch.func import jacfwd

    def ours(x, y, z):
        h = (x * y).tanh() + mg.maximum(z, 0.25) * x.exp()
        return [h, impl.dot([x, y, 2.0], [y.sin(), z * z, x]), (z ** 2.5).log1p() / y]

    def theirs(x, y, z):
        h = (x * y).tanh() + torch.maximum(z, torch.tensor(0.25, dtype=torch.float64)) * x.exp()
        return torch.stack([h, x * y.sin() + y * (z * z) + 2.0 * x, (z ** 2.5).log1p() / y])

    xs = (0.7, -1.3, 0.4)
    got = mg.jacfwd(ours)(*[impl.Number(v) for v in xs])
    want = jacfwd(theirs, argnums=(0, 1, 2))(*[torch.tensor(v, dtype=torch.float64) for v in xs])
    for i in range(3):
        for j in range(3):
            assert close(got[i][j], want[j][i].item()), (i, j)


def _jvp_of_program(mod, program, vs):
    inputs, _ = program

    def f(*xs):
        return run(mod, (list(xs), program[1]), leaves=True)[0][-1]
    return mg.jvp(f, [mod.Number(v) for v in inputs], vs)


@given(programs())
def test_random_graphs_give_the_same_bits_on_both_backends(both, program):
    core, ref = both
    vs = [0.5 + i for i in range(len(program[0]))]
    a, b = _jvp_of_program(core, program, vs), _jvp_of_program(ref, program, vs)
    assert same_float(a[0], b[0]) and same_float(a[1], b[1]), (a, b)


@given(programs())
def test_jacfwd_columns_are_jvps(impl, program):
    """Column j of jacfwd is jvp along e_j with the other inputs given no
    tangent, bit for bit (one sweep each, on one graph)."""
    inputs, steps = program
    n = len(inputs)

    def f(*xs):
        return run(impl, (list(xs), steps), leaves=True)[0][-1]
    J = mg.jacfwd(f)(*[impl.Number(v) for v in inputs])
    assert len(J) == 1 and len(J[0]) == n
    leaves = [impl.Number(v) for v in inputs]
    out = f(*leaves)
    for j in range(n):
        col = [1.0 if i == j else None for i in range(n)]
        assert same_float(J[0][j], impl.forward_tangents([out], leaves, [col])[0][0])


def test_an_input_without_a_tangent_contributes_nothing(impl):
    # d sqrt(y) / dy is inf at 0: the column of x must not pick up 0 * inf
    f = lambda x, y: x + y.sqrt()                                   # noqa: E731
    args = [impl.Number(2.0), impl.Number(0.0)]
    assert mg.jacfwd(f)(*args) == [[1.0, math.inf]] == mg.jacobian(f)(*args)
    # a 0.0 the caller gives is a tangent like any other, as in JAX
    assert math.isnan(mg.jvp(f, args, [1.0, 0.0])[1])
    # a constant's infinite partial never meets a tangent at all
    w = impl.Number(0.0)
    assert mg.jvp(lambda x: x * w.sqrt(), [impl.Number(3.0)], [1.0]) == (0.0, 0.0)


def test_jacfwd_gives_jacobians_rows(impl):
    f = lambda x, y: (x * y, x.log() * y, x + 1.0, y.tanh())        # noqa: E731
    args = [impl.Number(0.7), impl.Number(-1.3)]
    fwd, rev = mg.jacfwd(f)(*args), mg.jacobian(f)(*args)
    assert len(fwd) == len(rev) == 4
    for a, b in zip(fwd, rev):
        assert all(close(x, y, 1e-15) for x, y in zip(a, b))
    assert mg.jacfwd(lambda x, y: x * y)(*args) == [[-1.3, 0.7]]


def test_shapes_follow_the_function(impl):
    x = impl.Number(0.5)
    assert mg.jvp(lambda v: v * 3.0, [x], [2.0]) == (1.5, 6.0)
    assert mg.jvp(lambda v: (v, v * v), [x], [2.0]) == ((0.5, 0.25), (2.0, 2.0))
    assert mg.jvp(lambda v: [v * 2.0], [x], [1.0]) == ([1.0], [2.0])
    # an output that does not depend on the inputs has tangent 0.0
    c = impl.Number(4.0)
    assert mg.jvp(lambda v: c * 2.0, [x], [1.0]) == (8.0, 0.0)


def test_forward_over_reverse_is_the_hessian_vector_product(impl):
    def f(x, y):
        return (x * y).sin() * x.exp() + y ** 3

    xs, vs = [0.7, -0.4], [1.5, -2.0]
    _, hv = mg.jvp(mg.grad(f, (0, 1)), [impl.Number(v) for v in xs], vs)
    want = mg.hvp(f, [impl.Number(v) for v in xs], vs)
    assert all(close(a, b) for a, b in zip(hv, want))


def test_reverse_over_forward_and_forward_over_forward(impl, torch):
    from torch.func import grad, jvp

    def second_dd(x):      # d/dx of the derivative of f along 2.0, at x
        return mg.jvp(lambda u: u.sin() * u.exp(), [x], [2.0])[1]

    def t_second_dd(x):
        return jvp(lambda u: u.sin() * u.exp(), (x,), (torch.tensor(2.0, dtype=torch.float64),))[1]

    t = torch.tensor(0.3, dtype=torch.float64)
    assert close(mg.grad(second_dd)(impl.Number(0.3)), grad(t_second_dd)(t).item())
    # jvp of jvp: the second derivative along (2.0, then 1.0)
    _, dd = mg.jvp(second_dd, [impl.Number(0.3)], [1.0])
    assert close(dd, jvp(t_second_dd, (t,), (torch.tensor(1.0, dtype=torch.float64),))[1].item())


def test_no_visible_gradient_moves(impl):
    w, b = impl.Number(0.3), impl.Number(-0.2)
    w.gradient, b.gradient = 5.0, -7.0
    hidden = w * b                   # an interior node f closes over
    (hidden * 2.0).backward()
    before = [w.gradient, b.gradient, hidden.gradient]
    out = mg.jvp(lambda x: (x * w + b).tanh() * hidden, [impl.Number(0.8)], [1.0])
    assert [w.gradient, b.gradient, hidden.gradient] == before
    assert out == mg.jvp(lambda x: (x * w + b).tanh() * hidden, [impl.Number(0.8)], [1.0])


def test_bad_use_says_what_is_wrong(impl):
    x = impl.Number(1.0)
    with pytest.raises(ValueError, match=r"^jvp: 1 primals but 2 tangents$"):
        mg.jvp(lambda v: v, [x], [1.0, 2.0])
    with pytest.raises(TypeError, match="must return a Number, not float"):
        mg.jvp(lambda v: 2.0, [x], [1.0])
    with pytest.raises(TypeError, match="must return a Number, not str"):
        mg.jacfwd(lambda v: [v, "no"])(x)
    with pytest.raises(ValueError, match="2 inputs but a column of 1"):
        impl.forward_tangents([x], [x, x], [[1.0]])
    with pytest.raises(TypeError, match="expected Numbers, not int"):
        impl.forward_tangents([1], [x], [[1.0]])


def test_bad_tangents_raise_the_same_on_both_backends(both):
    errors = []
    for mod in both:
        with pytest.raises(TypeError) as info:
            mg.jvp(lambda v: v * 2.0, [mod.Number(1.0)], ["a"])
        errors.append(str(info.value))
    assert errors[0] == errors[1]


def test_where_takes_the_picked_branchs_tangent_or_none(impl):
    w = impl.Number(3.0)
    f = lambda x: impl.where(x, x * x, w)                          # noqa: E731
    assert mg.jvp(f, [impl.Number(2.0)], [1.0]) == (4.0, 4.0)
    # the branch picked is a weight: no tangent at all, so 0.0 (not w's partial)
    assert mg.jvp(f, [impl.Number(-1.0)], [1.0]) == (3.0, 0.0)
    # stop_gradient passes no tangent either, as JAX's
    assert mg.jvp(lambda x: x.stop_gradient() * x, [impl.Number(2.0)], [1.0]) == (4.0, 2.0)


# -- random compositions over every op, against torch.func ------------------------------
def _draw_composition(rng, n=5):
    """A random composition of n ops of test_higher's tables over inputs a, b:
    each step applies a unary row to an earlier value or a binary row to two."""
    steps = []
    for _ in range(n):
        if rng.random() < 0.5:
            steps.append(("u", rng.choice(sorted(UNARY)), rng.randrange(2 + len(steps))))
        else:
            steps.append(("b", rng.choice(sorted(BINARY)), rng.randrange(2 + len(steps)),
                          rng.randrange(2 + len(steps))))
    return steps


def _run_composition(steps, mod, torch_mod, a, b):
    vals = [a, b]
    for step in steps:
        if step[0] == "u":
            ours, theirs = UNARY[step[1]][:2]
            args = (vals[step[2]],)
        else:
            ours, theirs = BINARY[step[1]][:2]
            args = (vals[step[2]], vals[step[3]])
        vals.append(ours(mod, *args) if torch_mod is None else theirs(torch_mod, *args))
    return vals[-1]


@pytest.mark.parametrize("seed", range(40))
def test_random_compositions_of_every_op_agree_with_torch_func(impl, torch, seed):
    import random
    from torch.func import jacfwd as t_jacfwd, jvp as t_jvp
    rng = random.Random(seed)
    steps = _draw_composition(rng)
    xs = (rng.uniform(0.2, 1.2), rng.uniform(0.2, 1.2))
    vs = (rng.uniform(-1, 1), rng.uniform(-1, 1))
    try:
        value, tangent = mg.jvp(lambda a, b: _run_composition(steps, impl, None, a, b),
                                [impl.Number(x) for x in xs], vs)
        J = mg.jacfwd(lambda a, b: _run_composition(steps, impl, None, a, b))(
            *[impl.Number(x) for x in xs])
    except (ArithmeticError, ValueError):
        pytest.skip("the composition leaves an op's domain op by op")
    f = lambda a, b: _run_composition(steps, None, torch, a, b)     # noqa: E731
    t = [torch.tensor(x, dtype=torch.float64) for x in xs]
    tv = [torch.tensor(v, dtype=torch.float64) for v in vs]
    tvalue, ttangent = t_jvp(f, tuple(t), tuple(tv))
    tJ = t_jacfwd(f, argnums=(0, 1))(*t)
    if not math.isfinite(tvalue.item()):
        pytest.skip("outside torch's finite range")

    def near(a, b):
        # relative, with an absolute floor below 1: a composition may cancel
        # terms of order 1 to a rounding residue (-4e-16 against torch's 0.0)
        return a == b or abs(a - b) <= 1e-10 * max(abs(a), abs(b), 1.0)
    assert near(value, tvalue.item()), steps
    assert near(tangent, ttangent.item()), (steps, tangent, ttangent.item())
    assert all(near(J[0][j], tJ[j].item()) for j in range(2)), (steps, J)


def test_jacfwd_nests_inside_grad(impl):
    # d/dx of d(u*u*x)/du at u = x, which is 2*x*x: 4*x
    got = mg.grad(lambda x: mg.jacfwd(lambda u: u * u * x)(x)[0][0])(impl.Number(0.5))
    assert got == 2.0
