"""Benchmarks: the compiled core against the pure-Python reference (and
PyTorch, where it imports), in one run.

    python -m micrograd bench                    # full run, a few minutes
    python -m micrograd bench --quick            # smaller sizes, well under 30 s
    python -m micrograd bench --json             # one JSON object on stdout
    python -m micrograd bench --workload deep    # only some workloads

(benchmarks/bench.py in a source checkout runs the same.)

Every figure is the median of several samples; each sample builds a fresh
graph.  Ratios are python / core (so > 1 means the core is faster or smaller).
See benchmarks/README.md for what each workload measures.
"""
import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from micrograd import _core_py

try:
    from micrograd import _core
except ImportError:             # a pure-Python install: the reference alone
    _core = None

BACKENDS = {"core": _core, "python": _core_py}
# subprocesses import micrograd from where this process did (a source tree too)
_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _child_env(purepython=False):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PKG_PARENT, env.get("PYTHONPATH")]))
    env.pop("MICROGRAD_PUREPYTHON", None)
    if purepython:
        env["MICROGRAD_PUREPYTHON"] = "1"
    return env
WORKLOADS = ("ops", "deep", "memory", "chain", "mlp")
SIZES = {
    False: dict(repeats=5, lanes=1000, steps=100, depth=10**6, mem_nodes=10**6,
                chain_steps=200_000, mlp_steps=20),
    True: dict(repeats=3, lanes=1000, steps=20, depth=10**5, mem_nodes=2 * 10**5,
               chain_steps=30_000, mlp_steps=4),
}
now = time.perf_counter_ns


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
        out = subprocess.run([sys.executable, "-c", code], env=_child_env(), check=True,
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


def _mlp_run(api, steps, purepython):
    out = subprocess.run([sys.executable, "-m", "micrograd.bench_mlp", "--api", api,
                          "--steps", str(steps)],
                         capture_output=True, text=True, env=_child_env(purepython), check=True)
    return json.loads(out.stdout)


def bench_mlp(m, cfg):
    """MLP(2, [16, 16, 1]) on two moons, full batch (benchmarks/mlp.py), in a
    fresh interpreter per backend: (a) nn + optim, (c) the 0.1.0-style API."""
    purepython = m is _core_py
    nn_run = _mlp_run("nn", cfg["mlp_steps"], purepython)
    compat = _mlp_run("compat", cfg["mlp_steps"], purepython)
    return dict(nn_ms_per_step=1e3 * nn_run["median_s_per_step"],
                compat_ms_per_step=1e3 * compat["median_s_per_step"],
                nn_accuracy=nn_run["accuracy"], steps=cfg["mlp_steps"])


# =============================================================================
# PyTorch, the alternative users know: scalar autograd for `ops`, batched
# tensors (what torch is built for) for `mlp`; both in float64
# =============================================================================
def torch_ops(torch, cfg):
    lanes, steps = cfg["lanes"], cfg["steps"]
    samples = {"forward": [], "backward": []}
    for _ in range(cfg["repeats"]):
        leaf = lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True)  # noqa: E731
        a = [leaf(0.5 + i / (4 * lanes)) for i in range(lanes)]
        b = [leaf(0.1 - i / (20 * lanes)) for i in range(lanes)]
        y0 = [leaf(i / lanes - 0.5) for i in range(lanes)]
        gc.collect()
        t0 = now()
        ys = []
        for ai, bi, y in zip(a, b, y0):
            for _ in range(steps):
                y = torch.tanh(y * ai + bi)
            ys.append(y)
        root = torch.stack(ys).sum()
        t1 = now()
        root.backward()
        t2 = now()
        samples["forward"].append(t1 - t0)
        samples["backward"].append(t2 - t1)
    nodes = 3 * lanes * steps + 1
    return dict(forward_ns_per_node=statistics.median(samples["forward"]) / nodes,
                backward_ns_per_node=statistics.median(samples["backward"]) / nodes)


def torch_mlp(torch, cfg):
    from micrograd.datasets import make_moons
    import numpy as np
    np.random.seed(1337)
    X, y = make_moons(100, noise=0.1)
    X = torch.tensor(X, dtype=torch.float64)
    y = torch.tensor(y * 2 - 1, dtype=torch.float64)
    g = torch.Generator().manual_seed(1337)
    sizes = [2, 16, 16, 1]
    params = []
    for i in range(3):
        params.append((torch.rand(sizes[i], sizes[i + 1], generator=g, dtype=torch.float64) * 2 - 1)
                      .requires_grad_())
        params.append(torch.zeros(sizes[i + 1], dtype=torch.float64, requires_grad=True))
    opt = torch.optim.SGD(params, lr=1.0)
    times = []
    for k in range(cfg["mlp_steps"]):
        t0 = now()
        h = X
        for i in range(3):
            h = h @ params[2 * i] + params[2 * i + 1]
            h = torch.relu(h) if i < 2 else h
        loss = torch.relu(1 - y * h[:, 0]).mean() + 1e-4 * sum((p * p).sum() for p in params)
        opt.zero_grad()
        loss.backward()
        opt.param_groups[0]["lr"] = 1.0 - 0.9 * k / 100
        opt.step()
        times.append(now() - t0)
    return dict(nn_ms_per_step=statistics.median(times) / 1e6)


TORCH_BENCHES = {"ops": torch_ops, "mlp": torch_mlp}


BENCHES = {"ops": bench_ops, "deep": bench_deep, "memory": bench_memory, "chain": bench_chain,
           "mlp": bench_mlp}


# =============================================================================
# Running and reporting
# =============================================================================
def _ratios(core, ref):
    """python / core for every per-node figure the two share."""
    out = {}
    for k, v in core.items():
        if isinstance(v, float) and isinstance(ref.get(k), float) and v > 0:
            out[k] = ref[k] / v
    for k, v in core.get("per_op_ns", {}).items():
        out[f"per_op_ns.{k}"] = ref["per_op_ns"][k] / v
    return out


def machine():
    return dict(date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                platform=platform.platform(), processor=platform.processor() or platform.machine(),
                python=f"{platform.python_implementation()} {platform.python_version()}",
                cpu_count=os.cpu_count())


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def run(workloads=None, quick=False, progress=None, with_torch=True):
    """Run the workloads (all by default) on both backends, and on torch where
    it imports and a workload has a torch version; a JSON-able dict."""
    if _core is None:
        raise RuntimeError("micrograd._core is not built: the benchmarks compare it "
                           "with the reference (see README: make build)")
    cfg = SIZES[bool(quick)]
    torch = _torch() if with_torch else None
    result = dict(machine=machine(), quick=bool(quick), config=cfg, results={},
                  torch=getattr(torch, "__version__", None))
    for name in workloads or WORKLOADS:
        per = {}
        for backend, m in BACKENDS.items():
            if progress:
                progress(f"{name} on {backend} ...")
            per[backend] = BENCHES[name](m, cfg)
        per["ratio"] = _ratios(per["core"], per["python"])
        if torch is not None and name in TORCH_BENCHES:
            if progress:
                progress(f"{name} on torch ...")
            per["torch"] = TORCH_BENCHES[name](torch, cfg)
            per["ratio_torch"] = {k: v / per["core"][k] for k, v in per["torch"].items()}
        if "check" in per["core"]:      # both backends promise the same bits
            per["backends_agree"] = per["core"]["check"] == per["python"]["check"]
        result["results"][name] = per
    return result


_ROWS = {   # workload -> (label, key, format) rows of the table
    "ops": [("forward ns/node", "forward_ns_per_node", ".1f"),
            ("forward ns/binary op", "forward_ns_per_binary_op", ".1f"),
            ("  mul alone ns/op", "per_op_ns.mul", ".1f"),
            ("  add alone ns/op", "per_op_ns.add", ".1f"),
            ("  tanh alone ns/op", "per_op_ns.tanh", ".1f"),
            ("backward ns/node", "backward_ns_per_node", ".1f"),
            ("free ns/node", "free_ns_per_node", ".1f")],
    "deep": [("forward ns/node", "forward_ns_per_node", ".1f"),
             ("backward ns/node", "backward_ns_per_node", ".1f"),
             ("free ns/node", "free_ns_per_node", ".1f"),
             ("forward s", "forward_s", ".3f"),
             ("backward s", "backward_s", ".3f"),
             ("free s", "free_s", ".3f")],
    "memory": [("bytes/node", "bytes_per_node", ".1f")],
    "mlp": [("nn+optim ms/step", "nn_ms_per_step", ".2f"),
            ("Value+MLP ms/step", "compat_ms_per_step", ".2f")],
    "chain": [("operators ns/op", "operator_ns_per_op", ".1f"),
              ("Chain ns/step", "chain_ns_per_step", ".1f"),
              ("Chain / operators", "chain_over_operators", ".2f")],
}


def _get(d, key):
    head, _, tail = key.partition(".")
    return d[head][tail] if tail else d[key]


def format_table(result):
    mc, cfg = result["machine"], result["config"]
    lines = [f"micrograd benchmarks, {mc['date']}{' (quick)' if result['quick'] else ''}",
             f"{mc['platform']} | {mc['processor']} | {mc['python']} | {mc['cpu_count']} CPUs",
             f"medians of {cfg['repeats']} samples; ratios = other / core (above 1: the core "
             f"is faster)" + (f"; torch {result['torch']} float64" if result.get("torch") else
                              "; torch not installed (no torch column)"), ""]
    res = result["results"]
    if "ops" in res:
        o = res["ops"]["core"]
        lines.append(f"ops:    {cfg['lanes']} lanes x {cfg['steps']} steps of y = (y*a + b).tanh(): "
                     f"{o['binary_ops']:,} binary + {o['tanh_ops']:,} tanh + 1 sum = {o['nodes']:,} nodes")
    if "deep" in res:
        lines.append(f"deep:   chain y = y * 1.0000001 + 0.0, depth {cfg['depth']:,} "
                     f"= {res['deep']['core']['nodes']:,} nodes")
    if "chain" in res:
        lines.append(f"chain:  {res['chain']['core']['steps']:,} steps cycling mul(a), add(b), tanh(), "
                     f"as a Chain and as operators")
    if "mlp" in res:
        lines.append(f"mlp:    MLP(2, [16, 16, 1]), 100 two-moons points, hinge + L2, SGD; "
                     f"median of {cfg['mlp_steps']} steps, fresh interpreter per run")
    if "memory" in res:
        lines.append(f"memory: RSS growth of a fresh process building y = y * x, "
                     f"{cfg['mem_nodes']:,} nodes")
    torch = result.get("torch")
    head = f"{'workload':<8} {'metric':<22} {'core':>10} {'python':>10} {'py/core':>8}"
    if torch:
        head += f" {'torch':>10} {'torch/core':>10}"
    lines += ["", head, "-" * len(head)]
    for name, per in res.items():
        for label, key, fmt in _ROWS[name]:
            ratio = per["ratio"].get(key)
            line = (f"{name:<8} {label:<22} {_get(per['core'], key):>10{fmt}} "
                    f"{_get(per['python'], key):>10{fmt}} "
                    f"{'' if ratio is None else f'{ratio:.1f}x':>8}")
            if torch and key in per.get("torch", {}):
                line += f" {per['torch'][key]:>10{fmt}} {per['ratio_torch'][key]:>9.1f}x"
            lines.append(line)
    agree = {n: p["backends_agree"] for n, p in res.items() if "backends_agree" in p}
    if agree:
        lines += ["", "root value and leaf gradient identical on both backends: "
                  + ", ".join(f"{n} {'yes' if ok else 'NO'}" for n, ok in agree.items())]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes, 3 samples")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--workload", action="append", choices=WORKLOADS, metavar="NAME",
                   help=f"run only this workload (repeatable): {', '.join(WORKLOADS)}")
    p.add_argument("--no-torch", action="store_true", help="leave out the torch column")
    args = p.parse_args(argv)
    # Progress goes to stderr so stdout stays a clean table or JSON object.
    try:
        result = run(args.workload, args.quick, with_torch=not args.no_torch,
                     progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    except RuntimeError as exc:
        print(f"micrograd bench: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
