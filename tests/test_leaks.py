"""Building and dropping graphs leaks nothing: refcounts, Python memory and
the C blocks of n-ary nodes stay flat, error paths included."""
import gc
import sys

import pytest

import micrograd
from memory import no_asan, python_growth, rss_bytes


def build(impl, x, y):
    a = (x * y + 2.0) / (1.0 + y) - x ** 2
    b = impl.sum([a, x, 3.0, a.tanh()]) * impl.dot([x, y, 1.5], [a, 2.0, y])
    c = b.relu() + (-b).sigmoid() + abs(a) + 2.0 ** x.sin() + y.exp().log().sqrt()
    c.backward()
    with impl.no_grad():
        c * c
    return c.detach().value


def fail(impl, x, zero):
    for op in (lambda: x / zero, lambda: zero.log(), lambda: zero ** -1, lambda: 1 / zero,
               lambda: (x * 1000).exp(), lambda: (-x) ** 0.5):
        try:
            op()
        except (ArithmeticError, ValueError):
            pass


def test_refcounts_stay_flat(impl):
    x, y, zero = impl.Number(0.5), impl.Number(1.5), impl.Number(0.0)
    build(impl, x, y)
    fail(impl, x, zero)
    before = [sys.getrefcount(n) for n in (x, y, zero)]
    for _ in range(1000):
        build(impl, x, y)
        fail(impl, x, zero)
    assert [sys.getrefcount(n) for n in (x, y, zero)] == before


def test_python_memory_stays_flat(impl):
    x, y, zero = impl.Number(0.5), impl.Number(1.5), impl.Number(0.0)

    def step():
        build(impl, x, y)
        fail(impl, x, zero)
    grown = python_growth(step, 200, 3000)
    assert grown < 64 * 1024, grown


@no_asan
def test_nary_blocks_are_freed(impl):
    xs = [impl.Number(float(i)) for i in range(2000)]
    for _ in range(20):
        impl.dot(xs, xs).backward()
    base = rss_bytes()
    for _ in range(300):          # 300 x 64 KB of operand blocks if leaked
        d = impl.dot(xs, xs)
        d.backward()
        del d
    assert rss_bytes() - base < 8 * 1024 * 1024


def test_numbers_are_not_gc_tracked(impl):
    if impl.BACKEND != "core":
        pytest.skip("the reference is plain Python objects")
    x = impl.Number(1.0)
    assert not gc.is_tracked(x) and not gc.is_tracked(x * x)


def test_dropping_a_long_chain_keeps_shared_leaves_alive(impl):
    x = impl.Number(1.0)
    y = x
    for _ in range(50000):
        y = (y * x) + 0.0
    before = sys.getrefcount(x)
    del y
    assert sys.getrefcount(x) == before - 50001     # 50000 muls, and the first one twice


def _trace_replay(impl, X):
    w = impl.Number(0.5)
    tape = micrograd.trace(
        lambda a, b: impl.dot([w, 2.0], [a, b]).tanh() * (a - b).relu(), impl.Number(0.0),
        impl.Number(0.0))
    tape(X)
    tape.value_and_grad(X, reduction="none")
    tape.backward(X, threads=2)
    return tape


def test_trace_replay_and_free_leak_nothing(impl):
    import numpy as np
    X = np.random.default_rng(0).uniform(-1, 1, (300, 2))
    grown = python_growth(lambda: _trace_replay(impl, X), 20,
                          100 if impl.BACKEND == "core" else 5)
    assert grown < 64 * 1024, grown


@no_asan
def test_tapes_free_their_c_memory(impl):
    if impl.BACKEND != "core":
        pytest.skip("the reference tape is plain Python objects")
    import numpy as np
    X = np.random.default_rng(0).uniform(-1, 1, (2000, 2))
    for _ in range(20):
        _trace_replay(impl, X)
    base = rss_bytes()
    for _ in range(300):
        _trace_replay(impl, X)
    assert rss_bytes() - base < 8 * 1024 * 1024
