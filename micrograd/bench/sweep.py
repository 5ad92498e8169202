"""The width sweep: one training step of the moons network MLP 2-W-W-1 (mean
hinge loss, L2 1e-4 as SGD's weight decay) at seven (batch, width) points,
through the tape on 1 and 2 threads, JAX jit on one thread and with its
default threads, and eager PyTorch on one thread, all in this run.

Each system runs in a fresh process per point (JAX reads its thread flags at
start-up); each figure is the median step time of `steps` steps after one
untimed warm-up step.  The multiply-add bound is the step's multiply-adds
(forward, weight gradients, input gradients past the first layer) at the
one-core rate of separate multiplies and adds, measured here by
micrograd._core.mac_rate().
"""
import json
import statistics
import subprocess
import sys
import time

import numpy as np

from .workloads import child_env

POINTS = ((100, 16), (1000, 16), (10000, 16), (100, 64), (1000, 64), (100, 128), (1000, 128))
THREADS_POINT = (10000, 64)     # where two threads must pay: the tape alone
SYSTEMS = ("tape_1", "tape_2", "jax_1", "jax", "torch")
# one thread for XLA's CPU client: its Eigen pool and its intra-op pool
JAX_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
LR = 0.05


def macs(batch, width):
    """Multiply-adds of one step: forward and weight gradients each
    B (2W + W^2 + W), input gradients of layers 2 and 3, B (W^2 + W)."""
    return batch * (2 * (2 * width + width * width + width) + width * width + width)


def setup(batch, width, seed=0):
    """(X, labels, layers): moons points and the network's starting weights,
    layers as (W (nin, nout), b (nout,)) arrays, the same for every system."""
    from micrograd.datasets import make_moons
    X, y = make_moons(batch, noise=0.1, seed=seed)
    t = np.where(np.asarray(y) > 0, 1.0, -1.0)
    rng = np.random.default_rng(seed)
    sizes = (2, width, width, 1)
    layers = [(rng.uniform(-1, 1, (sizes[i], sizes[i + 1])) / np.sqrt(sizes[i]),
               np.zeros(sizes[i + 1])) for i in range(3)]
    return np.asarray(X, dtype=np.float64), t, layers


def _median_step(step, steps):
    step()                                   # tracing, compiling, first touch
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def run_tape(batch, width, threads, steps):
    import micrograd
    from micrograd import _core as m
    from micrograd import optim

    from .tape import moons_loss
    X, t, layers = setup(batch, width)
    W = [[[m.Number(b[j])] + [m.Number(v) for v in Wl[:, j]] for j in range(Wl.shape[1])]
         for Wl, b in layers]
    params = [p for layer in W for n in layer for p in n]
    tape = micrograd.trace(moons_loss(m, W), m.Number(0.0), m.Number(0.0), m.Number(1.0))
    batch_rows = np.ascontiguousarray(np.column_stack([X, t]))
    opt = optim.SGD(params, lr=LR, weight_decay=2e-4)

    def step():
        opt.zero_grad()
        tape.backward(batch_rows, threads=threads)
        opt.step()
    return {"step_ms": _median_step(step, steps), "lanes": tape.lanes,
            "replay": tape.replay, "kernels": m.gemm_path()}


def run_jax(batch, width, steps):
    from .others import _jax_info, _load_jax, jax_step
    jax = _load_jax()
    if jax is None:
        return None
    import jax.numpy as jnp
    X, t, layers = setup(batch, width)
    update = jax_step(jax, jnp.array(X), jnp.array(t))
    state = [tuple(jnp.array(a) for W, b in layers for a in (W, b))]

    def step():
        state[0], loss = update(state[0], LR)
        jax.block_until_ready(loss)
    return {"step_ms": _median_step(step, steps), **_jax_info(jax)}


def run_torch(batch, width, steps):
    from .others import load_torch, torch_step
    torch = load_torch()
    if torch is None:
        return None
    torch.set_num_threads(1)
    X, t, layers = setup(batch, width)
    update = torch_step(torch, torch.tensor(X), torch.tensor(t))
    params = [torch.tensor(a).requires_grad_() for W, b in layers for a in (W, b)]
    return {"step_ms": _median_step(lambda: update(params, LR), steps),
            "version": torch.__version__}


def _child(system, batch, width, steps):
    """One system at one point, in a fresh process: its result, or None."""
    env = child_env()
    if system == "jax_1":
        env["XLA_FLAGS"] = JAX_ONE_THREAD
    code = (f"import json; from micrograd.bench import sweep; "
            f"print(json.dumps(sweep.child({system!r}, {batch}, {width}, {steps})))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child(system, batch, width, steps):
    if system.startswith("tape"):
        return run_tape(batch, width, int(system[-1]), steps)
    if system.startswith("jax"):
        return run_jax(batch, width, steps)
    return run_torch(batch, width, steps)


def run(points=POINTS, systems=SYSTEMS, steps=None, progress=None):
    """Every system at every point; figures in ms, with the multiply-add
    bound and each system's ratio to the one-thread tape."""
    from micrograd import _core
    rate = _core.mac_rate()
    out = {"mac_rate_gmacs": rate / 1e9, "kernels": _core.gemm_path(), "points": []}
    for batch, width in points:
        n = steps or max(20, min(200, int(1e9 / macs(batch, width))))
        row = {"batch": batch, "width": width, "macs": macs(batch, width),
               "bound_ms": macs(batch, width) / rate * 1e3, "steps": n}
        for system in systems:
            if progress:
                progress(f"sweep {system} at batch {batch}, width {width} ...")
            got = _child(system, batch, width, n)
            row[system] = got
        best = [row[s]["step_ms"] for s in ("tape_1", "tape_2") if "step_ms" in (row.get(s) or {})]
        if best:
            row["tape_best_ms"] = min(best)
            row["tape_over_bound"] = row["tape_1"]["step_ms"] / row["bound_ms"] \
                if "step_ms" in (row.get("tape_1") or {}) else None
        out["points"].append(row)
    if "tape_1" in systems and "tape_2" in systems:
        batch, width = THREADS_POINT
        n = steps or 30
        if progress:
            progress(f"sweep: threads at batch {batch}, width {width} ...")
        one, two = (_child(s, batch, width, n) for s in ("tape_1", "tape_2"))
        out["threads"] = {"batch": batch, "width": width, "tape_1": one, "tape_2": two,
                          "speedup": one["step_ms"] / two["step_ms"]
                          if "step_ms" in one and "step_ms" in two else None}
    return out


def table_lines(res):
    lines = ["", f"sweep: MLP 2-W-W-1 step, ms (median); multiply-add bound at "
                 f"{res['mac_rate_gmacs']:.1f} GMAC/s on one core; kernels {res['kernels']}",
             f"{'batch':>6} {'W':>4} {'tape 1t':>8} {'tape 2t':>8} {'jax 1t':>8} {'jax':>8} "
             f"{'torch':>8} {'bound':>7} {'tape/bnd':>8} {'1t/jax1t':>8} {'best/jax':>8}"]

    def ms(row, key):
        v = (row.get(key) or {}).get("step_ms")
        return f"{v:8.3f}" if v is not None else f"{'-':>8}"

    def ratio(a, b):
        return f"{a / b:8.2f}" if a is not None and b else f"{'-':>8}"
    for row in res["points"]:
        t1 = (row.get("tape_1") or {}).get("step_ms")
        j1 = (row.get("jax_1") or {}).get("step_ms")
        jd = (row.get("jax") or {}).get("step_ms")
        lines.append(f"{row['batch']:>6} {row['width']:>4} {ms(row, 'tape_1')} "
                     f"{ms(row, 'tape_2')} {ms(row, 'jax_1')} {ms(row, 'jax')} "
                     f"{ms(row, 'torch')} {row['bound_ms']:7.3f} {ratio(t1, row['bound_ms'])} "
                     f"{ratio(t1, j1)} {ratio(row.get('tape_best_ms'), jd)}")
    th = res.get("threads")
    if th and th.get("speedup"):
        lines.append(f"threads: batch {th['batch']:,}, width {th['width']}: tape "
                     f"{th['tape_1']['step_ms']:.3f} ms on 1 thread, "
                     f"{th['tape_2']['step_ms']:.3f} on 2 ({th['speedup']:.2f}x)")
    return lines


def main():
    res = run(progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(res, indent=1))
    print("\n".join(table_lines(res)), file=sys.stderr)


if __name__ == "__main__":
    main()
