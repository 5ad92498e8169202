"""The demo behind `python -m micrograd demo`: an MLP on two moons.

The default is micrograd's classic: MLP(2, [16, 16, 1]), SVM (hinge) loss
plus 1e-4 L2, SGD with lr = 1.0 - 0.9*k/steps, data and weights seeded 1337;
it reaches 100% training accuracy in 100 steps.
"""
import random
import time

import numpy as np

from . import dot, losses, nn, no_grad, optim
from .datasets import make_moons


def train(steps=100, seed=1337, hidden=(16, 16), optimizer="sgd", lr=None, on_step=None):
    np.random.seed(seed)
    random.seed(seed)
    X, y = make_moons(n_samples=100, noise=0.1)
    labels = [float(v) for v in y * 2 - 1]
    rows = X.tolist()
    model = nn.MLP(2, list(hidden) + [1])
    params = model.parameters()
    if optimizer == "adam":
        opt, schedule = optim.Adam(params, lr=0.05 if lr is None else lr), None
    else:
        base = 1.0 if lr is None else lr
        opt = optim.SGD(params, lr=base)
        schedule = lambda k: base * (1.0 - 0.9 * k / steps)      # noqa: E731
    history, started = [], time.perf_counter()
    for k in range(steps):
        scores = [model(row) for row in rows]
        loss = losses.hinge(scores, labels) + 1e-4 * dot(params, params)
        opt.zero_grad()
        loss.backward()
        if schedule:
            opt.param_groups[0]["lr"] = schedule(k)
        opt.step()
        accuracy = sum((t > 0) == (s.value > 0) for t, s in zip(labels, scores)) / len(labels)
        history.append(loss.value)
        if on_step:
            on_step(k, loss.value, accuracy)
    elapsed = time.perf_counter() - started
    with no_grad():
        scores = [model(row) for row in rows]
    accuracy = sum((t > 0) == (s.value > 0) for t, s in zip(labels, scores)) / len(labels)
    return dict(model=model, X=X, y=y, losses=history, accuracy=accuracy,
                seconds_per_step=elapsed / max(steps, 1))


def plot(result, path):
    """The decision boundary with the data points, and the loss curve, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model, X, y = result["model"], result["X"], result["y"]
    h = 0.05
    xs = np.arange(X[:, 0].min() - 1, X[:, 0].max() + 1, h)
    ys = np.arange(X[:, 1].min() - 1, X[:, 1].max() + 1, h)
    xx, yy = np.meshgrid(xs, ys)
    with no_grad():
        zz = np.array([model([a, b]).value for a, b in zip(xx.ravel(), yy.ravel())])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.contourf(xx, yy, (zz > 0).reshape(xx.shape), cmap=plt.cm.Spectral, alpha=0.8)
    left.scatter(X[:, 0], X[:, 1], c=y, s=40, cmap=plt.cm.Spectral, edgecolors="k")
    left.set_title(f"decision boundary (accuracy {result['accuracy']:.0%})")
    right.plot(result["losses"])
    right.set_yscale("log")
    right.set_xlabel("step")
    right.set_title("training loss")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
