"""SGD, Adam, AdamW, RMSprop and Adagrad: torch.optim's defaults, checks and
single-tensor float64 formulas (csrc/mg_optim.c, micrograd/_optim_py.py).

The checks are torch's own comparisons, so what torch refuses is refused
with its message, and what it lets through (SGD's lr=nan) is let through.
"""
from __future__ import annotations

from typing import Any, Iterable

from .. import _optim_spec as spec
from .optimizer import check_reals, Optimizer, real

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


def _refuse(bad: bool, message: str) -> None:
    if bad:
        raise ValueError(message)


class SGD(Optimizer):
    _algorithm = spec.SGD

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False,
                 maximize: bool = False) -> None:
        check_reals(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
        _refuse(lr < 0.0, f"Invalid learning rate: {lr}")
        _refuse(momentum < 0.0, f"Invalid momentum value: {momentum}")
        _refuse(weight_decay < 0.0, f"Invalid weight_decay value: {weight_decay}")
        _refuse(nesterov and (momentum <= 0 or dampening != 0),
                "Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _options(self, g):
        return spec.SGD.options(real(g["lr"], "lr"), real(g["momentum"], "momentum"),
                                real(g["dampening"], "dampening"),
                                real(g["weight_decay"], "weight_decay"), bool(g["nesterov"]),
                                bool(g["maximize"]))

    def _keys(self, group):
        """torch's SGD keeps a momentum buffer, and only with momentum."""
        return ("momentum_buffer",) if group["momentum"] != 0 else ()


class Adam(Optimizer):
    _algorithm = spec.ADAM
    _decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, maximize: bool = False) -> None:
        check_reals(lr=lr, eps=eps, betas=tuple(betas), weight_decay=weight_decay)
        _refuse(not 0.0 <= lr, f"Invalid learning rate: {lr}")
        _refuse(not 0.0 <= eps, f"Invalid epsilon value: {eps}")
        _refuse(not 0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _refuse(not 0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _refuse(not 0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _options(self, g):
        return spec.ADAM.options(real(g["lr"], "lr"), real(g["betas"][0], "betas"),
                                 real(g["betas"][1], "betas"), real(g["eps"], "eps"),
                                 real(g["weight_decay"], "weight_decay"), bool(g["amsgrad"]),
                                 bool(g["maximize"]), self._decoupled)

    def _keys(self, group):
        keys = ("step", "exp_avg", "exp_avg_sq")
        return keys + ("max_exp_avg_sq",) if group["amsgrad"] else keys


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2)."""
    _decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)


class RMSprop(Optimizer):
    _algorithm = spec.RMSPROP

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, maximize: bool = False) -> None:
        check_reals(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        _refuse(not 0.0 <= lr, f"Invalid learning rate: {lr}")
        _refuse(not 0.0 <= eps, f"Invalid epsilon value: {eps}")
        _refuse(not 0.0 <= momentum, f"Invalid momentum value: {momentum}")
        _refuse(not 0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _refuse(not 0.0 <= alpha, f"Invalid alpha value: {alpha}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _options(self, g):
        return spec.RMSPROP.options(real(g["lr"], "lr"), real(g["alpha"], "alpha"),
                                    real(g["eps"], "eps"), real(g["weight_decay"], "weight_decay"),
                                    real(g["momentum"], "momentum"), bool(g["centered"]),
                                    bool(g["maximize"]))

    def _keys(self, group):
        keys = ("step", "square_avg")
        if group["momentum"] > 0:
            keys += ("momentum_buffer",)
        return keys + ("grad_avg",) if group["centered"] else keys


class Adagrad(Optimizer):
    _algorithm = spec.ADAGRAD

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, maximize: bool = False) -> None:
        check_reals(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                    initial_accumulator_value=initial_accumulator_value, eps=eps)
        _refuse(not 0.0 <= lr, f"Invalid learning rate: {lr}")
        _refuse(not 0.0 <= lr_decay, f"Invalid lr_decay value: {lr_decay}")
        _refuse(not 0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _refuse(not 0.0 <= initial_accumulator_value,
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        _refuse(not 0.0 <= eps, f"Invalid epsilon value: {eps}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def _fill(self, group):
        """The accumulator starts full, from the start (as torch's does)."""
        return real(group["initial_accumulator_value"], "initial_accumulator_value")

    def _options(self, g):
        return spec.ADAGRAD.options(real(g["lr"], "lr"), real(g["lr_decay"], "lr_decay"),
                                    real(g["weight_decay"], "weight_decay"),
                                    real(g["eps"], "eps"), bool(g["maximize"]))

    def _keys(self, group):
        return ("step", "sum")

    def _entry(self, group, columns, j):
        """torch's Adagrad makes its state when it is made: step 0 included."""
        return {name: columns[name][j] for name in self._keys(group)}
