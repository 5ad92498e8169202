"""The functional autograd API: gradients as return values.

``grad(f)`` and ``value_and_grad(f)`` turn a function of Numbers into a
function of reals that returns floats.  The inputs become fresh leaves, and
every other node that the call reaches (a model's parameters, say) gets its
``.gradient`` back afterwards, so no gradient a caller can see is touched.
``gradcheck`` compares backward with central finite differences.  They
work inside ``no_grad`` too: like torch.func.grad, they are transforms of f,
so a caller's ``no_grad`` does not switch off the graph f builds.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, Union

from ._backend import module_of
from ._convert import is_number

__all__ = ["grad", "value_and_grad", "gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """backward and finite differences disagree."""


def _argnums(argnums, nargs):
    if isinstance(argnums, int) and not isinstance(argnums, bool):
        picked = (argnums,)
    elif isinstance(argnums, (tuple, list)) and all(
            isinstance(i, int) and not isinstance(i, bool) for i in argnums):
        picked = tuple(argnums)
    else:
        raise TypeError(f"argnums must be an int or a tuple of ints, not {argnums!r}")
    for i in picked:
        if not -nargs <= i < nargs:
            raise IndexError(f"argnums {i} is out of range for {nargs} argument(s)")
    return picked


def _reachable(root):
    """Every node root depends on (iterative; each once)."""
    seen, stack, out = {id(root)}, [root], []
    while stack:
        node = stack.pop()
        out.append(node)
        for kid in node.children:
            if id(kid) not in seen:
                seen.add(id(kid))
                stack.append(kid)
    return out


def _evaluate(f, args, argnums):
    """(value, gradients of the picked args) with the caller's gradients restored."""
    mod = module_of(args)
    # fresh leaves, never the caller's Numbers
    leaves = [mod.Number(a.value if is_number(a) else a) for a in args]
    # a transform, as torch.func.grad: an outer no_grad does not reach inside
    # (a no_grad inside f still holds)
    with mod.enable_grad():
        out = f(*leaves)
    if not is_number(out):
        raise TypeError(f"the function must return a Number, not {type(out).__name__}")
    mine = {id(leaf) for leaf in leaves}
    saved = [(n, n.gradient) for n in _reachable(out) if id(n) not in mine]
    try:
        out.backward()
        grads = tuple(leaves[i].gradient for i in argnums)
    finally:
        for node, g in saved:
            node.gradient = g
    return out.value, grads


def value_and_grad(f: Callable[..., Any], argnums: Union[int, Sequence[int]] = 0
                   ) -> Callable[..., tuple[float, Any]]:
    """``f(*args) -> Number`` becomes ``(*reals) -> (value, gradient(s))``."""
    def wrapped(*args: Any) -> tuple[float, Any]:
        picked = _argnums(argnums, len(args))
        value, grads = _evaluate(f, args, picked)
        return value, (grads[0] if isinstance(argnums, int) else grads)
    wrapped.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    return wrapped


def grad(f: Callable[..., Any], argnums: Union[int, Sequence[int]] = 0) -> Callable[..., Any]:
    """``f(*args) -> Number`` becomes ``(*reals) -> gradient(s)``, as floats."""
    vg = value_and_grad(f, argnums)

    def wrapped(*args: Any) -> Any:
        return vg(*args)[1]
    wrapped.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return wrapped


def gradcheck(f: Callable[..., Any], *inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3) -> bool:
    """Check backward against central finite differences at inputs.

    Returns True, or raises GradcheckError naming the worst input and both
    figures, where |analytic - numeric| > atol + rtol * |numeric|.
    """
    values = [float(x.value) if is_number(x) else float(x) for x in inputs]
    mod = module_of(inputs)
    analytic = value_and_grad(f, tuple(range(len(values))))(*[mod.Number(v) for v in values])[1]
    worst = None
    for i, v in enumerate(values):
        plus, minus = list(values), list(values)
        plus[i], minus[i] = v + eps, v - eps
        hi = f(*[mod.Number(x) for x in plus]).value
        lo = f(*[mod.Number(x) for x in minus]).value
        numeric = (hi - lo) / (2 * eps)
        error = abs(analytic[i] - numeric)
        bad = not error <= atol + rtol * abs(numeric)       # NaN counts as bad
        if bad and (worst is None or not error <= worst[0]):
            worst = (error, i, analytic[i], numeric)
    if worst is not None:
        error, i, a, n = worst
        raise GradcheckError(f"gradcheck failed at input {i} (value {values[i]!r}): "
                             f"backward gives {a!r}, central differences give {n!r} "
                             f"(|difference| {error:.3g} > atol {atol} + rtol {rtol} * |numeric|)")
    return True
