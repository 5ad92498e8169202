"""Pickling a Number by value, into the backend of the process that loads it.

A pickled Number names ``micrograd._pickle.restore`` and carries its value
and gradient, nothing of either backend: a pickle made on the core loads on
the reference, or on a pure-Python install, and the other way round
(docs/design.md, "Pickles").  The graph is not pickled; a Number comes back
as a leaf.  ``micrograd._backend`` tells this module which backend is active
(importing any part of micrograd runs it first), so that this module, which
both backends' Numbers name, imports neither of them.
"""
_active = None


def set_active(module):
    """Called once by micrograd._backend with the backend it picked."""
    global _active
    _active = module


def restore(value, gradient):
    """A leaf of the active backend with this value and gradient."""
    n = _active.Number(value)
    n.gradient = gradient
    return n
