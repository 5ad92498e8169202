"""micrograd: scalar reverse-mode autodiff with its graph in C.

    >>> from micrograd import Number
    >>> x, y = Number(2.0), Number(3.0)
    >>> z = x * y + x
    >>> z.backward()
    >>> x.gradient, y.gradient
    (4.0, 2.0)

``micrograd.BACKEND`` says which backend is active: ``'core'`` (compiled) or
``'python'`` (the pure-Python reference); MICROGRAD_PUREPYTHON=1 picks the
reference (the site's "Two backends, one meaning" page says how one is chosen).
"""
from . import functional  # noqa: F401  (the old name of .transforms, kept an attribute)
from . import functions as _functions
from ._anomaly import AnomalyError
from ._backend import BACKEND, impl as _impl
from ._custom import CustomOp, custom_op
from ._version import __version__
from .activations import elu, gelu, leaky_relu, log_softmax, softmax, softplus
from .chain import Step
from .functions import *  # noqa: F401,F403  (exp, log1p, atan, ..., where, maximum, clamp)
from .tape import Tape, TraceError, trace
from .transforms import (GradcheckError, grad, gradcheck, hessian, hvp, jacfwd, jacobian,
                         jvp, value_and_grad)
from .viz import draw_dot, to_dot

Number = _impl.Number
sum = _impl.sum
dot = _impl.dot
no_grad = _impl.no_grad
enable_grad = _impl.enable_grad
is_grad_enabled = _impl.is_grad_enabled
set_grad_enabled = _impl.set_grad_enabled
detect_anomaly = _impl.detect_anomaly
is_anomaly_enabled = _impl.is_anomaly_enabled
Chain = _impl.Chain

__all__ = (["BACKEND", "Number", "sum", "dot", "no_grad", "enable_grad", "is_grad_enabled",
            "set_grad_enabled", "__version__", "Chain", "Step", "grad", "value_and_grad",
            "gradcheck", "GradcheckError", "leaky_relu", "elu", "gelu", "softplus", "softmax",
            "log_softmax", "to_dot", "draw_dot", "trace", "Tape", "TraceError", "hessian", "hvp",
            "jacobian", "jvp", "jacfwd", "detect_anomaly", "is_anomaly_enabled", "AnomalyError",
            "custom_op", "CustomOp"]
           + _functions.__all__)
