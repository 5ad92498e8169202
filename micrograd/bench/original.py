"""The original micrograd's column: `python -m micrograd bench --original PATH`.

PATH is a checkout (or install folder) holding karpathy's `micrograd`
package.  Both packages are named micrograd, so each side runs the same
script in a fresh interpreter: the original with PATH first on sys.path, ours
as installed.  The script uses only the API the two share (micrograd 0.1.0's
`engine.Value` and `nn.MLP`; ours is drop-in compatible), so the two columns
time the same work.  The original has no tanh and sorts recursively, so the
graphs use relu and stay a few hundred nodes deep.
"""
import json
import os
import subprocess
import sys
import tempfile

SCRIPT = r'''
import gc, json, random, statistics, sys, time
import micrograd
from micrograd.engine import Value
from micrograd.nn import MLP

ours = hasattr(micrograd, "BACKEND")
if ours != {want_ours!r}:
    sys.exit("this is " + ("our" if ours else "the original") + " micrograd: "
             + getattr(micrograd, "__file__", "?"))
REPEATS = {repeats}


def median_ns(fn, n):
    samples = []
    for _ in range(REPEATS):
        gc.collect()        # each sample starts from the same heap
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) / n * 1e9)
    return statistics.median(samples)


N = {nops}
a, b = Value(0.5), Value(-1.5)
per_op = dict(
    mul=median_ns(lambda: [a * b for _ in range(N)], N),
    add=median_ns(lambda: [a + b for _ in range(N)], N),
    relu=median_ns(lambda: [a.relu() for _ in range(N)], N))

# a relu network: lanes of y = (y*w + c).relu(), summed
LANES, STEPS = {lanes}, {steps}
rng = random.Random(0)
ws = [Value(rng.uniform(-1, 1)) for _ in range(STEPS)]
cs = [Value(rng.uniform(-1, 1)) for _ in range(STEPS)]


def build():
    total = Value(0.0)
    for lane in range(LANES):
        y = Value(0.1 * lane)
        for w, c in zip(ws, cs):
            y = (y * w + c).relu()
        total = total + y
    return total


nodes = LANES * STEPS * 3 + LANES * 2 + 1
fwd, bwd = [], []
for _ in range(REPEATS):
    gc.collect()
    t = time.perf_counter(); root = build(); t1 = time.perf_counter()
    root.backward(); t2 = time.perf_counter()
    fwd.append((t1 - t) / nodes * 1e9); bwd.append((t2 - t1) / nodes * 1e9)
    del root

# the classic demo's step: MLP(2, [16, 16, 1]), 100 points, hinge + 1e-4 L2, SGD
random.seed(1337)
data = [[rng.uniform(-1.5, 2.5), rng.uniform(-1, 1.5)] for _ in range(100)]
labels = [1.0 if x + 0.5 * y > 0.5 else -1.0 for x, y in data]
model = MLP(2, [16, 16, 1])
steps = []
for k in range({mlp_steps}):
    t = time.perf_counter()
    scores = [model(row) for row in data]
    loss = sum((1 + -y * s).relu() for y, s in zip(labels, scores)) * (1.0 / len(data))
    loss = loss + 1e-4 * sum(p * p for p in model.parameters())
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= 0.05 * p.grad
    steps.append(time.perf_counter() - t)
print(json.dumps(dict(per_op_ns=per_op, forward_ns_per_node=statistics.median(fwd),
                      backward_ns_per_node=statistics.median(bwd),
                      mlp_ms_per_step=1e3 * statistics.median(steps),
                      file=getattr(micrograd, "__file__", None))))
'''

SIZES = {False: dict(repeats=7, nops=20000, lanes=40, steps=100, mlp_steps=9),
         True: dict(repeats=3, nops=5000, lanes=10, steps=50, mlp_steps=3)}


def _side(path, quick):
    """The script's figures in a fresh interpreter: the original's with path
    first on sys.path, or ours (path None) as installed."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if path is not None:
        env["PYTHONPATH"] = os.path.abspath(path)
    code = SCRIPT.format(want_ours=path is None, **SIZES[bool(quick)])
    with tempfile.TemporaryDirectory() as cwd:       # so the cwd shadows nothing
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, cwd=cwd, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"the {'original' if path else 'our'} micrograd run failed: "
                           f"{(proc.stderr or proc.stdout).strip().splitlines()[-1]}")
    return json.loads(proc.stdout)


# what SCRIPT imports from the original: `micrograd.engine` and `micrograd.nn`
NEEDS = ("engine.py", "nn.py")


def problem(path):
    """Why `path` cannot be the original's folder, or None if it can."""
    if not os.path.isdir(path):
        return f"{path!r} is not a folder (give the folder that holds karpathy's micrograd package)"
    for name in NEEDS:
        if not os.path.isfile(os.path.join(path, "micrograd", name)):
            return (f"no micrograd/{name} in {path!r} (give the folder that holds "
                    f"karpathy's micrograd package)")
    return None


def run(path, quick=False):
    """{'original': ..., 'core': ..., 'ratio': original / core} for the shared workloads."""
    why = problem(path)
    if why is not None:
        raise RuntimeError(f"--original: {why}")
    original, core = _side(path, quick), _side(None, quick)
    ratio = {k: original[k] / core[k] for k in ("forward_ns_per_node", "backward_ns_per_node",
                                                 "mlp_ms_per_step")}
    ratio.update({f"per_op_ns.{k}": original["per_op_ns"][k] / v
                  for k, v in core["per_op_ns"].items()})
    return dict(original=original, core=core, ratio=ratio, path=os.path.abspath(path))


ROWS = [("mul ns/op", "per_op_ns.mul"), ("add ns/op", "per_op_ns.add"),
        ("relu ns/op", "per_op_ns.relu"), ("relu net forward ns/node", "forward_ns_per_node"),
        ("relu net backward ns/node", "backward_ns_per_node"),
        ("MLP step ms (classic demo)", "mlp_ms_per_step")]


def table_lines(res):
    """The original's column beside the core's."""
    def get(d, key):
        head, _, tail = key.partition(".")
        return d[head][tail] if tail else d[key]
    lines = ["", f"the original micrograd ({res['path']}) against the core, same script, "
                 f"fresh interpreters", f"{'metric':<28} {'original':>10} {'core':>10} "
                                      f"{'orig/core':>10}", "-" * 61]
    for label, key in ROWS:
        lines.append(f"{label:<28} {get(res['original'], key):>10.1f} "
                     f"{get(res['core'], key):>10.2f} {res['ratio'][key]:>9.1f}x")
    return lines
