"""Optimizers and learning-rate schedules, as torch.optim defines them.

Defaults, validation (ValueError where torch refuses) and update formulas are
torch.optim's single-tensor float64 ones.  Each parameter group keeps its
parameters and state in a parameter array of its Numbers' backend: on the
core, step() is one C loop over it (csrc/mg_optim.c); on the reference the
same arithmetic runs in Python (micrograd/_optim_py.py), bit for bit.  The
hyper-parameters travel to either as one options record, and the state
buffers are named once (micrograd/_optim_spec.py).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Sequence, Union

from . import _optim_spec as spec
from ._backend import module_of

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad",
           "StepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR",
           "clip_grad_norm_", "clip_grad_value_"]


def _check(ok, message):
    if not ok:
        raise ValueError(message)


class Optimizer:
    """param_groups, zero_grad, step, state_dict and load_state_dict, as torch."""

    _algorithm = spec.SGD      # a subclass's algorithm: its options and buffers

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = []
        self._arrays, self._steps = [], []
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        group = dict(group)
        group["params"] = list(group["params"])
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)
        self._arrays.append(module_of(group["params"])._ParamArray(
            group["params"], self._algorithm.name, self._fill(group)))
        self._steps.append(0)

    def zero_grad(self) -> None:
        for group, arr in zip(self.param_groups, self._arrays):
            if arr.same(group["params"]):       # one C loop on the core
                arr.zero_grad()
            else:
                for p in group["params"]:
                    p.gradient = 0.0

    def step(self) -> None:
        for i, group in enumerate(self.param_groups):
            self._steps[i] += 1
            self._arrays[i].step(self._steps[i], self._options(group))

    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {'step': ..., buffer: value}}, 'param_groups': [...]}
        with parameters numbered across groups, as torch does."""
        state, groups, index = {}, [], 0
        for i, group in enumerate(self.param_groups):
            ids = list(range(index, index + len(group["params"])))
            index += len(ids)
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
            if self._steps[i]:
                for j, pid in enumerate(ids):
                    entry = {"step": float(self._steps[i])}
                    for name in self._algorithm.buffers:
                        entry[name] = self._arrays[i].get_state(name)[j]
                    state[pid] = entry
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(mine["params"])
                for g, mine in zip(groups, self.param_groups)):
            raise ValueError("loaded state dict has a different number of parameters or groups")
        for i, (saved, mine) in enumerate(zip(groups, self.param_groups)):
            mine.update({k: v for k, v in saved.items() if k != "params"})
            entries = [state_dict["state"].get(pid) for pid in saved["params"]]
            self._steps[i] = int(entries[0]["step"]) if entries and entries[0] else 0
            for name in self._algorithm.buffers:
                buf = self._arrays[i].get_state(name)
                for j, entry in enumerate(entries):
                    if entry is not None:
                        buf[j] = float(entry[name])
                self._arrays[i].set_state(name, buf)

    def _fill(self, group):
        return 0.0

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


class SGD(Optimizer):
    _algorithm = spec.SGD

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False,
                 maximize: bool = False) -> None:
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(not nesterov or (momentum > 0 and dampening == 0),
               "Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _options(self, g):
        return spec.SGD.options(g["lr"], g["momentum"], g["dampening"], g["weight_decay"],
                                g["nesterov"], g["maximize"])


class Adam(Optimizer):
    _algorithm = spec.ADAM
    _decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, maximize: bool = False) -> None:
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _options(self, g):
        return spec.ADAM.options(g["lr"], g["betas"][0], g["betas"][1], g["eps"],
                                 g["weight_decay"], g["amsgrad"], g["maximize"], self._decoupled)


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
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(alpha >= 0.0, f"Invalid alpha value: {alpha}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _options(self, g):
        return spec.RMSPROP.options(g["lr"], g["alpha"], g["eps"], g["weight_decay"],
                                    g["momentum"], g["centered"], g["maximize"])


class Adagrad(Optimizer):
    _algorithm = spec.ADAGRAD

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, maximize: bool = False) -> None:
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(lr_decay >= 0.0, f"Invalid lr_decay value: {lr_decay}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(initial_accumulator_value >= 0.0,
               f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def _fill(self, group):
        """The accumulator starts filled (created at the first step or load)."""
        return float(group["initial_accumulator_value"])

    def _options(self, g):
        return spec.ADAGRAD.options(g["lr"], g["lr_decay"], g["weight_decay"], g["eps"],
                                    g["maximize"])


# -- learning-rate schedules ----------------------------------------------------
class _Scheduler:
    """torch's chainable form: each step derives the lr from the current one."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def step(self) -> None:
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self._lrs()):
            group["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)


class StepLR(_Scheduler):
    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def _lrs(self):
        groups = self.optimizer.param_groups
        if self.last_epoch % self.step_size != 0:
            return [g["lr"] for g in groups]
        return [g["lr"] * self.gamma for g in groups]


class ExponentialLR(_Scheduler):
    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        self.gamma = gamma
        super().__init__(optimizer)

    def _lrs(self):
        return [g["lr"] * self.gamma for g in self.optimizer.param_groups]


class CosineAnnealingLR(_Scheduler):
    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def _lrs(self):
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        groups = self.optimizer.param_groups
        if (t - 1 - T) % (2 * T) == 0:
            return [g["lr"] + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                    for base, g in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
                * (g["lr"] - lo) + lo for g in groups]


class LambdaLR(_Scheduler):
    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Union[Callable[[int], float], Sequence[Callable[[int], float]]]) -> None:
        n = len(optimizer.param_groups)
        self.lr_lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(self.lr_lambdas) != n:
            raise ValueError(f"Expected {n} lr_lambdas, but got {len(self.lr_lambdas)}")
        super().__init__(optimizer)
        for group, base, f in zip(optimizer.param_groups, self.base_lrs, self.lr_lambdas):
            group["lr"] = base * f(0)
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def _lrs(self):
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas)]


# -- gradient clipping ----------------------------------------------------------
def clip_grad_norm_(parameters: Iterable[Any], max_norm: float, norm_type: float = 2.0) -> float:
    """Scale gradients so that their total norm is at most max_norm; returns
    the norm before clipping (as torch: coefficient max_norm / (norm + 1e-6),
    capped at 1)."""
    params = list(parameters)
    grads = [abs(p.gradient) for p in params]
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(grads)
    else:
        total = math.fsum(g ** norm_type for g in grads) ** (1.0 / norm_type)
    coef = min(max_norm / (total + 1e-6), 1.0)
    for p in params:
        p.gradient = p.gradient * coef
    return total


def clip_grad_value_(parameters: Iterable[Any], clip_value: float) -> None:
    """Clamp every gradient into [-clip_value, clip_value]."""
    for p in parameters:
        p.gradient = min(max(p.gradient, -clip_value), clip_value)
