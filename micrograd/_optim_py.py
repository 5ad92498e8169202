"""Optimizer steps in Python: the twin of csrc/mg_optim.c, line for line.

Each function updates a list of parameter Numbers and its state buffers in
place with torch.optim's single-tensor float64 formulas, in the order of
rounding that ATen's CPU kernels use; the signature is the C one: the
parameters, the buffers in micrograd._optim_spec's order, the step number
and the options record.  The compiled core runs the C twin.
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


def sgd_step(p, bufs, step, o):
    """The momentum buffer starts as the first step's gradient, as torch's does."""
    buf = bufs[0]
    for i in range(len(p)):
        g = grad_of(p[i], o.weight_decay, o.maximize)
        if o.momentum != 0.0:
            buf[i] = g if step <= 1.0 else buf[i] * o.momentum + (1.0 - o.dampening) * g
            g = g + o.momentum * buf[i] if o.nesterov else buf[i]
        p[i]._value = p[i]._value + (-o.lr) * g


def adam_step(p, bufs, step, o):
    exp_avg, exp_avg_sq, max_exp_avg_sq = bufs
    bias_correction1 = 1.0 - math.pow(o.beta1, step)
    bias_correction2 = 1.0 - math.pow(o.beta2, step)
    step_size = fdiv(o.lr, bias_correction1)
    bc2_sqrt = math.pow(bias_correction2, 0.5)
    for i in range(len(p)):
        if o.decoupled and o.weight_decay != 0.0:
            p[i]._value = p[i]._value * (1.0 - o.lr * o.weight_decay)
        g = grad_of(p[i], 0.0 if o.decoupled else o.weight_decay, o.maximize)
        exp_avg[i] = lerp(exp_avg[i], g, 1.0 - o.beta1)
        exp_avg_sq[i] = exp_avg_sq[i] * o.beta2 + (1.0 - o.beta2) * g * g
        if o.amsgrad:
            if exp_avg_sq[i] > max_exp_avg_sq[i] or math.isnan(exp_avg_sq[i]):
                max_exp_avg_sq[i] = exp_avg_sq[i]
            denom = fdiv(_sqrt(max_exp_avg_sq[i]), bc2_sqrt) + o.eps
        else:
            denom = fdiv(_sqrt(exp_avg_sq[i]), bc2_sqrt) + o.eps
        p[i]._value = p[i]._value + fdiv((-step_size) * exp_avg[i], denom)


def rmsprop_step(p, bufs, step, o):
    square_avg, grad_avg, buf = bufs
    for i in range(len(p)):
        g = grad_of(p[i], o.weight_decay, o.maximize)
        square_avg[i] = square_avg[i] * o.alpha + (1.0 - o.alpha) * g * g
        if o.centered:
            grad_avg[i] = lerp(grad_avg[i], g, 1.0 - o.alpha)
            avg = _sqrt(square_avg[i] + -1.0 * grad_avg[i] * grad_avg[i])
        else:
            avg = _sqrt(square_avg[i])
        avg = avg + o.eps
        if o.momentum > 0.0:
            buf[i] = buf[i] * o.momentum + fdiv(1.0 * g, avg)
            p[i]._value = p[i]._value + (-o.lr) * buf[i]
        else:
            p[i]._value = p[i]._value + fdiv((-o.lr) * g, avg)


def adagrad_step(p, bufs, step, o):
    state_sum = bufs[0]
    clr = fdiv(o.lr, 1.0 + (step - 1.0) * o.lr_decay)
    for i in range(len(p)):
        g = grad_of(p[i], o.weight_decay, o.maximize)
        state_sum[i] = state_sum[i] + 1.0 * g * g
        std = _sqrt(state_sum[i]) + o.eps
        p[i]._value = p[i]._value + fdiv((-clr) * g, std)


STEPS = {"sgd": sgd_step, "adam": adam_step, "rmsprop": rmsprop_step, "adagrad": adagrad_step}


def _sqrt(x):
    """C's sqrt: NaN below zero (a centered variance can round below 0)."""
    return math.sqrt(x) if x >= 0.0 or x != x else math.nan
