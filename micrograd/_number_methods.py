"""Number's methods that are the same on both backends, written once.

The reference Number inherits NumberMethods; the compiled Number gets the
same functions put in its type at import (micrograd/_core.pyx's
``_install_shared``), so one source serves both, as pydantic 1.x served its
compiled and plain builds.  What lives here is what neither touches a node
for nor runs in a hot loop: hooks, the gradient graph's record, copies and
the notebook pictures.  The operators, value and gradient, the node builders
and backward are each backend's own (the core's call C directly).

These functions see a Number only through its public attributes and
``type(self)._kit``, the few backend primitives they need:

  record(n)       n's record [anomaly site, hooks, gradient graph], made if missing
  record_of(n)    n's record, or None
  hooks_changed(k)  k hooks more (or fewer) are live: backward watches while any is
  hook_removed    what a handle calls when it removes its hook
  copied(n, memo) copy.copy (memo None) and copy.deepcopy of n: a new leaf
  maximum, minimum  the backend's functions of that name
  traced(n)       whether reading n's value is refused (a trace is recording it)
"""
import operator

from . import _notebook
from ._anomaly import Handle
from ._convert import operand
from ._errors import traced_comparison
from ._signatures import check_class, no_delete

__all__ = ["NumberMethods"]

GRAPH, HOOKS = 2, 1          # the record's slots (micrograd/_anomaly.py has the site)


def _ordering(symbol, name, holds):
    """Number's `symbol` operator: a Python bool of the two values, so that
    `if x > 0:` and where(x > 0, a, b) work op by op, as on floats; refused
    while a trace records either side, where a bool would freeze one example's
    decision into the tape (micrograd.<name> is the comparison it records).
    There is no __eq__: Numbers are hashed and compared by identity."""
    def compare(self, other):
        kit = type(self)._kit
        if isinstance(other, kit.Number):
            value = None
        else:
            value = operand(other, kit.Number._mg_backend)   # the mixing error, or
            if value is NotImplemented:                        # Python's own TypeError
                return value
        for n in (self, other) if value is None else (self,):
            if kit.traced(n):
                raise traced_comparison(n.op, symbol, name)
        return holds(self.value, other.value if value is None else value)
    compare.__name__ = compare.__qualname__ = f"__{name}__"
    return compare


class NumberMethods:
    """The shared part of Number (see the module docstring)."""

    __slots__ = ()

    __lt__ = _ordering("<", "lt", operator.lt)
    __le__ = _ordering("<=", "le", operator.le)
    __gt__ = _ordering(">", "gt", operator.gt)
    __ge__ = _ordering(">=", "ge", operator.ge)

    @property
    def grad_node(self):
        """The gradient as a Number with its own graph, from the latest
        backward(create_graph=True) that reached this leaf (None before one):
        differentiate it again for second derivatives.  It refers back to the
        leaf, as torch's create_graph gradients do: zero_grad() (a model's or
        an optimizer's) drops it, or set it to None."""
        rec = type(self)._kit.record_of(self)
        return None if rec is None else rec[GRAPH]

    @grad_node.setter
    def grad_node(self, g):
        kit = type(self)._kit
        if g is not None and not isinstance(g, kit.Number):
            raise TypeError(f"grad_node must be a Number of the same backend or None, "
                            f"not {type(g).__name__}")
        if g is not None or kit.record_of(self) is not None:
            kit.record(self)[GRAPH] = g

    @grad_node.deleter
    def grad_node(self):
        raise no_delete("Number", "grad_node")

    def register_hook(self, fn):
        """Call fn(gradient) when backward reaches this Number; if it returns a
        number, that is the gradient from then on (as torch's hooks).  A leaf's
        hook gets what this pass adds to it.  Under create_graph the gradient
        is a Number (its graph), and a Number returned keeps its graph, a real
        is a constant.  Returns a handle: handle.remove()."""
        if not callable(fn):
            raise TypeError(f"register_hook takes a callable, not {type(fn).__name__}")
        kit = type(self)._kit
        rec = kit.record(self)
        if rec[HOOKS] is None:
            rec[HOOKS] = []
        rec[HOOKS].append(fn)
        kit.hooks_changed(1)
        return Handle(rec[HOOKS], fn, kit.hook_removed)

    def maximum(self, other):
        """The larger of self and other (NaN if either is NaN)."""
        return type(self)._kit.maximum(self, other)

    def minimum(self, other):
        """The smaller of self and other (NaN if either is NaN)."""
        return type(self)._kit.minimum(self, other)

    def __copy__(self):
        return type(self)._kit.copied(self, None)

    def __deepcopy__(self, memo):
        return type(self)._kit.copied(self, memo)

    # -- notebooks: the same HTML and picture on both backends (micrograd._notebook)
    def _repr_html_(self):
        return _notebook.number_html(self)

    def _repr_svg_(self):
        return _notebook.number_svg(self)


check_class(NumberMethods, "Number")    # the compiled methods' argument errors, on both


def shared_items():
    """(name, attribute) for each shared method and property, for a class that
    cannot inherit them (the compiled Number)."""
    return [(k, v) for k, v in vars(NumberMethods).items()
            if k not in ("__slots__", "__module__", "__doc__", "__qualname__")]
