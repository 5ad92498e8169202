"""scipy.optimize with exact derivatives: ``minimize`` and ``least_squares``.

Write the objective as plain arithmetic on Numbers; micrograd hands scipy its
exact gradient (and, for the methods that use one, an exact Hessian-vector
product), so scipy never estimates them by finite differences.

    >>> from micrograd.optimize import minimize
    >>> def rosen(x):        # x is a list of Numbers; return one Number
    ...     return sum(100 * (b - a * a) ** 2 + (1 - a) ** 2 for a, b in zip(x, x[1:]))
    >>> res = minimize(rosen, [-1.2, 1.0, -1.2, 1.0], method="Newton-CG",
    ...                options={"xtol": 1e-10})
    >>> [round(float(v), 8) for v in res.x], res.nhev > 0
    ([1.0, 1.0, 1.0, 1.0], True)

``minimize(fun, x0, method=None, *, tape=False, **scipy_kwargs)`` calls
``scipy.optimize.minimize`` with ``jac=True``: each evaluation builds one
graph and returns the value and the gradient together, the bits of
``micrograd.value_and_grad``.  For Newton-CG, trust-ncg, trust-krylov and
trust-constr it also passes ``hessp``, ``micrograd.hvp`` (one gradient graph and
one more backward; the Hessian is never formed); dogleg and trust-exact need
the Hessian itself and get ``micrograd.hessian``.  ``bounds``, ``constraints``,
``callback``, ``options``, ``tol`` and ``args`` pass through (``fun(x, *args)``).

With ``tape=True``, ``fun`` is traced once (``micrograd.trace``) at x0 and each
evaluation replays the tape for the value and the gradient with respect to
its inputs: the same bits as building the graph, without building it.  The
function must then be traceable (no Python ``if`` on a value; use
``micrograd.where``), or ``TraceError`` says so.  A tape has no second
derivatives, so ``hessp`` and ``hess`` still build graphs op by op.

``least_squares(residuals, x0, **scipy_kwargs)`` calls
``scipy.optimize.least_squares`` with the exact Jacobian
(``micrograd.jacobian``); ``residuals(x)`` returns a list of Numbers.

Both work in the backend of the Numbers in x0 and, for reals, in the active
one (micrograd's rule, docs/design.md).  The arrays scipy passes are read as
floats.  scipy is an optional dependency: ``pip install "micrograd-core[optimize]"``.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ._backend import module_of
from ._convert import is_number
from ._errors import TraceError
from .tape import trace
from .transforms import hessian, hvp, jacobian, value_and_grad

try:
    import scipy.optimize as _scipy
except ModuleNotFoundError as exc:
    if (exc.name or "").split(".")[0] != "scipy":
        raise
    # a ModuleNotFoundError naming scipy, so that code which treats scipy as
    # optional (the docs build) sees which package is missing
    raise ModuleNotFoundError('micrograd.optimize needs scipy: pip install '
                              '"micrograd-core[optimize]"', name="scipy") from None

__all__ = ["minimize", "least_squares"]

# scipy's methods that take a Hessian-vector product, and those that need the
# Hessian itself (scipy refuses to run them without it)
_HESSP = {"newton-cg", "trust-ncg", "trust-krylov", "trust-constr"}
_HESS = {"dogleg", "trust-exact"}


def _refuse_supplied(name, kwargs, supplied):
    for key in supplied:
        if key in kwargs:
            raise TypeError(f"{name}: {key} is what micrograd.optimize computes, exactly, "
                            f"from the function's graph; leave it out (or call "
                            f"scipy.optimize.{name} directly to give your own)")


def _start(name, x0):
    """(x0 as a float64 vector, the backend its Numbers pick or the active one,
    whether x0 held Numbers)."""
    if is_number(x0) or isinstance(x0, (str, bytes)) or not hasattr(x0, "__iter__"):
        raise TypeError(f"{name}: x0 must be a sequence of reals or Numbers, "
                        f"not {type(x0).__name__}")
    items = list(x0)
    numbers = any(is_number(v) for v in items)
    start = np.array([v.value if is_number(v) else v for v in items], dtype=np.float64)
    if start.ndim != 1 or len(start) == 0:
        raise ValueError(f"{name}: x0 must be a non-empty flat sequence, "
                         f"not of shape {start.shape}")
    return start, module_of(items), numbers


def _point(mod, numbers):
    """How a vector scipy passes becomes the transforms' arguments: floats,
    which the transforms take in the active backend, or Numbers of x0's
    backend when x0 picked one."""
    if numbers:
        return lambda x: [mod.Number(float(v)) for v in x]
    return lambda x: [float(v) for v in x]


def _scalar(name, fun, args):
    """fun(list of Numbers, *args) as a function of separate Numbers, refusing
    anything but one Number as its result."""
    def f(*xs):
        out = fun(list(xs), *args)
        if not is_number(out):
            raise TypeError(f"{name}: fun must return one Number, not {type(out).__name__}")
        return out
    return f


def _args(kwargs):
    args = kwargs.pop("args", ())
    return args if isinstance(args, tuple) else (args,)


def minimize(fun: Callable[..., Any], x0: Sequence[Any], method: Any = None, *,
             tape: bool = False, **scipy_kwargs: Any) -> Any:
    """scipy.optimize.minimize with micrograd's exact gradient and Hessian-vector
    product; returns scipy's OptimizeResult (see the module docstring)."""
    _refuse_supplied("minimize", scipy_kwargs, ("jac", "hess", "hessp"))
    start, mod, numbers = _start("minimize", x0)
    point = _point(mod, numbers)
    f = _scalar("minimize", fun, _args(scipy_kwargs))
    wrt = tuple(range(len(start)))

    if tape:
        taped = _trace(f, point(start))

        def value_grad(x):
            value, g = taped.value_and_grad(x, reduction="sum", wrt="inputs")
            return float(value), g
    else:
        vg = value_and_grad(f, wrt)

        def value_grad(x):
            value, g = vg(*point(x))
            return value, np.array(g, dtype=np.float64)

    extra = {}
    kind = method.lower() if isinstance(method, str) else None
    if kind in _HESSP:
        extra["hessp"] = lambda x, p: np.array(hvp(f, point(x), [float(v) for v in p]),
                                               dtype=np.float64)
    elif kind in _HESS:
        extra["hess"] = lambda x: np.array(hessian(f)(*point(x)), dtype=np.float64)
    return _scipy.minimize(value_grad, start, method=method, jac=True, **extra,
                           **scipy_kwargs)


def _trace(f, example):
    try:
        return trace(f, *example)
    except TraceError as exc:
        raise TraceError(f"minimize(tape=True) traces fun once and replays it, so fun must "
                         f"be traceable, and it is not: {exc} Or pass tape=False (the "
                         f"default) to build fun's graph at every evaluation.") from exc


def least_squares(residuals: Callable[..., Any], x0: Sequence[Any],
                  **scipy_kwargs: Any) -> Any:
    """scipy.optimize.least_squares with micrograd's exact Jacobian; residuals(x)
    returns a list of Numbers.  Returns scipy's OptimizeResult."""
    _refuse_supplied("least_squares", scipy_kwargs, ("jac",))
    start, mod, numbers = _start("least_squares", x0)
    point = _point(mod, numbers)
    args, kwargs = _args(scipy_kwargs), scipy_kwargs.pop("kwargs", {})

    def outputs(*xs):
        out = residuals(list(xs), *args, **kwargs)
        if is_number(out) or not isinstance(out, (list, tuple)) or not out:
            raise TypeError(f"least_squares: residuals must return a non-empty list of "
                            f"Numbers, not {type(out).__name__}"
                            + (" (empty)" if isinstance(out, (list, tuple)) else ""))
        for i, r in enumerate(out):
            if not is_number(r):
                raise TypeError(f"least_squares: residual {i} must be a Number, "
                                f"not {type(r).__name__}")
        return out

    def values(x):
        # scipy asks for residuals at trial points it may reject, so the value
        # alone is computed without a graph; jac builds one where scipy wants it
        with mod.no_grad():
            return np.array([r.value for r in outputs(*[mod.Number(float(v)) for v in x])],
                            dtype=np.float64)

    jac = jacobian(outputs)
    return _scipy.least_squares(values, start,
                                jac=lambda x: np.array(jac(*point(x)), dtype=np.float64),
                                **scipy_kwargs)
