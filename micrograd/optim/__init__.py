"""Optimizers and learning-rate schedules, as torch.optim defines them.

Defaults, checks and update formulas are torch.optim's single-tensor float64
ones; see optimizer.py for the parameter groups and state, algorithms.py for
the algorithms (stepped in C on the core, csrc/mg_optim.c, and by the same
arithmetic in Python on the reference), schedules.py and clipping.py.
"""
from .algorithms import SGD, Adagrad, Adam, AdamW, RMSprop
from .clipping import clip_grad_norm_, clip_grad_value_
from .optimizer import Optimizer
from .schedules import CosineAnnealingLR, ExponentialLR, LambdaLR, StepLR

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad",
           "StepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR",
           "clip_grad_norm_", "clip_grad_value_"]
