"""Chain: a graph built one step at a time, fluently.

    >>> from micrograd import Chain, Number
    >>> x, y = Number(2), Number(3)
    >>> z = Chain([x, y]).add(x.mul(y)).result()     # (x*y) + (x*y) = 12.0
    >>> z.value
    12.0

A Chain holds a running Number.  Each step applies one op to it right away
and returns a new Chain that remembers the old one: chains branch, and
nothing is ever mutated.  ``steps`` gives the recorded steps as ``Step``
records (the method's name, the op's name, the operand).

``micrograd.Chain`` is the active backend's Chain: the reference one
(micrograd/_chain_py.py) or its compiled twin (micrograd/_core_chain.pxi),
with the same steps, records and messages; the methods they share are
written once, in micrograd/_chain_methods.py.
"""
from ._backend import impl as _impl
from ._steps import Step

Chain = _impl.Chain

__all__ = ["Chain", "Step"]
