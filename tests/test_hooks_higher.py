"""Hooks under backward(create_graph=True), as torch runs them: called once,
on the gradient as a Number; what they return is the gradient's graph from
then on (a real: a constant, whose derivative is 0), in .gradient and in
grad_node alike; and an exception in one changes nothing."""
import math
import random

import pytest

from graphs import same_float

# torch's own warning about create_graph's reference cycle: what we compare with
pytestmark = pytest.mark.filterwarnings("ignore:Using backward.. with create_graph")


@pytest.fixture(autouse=True)
def _no_graph_left(request):
    """A leaf's grad_node refers back to it (torch's create_graph cycle), so a
    hooked leaf would stay alive, and its hook live, for the rest of the
    session, sending every later backward down the watched path: each test
    lists its leaves here and they let go of their graphs at the end."""
    leaves = []
    yield leaves
    for n in leaves:
        n.grad_node = None


def _t(torch, v):
    return torch.tensor(v, dtype=torch.float64, requires_grad=True)


def _value(g):
    return g if isinstance(g, float) else float(g)


def test_a_constant_hook_makes_the_gradient_a_constant(impl, torch, _no_graph_left):
    """The issue's example: .gradient was 3.0 but grad_node 36.0."""
    x = impl.Number(2.0)
    _no_graph_left.append(x)
    h = x * 3.0
    h.register_hook(lambda g: 1.0)
    (h * h).backward(create_graph=True)
    tx = _t(torch, 2.0)
    th = tx * 3.0
    th.register_hook(lambda g: torch.ones_like(g))
    (th * th).backward(create_graph=True)
    assert x.gradient == x.grad_node.value == tx.grad.item() == 3.0
    # torch's gradient no longer depends on x: its derivative is 0
    assert not tx.grad.requires_grad
    gn = x.grad_node
    x.gradient = 0.0
    gn.backward()
    assert x.gradient == 0.0


def test_a_leaf_hook_shapes_grad_node_as_it_shapes_gradient(impl, torch, _no_graph_left):
    """The issue's example: .gradient 8.0 but grad_node 4.0."""
    x = impl.Number(2.0)
    _no_graph_left.append(x)
    x.register_hook(lambda g: 2 * g)
    (x * x).backward(create_graph=True)
    tx = _t(torch, 2.0)
    tx.register_hook(lambda g: 2 * g)
    (tx * tx).backward(create_graph=True)
    assert x.gradient == x.grad_node.value == tx.grad.item() == 8.0
    gn, tgn = x.grad_node, tx.grad
    x.gradient, tx.grad = 0.0, None
    gn.backward()
    tgn.backward()                     # the leaf's hook runs again, in both
    assert x.gradient == tx.grad.item() == 8.0


def test_hooks_are_called_once_with_a_number_and_float_backward_keeps_floats(impl,
                                                                           _no_graph_left):
    x = impl.Number(1.5)
    _no_graph_left.append(x)
    h = x.sin()
    seen = []
    h.register_hook(lambda g: seen.append(g))
    x.register_hook(lambda g: seen.append(g))
    (h * x).backward(create_graph=True)
    assert [type(g) for g in seen] == [impl.Number, impl.Number]
    assert [g.value for g in seen] == [1.5, h.value + 1.5 * math.cos(1.5)]
    assert x.gradient == seen[1].value and x.grad_node is seen[1]
    seen.clear()
    (h * x).backward()
    assert [type(g) for g in seen] == [float, float]


def test_a_hook_that_raises_under_create_graph_changes_nothing(impl, _no_graph_left):
    """No .gradient, no grad_node, no other hook: as before the call."""
    a, b = impl.Number(2.0), impl.Number(3.0)
    _no_graph_left.extend([a, b])
    a.gradient, b.gradient = 10.0, 20.0
    (a * b).backward(create_graph=True)
    old = a.grad_node, b.grad_node
    a.gradient, b.gradient = 10.0, 20.0
    calls = []
    b.register_hook(lambda g: calls.append(g))
    ab = a * b
    ab.register_hook(lambda g: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        ((ab + a) * 2.0).backward(create_graph=True)
    assert (a.gradient, b.gradient, calls) == (10.0, 20.0, [])
    assert (a.grad_node, b.grad_node) == old and ab.gradient == 0.0
    # a hook returning what is not a number: the same error as without create_graph
    ab2 = a * b
    ab2.register_hook(lambda g: "two")
    for create_graph in (False, True):
        with pytest.raises(TypeError) as info:
            ab2.backward(create_graph=create_graph)
        assert "str" in str(info.value)
        assert (a.gradient, b.gradient) == (10.0, 20.0)


def test_gradient_graphs_run_hooks_too(impl, torch):
    """As torch.autograd.grad runs tensor hooks: grad of grad sees them."""
    x = impl.Number(0.7)
    h = x * x
    h.register_hook(lambda g: g * 3.0)
    y = h.sin()
    gs = impl.gradient_graphs(y)
    tx = _t(torch, 0.7)
    th = tx * tx
    th.register_hook(lambda g: g * 3.0)
    (tg,) = torch.autograd.grad(th.sin(), tx, create_graph=True)
    assert gs[id(x)].value == pytest.approx(tg.item(), rel=1e-15)
    (tg2,) = torch.autograd.grad(tg, tx)
    g2 = impl.gradient_graphs(gs[id(x)])
    assert g2[id(x)].value == pytest.approx(tg2.item(), rel=1e-14)


# -- random graphs with random hooks, against torch and across the backends ------------
HOOKS = [
    ("scale", lambda g: g * 1.5, lambda g: g * 1.5),
    ("square", lambda g: g * g, lambda g: g * g),
    ("const", lambda g: 0.25, None),
    ("none", lambda g: None, lambda g: None),
    ("sin", lambda g: g.sin() if not isinstance(g, float) else math.sin(g),
     lambda g: g.sin()),
]


def _program(rnd):
    """[(op, i, j, hook index or None)]: a small graph over three leaves."""
    steps = []
    for k in range(rnd.randint(3, 9)):
        n = 3 + k
        steps.append((rnd.choice(["mul", "add", "sin", "tanh", "exp_small", "sub"]),
                      rnd.randrange(n), rnd.randrange(n),
                      rnd.randrange(len(HOOKS)) if rnd.random() < 0.4 else None))
    leaf_hooks = [rnd.randrange(len(HOOKS)) if rnd.random() < 0.4 else None for _ in range(3)]
    return steps, leaf_hooks


def _apply(op, a, b, torch_side):
    if op == "mul":
        return a * b
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "sin":
        return a.sin()
    if op == "tanh":
        return a.tanh()
    return (a * 0.1).exp()


def _run(make, program, torch_side, torch=None):
    steps, leaf_hooks = program
    leaves = [make(v) for v in (0.3, -0.8, 1.1)]
    nodes = list(leaves)
    for k, hk in enumerate(leaf_hooks):
        if hk is not None:
            _add_hook(leaves[k], hk, torch_side, torch)
    for op, i, j, hk in steps:
        n = _apply(op, nodes[i], nodes[j], torch_side)
        if hk is not None:
            _add_hook(n, hk, torch_side, torch)
        nodes.append(n)
    return leaves, nodes[-1] * nodes[-2] + nodes[-1]


def _add_hook(n, hk, torch_side, torch):
    name, ours, theirs = HOOKS[hk]
    if torch_side:
        if theirs is None:
            n.register_hook(lambda g: torch.full_like(g, 0.25))
        else:
            n.register_hook(theirs)
    else:
        n.register_hook(ours)


@pytest.mark.parametrize("seed", range(40))
def test_random_hooked_graphs_match_torch_to_second_order(impl, torch, seed, _no_graph_left):
    program = _program(random.Random(seed))
    leaves, out = _run(impl.Number, program, False)
    _no_graph_left.extend(leaves)
    tleaves, tout = _run(lambda v: _t(torch, v), program, True, torch)
    out.backward(create_graph=True)
    tout.backward(create_graph=True)
    for n, t in zip(leaves, tleaves):
        want = 0.0 if t.grad is None else t.grad.item()
        assert same_float(n.gradient, want) or n.gradient == pytest.approx(want, rel=1e-12), \
            (seed, n.gradient, want)
        if n.grad_node is not None:
            assert n.grad_node.value == pytest.approx(n.gradient, rel=1e-12, abs=1e-300)
    # the second order: d/d leaves of the sum of the gradients that have graphs
    graphs = [(n, t) for n, t in zip(leaves, tleaves)
              if n.grad_node is not None and t.grad is not None and t.grad.requires_grad]
    if not graphs:
        return
    total = graphs[0][0].grad_node
    ttotal = graphs[0][1].grad
    for n, t in graphs[1:]:
        total = total + n.grad_node
        ttotal = ttotal + t.grad
    for n, t in zip(leaves, tleaves):
        n.gradient, t.grad = 0.0, None
    total.backward()
    ttotal.backward()
    for n, t in zip(leaves, tleaves):
        want = 0.0 if t.grad is None else t.grad.item()
        assert n.gradient == pytest.approx(want, rel=1e-11, abs=1e-12), (seed, n.gradient, want)


@pytest.mark.parametrize("seed", range(40))
def test_random_hooked_graphs_give_the_same_bits_on_both_backends(both, seed, _no_graph_left):
    program = _program(random.Random(seed))
    got = []
    for impl in both:
        leaves, out = _run(impl.Number, program, False)
        _no_graph_left.extend(leaves)
        out.backward(create_graph=True)
        row = [n.gradient for n in leaves]
        row += [None if n.grad_node is None else n.grad_node.value for n in leaves]
        got.append(row)
    assert all(a is b or same_float(a, b) for a, b in zip(*got)), got
