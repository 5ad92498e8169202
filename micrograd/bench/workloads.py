"""The workloads, each run on one backend module (micrograd._core or
micrograd._core_py); see benchmarks/README.md for what each measures.

Every figure is the median of several samples; each sample builds a fresh
graph, with the cyclic GC collected first and off while the clock runs.
"""
import gc
import json
import os
import statistics
import subprocess
import sys
import time

from micrograd import _core_py

from .higher import bench_higher

WORKLOADS = ("ops", "deep", "memory", "chain", "mlp", "higher")
SIZES = {
    False: dict(repeats=5, lanes=1000, steps=100, depth=10**6, mem_nodes=10**6,
                chain_steps=200_000, mlp_steps=20, moons_steps=100, higher_n=2000,
                higher_samples=11),
    True: dict(repeats=3, lanes=1000, steps=20, depth=10**5, mem_nodes=2 * 10**5,
               chain_steps=30_000, mlp_steps=4, moons_steps=20, higher_n=300,
               higher_samples=5),
}
now = time.perf_counter_ns
# subprocesses import micrograd from where this process did (a source tree too)
_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def child_env(purepython=False):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PKG_PARENT, env.get("PYTHONPATH")]))
    env.pop("MICROGRAD_PUREPYTHON", None)
    if purepython:
        env["MICROGRAD_PUREPYTHON"] = "1"
    return env


# =============================================================================
# One timed sample: forward, backward, free
# =============================================================================
def _sample(m, make_leaves, forward):
    """Times forward, backward and freeing of one fresh graph, in ns.

    The leaves are made outside the timed region: they are inputs, not work.
    The cyclic GC is off while timing because the reference's Numbers are
    GC-tracked and a collection landing in one phase would be charged to it.
    """
    leaves = make_leaves()
    gc.collect()
    gc.disable()
    try:
        t0 = now()
        root = forward(leaves)
        t1 = now()
        root.backward()
        t2 = now()
        check = (root.value, _first_leaf(leaves).gradient)
        # `root` and `leaves` must be the only ways to reach the graph, or the
        # timed del would free nothing; a builder that leaked a reference
        # would show up here (getrefcount counts its own argument too).
        assert sys.getrefcount(root) == 2, "the benchmark leaked a reference to the root"
        t3 = now()
        del root, leaves
        t4 = now()
    finally:
        gc.enable()
    return dict(forward=t1 - t0, backward=t2 - t1, free=t4 - t3), check


def _first_leaf(leaves):
    return leaves[0][0] if isinstance(leaves[0], list) else leaves[0]


def _timed(m, make_leaves, forward, repeats):
    samples = {"forward": [], "backward": [], "free": []}
    check = None
    for _ in range(repeats):
        s, check = _sample(m, make_leaves, forward)
        for k, v in s.items():
            samples[k].append(v)
    return samples, check


# =============================================================================
# Workloads
# =============================================================================
def bench_ops(m, cfg):
    """Many short independent lanes: the shape of a wide network's forward."""
    lanes, steps = cfg["lanes"], cfg["steps"]

    def make_leaves():      # per lane: its own a, b and starting y
        return [[m.Number(0.5 + i / (4 * lanes)) for i in range(lanes)],
                [m.Number(0.1 - i / (20 * lanes)) for i in range(lanes)],
                [m.Number(i / lanes - 0.5) for i in range(lanes)]]

    def forward(leaves):
        ys = []
        for a, b, y in zip(*leaves):
            for _ in range(steps):
                y = (y * a + b).tanh()
            ys.append(y)
        return m.sum(ys)

    samples, check = _timed(m, make_leaves, forward, cfg["repeats"])
    binary = 2 * lanes * steps                  # one * and one + per step
    nodes = 3 * lanes * steps + 1               # ... plus one tanh, plus the sum
    fwd, bwd, free = (statistics.median(samples[k]) for k in ("forward", "backward", "free"))
    return dict(nodes=nodes, binary_ops=binary, tanh_ops=lanes * steps,
                forward_ns_per_node=fwd / nodes, forward_ns_per_binary_op=fwd / binary,
                backward_ns_per_node=bwd / nodes, free_ns_per_node=free / nodes,
                per_op_ns=_per_op(m, lanes * steps, cfg["repeats"]),
                samples_ns=samples, check=check)


def _per_op(m, n, repeats):
    """Forward cost of each op kind alone: n fresh nodes of one kind per sample.

    The results are kept until after the clock stops so that their freeing is
    not charged to the op.
    """
    xs = [m.Number(0.25 + i / (2 * n)) for i in range(n)]
    ws = [m.Number(0.75 - i / (4 * n)) for i in range(n)]
    kinds = {"mul": lambda: [x * w for x, w in zip(xs, ws)],
             "add": lambda: [x + w for x, w in zip(xs, ws)],
             "tanh": lambda: [x.tanh() for x in xs]}
    out = {}
    for name, build in kinds.items():
        times = []
        for _ in range(repeats):
            gc.collect()
            gc.disable()
            try:
                t0 = now()
                kept = build()
                t1 = now()
            finally:
                gc.enable()
            del kept
            times.append((t1 - t0) / n)
        out[name] = statistics.median(times)
    return out


def bench_deep(m, cfg):
    """One long chain: the traversal and freeing must not recurse, nor slow down."""
    depth = cfg["depth"]

    def make_leaves():
        return [m.Number(1.0)]

    def forward(leaves):
        y = leaves[0]
        for _ in range(depth):
            y = y * 1.0000001 + 0.0
        return y

    samples, check = _timed(m, make_leaves, forward, cfg["repeats"])
    nodes = 2 * depth
    fwd, bwd, free = (statistics.median(samples[k]) for k in ("forward", "backward", "free"))
    return dict(nodes=nodes, depth=depth, forward_ns_per_node=fwd / nodes,
                backward_ns_per_node=bwd / nodes, free_ns_per_node=free / nodes,
                forward_s=fwd / 1e9, backward_s=bwd / 1e9, free_s=free / 1e9,
                samples_ns=samples, check=check)


# A fresh interpreter per sample, so nothing a previous workload left in the
# allocator's free lists hides the growth.  Current RSS (statm), not peak
# (maxrss), because the baseline of an interpreter is already its peak.
_MEMORY_CHILD = """
import gc, os
from micrograd import {module} as m

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

x, y = m.Number(1.0000001), m.Number(1.0)
gc.collect()
gc.disable()
before = rss()
for _ in range({nodes}):
    y = y * x
print(rss() - before)
"""


def bench_memory(m, cfg):
    nodes = cfg["mem_nodes"]
    code = _MEMORY_CHILD.format(module=m.__name__.rsplit(".", 1)[1], nodes=nodes)
    samples = []
    for _ in range(cfg["repeats"]):
        out = subprocess.run([sys.executable, "-c", code], env=child_env(), check=True,
                             capture_output=True, text=True)
        samples.append(int(out.stdout.strip()))
    return dict(nodes=nodes, bytes_per_node=statistics.median(samples) / nodes,
                samples_bytes=samples)


def bench_chain(m, cfg):
    """A Chain of steps against the same graph written with operators.

    The steps cycle through mul(a), add(b), tanh(); both versions build the
    same nodes, so the difference is what a Chain step costs on top of the op.
    """
    n = cfg["chain_steps"]

    def by_operators(y, a, b):
        for i in range(n // 3):
            y = (y * a + b).tanh()
        return y

    def by_chain(y, a, b):
        c = m.Chain(y)
        for i in range(n // 3):
            c = c.mul(a).add(b).tanh()
        return c.result()

    times = {"operators": [], "chain": []}
    values = {}
    for _ in range(cfg["repeats"]):
        for name, build in (("operators", by_operators), ("chain", by_chain)):
            y, a, b = m.Number(0.1), m.Number(0.9), m.Number(0.05)
            gc.collect()
            gc.disable()
            try:
                t0 = now()
                out = build(y, a, b)
                times[name].append(now() - t0)
            finally:
                gc.enable()
            values[name] = out.value
            del out
    steps = 3 * (n // 3)
    op_ns = statistics.median(times["operators"]) / steps
    chain_ns = statistics.median(times["chain"]) / steps
    return dict(steps=steps, operator_ns_per_op=op_ns, chain_ns_per_step=chain_ns,
                chain_over_operators=chain_ns / op_ns, same_value=values["chain"] == values["operators"],
                samples_ns=times)


def mlp_run(api, steps, purepython):
    out = subprocess.run([sys.executable, "-m", "micrograd.bench.mlp", "--api", api,
                          "--steps", str(steps)],
                         capture_output=True, text=True, env=child_env(purepython), check=True)
    return json.loads(out.stdout)


def bench_mlp(m, cfg):
    """MLP(2, [16, 16, 1]) on two moons, full batch (micrograd/bench/mlp.py), in a
    fresh interpreter per backend: (a) nn + optim, (c) the 0.1.0-style API."""
    purepython = m is _core_py
    nn_run = mlp_run("nn", cfg["mlp_steps"], purepython)
    compat = mlp_run("compat", cfg["mlp_steps"], purepython)
    return dict(nn_ms_per_step=1e3 * nn_run["median_s_per_step"],
                compat_ms_per_step=1e3 * compat["median_s_per_step"],
                nn_accuracy=nn_run["accuracy"], steps=cfg["mlp_steps"])


BENCHES = {"ops": bench_ops, "deep": bench_deep, "memory": bench_memory, "chain": bench_chain,
           "mlp": bench_mlp, "higher": bench_higher}
