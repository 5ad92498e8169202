"""Toy data sets, with NumPy: the same numbers as scikit-learn's functions.

`make_moons` and `make_blobs` follow scikit-learn's algorithms on NumPy's
legacy `RandomState` step for step, so for the same seed they give the same
arrays (checked against scikit-learn in the tests where it imports).  With
`seed=None` they draw from NumPy's global RandomState, as scikit-learn does
with `random_state=None`: `np.random.seed(1337); make_moons(100, 0.1)` gives
the classic demo's data.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

__all__ = ["make_moons", "make_blobs"]


def _rng(seed):
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, np.random.RandomState):
        return seed
    return np.random.RandomState(seed)


def _shuffle(rng, *arrays):
    order = np.arange(arrays[0].shape[0])
    rng.shuffle(order)
    return [a[order] for a in arrays]


def make_moons(n_samples: int = 100, noise: Optional[float] = None, seed: Any = None,
               shuffle: bool = True) -> tuple[Any, Any]:
    """Two interleaving half circles: (X of shape (n, 2), y of 0/1 labels)."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    rng = _rng(seed)
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(t_out), 1 - np.cos(t_in)),
                   np.append(np.sin(t_out), 1 - np.sin(t_in) - 0.5)]).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    if shuffle:
        X, y = _shuffle(rng, X, y)
    if noise is not None:
        X += rng.normal(scale=noise, size=X.shape)
    return X, y


def make_blobs(n_samples: int = 100, n_features: int = 2, centers: Any = None,
               cluster_std: Any = 1.0, center_box: tuple[float, float] = (-10.0, 10.0),
               seed: Any = None, shuffle: bool = True) -> tuple[Any, Any]:
    """Gaussian blobs: (X of shape (n, n_features), y of blob labels).

    n_samples is an int (spread over the centers as evenly as possible);
    centers is a count (default 3, drawn uniformly in center_box) or an array.
    """
    rng = _rng(seed)
    if centers is None:
        centers = 3
    if isinstance(centers, (int, np.integer)):
        centers = rng.uniform(center_box[0], center_box[1], size=(centers, n_features))
    else:
        centers = np.asarray(centers, dtype=float)
        n_features = centers.shape[1]
    n_centers = centers.shape[0]
    stds = np.full(n_centers, cluster_std) if np.ndim(cluster_std) == 0 else np.asarray(cluster_std)
    per_center = [n_samples // n_centers] * n_centers
    for i in range(n_samples % n_centers):
        per_center[i] += 1
    X = np.concatenate([rng.normal(loc=centers[i], scale=stds[i], size=(n, n_features))
                        for i, n in enumerate(per_center)])
    y = np.concatenate([np.full(n, i, dtype=int) for i, n in enumerate(per_center)])
    if shuffle:
        X, y = _shuffle(rng, X, y)
    return X, y
