"""What a tape's replay on an executor costs per training step, against threads.

    python benchmarks/executor_bench.py [--steps 5] [--sizes 10000,100000,1000000]
                                        [--widths 16,64] [--json]

One training step is ``opt.zero_grad(); tape.backward(X); opt.step()`` on the two-moons
hinge loss of ``nn.MLP(2, [w, w, 1])`` (docs/training.md, "With a tape"), its batch X
the moons points with their labels. Per batch size and width, in one run, the median
over the steps (after one warm-up step) of:

  threads=2     the replay in this process on 2 threads (the baseline)
  pool          a ProcessPoolExecutor(2) (spawn): X's rows are sent every step
  cluster       a dask LocalCluster, 2 worker processes of 1 thread: X's rows are
                scattered every step
  cluster, X    the same cluster, X a dask array whose two blocks (of whole
  on workers    chunks) were scattered to it once: only the parameters go out

and the per-step overhead of each against threads=2. Every column's gradients are
checked against threads=1's with == before anything is timed. The chunk sums that
come back per step are (B / tape.lanes) x (parameters + 1) doubles: that figure is
printed too, since it, not the replay, sets the cost at width 64.
"""
import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import micrograd as mg  # noqa: E402
from micrograd import nn, optim  # noqa: E402
from micrograd.datasets import make_moons  # noqa: E402


def moons_tape(width):
    model = nn.MLP(2, [width, width, 1], seed=0)
    tape = mg.trace(lambda x0, x1, t: (1 - t * model([x0, x1])).relu(), 0.0, 0.0, 0.0)
    return model, tape


def moons_batch(rows):
    X, y = make_moons(rows, noise=0.1, seed=0)
    return np.ascontiguousarray(np.column_stack([X, 2.0 * y - 1]))


def step_ms(model, tape, X, steps, **run):
    """Median ms of one SGD step (the first, which sends the tape, not counted)."""
    opt = optim.SGD(model.parameters(), lr=0.1)
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        tape.backward(X, **run)
        opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:]) * 1e3


def same_bits(model, tape, X, **run):
    grads = []
    for how in ({"threads": 1}, run):
        for p in model.parameters():
            p.gradient = 0.0
        loss = tape.backward(X, **how)
        grads.append((loss, [p.gradient for p in model.parameters()]))
    return grads[0] == grads[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--widths", default="16,64")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import dask.array as da
    from distributed import Client, LocalCluster

    rows_list = [int(s) for s in args.sizes.split(",")]
    widths = [int(s) for s in args.widths.split(",")]
    results = []
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    # ":0": any free port for the dashboard (another cluster may hold 8787)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=":0") as lc, Client(lc) as client, pool:
        for width in widths:
            model, tape = moons_tape(width)
            for rows in rows_list:
                X = moons_batch(rows)
                # blocks of whole chunks, one per worker, scattered once and
                # kept there (from_array would put X in the graph)
                block = -(-rows // tape.lanes // 2) * tape.lanes
                parts = [X[a:a + block] for a in range(0, rows, block)]
                D = da.concatenate([da.from_delayed(f, shape=p.shape, dtype=float)
                                    for f, p in zip(client.scatter(parts), parts)])
                runs = {"threads=2": {"threads": 2}, "pool": {"executor": pool},
                        "cluster": {"executor": client},
                        "cluster, X on workers": {"executor": client, "X": D}}
                row = {"width": width, "rows": rows, "params": len(tape.params),
                       "lanes": tape.lanes,
                       "sums_mb": -(-rows // tape.lanes) * (len(tape.params) + 1) * 8 / 1e6}
                for name, run in runs.items():
                    run = dict(run)
                    data = run.pop("X", X)
                    assert same_bits(model, tape, data, **run), (name, width, rows)
                    row[name] = step_ms(model, tape, data, args.steps, **run)
                    print(f"width {width} rows {rows} {name}: {row[name]:.1f} ms",
                          file=sys.stderr)
                results.append(row)
                del D, parts
    if args.json:
        print(json.dumps(results))
        return 0
    names = list(runs)
    print(f"| width | batch | chunk sums back | {' | '.join(names)} | "
          f"{' | '.join('overhead, ' + n for n in names[1:])} |")
    print("|---:" * (3 + 2 * len(names) - 1) + "|")
    for r in results:
        cells = [f"{r[n]:.1f}" for n in names]
        over = [f"{r[n] - r['threads=2']:+.1f}" for n in names[1:]]
        print(f"| {r['width']} | {r['rows']:,} | {r['sums_mb']:.1f} MB | "
              f"{' | '.join(cells)} | {' | '.join(over)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
