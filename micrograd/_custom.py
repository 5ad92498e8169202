"""Custom ops: a user's function with its own derivative, shared by both
backends (docs/design.md, "Custom ops").

``custom_op(forward, derivative, name=...)`` registers a ``CustomOp``.
Calling it checks the operands, then asks the backend of the Numbers it is
given to build the node (``_custom`` in micrograd/_number_py.py and in
micrograd/_core_number.pxi).  Everything that calls the user's functions and
checks what they return is here (op by op, and a tape's chunk of lanes:
``CustomOp.lanes``), so both backends call them in the same order and raise
the same errors.

A node of a custom op is the table's CUSTOM row: its operands, then the
partials ``derivative`` gave when the node was built, as constants; the
node's ``c`` is the op's index in the registry below, which gives its name,
its ``second`` and pickling by reference.  Registered ops live as long as
the process (a node only holds the index).
"""
import inspect
import sys

from . import _optable as T
from ._convert import MIXING, is_number, to_float

__all__ = ["CustomOp", "custom_op", "name_of"]

_OPS = []           # registry index (a node's c) -> CustomOp
_BY_NAME = {}       # name -> the op last registered under it (pickles)


def name_of(code, c):
    """An op's public name: the table's, or a custom op's own (c its index)."""
    if code == T.CUSTOM:
        return _OPS[int(c)].name
    return T.NAMES[code]


def op_of(c):
    """The registered op of a CUSTOM node, from its c."""
    return _OPS[int(c)]


def _positional_range(forward):
    """(fewest, most) positional operands forward takes; most None for *args.
    (1, None) when its signature cannot be read (a builtin without one)."""
    try:
        params = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):
        return 1, None
    fewest, most = 0, 0
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            most = None
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is p.empty:
                fewest += 1
            if most is not None:
                most += 1
    return max(fewest, 1), most


def _plural(n):
    return f"{n} operand" + ("" if n == 1 else "s")


def _real(v, name, what):
    """v as a float, for what the user's function returned: a real, never a
    Number (a value in the graph would be frozen as a constant here)."""
    if type(v) is float:
        return v
    if not is_number(v):
        try:
            return to_float(v, None)
        except (TypeError, ValueError):
            pass
    raise TypeError(f"custom op {name!r}: {what} must be a real, not {type(v).__name__}")


class CustomOp:
    """An op with a user-given derivative (made by micrograd.custom_op).

    Call it on Numbers or reals: ``op(x, y)`` is one node whose ``op`` is
    this op's name."""

    def __init__(self, forward, derivative, name, second, vectorized):
        self.forward, self.derivative, self.second = forward, derivative, second
        self.name = self.__name__ = name
        self.vectorized = vectorized
        self._fewest, self._most = _positional_range(forward)
        self._index = float(len(_OPS))

    def __repr__(self):
        return f"custom_op({self.name!r})"

    def __reduce__(self):
        # by reference: the loading process registers its own op of that name
        return registered, (self.name,)

    def __call__(self, *operands):
        n, lo, hi = len(operands), self._fewest, self._most
        if n < lo or (hi is not None and n > hi):
            takes = (_plural(lo) if lo == hi else f"at least {_plural(lo)}" if hi is None
                     else f"from {lo} to {hi} operands")
            raise TypeError(f"{self.name}() takes {takes} ({n} given)")
        backend = sys.modules["micrograd._backend"]     # imported by now (see _pickle)
        return backend.module_of(operands)._custom(self, operands)

    # -- what the backends' builders and sweeps call, in this order --------------
    def value(self, values):
        """``forward(*values)``, checked."""
        return _real(self.forward(*values), self.name, "forward's result")

    def _counted(self, ps, n, who):
        """ps, what `who` returned, if it is a tuple or list of n partials."""
        if not isinstance(ps, (tuple, list)):
            raise TypeError(f"custom op {self.name!r}: {who} must return a tuple of "
                            f"{n} partials, not {type(ps).__name__}")
        if len(ps) != n:
            raise ValueError(f"custom op {self.name!r}: {who} returned {len(ps)} partials "
                             f"for {_plural(n)}")
        return ps

    def partials(self, values, out):
        """``derivative(*values, out)``, checked: one float per operand."""
        ps = self._counted(self.derivative(*values, out), len(values), "derivative")
        return tuple(_real(p, self.name, f"partial {i}") for i, p in enumerate(ps))

    def lanes(self, cols, partials):
        """A tape's chunk of this op (both backends' replays call it): cols
        holds each operand's values over the chunk's lanes; returns the
        lanes' values and, with partials, each operand's row of partials.
        Lane by lane, forward then derivative as op by op (the same calls,
        so the same bits); vectorized, forward once on NumPy arrays of the
        lanes, then derivative once, with the values as an array."""
        return (_vector_lanes if self.vectorized else _lanes)(self, cols, partials)

    def second_partials(self, operands, out, backend):
        """``second(*operands, out)`` for a create_graph sweep: the partials as
        Numbers of `backend` (built from ops, so that they can be
        differentiated) or floats (constants), checked."""
        if self.second is None:
            raise NotImplementedError(
                f"custom op {self.name!r} has no second derivative: its gradient cannot be "
                f"differentiated again (create_graph, grad of grad, hessian); give "
                f"custom_op(..., second=...) the partials as Numbers")
        ps = self._counted(self.second(*operands, out), len(operands), "second")
        out = []
        for i, p in enumerate(ps):
            if is_number(p):
                if type(p)._mg_backend != backend:
                    raise TypeError(MIXING.format(backend, type(p)._mg_backend))
                out.append(p)
            else:
                out.append(_real(p, self.name, f"second's partial {i}"))
        return out


def _lanes(op, cols, partials):
    """CustomOp.lanes, lane by lane."""
    ys, rows = [], [[] for _ in cols]
    for values in zip(*cols):
        y = op.value(values)
        ys.append(y)
        if partials:
            for row, p in zip(rows, op.partials(values, y)):
                row.append(p)
    return ys, (rows if partials else None)


def _vector_lanes(op, cols, partials):
    """CustomOp.lanes, vectorized: one call of each function on arrays."""
    import numpy as np
    n = len(cols[0])
    xs = [np.array(c, dtype=np.float64) for c in cols]
    ys = _lanes_of(op.forward(*xs), n, op.name, "forward's result")
    if not partials:
        return ys, None
    ps = op._counted(op.derivative(*xs, np.array(ys, dtype=np.float64)), len(cols),
                     "derivative")
    return ys, [_lanes_of(p, n, op.name, f"partial {i}") for i, p in enumerate(ps)]


def custom_op(forward, derivative, *, name, second=None, vectorized=False):
    """An op with its own derivative, as torch.autograd.Function or
    jax.custom_vjp, for scalars.

    ``forward(*xs)`` takes floats and returns a float; ``derivative(*xs, out)``
    returns a tuple of the partials d out / d x_i, one float per operand.
    The op, called on Numbers or reals, returns a Number whose ``op`` is
    `name`; backward and forward mode (jvp, jacfwd) use the partials, which
    derivative gives once, when the node is built (not under no_grad).
    ``second(*xs, out)``, with the xs and out as Numbers, returns the partials
    as Numbers built from ops, for second derivatives (create_graph, grad
    of grad, hessian); without it those raise.  A tape (micrograd.trace)
    calls forward and derivative lane by lane, or, with vectorized=True,
    once per chunk of lanes on NumPy arrays.
    """
    for what, fn in (("forward", forward), ("derivative", derivative)):
        if not callable(fn):
            raise TypeError(f"custom_op: {what} must be callable, not {type(fn).__name__}")
    if second is not None and not callable(second):
        raise TypeError(f"custom_op: second must be callable or None, not "
                        f"{type(second).__name__}")
    if not isinstance(name, str):
        raise TypeError(f"custom_op: name must be a str, not {type(name).__name__}")
    if not name:
        raise ValueError("custom_op: name must not be empty (an empty op names a leaf)")
    if not isinstance(vectorized, bool):
        raise TypeError(f"custom_op: vectorized must be a bool, not {type(vectorized).__name__}")
    op = CustomOp(forward, derivative, name, second, vectorized)
    _OPS.append(op)
    _BY_NAME[name] = op
    return op


def registered(name):
    """The op registered under `name` in this process (unpickling a CustomOp)."""
    op = _BY_NAME.get(name)
    if op is None:
        raise LookupError(f"custom op {name!r} is not registered in this process: run the "
                          f"code that makes it (micrograd.custom_op(..., name={name!r})) "
                          f"before loading")
    return op


def to_state(code, c):
    """An instruction's c in a pickled tape: a custom op's by its name (an
    index into this process's registry means nothing in another)."""
    return _OPS[int(c)].name if code == T.CUSTOM else c


def from_state(code, c, noperands):
    """An instruction's c from a pickled tape: a custom op's name back to its
    index in this process's registry, which must hold an op of that name
    taking that many operands."""
    if code != T.CUSTOM:
        return float(c)
    if not isinstance(c, str):
        raise ValueError("tape: the pickled tape is not consistent")
    try:
        op = registered(c)
    except LookupError as exc:
        raise ValueError(f"tape: {exc}") from None
    fewest, most = op._fewest, op._most
    if noperands < fewest or (most is not None and noperands > most):
        raise ValueError(f"tape: the pickled tape calls the custom op {c!r} with "
                         f"{noperands} operands, which the op made here does not take")
    return float(next(i for i in range(len(_OPS) - 1, -1, -1) if _OPS[i] is op))


def _lanes_of(v, n, name, what):
    """What a vectorized function returned, as the chunk's n floats."""
    import numpy as np
    a = np.asarray(v)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"custom op {name!r}: {what} must be reals, not {a.dtype}")
    try:
        return np.broadcast_to(a.astype(np.float64), (n,)).tolist()
    except ValueError:
        raise ValueError(f"custom op {name!r}: {what} has shape {a.shape}, not the "
                         f"chunk's ({n},)") from None
