"""One training workload: MLP(2, [16, 16, 1]) on 100 two-moons points, full
batch, SVM (hinge) loss + 1e-4 L2, SGD with lr = 1.0 - 0.9*k/100.

    python -m micrograd.bench.mlp --api nn --steps 20      # micrograd.nn + micrograd.optim
    python -m micrograd.bench.mlp --api compat --steps 20  # engine.Value + nn.MLP, 0.1.0 style

The backend is the active one (MICROGRAD_PUREPYTHON=1 for the reference).
Prints one JSON object: median seconds per step (forward, backward, update),
the final loss and accuracy.
"""
import argparse
import json
import random
import statistics
import time

import numpy as np

import micrograd
from micrograd import datasets, engine, losses, nn, optim


def data():
    np.random.seed(1337)
    random.seed(1337)
    X, y = datasets.make_moons(n_samples=100, noise=0.1)
    return X.tolist(), [float(v) for v in y * 2 - 1]


def run_nn(steps):
    X, y = data()
    model = nn.MLP(2, [16, 16, 1])
    params = model.parameters()
    opt = optim.SGD(params, lr=1.0)
    times = []
    for k in range(steps):
        t0 = time.perf_counter()
        scores = [model(row) for row in X]
        loss = losses.hinge(scores, y) + 1e-4 * micrograd.dot(params, params)
        opt.zero_grad()
        loss.backward()
        opt.param_groups[0]["lr"] = 1.0 - 0.9 * k / 100
        opt.step()
        times.append(time.perf_counter() - t0)
    acc = sum((yi > 0) == (s.value > 0) for yi, s in zip(y, scores)) / len(y)
    return times, loss.value, acc


def run_compat(steps):
    X, y = data()
    model = nn.MLP(2, [16, 16, 1])
    times = []
    for k in range(steps):
        t0 = time.perf_counter()
        inputs = [list(map(engine.Value, row)) for row in X]
        scores = list(map(model, inputs))
        data_loss = sum((1 + -yi * si).relu() for yi, si in zip(y, scores)) * (1.0 / len(y))
        loss = data_loss + 1e-4 * sum(p * p for p in model.parameters())
        model.zero_grad()
        loss.backward()
        lr = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= lr * p.grad
        times.append(time.perf_counter() - t0)
    acc = sum((yi > 0) == (s.data > 0) for yi, s in zip(y, scores)) / len(y)
    return times, loss.data, acc


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--api", choices=["nn", "compat"], default="nn")
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args(argv)
    times, loss, acc = (run_nn if args.api == "nn" else run_compat)(args.steps)
    print(json.dumps(dict(api=args.api, backend=micrograd.BACKEND, steps=args.steps,
                          median_s_per_step=statistics.median(times), final_loss=loss,
                          accuracy=acc)))


if __name__ == "__main__":
    main()
