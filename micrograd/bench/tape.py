"""The tape's workloads, each on one backend module (micrograd._core or
micrograd._core_py).

    moons    one training step of the classic network, traced once:
             opt.zero_grad(); tape.backward(X); opt.step(), on the 100 moons
             points (the same data, weights and schedule as others.MOONS)
    replay   throughput at a batch of 256: ns per instruction per lane, forward
             and backward, on a tape of + - * and on a dot-heavy one
    trace    the time to record and flatten: the moons graph, a graph of 10^5
             instructions, and a 9,000-op scalar recurrence traced and then
             replayed once with gradients (what JAX needs half a minute for)
    memory   the peak RSS a moons tape adds replaying a batch of 10^6 rows
"""
import gc
import statistics
import subprocess
import sys
import time

import numpy as np

import micrograd

from .others import moons_lr
from .workloads import child_env


def _moons_model(m):
    """The moons data and micrograd's MLP(2, [16, 16, 1]) drawn as others.moons_setup
    draws it (same seeds), with its parameters as Numbers of backend m."""
    from .others import moons_setup
    X, t, layers = moons_setup()
    W = []
    for Wl, bl in layers:                       # Wl is (nin, nout): neuron j is column j
        W.append([[m.Number(bl[j])] + [m.Number(v) for v in Wl[:, j]]
                  for j in range(Wl.shape[1])])
    return X, t, W


def moons_loss(m, W):
    """One sample's hinge loss under the MLP with weights W (backend m)."""
    def per_sample(x0, x1, label):
        h = [x0, x1]
        for i, layer in enumerate(W):
            h = [m.dot(n, [1.0] + h) for n in layer]
            if i < 2:
                h = [v.relu() for v in h]
        return (1.0 - label * h[0]).relu()
    return per_sample


def moons(m, steps=50):
    """The moons step through a tape.  The 1e-4 L2 term of the loss is SGD's
    weight_decay=2e-4, its gradient exactly; the loss reported adds its value."""
    from micrograd import optim
    X, t, W = _moons_model(m)
    params = [p for layer in W for n in layer for p in n]
    per_sample = moons_loss(m, W)
    gc.collect()
    t0 = time.perf_counter()
    tape = micrograd.trace(per_sample, m.Number(0.0), m.Number(0.0), m.Number(1.0))
    trace_ms = (time.perf_counter() - t0) * 1e3
    batch = np.ascontiguousarray(np.column_stack([X, t]))
    opt = optim.SGD(params, lr=1.0, weight_decay=2e-4)
    times, losses = [], []
    for k in range(steps):
        reg = sum(p.value * p.value for p in params)          # off the clock
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = tape.backward(batch)
        opt.param_groups[0]["lr"] = moons_lr(k)
        opt.step()
        times.append(time.perf_counter() - t0)
        losses.append(loss + 1e-4 * reg)
    return {"step_ms": statistics.median(times) * 1e3, "first_call_ms": trace_ms,
            "final_loss": losses[-1], "losses": losses, "steps": steps,
            "instructions": tape.n_instructions, "params": len(tape.params),
            "lanes": tape.lanes}


def _time(fn, repeats):
    best = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t0)
    return statistics.median(best)


def replay(m, batch=256, repeats=7):
    """ns per instruction per lane at a batch of 256, forward and backward."""
    rng = np.random.default_rng(0)
    out = {}
    # + - * : a chain over four inputs, 2,000 instructions
    a, b, c = (m.Number(v) for v in (0.5, -0.25, 0.75))

    def arith(x0, x1, x2, x3):
        ys = [x0, x1, x2, x3]
        for i in range(500):
            u = ys[-1] * a + ys[-2]
            v = u - ys[-3] * b
            ys.append(v * c - ys[-4])
            ys.append(u + v)
        return ys[-1]

    # dot-heavy: MLP 4-64-64-1, mostly dot products
    W1 = [[m.Number(rng.uniform(-0.5, 0.5)) for _ in range(5)] for _ in range(64)]
    W2 = [[m.Number(rng.uniform(-0.2, 0.2)) for _ in range(65)] for _ in range(64)]
    W3 = [m.Number(rng.uniform(-0.2, 0.2)) for _ in range(65)]

    def dense(x0, x1, x2, x3):
        h = [m.dot(w, [1.0, x0, x1, x2, x3]).relu() for w in W1]
        h = [m.dot(w, [1.0] + h).relu() for w in W2]
        return m.dot(W3, [1.0] + h)

    for name, fn in (("arith", arith), ("dense", dense)):
        tape = micrograd.trace(fn, *[m.Number(0.1)] * 4)
        X = rng.uniform(-1, 1, (batch, 4))
        fwd = _time(lambda: tape(X), repeats)
        both = _time(lambda: tape.value_and_grad(X, reduction="sum"), repeats)
        per = tape.n_instructions * batch
        out[name] = {"instructions": tape.n_instructions,
                     "forward_ns": fwd / per * 1e9, "backward_ns": (both - fwd) / per * 1e9}
        if name == "dense":                     # a dot of n pairs is 2n - 1 scalar ops
            ops = 64 * (2 * 5 - 1 + 1) + 64 * (2 * 65 - 1 + 1) + (2 * 65 - 1)
            out[name]["scalar_ops"] = ops
            out[name]["forward_ns_per_op"] = fwd / (ops * batch) * 1e9
            out[name]["backward_ns_per_op"] = (both - fwd) / (ops * batch) * 1e9
    return out


def trace(m, repeats=3):
    """ms to record and flatten: moons; 10^5 instructions; and a 9,000-op
    recurrence, traced and replayed once with gradients, in total."""
    X, t, W = _moons_model(m)
    moons_fn = moons_loss(m, W)

    def long_fn(x):
        y = x
        for _ in range(50_000):
            y = y * 0.999 + x
        return y

    a, b = m.Number(0.9), m.Number(0.05)

    def recurrence(x):
        y = x
        for _ in range(3000):                   # 3 scalar ops a round: 9,000 ops
            y = (y * a + b).tanh()
        return y

    def recurrence_total():
        tape = micrograd.trace(recurrence, m.Number(0.5))
        tape.value_and_grad([[0.5]], reduction="sum")

    inputs = [m.Number(0.0), m.Number(0.0), m.Number(1.0)]
    return {"moons_ms": _time(lambda: micrograd.trace(moons_fn, *inputs), repeats) * 1e3,
            "instructions_1e5_ms": _time(lambda: micrograd.trace(long_fn, m.Number(0.5)),
                                         repeats) * 1e3,
            "recurrence_9000_total_ms": _time(recurrence_total, repeats) * 1e3}


_MEMORY_CHILD = """
import threading, time, numpy as np, micrograd
from micrograd.bench.tape import _moons_model, moons_loss
from micrograd import _core as m
X, t, W = _moons_model(m)
tape = micrograd.trace(moons_loss(m, W), m.Number(0.0), m.Number(0.0), m.Number(1.0))
rng = np.random.default_rng(0)
batch = np.empty((10**6, 3))
for i in range(0, 10**6, 10**4):            # no temporary bigger than a slice
    batch[i:i + 10**4, :2] = rng.uniform(-1, 2, (10**4, 2))
    batch[i:i + 10**4, 2] = rng.choice([-1.0, 1.0], 10**4)
tape.backward(batch[:10])

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

before, peak, running = rss(), [0], [True]
def sample():                               # the replay lets go of the GIL between chunks
    while running[0]:
        peak[0] = max(peak[0], rss())
        time.sleep(0.0005)
sampler = threading.Thread(target=sample)
sampler.start()
tape.backward(batch, threads={threads})
running[0] = False
sampler.join()
print(max(peak[0], rss()) - before)
"""


def memory(threads=1):
    """Bytes of RSS that one backward over 10^6 moons rows adds at its peak,
    sampled every half millisecond while it runs (the batch itself, 24 MB, is
    made before the baseline is read)."""
    out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD.format(threads=threads)],
                         env=child_env(), check=True, capture_output=True, text=True)
    return {"peak_bytes": int(out.stdout.strip()), "rows": 10**6, "threads": threads}
