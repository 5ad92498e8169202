"""Forward mode's cost: tape.jvp next to replay and backward, jacfwd against jacobian.

    python benchmarks/forward_bench.py [--rounds 7]

Core only, one process, GC off while the clock runs; each figure is the median
over the rounds of the best of 3 repetitions, and every workload takes its turn
within each round, so the ratios compare like with like on a shared machine.

- the tape: MLP(2, [16, 16, 1]) and MLP(2, [64, 64, 1]) traced as in
  docs/training.md, a batch of 4,096 rows; ns per instruction per lane for
  tape(X) (forward), tape.jvp(X, V) and tape.value_and_grad(X, "none") (forward
  and backward); replay is the fast replay (dense layers as matrix products),
  plain replay the interpreter it is checked against, on which jvp is built
  (jvp has no lowering).
- jacfwd against jacobian (reverse, one backward per output): a tall function
  (4 inputs, 64 outputs) and a wide one (64 inputs, 4 outputs), each output a
  tanh of a weighted sum of all inputs; ms per Jacobian.
"""
import argparse
import gc
import statistics
import time

import numpy as np

import micrograd as mg
from micrograd import _core as core
from micrograd import nn

now = time.perf_counter


def best(fn, reps=3):
    out = []
    for _ in range(reps):
        gc.collect()
        gc.disable()
        try:
            t0 = now()
            fn()
            out.append(now() - t0)
        finally:
            gc.enable()
    return min(out)


def tape_workloads(width, B=4096):
    model = nn.MLP(2, [width, width, 1], seed=0)
    tape = mg.trace(lambda x0, x1: model([x0, x1]), core.Number(0.0), core.Number(0.0))
    rng = np.random.default_rng(0)
    X, V = rng.uniform(-2, 2, (B, 2)), rng.uniform(-1, 1, (B, 2))
    per = B * tape._impl.shape[2]            # lanes x instructions
    plain = mg.trace(lambda x0, x1: model([x0, x1]), core.Number(0.0), core.Number(0.0))
    plain.replay = "plain"
    return per, {f"w{width} replay": lambda: tape(X),
                 f"w{width} plain replay": lambda: plain(X),
                 f"w{width} jvp": lambda: tape.jvp(X, V),
                 f"w{width} replay+backward": lambda: tape.value_and_grad(X, "none")}


def dense_function(n_in, n_out, seed):
    W = np.random.default_rng(seed).uniform(-1, 1, (n_out, n_in)) / n_in ** 0.5

    def f(*xs):
        return [core.dot([float(w) for w in row], list(xs)).tanh() for row in W]
    return f


def jacobian_workloads():
    out = {}
    for name, (n_in, n_out) in {"tall 4->64": (4, 64), "wide 64->4": (64, 4)}.items():
        f = dense_function(n_in, n_out, n_in)
        args = [core.Number(0.1 * (i % 7) - 0.3) for i in range(n_in)]
        out[f"{name} jacfwd"] = lambda f=f, args=args: mg.jacfwd(f)(*args)
        out[f"{name} jacobian"] = lambda f=f, args=args: mg.jacobian(f)(*args)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    rounds = ap.parse_args(argv).rounds
    scale, work = {}, {}
    for width in (16, 64):
        per, w = tape_workloads(width)
        for k, fn in w.items():
            scale[k], work[k] = 1e9 / per, fn
    for k, fn in jacobian_workloads().items():
        scale[k], work[k] = 1e3, fn
    samples = {k: [] for k in work}
    for _ in range(rounds):
        for k, fn in work.items():
            samples[k].append(best(fn) * scale[k])
    med = {k: statistics.median(v) for k, v in samples.items()}
    print("| tape (batch 4,096), ns / instruction / lane | replay | plain replay | jvp "
          "| replay + backward | jvp / plain replay |")
    print("|---|---:|---:|---:|---:|---:|")
    for width in (16, 64):
        r, p, j, b = (med[f"w{width} {x}"]
                      for x in ("replay", "plain replay", "jvp", "replay+backward"))
        print(f"| MLP(2, [{width}, {width}, 1]) | {r:.2f} | {p:.2f} | {j:.2f} | {b:.2f} "
              f"| {j / p:.1f} |")
    print()
    print("| function | jacfwd | jacobian (reverse) | jacfwd / jacobian |")
    print("|---|---:|---:|---:|")
    for name in ("tall 4->64", "wide 64->4"):
        f, r = med[f"{name} jacfwd"], med[f"{name} jacobian"]
        print(f"| {name}, ms | {f:.2f} | {r:.2f} | {f / r:.2f} |")


if __name__ == "__main__":
    main()
