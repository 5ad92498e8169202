"""Gradient clipping, as torch.nn.utils: by total norm, or by value.

Both work in IEEE-754 arithmetic like torch's float64 kernels: a norm that
overflows is inf (and the gradients are then scaled by 0, NaN where a
gradient is inf), a NaN gradient makes a NaN norm; nothing raises.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from .._convert import is_number
from .._ieee import cpow, fdiv
from .optimizer import real

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _params(parameters, who):
    """The Numbers to clip: one Number, or an iterable of them (as torch)."""
    if is_number(parameters):
        return [parameters]
    if isinstance(parameters, (str, bytes)) or not hasattr(parameters, "__iter__"):
        raise TypeError(f"{who}: parameters must be a Number or an iterable of Numbers, "
                        f"not {type(parameters).__name__}")
    params = list(parameters)
    for p in params:
        if not is_number(p):
            raise TypeError(f"{who}: parameters must be Numbers, not {type(p).__name__}")
    return params


def clip_grad_norm_(parameters: Iterable[Any], max_norm: float, norm_type: float = 2.0) -> float:
    """Scale gradients so that their total norm is at most max_norm; returns
    the norm before clipping (as torch: coefficient max_norm / (norm + 1e-6),
    capped at 1, applied to every gradient)."""
    params = _params(parameters, "clip_grad_norm_")
    max_norm, norm_type = real(max_norm, "max_norm"), real(norm_type, "norm_type")
    grads = [abs(p.gradient) for p in params]
    if not grads:
        return 0.0
    if len(grads) == 1 and norm_type != 0.0:
        # torch's norm of one element is its absolute value, never a root of
        # its power (which would overflow at 1e200 and round elsewhere)
        total = grads[0]
    elif norm_type == math.inf:
        total = grads[0]
        for g in grads[1:]:
            total = g if (g > total or g != g) and total == total else total
    else:
        total = 0.0
        for g in grads:
            total += g * g if norm_type == 2.0 else cpow(g, norm_type)
        total = math.sqrt(total) if norm_type == 2.0 else cpow(total, fdiv(1.0, norm_type))
    coef = min(fdiv(max_norm, total + 1e-6), 1.0) if total == total else math.nan
    for p in params:
        p.gradient = p.gradient * coef
    return total


def clip_grad_value_(parameters: Iterable[Any], clip_value: float) -> None:
    """Clamp every gradient into [-clip_value, clip_value]."""
    params = _params(parameters, "clip_grad_value_")
    clip_value = real(clip_value, "clip_value")
    for p in params:
        p.gradient = min(max(p.gradient, -clip_value), clip_value)
