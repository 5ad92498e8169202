"""Pickling a Number by value, into the backend of the process that loads it.

A pickled Number names ``micrograd._pickle.restore`` and carries its value
and gradient, nothing of either backend: a pickle made on the core loads on
the reference, or on a pure-Python install, and the other way round
(docs/design.md, "Pickles").  The graph is not pickled; a Number comes back
as a leaf.  This module, which both backends' Numbers name, imports neither
of them: it asks micrograd._backend for the active one when it loads a
pickle.

A Chain pickles as its start and its steps, and loads by running the steps
again in the loading process's backend (the same values, bit for bit).  A
user's subclass of Number pickles by its class, so it loads in the backend
the class derives from, with its __dict__.
"""
import sys

from ._steps import replay


def _active():
    # looked up, not imported (_backend imports the backends, which import
    # this module): importing micrograd imports _backend before any pickle
    # can name this module
    return sys.modules["micrograd._backend"].impl


def restore(value, gradient):
    """A leaf of the active backend with this value and gradient."""
    n = _active().Number(value)
    n.gradient = gradient
    return n


def restore_subclass(cls, value, gradient):
    """A leaf of a user's subclass of Number; pickle then restores its
    __dict__.  The subclass names its own backend, so this is that one's."""
    n = cls.__new__(cls)
    base = next(k for k in cls.__mro__ if "_mg_backend" in vars(k))
    base.__init__(n, value)
    n.gradient = gradient
    return n


def restore_chain(start, names, operands):
    """A Chain of the active backend, its steps run again from its start."""
    return replay(_active().Chain, start, names, operands)
