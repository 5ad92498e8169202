"""Optimizer steps in Python: the twin of csrc/mg_optim.c, line for line.

Each function updates a group's parameter Numbers and their state in place
with torch.optim's single-tensor float64 formulas, in the order of rounding
that ATen's CPU kernels use; the signature is the C one (csrc/mg_optim.h):
the parameters as listed, each one's index among the distinct parameters,
the buffers in micrograd._optim_spec's order and the step counts (both per
distinct parameter), and the options record.  The compiled core runs the C
twin.
"""
import math

from ._ops_py import fdiv


def lerp(self, end, w):
    """ATen's lerp: the form depends on the weight, for accuracy at both ends."""
    return self + w * (end - self) if abs(w) < 0.5 else end - (end - self) * (1.0 - w)


def grad_of(p, weight_decay, maximize):
    """The gradient as the update sees it: negated to maximize, plus L2 decay."""
    g = -p._gradient if maximize else p._gradient
    if weight_decay != 0.0:
        g = g + weight_decay * p._value
    return g


def sgd_step(p, idx, bufs, steps, o):
    """The momentum buffer starts as the parameter's first gradient (at each
    listing of a parameter without one when the step began, as torch)."""
    buf = bufs[0]
    for i in range(len(p)):
        u = idx[i]
        g = grad_of(p[i], o.weight_decay, o.maximize)
        if o.momentum != 0.0:
            if steps[u] <= 0.0:
                buf[u] = g
                steps[u] -= 1.0
            else:
                buf[u] = buf[u] * o.momentum + (1.0 - o.dampening) * g
                steps[u] += 1.0
            g = g + o.momentum * buf[u] if o.nesterov else buf[u]
        p[i]._value = p[i]._value + (-o.lr) * g
    for u in idx:
        if steps[u] < 0.0:
            steps[u] = -steps[u]


def bias_for(step, o):
    """(step size, sqrt of the second bias correction) at a step number."""
    bias_correction1 = 1.0 - math.pow(o.beta1, step)
    bias_correction2 = 1.0 - math.pow(o.beta2, step)
    return fdiv(o.lr, bias_correction1), math.pow(bias_correction2, 0.5)


def adam_step(p, idx, bufs, steps, o):
    exp_avg, exp_avg_sq, max_exp_avg_sq = bufs
    at, step_size, bc2_sqrt = -1.0, 0.0, 0.0
    for i in range(len(p)):
        u = idx[i]
        steps[u] += 1.0
        if steps[u] != at:
            at = steps[u]
            step_size, bc2_sqrt = bias_for(at, o)
        if o.decoupled and o.weight_decay != 0.0:
            p[i]._value = p[i]._value * (1.0 - o.lr * o.weight_decay)
        g = grad_of(p[i], 0.0 if o.decoupled else o.weight_decay, o.maximize)
        exp_avg[u] = lerp(exp_avg[u], g, 1.0 - o.beta1)
        exp_avg_sq[u] = exp_avg_sq[u] * o.beta2 + (1.0 - o.beta2) * g * g
        if o.amsgrad:
            if exp_avg_sq[u] > max_exp_avg_sq[u] or math.isnan(exp_avg_sq[u]):
                max_exp_avg_sq[u] = exp_avg_sq[u]
            denom = fdiv(_sqrt(max_exp_avg_sq[u]), bc2_sqrt) + o.eps
        else:
            denom = fdiv(_sqrt(exp_avg_sq[u]), bc2_sqrt) + o.eps
        p[i]._value = p[i]._value + fdiv((-step_size) * exp_avg[u], denom)


def rmsprop_step(p, idx, bufs, steps, o):
    square_avg, grad_avg, buf = bufs
    for i in range(len(p)):
        u = idx[i]
        g = grad_of(p[i], o.weight_decay, o.maximize)
        steps[u] += 1.0
        square_avg[u] = square_avg[u] * o.alpha + (1.0 - o.alpha) * g * g
        if o.centered:
            grad_avg[u] = lerp(grad_avg[u], g, 1.0 - o.alpha)
            avg = _sqrt(square_avg[u] + -1.0 * grad_avg[u] * grad_avg[u])
        else:
            avg = _sqrt(square_avg[u])
        avg = avg + o.eps
        if o.momentum > 0.0:
            buf[u] = buf[u] * o.momentum + fdiv(1.0 * g, avg)
            p[i]._value = p[i]._value + (-o.lr) * buf[u]
        else:
            p[i]._value = p[i]._value + fdiv((-o.lr) * g, avg)


def adagrad_step(p, idx, bufs, steps, o):
    state_sum = bufs[0]
    at, clr = -1.0, 0.0
    for i in range(len(p)):
        u = idx[i]
        g = grad_of(p[i], o.weight_decay, o.maximize)
        steps[u] += 1.0
        if steps[u] != at:
            at = steps[u]
            clr = fdiv(o.lr, 1.0 + (at - 1.0) * o.lr_decay)
        state_sum[u] = state_sum[u] + 1.0 * g * g
        std = _sqrt(state_sum[u]) + o.eps
        p[i]._value = p[i]._value + fdiv((-clr) * g, std)


STEPS = {"sgd": sgd_step, "adam": adam_step, "rmsprop": rmsprop_step, "adagrad": adagrad_step}


def _sqrt(x):
    """C's sqrt: NaN below zero (a centered variance can round below 0)."""
    return math.sqrt(x) if x >= 0.0 or x != x else math.nan
