"""Loss functions over lists of Numbers (or reals), as torch.nn.functional.

Each takes predictions and targets (one of each, or equal-length lists) and
`reduction='mean'|'sum'|'none'`; 'mean' is the sum divided by the count.

=========================  ==================================================
mse(pred, target)          (pred - target) * (pred - target)
hinge(score, label)        max(0, margin - label * score), labels +-1
binary_cross_entropy(      (1 - t) x + softplus(-x), i.e. -t log s(x) - (1-t) log(1-s(x)),
  logit, target)           with softplus as z + log1p(e^-z): stable for any logit
cross_entropy(logits, k)   -log_softmax(logits)[k]; a list of logit lists with a
                           list of class indices for a batch
=========================  ==================================================
"""
from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Union

from ._backend import module_of
from ._convert import is_number
from .activations import log_softmax
from .functions import number as _number

if TYPE_CHECKING:
    from ._core import Number

Real = Union["Number", float, int]

__all__ = ["mse", "hinge", "binary_cross_entropy", "cross_entropy"]


def _items(x):
    """A prediction or target argument as a list: one Number or real, or any
    sequence of them (lists, tuples, NumPy arrays)."""
    if is_number(x) or isinstance(x, numbers.Real) or getattr(x, "ndim", None) == 0:
        return [x], True
    if isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
        raise TypeError(f"expected a Number, a real or a sequence of them, "
                        f"not {type(x).__name__}")
    return list(x), False


def _pairs(pred, target):
    preds, single = _items(pred)
    targets, _ = _items(target) if not single else ([target], True)
    if len(preds) != len(targets):
        raise ValueError(f"{len(preds)} predictions but {len(targets)} targets")
    if not preds:
        raise ValueError("no predictions: the loss of an empty batch is undefined")
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


def _check_reduction(reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def mse(pred: Any, target: Any, reduction: str = "mean") -> Any:
    """(pred - target)^2, as a product: a residual of 1e200 squares to inf, as in torch."""
    _check_reduction(reduction)
    preds, targets = _pairs(pred, target)
    mod = module_of(preds + targets)
    terms = []
    for p, t in zip(preds, targets):
        d = _number(p, mod) - t
        terms.append(d * d)
    return _reduce(terms, reduction, mod)


def hinge(score: Any, label: Any, margin: float = 1.0, reduction: str = "mean") -> Any:
    """The max-margin (SVM) loss of the classic micrograd demo."""
    _check_reduction(reduction)
    scores, labels = _pairs(score, label)
    mod = module_of(scores + labels + [margin])
    terms = [(margin - _number(s, mod) * y).relu() for s, y in zip(scores, labels)]
    return _reduce(terms, reduction, mod)


def binary_cross_entropy(logit: Any, target: Any, reduction: str = "mean") -> Any:
    """Binary cross-entropy on logits (torch's binary_cross_entropy_with_logits):
    (1 - t) x - log sigmoid(x), with -log sigmoid(x) = softplus(-x), which
    gives torch's values at infinite logits too."""
    _check_reduction(reduction)
    logits, targets = _pairs(logit, target)
    mod = module_of(logits + targets)
    terms = []
    for x, t in zip(logits, targets):
        x = _number(x, mod)
        terms.append((1 - t) * x + (-x).softplus(threshold=math.inf))
    return _reduce(terms, reduction, mod)


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Any:
    """Softmax cross-entropy of a list of logits against a class index; a
    sequence of class indices (a list, or a NumPy array as make_blobs gives)
    goes with a batch of logit rows."""
    _check_reduction(reduction)
    batch = hasattr(target, "__len__") and getattr(target, "ndim", 1) != 0
    rows, targets = (list(logits), list(target)) if batch else ([logits], [target])
    if len(rows) != len(targets):
        raise ValueError(f"{len(rows)} rows of logits but {len(targets)} targets")
    if not rows:
        raise ValueError("no predictions: the loss of an empty batch is undefined")
    for k in targets:
        if not isinstance(k, numbers.Integral) and not (getattr(k, "ndim", None) == 0
                                                        and getattr(k, "dtype", None) is not None
                                                        and k.dtype.kind in "iu"):
            raise TypeError(f"cross_entropy: a target is a class index, not {type(k).__name__}")
    mod = module_of([x for row in rows for x in row])
    terms = []
    for row, k in zip(rows, targets):
        row = list(row)
        if not 0 <= k < len(row):
            raise IndexError(f"target {k} is out of range for {len(row)} classes")
        terms.append(-log_softmax(row)[int(k)])
    return _reduce(terms, reduction, mod)
