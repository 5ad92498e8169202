"""Drop-in compatibility with micrograd 0.1.0's `micrograd.engine`.

`Value` is the Number type of the active backend: `Value(data)` makes a leaf
with `.data`, `.grad`, `._prev` (the set of children), `._op`, `.relu()`,
`.backward()` and the operators.  One difference is deliberate: calling
backward twice gives leaves twice the gradient, never more (0.1.0 also
doubled gradients through interior nodes).
"""
from ._backend import impl as _impl

Value = _impl.Number

__all__ = ["Value"]
