"""Activation functions over Numbers, with PyTorch's parameters and formulas.

Each takes a Number (or a real, made a leaf of the active backend) and gives a
Number; relu, sigmoid, silu and tanh are micrograd.functions' (plain unary ops).  The scalar ones are primitive
ops of both backends (one node each, bit-identical across backends); softmax and log_softmax work over lists.
Every formula is written so that no step overflows anywhere on the real line:

===========  ============================================================================
relu         x < 0 ? 0 : x                      (relu(nan) = nan, as torch)
leaky_relu   x > 0 ? x : negative_slope * x     (negative_slope = 0.01)
elu          x > 0 ? x : alpha * expm1(x)       (alpha = 1.0)
gelu         x/2 * (1 + erf(x / sqrt 2)); approximate='tanh':
             x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
silu         x * sigmoid(x)
sigmoid      x >= 0 ? 1 / (1 + e^-x) : e^x / (1 + e^x)
tanh         tanh(x)
softplus     log(1 + e^(beta x)) / beta, x where beta x > threshold
             (beta = 1, threshold = 20); computed as max(z,0) + log1p(e^-abs(z))
softmax      e^(x_i - m) / sum_j e^(x_j - m),  m = max_j x_j (no gradient through m)
log_softmax  (x_i - m) - log(sum_j e^(x_j - m))
===========  ============================================================================
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Union

from ._backend import module_of
from .functions import number as _number, relu, sigmoid, silu, tanh

if TYPE_CHECKING:
    from ._core import Number

Real = Union["Number", float, int]

__all__ = ["relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "softplus",
           "softmax", "log_softmax"]


def leaky_relu(x: Real, negative_slope: float = 0.01) -> Number:
    """x where x > 0, else negative_slope * x (torch.nn.functional.leaky_relu)."""
    return _number(x).leaky_relu(negative_slope)


def elu(x: Real, alpha: float = 1.0) -> Number:
    """x where x > 0, else alpha * expm1(x) (torch.nn.functional.elu)."""
    return _number(x).elu(alpha)


def gelu(x: Real, approximate: str = "none") -> Number:
    """x * Phi(x), Phi the normal CDF; approximate='tanh' for the tanh form (as torch)."""
    return _number(x).gelu(approximate)


def softplus(x: Real, beta: float = 1.0, threshold: float = 20.0) -> Number:
    """log(1 + exp(beta*x)) / beta, and x where beta*x > threshold (as torch)."""
    return _number(x).softplus(beta, threshold)


def _shifted(xs: Any) -> Any:
    """(x_i - max(x) for a non-empty list, its backend).  The max is built
    with maximum() and passed through stop_gradient, so no gradient flows
    through it (as in torch, where it is a constant) and no value is read:
    the same graph works op by op and in a traced tape."""
    xs = list(xs)
    if not xs:
        raise ValueError("softmax of an empty list")
    mod = module_of(xs)
    xs = [_number(x, mod) for x in xs]
    m = xs[0]
    for x in xs[1:]:
        m = mod.maximum(m, x)
    m = m.stop_gradient()
    return [x - m for x in xs], mod


def softmax(xs: Iterable[Real]) -> list[Number]:
    """Softmax over a list of Numbers or reals: a list of Numbers."""
    shifted, mod = _shifted(xs)
    exps = [z.exp() for z in shifted]
    total = mod.sum(exps)
    return [e / total for e in exps]


def log_softmax(xs: Iterable[Real]) -> list[Number]:
    """log(softmax(xs)), computed without forming the softmax."""
    shifted, mod = _shifted(xs)
    log_total = mod.sum([z.exp() for z in shifted]).log()
    return [z - log_total for z in shifted]
