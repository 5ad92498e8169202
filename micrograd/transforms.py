"""Function transforms (the functional autograd API): gradients as return values.

This module was ``micrograd.functional``; that name still imports and holds
the same objects (micrograd/functional.py), but it sat one letter from
``micrograd.functions``, the elementary functions ``exp``, ``tanh``, ...

``grad(f)`` and ``value_and_grad(f)`` turn a function of Numbers into a
function of reals that returns floats.  The inputs become fresh leaves, and
every other node that the call reaches (a model's parameters, say) gets its
``.gradient`` back afterwards, so no gradient a caller can see is touched.
``gradcheck`` compares backward with central finite differences.  They
work inside ``no_grad`` too: like torch.func.grad, they are transforms of f,
so a caller's ``no_grad`` does not switch off the graph f builds.

Transforms nest, as JAX's do: ``grad(grad(f))(x)`` is the second derivative.
Inside another transform's evaluation, ``grad`` of Numbers returns Numbers,
the gradient graphs of ``backward(create_graph=True)``
(micrograd/_higher_py.py), which the outer transform differentiates again.
``hessian``, ``hvp`` (a Hessian-vector product, without the Hessian) and
``jacobian`` (for several outputs) are built the same way.

``jvp`` (JAX's signature) and ``jacfwd`` are forward mode: one sweep from the
inputs up carries each node's tangent, the derivative along the given
direction, and a Jacobian takes one sweep per input instead of one backward
per output (micrograd/_forward_py.py and csrc/mg_forward.c say how a tangent
is summed).  Inside another transform they return Numbers, graphs of the
outer variables, as ``grad`` does, so ``jvp`` of ``grad`` is a Hessian-vector
product and ``grad`` of ``jvp`` a second directional derivative.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Sequence, Union

from ._backend import module_of
from ._convert import is_number

__all__ = ["grad", "value_and_grad", "gradcheck", "GradcheckError", "hessian", "hvp",
           "jacobian", "jvp", "jacfwd"]

_depth = threading.local()          # how many transforms are evaluating f in this thread


class _Inside:
    """While a transform evaluates f: grad mode on, and one level deeper."""

    def __init__(self, mod):
        self.mod = mod
        self.grad = mod.enable_grad()

    def __enter__(self):
        _depth.n = getattr(_depth, "n", 0) + 1
        _depth.mods = getattr(_depth, "mods", []) + [self.mod]
        self.grad.__enter__()

    def __exit__(self, *exc):
        self.grad.__exit__(*exc)
        _depth.mods = _depth.mods[:-1]
        _depth.n -= 1


def _nested():
    return getattr(_depth, "n", 0) > 0


def _module(values):
    """The backend of a nested level: its arguments' if any is a Number, else
    the enclosing level's (reals alone would name the active backend)."""
    if _nested() and not any(is_number(v) for v in values):
        return _depth.mods[-1]
    return module_of(values)


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


def _checked_output(out):
    if not is_number(out):
        raise TypeError(f"the function must return a Number, not {type(out).__name__}")
    return out


def _graphs_of(out, wrt, mod):
    """The gradient graphs of out with respect to each of wrt (a Number 0.0
    for one out does not depend on)."""
    graphs = mod.gradient_graphs(out, leaves_only=all(x.op == "" for x in wrt))
    return tuple(graphs[id(x)] if id(x) in graphs else mod.Number(0.0) for x in wrt)


def _own(mod, a):
    """This level's own variable for an argument (its perturbation, as JAX
    tags one per transform): a fresh leaf for a real; for a Number (an outer
    level's variable, or a value made from one), a new node equal to it,
    a * 1.0, exact for every float.  The inner derivative is taken with
    respect to that node alone, so it never includes the outer variable's
    other uses, and it stays a graph of the outer variables, which the outer
    level differentiates through the node's derivative, 1.0."""
    return a * 1.0 if is_number(a) else mod.Number(a)


def _evaluate(f, args, argnums):
    """(value, gradients of the picked args) with the caller's gradients restored."""
    mod = _module(args)
    if _nested():
        # inside another transform: differentiable answers, with respect to
        # this level's own variables (_own), as graphs of the outer ones
        args = [_own(mod, a) for a in args]
        with _Inside(mod):
            out = _checked_output(f(*args))
            return out, _graphs_of(out, [args[i] for i in argnums], mod)
    # fresh leaves, never the caller's Numbers
    mod, leaves = _leaves_for(args)
    # a transform, as torch.func.grad: an outer no_grad does not reach inside
    # (a no_grad inside f still holds)
    with _Inside(mod):
        out = _checked_output(f(*leaves))
    row = _rows([out], leaves)[0]
    return out.value, tuple(row[i] for i in argnums)


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
    figures, where ``abs(analytic - numeric) > atol + rtol * abs(numeric)``.
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


def _leaves_for(args):
    mod = module_of(args)
    return mod, [mod.Number(a.value if is_number(a) else a) for a in args]


def _rows(outs, leaves):
    """d out / d leaf for each out, by one float backward each; every other
    gradient the outs reach is put back afterwards."""
    mine = {id(leaf) for leaf in leaves}
    saved = [(n, n.gradient) for out in outs for n in _reachable(out) if id(n) not in mine]
    rows = []
    try:
        for out in outs:
            for leaf in leaves:
                leaf.gradient = 0.0
            out.backward()
            rows.append([leaf.gradient for leaf in leaves])
    finally:
        for node, g in saved:
            node.gradient = g
    return rows


def hessian(f: Callable[..., Any]) -> Callable[..., list]:
    """``f(*args) -> Number`` becomes ``(*reals) -> H``, the matrix of second
    derivatives as a list of rows: the gradient graphs of f, each
    differentiated once more."""
    def wrapped(*args: Any) -> list:
        if _nested():                   # inside another transform: graphs of graphs
            mod = _module(args)
            own = [_own(mod, a) for a in args]
            with _Inside(mod):
                graphs = _graphs_of(_checked_output(f(*own)), own, mod)
                return [list(_graphs_of(g, own, mod)) for g in graphs]
        mod, leaves = _leaves_for(args)
        with _Inside(mod):
            out = _checked_output(f(*leaves))
            graphs = _graphs_of(out, leaves, mod)
        return _rows(graphs, leaves)
    wrapped.__name__ = f"hessian({getattr(f, '__name__', 'f')})"
    return wrapped


def hvp(f: Callable[..., Any], xs: Sequence[Any], vs: Sequence[Any]) -> list:
    """The Hessian of f at xs times the vector vs, as floats, without forming
    the Hessian: one gradient graph, its dot product with vs, one backward."""
    xs = list(xs)
    vs = [v if _nested() and is_number(v) else float(v) for v in vs]
    if len(xs) != len(vs):
        raise ValueError(f"hvp: {len(xs)} points but {len(vs)} vector entries")
    if _nested():                       # inside another transform: graphs
        mod = _module(xs + vs)
        own = [_own(mod, a) for a in xs]
        with _Inside(mod):
            product = mod.dot(_graphs_of(_checked_output(f(*own)), own, mod), vs)
            return list(_graphs_of(product, own, mod))
    mod, leaves = _leaves_for(xs)
    with _Inside(mod):
        out = _checked_output(f(*leaves))
        product = mod.dot(_graphs_of(out, leaves, mod), vs)
    return _rows([product], leaves)[0]


def jacobian(f: Callable[..., Any]) -> Callable[..., list]:
    """``f(*args) -> Number or sequence of Numbers`` becomes ``(*reals) -> J``,
    a row of d out_i / d args for each output (one row for a single Number)."""
    def wrapped(*args: Any) -> list:
        if _nested():                   # inside another transform: graphs
            mod = _module(args)
            own = [_own(mod, a) for a in args]
            with _Inside(mod):
                outs = f(*own)
                outs = [outs] if is_number(outs) else list(outs)
                return [list(_graphs_of(_checked_output(o), own, mod)) for o in outs]
        mod, leaves = _leaves_for(args)
        with _Inside(mod):
            outs = f(*leaves)
        outs = [outs] if is_number(outs) else list(outs)
        return _rows([_checked_output(o) for o in outs], leaves)
    wrapped.__name__ = f"jacobian({getattr(f, '__name__', 'f')})"
    return wrapped


def _outputs(out):
    """f's outputs as a list, and whether f returned one Number."""
    if is_number(out):
        return [out], True
    if isinstance(out, (list, tuple)):
        return [_checked_output(o) for o in out], False
    return [_checked_output(out)], True


def _shaped(values, one, like):
    return values[0] if one else type(like)(values) if isinstance(like, tuple) else values


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]
        ) -> tuple[Any, Any]:
    """Forward mode, as JAX's ``jvp``: ``(f(*primals), J(primals) @ tangents)``.

    f takes Numbers and returns a Number or a tuple or list of them; the
    answer has the same shape, as floats (as Numbers inside another
    transform).  The tangent is computed by one forward sweep over the graph
    f builds, from the inputs up, with no backward and no Jacobian formed."""
    primals, tangents = list(primals), list(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    if _nested():
        # inside another transform: the tangent as a graph of the outer
        # variables, the gradient graphs dotted with the tangents (the same
        # derivative, built from ops the outer level can differentiate)
        mod = _module(primals + tangents)
        own = [_own(mod, a) for a in primals]
        with _Inside(mod):
            out = f(*own)
            outs, one = _outputs(out)
            ts = [mod.dot(_graphs_of(o, own, mod), tangents) for o in outs]
        return _shaped(outs, one, out), _shaped(ts, one, out)
    mod, leaves = _leaves_for(primals)
    with _Inside(mod):
        out = f(*leaves)
    outs, one = _outputs(out)
    ts = mod.forward_tangents(outs, leaves, [tangents])[0]
    return _shaped([o.value for o in outs], one, out), _shaped(ts, one, out)


def jacfwd(f: Callable[..., Any]) -> Callable[..., list]:
    """``f(*args) -> Number or sequence of Numbers`` becomes ``(*reals) -> J``,
    the same rows as ``jacobian`` gives, by forward mode: the graph is built
    once and swept once per input, so it pays where inputs are few and
    outputs many (``jacobian`` does one backward per output).  Inside another
    transform it builds the same graphs as ``jacobian``."""
    rev = jacobian(f)

    def wrapped(*args: Any) -> list:
        if _nested():
            return rev(*args)
        mod, leaves = _leaves_for(args)
        with _Inside(mod):
            outs, _ = _outputs(f(*leaves))
        # one input at a time; the others carry no tangent at all (not 0.0,
        # which times an infinite partial would be NaN where jacobian has none)
        n = len(leaves)
        columns = [[1.0 if i == j else None for i in range(n)] for j in range(n)]
        by_column = mod.forward_tangents(outs, leaves, columns)
        return [[by_column[j][i] for j in range(n)] for i in range(len(outs))]
    wrapped.__name__ = f"jacfwd({getattr(f, '__name__', 'f')})"
    return wrapped
