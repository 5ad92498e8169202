"""Loss functions over lists of Numbers (or reals), as torch.nn.functional.

Each takes predictions and targets (one of each, or equal-length lists) and
`reduction='mean'|'sum'|'none'`; 'mean' is the sum divided by the count.

=========================  ==================================================
mse(pred, target)          (pred - target)^2
hinge(score, label)        max(0, margin - label * score), labels +-1
binary_cross_entropy(      softplus(x) - x * t, i.e. -t log s(x) - (1-t) log(1-s(x)),
  logit, target)           with softplus as z + log1p(e^-z): stable for any logit
cross_entropy(logits, k)   -log_softmax(logits)[k]; a list of logit lists with a
                           list of class indices for a batch
=========================  ==================================================
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Union

from ._backend import module_of
from .activations import log_softmax
from .functions import number as _number

if TYPE_CHECKING:
    from ._core import Number

Real = Union["Number", float, int]

__all__ = ["mse", "hinge", "binary_cross_entropy", "cross_entropy"]


def _pairs(pred, target):
    single = not isinstance(pred, (list, tuple))
    preds = [pred] if single else list(pred)
    targets = [target] if single else list(target)
    if len(preds) != len(targets):
        raise ValueError(f"{len(preds)} predictions but {len(targets)} targets")
    if not preds:
        raise ValueError("no predictions")
    return preds, targets


def _reduce(terms, reduction, mod):
    if reduction == "none":
        return terms
    total = mod.sum(terms)
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total / len(terms)
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def mse(pred: Any, target: Any, reduction: str = "mean") -> Any:
    preds, targets = _pairs(pred, target)
    mod = module_of(preds + targets)
    terms = [(_number(p, mod) - t) ** 2 for p, t in zip(preds, targets)]
    return _reduce(terms, reduction, mod)


def hinge(score: Any, label: Any, margin: float = 1.0, reduction: str = "mean") -> Any:
    """The max-margin (SVM) loss of the classic micrograd demo."""
    scores, labels = _pairs(score, label)
    mod = module_of(scores + labels)
    terms = [(margin - _number(s, mod) * y).relu() for s, y in zip(scores, labels)]
    return _reduce(terms, reduction, mod)


def binary_cross_entropy(logit: Any, target: Any, reduction: str = "mean") -> Any:
    """Binary cross-entropy on logits (torch's binary_cross_entropy_with_logits)."""
    logits, targets = _pairs(logit, target)
    mod = module_of(logits + targets)
    terms = []
    for x, t in zip(logits, targets):
        x = _number(x, mod)
        terms.append(x.softplus(threshold=math.inf) - x * t)
    return _reduce(terms, reduction, mod)


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Any:
    """Softmax cross-entropy of a list of logits against a class index."""
    batch = isinstance(target, (list, tuple))
    rows, targets = (list(logits), list(target)) if batch else ([logits], [target])
    if len(rows) != len(targets):
        raise ValueError(f"{len(rows)} rows of logits but {len(targets)} targets")
    mod = module_of([x for row in rows for x in row])
    terms = []
    for row, k in zip(rows, targets):
        if not 0 <= k < len(row):
            raise IndexError(f"target {k} is out of range for {len(row)} classes")
        terms.append(-log_softmax(row)[k])
    return _reduce(terms, reduction, mod)
