"""backward: the contract, local derivatives, no recursion."""
import math
import signal
import subprocess
import sys
import time

import pytest


def test_seed_example(impl):
    x, y = impl.Number(2.0), impl.Number(3.0)
    z = x * y + x * y.exp()
    z.backward()
    assert x.gradient == 3.0 + math.exp(3.0)
    assert y.gradient == 2.0 + 2.0 * math.exp(3.0)


def test_leaves_accumulate_interior_nodes_hold_latest_pass(impl):
    x, y = impl.Number(2.0), impl.Number(-3.0)
    h = x * y
    z = h * h + x
    z.backward()
    first = (x.gradient, y.gradient, h.gradient, z.gradient)
    z.backward()
    assert (x.gradient, y.gradient) == (2 * first[0], 2 * first[1])
    assert (h.gradient, z.gradient) == (first[2], first[3]) == (2 * -6.0, 1.0)


def test_interior_node_reused_in_a_second_graph(impl):
    x = impl.Number(1.5)
    h = x * x
    (h * 3.0).backward()
    assert h.gradient == 3.0
    (h + 1.0).backward()          # h restarts from zero: not 3 + 1
    assert h.gradient == 1.0 and x.gradient == 3.0 * 3.0 + 3.0


def test_backward_seed_and_leaf_root(impl):
    x = impl.Number(2.0)
    y = x * x
    y.backward(0.5)
    assert x.gradient == 2.0 and y.gradient == 0.5
    x.backward()
    x.backward(2)
    assert x.gradient == 5.0
    with pytest.raises(TypeError):
        y.backward("1")


def test_shared_subexpressions_count_every_path(impl):
    a = impl.Number(3.0)
    (a + a).backward()
    assert a.gradient == 2.0
    a.gradient = 0.0
    (a * a).backward()
    assert a.gradient == 6.0
    a.gradient = 0.0
    b = a.exp()
    d = b * b.sin() + b     # a diamond through b
    d.backward()
    e = math.exp(3.0)
    assert a.gradient == (math.sin(e) + e * math.cos(e) + 1.0) * e


def local_cases():
    e = math.exp
    return [
        ("add", lambda x, y: x + y, (1.0, 1.0)),
        ("sub", lambda x, y: x - y, (1.0, -1.0)),
        ("mul", lambda x, y: x * y, (0.75, 1.5)),
        ("div", lambda x, y: x / y, (1 / 0.75, -1.5 / 0.75 / 0.75)),
        ("pow", lambda x, y: x ** y, (0.75 * 1.5 ** -0.25, 1.5 ** 0.75 * math.log(1.5))),
        ("const", lambda x, y: (x * 2.0 - 3.0) / 4.0 + 1.0 - x, (2.0 / 4.0 - 1.0, 0.0)),
        ("rconst", lambda x, y: 2.0 / y + 3.0 - y + 2.0 ** x,
         (2.0 ** 1.5 * math.log(2.0), -2.0 / 0.75 / 0.75 - 1.0)),
        ("unary", lambda x, y: (-x).exp() + y.log() + x.sqrt() + y.sin() + x.cos(),
         (-e(-1.5) + 0.5 / math.sqrt(1.5) - math.sin(1.5), 1 / 0.75 + math.cos(0.75))),
        ("act", lambda x, y: x.tanh() + y.sigmoid() + (-x).relu() + y.relu() + abs(-x),
         (1 - math.tanh(1.5) ** 2 + 1.0,
          (1 - 1 / (1 + e(-0.75))) / (1 + e(-0.75)) + 1.0)),
    ]


@pytest.mark.parametrize("name,fn,grads", local_cases(), ids=[c[0] for c in local_cases()])
def test_local_derivatives(impl, name, fn, grads):
    x, y = impl.Number(1.5), impl.Number(0.75)
    fn(x, y).backward()
    assert x.gradient == pytest.approx(grads[0], rel=1e-14)
    assert y.gradient == pytest.approx(grads[1], rel=1e-14)


@pytest.mark.parametrize("build,expect", [
    (lambda N: N(0.0).sqrt(), math.inf),          # d sqrt at 0
    (lambda N: N(0.0) ** 0.5, math.inf),          # 0.5 * 0 ** -0.5
    (lambda N: N(1e-200) ** N(2.0), 2e-200),
    (lambda N: N(math.inf) * 0.0, 0.0),
    (lambda N: N(2.0) * N(math.inf), math.inf),
    (lambda N: N(math.inf) - N(math.inf), 1.0),
    (lambda N: 1.0 / N(1e-200), -math.inf),       # -(1/x)/x overflows
    (lambda N: N(math.nan).relu(), 1.0),          # as torch: nan passes the gradient
    (lambda N: abs(N(0.0)), 0.0),
    (lambda N: N(0.0) ** N(2.0), 0.0),            # torch masks d/dy at x == 0
])
def test_backward_never_raises(impl, build, expect):
    root = build(impl.Number)
    root.backward()
    leaf = root.children[0]
    g = leaf.gradient
    assert g == expect or (math.isnan(g) and math.isnan(expect))


def test_backward_after_value_edit_is_ieee(impl):
    x, y = impl.Number(2.0), impl.Number(4.0)
    z = x.log() + x / y + y.sqrt() + (x ** -0.5) + x.cos() + x ** y
    x.value, y.value = 0.0, 0.0          # backward reads the values now stored
    z.backward()
    assert math.isinf(x.gradient) or math.isnan(x.gradient)


def test_no_python_recursion(impl):
    limit = sys.getrecursionlimit()
    x = impl.Number(1.0)
    y = x
    for _ in range(20000):
        y = y * 1.0 + 0.0
    sys.setrecursionlimit(100)
    try:
        y.backward()
    finally:
        sys.setrecursionlimit(limit)
    assert x.gradient == 1.0


DEEP = """
import sys, micrograd
from micrograd import {mod} as m
sys.setrecursionlimit(200)
x = m.Number(1.0)
y = x
for i in range({n}):
    y = y * 1.0000001 + 0
y.backward()
assert x.gradient > 1.0, x.gradient
y.backward()
del y
print("ok", x.gradient)
"""


@pytest.mark.slow
def test_million_deep_chain_builds_runs_and_frees(impl):
    mod = "_core" if impl.BACKEND == "core" else "_core_py"
    proc = subprocess.run([sys.executable, "-c", DEEP.format(mod=mod, n=1_000_000)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("ok")


INTERRUPT = """
import sys, time, micrograd
from micrograd import {mod} as m
x = m.Number(1.0)
y = x
for i in range({n}):
    y = y * 1.0 + 0.0
print("ready", flush=True)
t0 = time.perf_counter()
try:
    while True:
        y.backward()
except KeyboardInterrupt:
    print("interrupted", time.perf_counter() - t0, flush=True)
"""


def test_ctrl_c_during_backward(impl):
    mod = "_core" if impl.BACKEND == "core" else "_core_py"
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPT.format(mod=mod, n=300_000)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()           # never leave a spinning backward loop behind
    assert proc.returncode == 0, err[-2000:]
    assert out.startswith("interrupted"), out + err


def test_threads_on_independent_graphs_match_a_serial_run(impl):
    import threading

    def work(seed, out):
        xs = [impl.Number(seed + i / 7) for i in range(20)]
        y = impl.sum(xs)
        for x in xs:
            y = (y * x).tanh() + x.sigmoid()
        y.backward()
        out.append(([x.gradient for x in xs], y.value))

    serial = []
    for s in range(8):
        work(s, serial)
    results = [[] for _ in range(8)]
    threads = [threading.Thread(target=work, args=(s, results[s])) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[0] for r in results] == serial


REENTER = """
import signal, sys
from micrograd import {mod} as m
x = m.Number(1.0)
y = x
for i in range({n}):
    y = y * 1.0 + 0.0
calls = []
def handler(signum, frame):
    calls.append(1)
    y.backward()                     # re-enters backward on the same graph
    if len(calls) < 3:
        signal.setitimer(signal.ITIMER_REAL, 0.003)
signal.signal(signal.SIGALRM, handler)
signal.setitimer(signal.ITIMER_REAL, 0.003)
for _ in range(30):                  # most of the time is spent inside backward
    y.backward()
signal.setitimer(signal.ITIMER_REAL, 0)
x.gradient = 0.0
y.backward()
print("ok", len(calls) > 0, x.gradient)
"""


def test_backward_reentered_from_a_signal_handler_is_memory_safe(impl):
    mod = "_core" if impl.BACKEND == "core" else "_core_py"
    n = 100_000 if impl.BACKEND == "core" else 3_000
    proc = subprocess.run([sys.executable, "-c", REENTER.format(mod=mod, n=n)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["ok", "True", "1.0"], proc.stdout + proc.stderr
