"""Building and dropping graphs leaks nothing: refcounts, Python memory and
the C blocks of n-ary nodes stay flat, error paths included."""
import gc
import os
import sys
import tracemalloc

import pytest


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


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
    for _ in range(200):
        build(impl, x, y)
        fail(impl, x, zero)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(3000):
            build(impl, x, y)
            fail(impl, x, zero)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, grown


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer holds freed memory in quarantine")
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
    tape = __import__("micrograd").trace(
        lambda a, b: impl.dot([w, 2.0], [a, b]).tanh() * (a - b).relu(), impl.Number(0.0),
        impl.Number(0.0))
    tape(X)
    tape.value_and_grad(X, reduction="none")
    tape.backward(X, threads=2)
    return tape


def test_trace_replay_and_free_leak_nothing(impl):
    import numpy as np
    X = np.random.default_rng(0).uniform(-1, 1, (300, 2))
    for _ in range(20):
        _trace_replay(impl, X)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(100 if impl.BACKEND == "core" else 5):
            _trace_replay(impl, X)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, grown


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer holds freed memory in quarantine")
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
