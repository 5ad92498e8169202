"""A/B of the compiled core's op-by-op hot paths between two builds.

    python benchmarks/ab_ops.py OLD_TREE NEW_TREE [--rounds 9]

Each tree is a source checkout with its core built in place.  Every round
runs one child process per tree, in alternating order, and each child times
every workload below (the best of 5 repetitions, GC off while the clock
runs) and prints JSON.  The table gives, per workload, each tree's median
over the rounds and the median of the per-round ratios NEW / OLD: a change
that moves nothing shows ratios within the machine's noise of 1.00.

Workloads (core only; ns per op or per node, ms per step):
  x*y            a binary operator on two Numbers
  x.relu()       a table-made unary method
  x.add(y)       a method of the class body
  fwd / node     building a 300,000-node graph (x * a + b, tanh)
  bwd / node     its backward
  chain step     Chain(y).mul(a).add(b).tanh(), per step
  moons step     MLP(2, [16, 16, 1]) on 100 moons points, op by op, one SGD step
"""
import json
import os
import statistics
import subprocess
import sys

CHILD = r'''
import gc, json, statistics, time
import micrograd
from micrograd import _core as m
from micrograd.bench import mlp
now = time.perf_counter_ns

def best(fn, n, reps=5):
    out = []
    for _ in range(reps):
        gc.collect(); gc.disable()
        try:
            t0 = now(); fn(); out.append((now() - t0) / n)
        finally:
            gc.enable()
    return min(out)

N = 200_000
x, y = m.Number(0.3), m.Number(0.7)
def mul():
    for _ in range(N): x * y
def relu():
    for _ in range(N): x.relu()
def add():
    for _ in range(N): x.add(y)
r = {"x*y": best(mul, N), "x.relu()": best(relu, N), "x.add(y)": best(add, N)}

K = 100_000
fwd, bwd = [], []
for _ in range(5):
    a, b, s = m.Number(0.9), m.Number(0.05), m.Number(0.1)
    gc.collect(); gc.disable()
    try:
        t0 = now()
        for _ in range(K): s = (s * a + b).tanh()
        t1 = now(); s.backward(); t2 = now()
    finally:
        gc.enable()
    fwd.append((t1 - t0) / (3 * K)); bwd.append((t2 - t1) / (3 * K))
    del s
r["fwd / node"], r["bwd / node"] = min(fwd), min(bwd)

def chain():
    c = m.Chain(m.Number(0.1)); a, b = m.Number(0.9), m.Number(0.05)
    for _ in range(K // 3): c = c.mul(a).add(b).tanh()
    c.result()
r["chain step"] = best(chain, 3 * (K // 3))

times, _, _ = mlp.run_nn(12)
r["moons step"] = statistics.median(times[2:]) * 1e3     # ms
print(json.dumps(r))
'''


def run(tree):
    env = dict(os.environ, PYTHONPATH=tree)
    env.pop("MICROGRAD_PUREPYTHON", None)
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=tree, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main(argv):
    old, new = os.path.abspath(argv[0]), os.path.abspath(argv[1])
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 9
    runs = {old: [], new: []}
    for k in range(rounds):
        for tree in ((old, new) if k % 2 == 0 else (new, old)):
            runs[tree].append(run(tree))
    print(f"{'workload':<12} {'old':>10} {'new':>10} {'new/old':>8}   (median of {rounds} rounds)")
    for key in runs[old][0]:
        a = statistics.median(r[key] for r in runs[old])
        b = statistics.median(r[key] for r in runs[new])
        ratio = statistics.median(n[key] / o[key] for o, n in zip(runs[old], runs[new]))
        unit = "ms" if key == "moons step" else "ns"
        print(f"{key:<12} {a:>8.2f}{unit} {b:>8.2f}{unit} {ratio:>8.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
