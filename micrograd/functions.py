"""Elementary functions over Numbers or reals, as top-level functions.

One function per plain unary op of the table (``exp``, ``log1p``, ``atan``,
...; generated from csrc/mg_ops.def, so a new op appears here by itself),
the ops of several operands: ``where``, ``maximum``, ``minimum`` and
``clamp``, and the comparisons ``gt``, ``ge``, ``lt`` and ``le``, which give a
Number of 1.0 or 0.0 that a trace records (Python's ``x > 0`` gives a bool,
which it cannot).  Each works in the backend of the Numbers it is given; a real
alone becomes a leaf of the active backend (``micrograd.BACKEND``).

    >>> import micrograd as mg
    >>> x = mg.Number(-0.5)
    >>> mg.where(x, x.exp(), mg.log1p(x)).value == mg.log1p(-0.5).value
    True
"""
from . import _optable as T
from ._backend import impl as _impl, module_of
from ._convert import is_number

__all__ = ["where", "maximum", "minimum", "gt", "ge", "lt", "le", "clamp", "stop_gradient"]


def number(x, mod=None):
    """x itself if it is a Number, else a leaf of `mod` (the active backend)."""
    return x if is_number(x) else (mod or _impl).Number(x)


def _unary_function(name, doc):
    def fn(x):
        return getattr(number(x), name)()
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = T.sentence(doc)
    return fn


for _op in T.of_kind("UNARY"):
    globals()[_op.name] = _unary_function(_op.name, _op.doc)
    __all__.append(_op.name)


def where(cond, a, b):
    """a where cond > 0, else b; the gradient flows to the picked operand only,
    so an inf or NaN in the branch not taken never reaches a gradient.  This is
    what traced code uses instead of a Python ``if``."""
    return module_of([cond, a, b]).where(cond, a, b)


def maximum(a, b):
    """The larger of a and b (NaN if either is NaN); a tie splits the gradient."""
    return module_of([a, b]).maximum(a, b)


def minimum(a, b):
    """The smaller of a and b (NaN if either is NaN); a tie splits the gradient."""
    return module_of([a, b]).minimum(a, b)


def _comparison(name, symbol):
    def compare(a, b):
        return getattr(module_of([a, b]), name)(a, b)
    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = (
        f"1.0 if a {symbol} b else 0.0, as a Number (0.0 if either is NaN, as IEEE and "
        f"torch say); two reals give a constant leaf.  No gradient flows back to a or b "
        f"(their derivative is 0, torch's comparisons are not differentiable).  This is "
        f"the comparison a trace records: ``where({name}(x, 0), a, b)`` in place of "
        f"``a if x {symbol} 0 else b``.")
    return compare


gt = _comparison("gt", ">")
ge = _comparison("ge", ">=")
lt = _comparison("lt", "<")
le = _comparison("le", "<=")


def clamp(x, lo=None, hi=None):
    """x limited to [lo, hi] (either may be None), with torch's gradient at the
    bounds: it passes where lo <= x <= hi."""
    return module_of([x, lo, hi]).clamp(x, lo, hi)


def stop_gradient(x):
    """x's value, staying in the graph, with no gradient flowing back through
    it (JAX's stop_gradient): what traced code writes in place of detach()."""
    return number(x).stop_gradient()
