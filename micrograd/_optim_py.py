"""Optimizer steps in Python: the twin of csrc/mg_optim.c, line for line.

Each function updates a list of parameter Numbers and its state lists in
place with torch.optim's single-tensor float64 formulas, in the order of
rounding that ATen's CPU kernels use.  The compiled core runs the C twin.
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


def sgd_step(p, buf, buf_ready, lr, momentum, dampening, weight_decay, nesterov, maximize):
    for i in range(len(p)):
        g = grad_of(p[i], weight_decay, maximize)
        if momentum != 0.0:
            buf[i] = g if not buf_ready else buf[i] * momentum + (1.0 - dampening) * g
            g = g + momentum * buf[i] if nesterov else buf[i]
        p[i]._value = p[i]._value + (-lr) * g


def adam_step(p, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
              weight_decay, amsgrad, maximize, decoupled):
    bias_correction1 = 1.0 - math.pow(beta1, step)
    bias_correction2 = 1.0 - math.pow(beta2, step)
    step_size = lr / bias_correction1
    bc2_sqrt = math.pow(bias_correction2, 0.5)
    for i in range(len(p)):
        if decoupled and weight_decay != 0.0:
            p[i]._value = p[i]._value * (1.0 - lr * weight_decay)
        g = grad_of(p[i], 0.0 if decoupled else weight_decay, maximize)
        exp_avg[i] = lerp(exp_avg[i], g, 1.0 - beta1)
        exp_avg_sq[i] = exp_avg_sq[i] * beta2 + (1.0 - beta2) * g * g
        if amsgrad:
            if exp_avg_sq[i] > max_exp_avg_sq[i] or math.isnan(exp_avg_sq[i]):
                max_exp_avg_sq[i] = exp_avg_sq[i]
            denom = _sqrt(max_exp_avg_sq[i]) / bc2_sqrt + eps
        else:
            denom = _sqrt(exp_avg_sq[i]) / bc2_sqrt + eps
        p[i]._value = p[i]._value + fdiv((-step_size) * exp_avg[i], denom)


def rmsprop_step(p, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum,
                 centered, maximize):
    for i in range(len(p)):
        g = grad_of(p[i], weight_decay, maximize)
        square_avg[i] = square_avg[i] * alpha + (1.0 - alpha) * g * g
        if centered:
            grad_avg[i] = lerp(grad_avg[i], g, 1.0 - alpha)
            avg = _sqrt(square_avg[i] + -1.0 * grad_avg[i] * grad_avg[i])
        else:
            avg = _sqrt(square_avg[i])
        avg = avg + eps
        if momentum > 0.0:
            buf[i] = buf[i] * momentum + fdiv(1.0 * g, avg)
            p[i]._value = p[i]._value + (-lr) * buf[i]
        else:
            p[i]._value = p[i]._value + fdiv((-lr) * g, avg)


def adagrad_step(p, state_sum, step, lr, lr_decay, weight_decay, eps, maximize):
    clr = lr / (1.0 + (step - 1.0) * lr_decay)
    for i in range(len(p)):
        g = grad_of(p[i], weight_decay, maximize)
        state_sum[i] = state_sum[i] + 1.0 * g * g
        std = _sqrt(state_sum[i]) + eps
        p[i]._value = p[i]._value + fdiv((-clr) * g, std)


def _sqrt(x):
    """C's sqrt: NaN below zero (a centered variance can round below 0)."""
    return math.sqrt(x) if x >= 0.0 or x != x else math.nan
