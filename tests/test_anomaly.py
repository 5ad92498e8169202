"""Anomaly mode and hooks, on both backends with the same messages.

detect_anomaly raises at the first forward op that makes a NaN from operands
that are not NaN, and at the first backward step that makes a NaN gradient
from finite numbers, naming the op and the line of user code that made it.
register_hook is torch's: called with the gradient when backward reaches the
Number; a returned number replaces it.
"""
import math
import random
import threading

import pytest

from memory import python_growth
from micrograd import transforms
from micrograd import optim
from micrograd._anomaly import AnomalyError

INF, NAN = float("inf"), float("nan")


def make_nan(impl):
    x = impl.Number(0.0)
    return x * INF                                 # the line the message names


def test_forward_nan_raises_naming_the_op_operands_and_line(impl):
    with impl.detect_anomaly():
        with pytest.raises(AnomalyError) as info:
            make_nan(impl)
    message = str(info.value)
    assert message.startswith("anomaly: mul made nan from operands that are not nan (0.0, inf)")
    assert "test_anomaly.py:" in message and "in make_nan: return x * INF" in message
    assert isinstance(info.value, FloatingPointError)


def test_messages_are_the_same_on_both_backends(both):
    messages = []
    for impl in both:
        with impl.detect_anomaly():
            with pytest.raises(AnomalyError) as info:
                make_nan(impl)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    backward = []
    for impl in both:
        backward.append(str(_backward_anomaly(impl)))
    assert backward[0] == backward[1]


def test_no_check_outside_the_context_or_with_check_nan_false(impl):
    assert not impl.is_anomaly_enabled()
    assert math.isnan(make_nan(impl).value)
    with impl.detect_anomaly(check_nan=False):
        assert not impl.is_anomaly_enabled()
        assert math.isnan(make_nan(impl).value)
    with impl.detect_anomaly():
        assert impl.is_anomaly_enabled()
        with impl.detect_anomaly(check_nan=False):
            assert not impl.is_anomaly_enabled()
        assert impl.is_anomaly_enabled()
    assert not impl.is_anomaly_enabled()


def test_nan_from_nan_is_not_an_anomaly(impl):
    with impl.detect_anomaly():
        y = impl.Number(NAN) * 2.0 + 1.0
        assert math.isnan(y.value)
        z = (impl.Number(NAN) + impl.Number(1.0)).tanh()
        assert math.isnan(z.value)


def test_ops_that_raise_still_raise_their_own_errors(impl):
    with impl.detect_anomaly():
        with pytest.raises(ValueError):
            impl.Number(0.0).log()
        with pytest.raises(ZeroDivisionError):
            impl.Number(1.0) / 0.0
        assert (impl.Number(2.0) * 3.0).value == 6.0


def test_every_kind_of_op_is_checked(impl):
    cases = [lambda x: x - INF + INF, lambda x: impl.sum([x * INF, -INF]),
             lambda x: impl.dot([x, INF], [INF, -1.0]), lambda x: x.clamp(0.0) * INF * 0.0,
             lambda x: impl.maximum(x * INF, 1.0) * 0.0]
    for case in cases:
        with impl.detect_anomaly():
            with pytest.raises(AnomalyError):
                case(impl.Number(1.0))


def _backward_anomaly(impl):
    a = impl.Number(0.0)
    with impl.detect_anomaly():
        z = (a * a).sqrt() * 0.0                   # sqrt'(0) = inf, times 0: nan
        with pytest.raises(AnomalyError) as info:
            z.backward()
    return info.value


def test_backward_nan_from_finite_numbers_names_the_node_and_line(impl):
    message = str(_backward_anomaly(impl))
    assert "backward through sqrt made a nan gradient for its operand 0" in message
    assert "the sqrt made at" in message
    assert "z = (a * a).sqrt() * 0.0" in message


def test_backward_without_checking_gives_the_nan_silently(impl):
    a = impl.Number(0.0)
    z = (a * a).sqrt() * 0.0
    z.backward()
    assert math.isnan(a.gradient)


def test_backward_of_a_graph_made_outside_says_so(impl):
    a = impl.Number(0.0)
    z = (a * a).sqrt() * 0.0
    with impl.detect_anomaly():
        with pytest.raises(AnomalyError, match="a sqrt made outside detect_anomaly"):
            z.backward()


def test_a_graph_stays_usable_after_an_anomaly(impl):
    a = impl.Number(0.0)
    z = (a * a).sqrt() * 0.0
    with impl.detect_anomaly():
        with pytest.raises(AnomalyError):
            z.backward()
    b = impl.Number(3.0)
    y = b * b
    y.backward()
    assert b.gradient == 6.0


def test_anomaly_mode_is_per_thread(impl):
    seen = []
    with impl.detect_anomaly():
        t = threading.Thread(target=lambda: seen.append(impl.is_anomaly_enabled()))
        t.start()
        t.join()
    assert seen == [False]


def test_anomaly_mode_gives_the_same_bits(impl):
    def run():
        x, y = impl.Number(0.3), impl.Number(-1.7)
        z = (x * y).tanh() + (x / y).exp() * impl.maximum(x, y)
        z.backward()
        return z.value, x.gradient, y.gradient
    plain = run()
    with impl.detect_anomaly():
        assert run() == plain


# -- hooks --------------------------------------------------------------------
def test_hook_on_an_interior_node_sees_and_can_replace_its_gradient(impl, torch):
    x = impl.Number(0.5)
    y = x * 3.0
    seen = []
    y.register_hook(lambda g: seen.append(g) or g * 10.0)
    (y * y).backward()
    tx = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    ty = tx * 3.0
    tseen = []
    ty.register_hook(lambda g: tseen.append(g.item()) or g * 10.0)
    (ty * ty).backward()
    assert seen == tseen and x.gradient == tx.grad.item()
    assert type(seen[0]) is float


def test_hook_on_a_leaf_gets_what_the_pass_adds_and_then_it_accumulates(impl, torch):
    x = impl.Number(2.0)
    x.gradient = 1.0
    seen = []
    handle = x.register_hook(lambda g: seen.append(g) or g * 2.0)
    (x * x + x).backward()
    tx = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    tx.grad = torch.tensor(1.0, dtype=torch.float64)
    tseen = []
    th = tx.register_hook(lambda g: tseen.append(g.item()) or g * 2.0)
    (tx * tx + tx).backward()
    assert seen == tseen == [5.0] and x.gradient == tx.grad.item() == 11.0
    handle.remove()
    th.remove()
    handle.remove()                                   # a second remove does nothing
    (x * x).backward()
    assert x.gradient == 15.0 and seen == [5.0]


def test_hooks_returning_none_keep_the_gradient_and_run_in_order(impl):
    x = impl.Number(1.5)
    y = x.exp()
    order = []
    y.register_hook(lambda g: order.append(("a", g)))
    y.register_hook(lambda g: order.append(("b", g)) or -1.0)
    y.register_hook(lambda g: order.append(("c", g)))
    (y * 2.0).backward()
    assert order == [("a", 2.0), ("b", 2.0), ("c", -1.0)]
    assert x.gradient == -1.0 * math.exp(1.5)


def test_a_hook_that_raises_stops_backward_and_the_graph_still_works(impl):
    x = impl.Number(1.0)
    y = x * 2.0

    def boom(g):
        raise RuntimeError("stop here")
    handle = y.register_hook(boom)
    with pytest.raises(RuntimeError, match="stop here"):
        (y * y).backward()
    handle.remove()
    x.gradient = 0.0
    (y * y).backward()
    assert x.gradient == 8.0


def test_register_hook_refuses_what_is_not_callable(impl):
    with pytest.raises(TypeError, match="register_hook takes a callable, not float"):
        impl.Number(1.0).register_hook(1.0)


def test_hooks_give_the_same_bits_on_both_backends(both):
    results = []
    for impl in both:
        x, w = impl.Number(0.7), impl.Number(-0.2)
        h = (x * w).tanh()
        h.register_hook(lambda g: max(-0.1, min(0.1, g)))      # clip per node
        w.register_hook(lambda g: g / 3.0)
        loss = (h - 1.0) ** 2 + w.sin()
        loss.backward()
        results.append((x.gradient, w.gradient))
    assert results[0] == results[1]


# -- memory ---------------------------------------------------------------------
def test_create_graph_hooks_and_anomaly_leak_nothing(impl):
    """A leaf's gradient graph refers back to the leaf, as in torch; zero_grad
    drops it, so a training loop with create_graph=True stays flat."""
    def create_graph():
        q = impl.Number(0.5)
        (q * q).tanh().backward(create_graph=True)
        optim.SGD([q], lr=0.1).zero_grad()

    def nested():
        transforms.grad(transforms.grad(lambda x: (x * x).tanh()))(impl.Number(0.5))
        transforms.hvp(lambda x, y: x * y * y, [1.0, 2.0], [1.0, 0.0])

    def hooks_and_anomaly():
        h = impl.Number(1.0)
        h.register_hook(lambda g: g)
        with impl.detect_anomaly():
            (h * h).sin().backward()
    for step in (create_graph, nested, hooks_and_anomaly):
        # a leak here is over 1 KB a step; a dict resizing once is under 100 KB
        assert python_growth(step, 100, 2000) < 200_000, step.__name__


def test_zero_grad_drops_the_gradient_graph(impl, monkeypatch):
    from micrograd import nn
    q = impl.Number(0.5)
    (q * q).backward(create_graph=True)
    assert q.grad_node is not None
    optim.Adam([q]).zero_grad()
    assert q.grad_node is None and q.gradient == 0.0
    monkeypatch.setattr(nn, "_impl", impl)
    model = nn.Neuron(2, rng=random.Random(0))
    model([0.3, -0.2]).backward(create_graph=True)
    assert all(p.grad_node is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad_node is None and p.gradient == 0.0 for p in model.parameters())
