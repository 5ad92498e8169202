"""What both backends share for anomaly mode and hooks: the error, where a
node was made, and the messages.

Anomaly mode (micrograd.detect_anomaly) is thread-local, like grad mode.
While it is on, each op checks its result: a NaN made from operands that are
not NaN raises AnomalyError at once, naming the op, its operands and the
line of the user's code that called it; and each node remembers that line,
so that a backward step that makes a NaN gradient from finite numbers can
name the node and where it was made.  Outside it nothing is recorded or
checked, at no cost to the fast path (docs/design.md, "Anomaly mode").
"""
import linecache
import math
import os
import sys

__all__ = ["AnomalyError", "site", "forward_error", "backward_error", "Handle"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class AnomalyError(FloatingPointError):
    """detect_anomaly found a NaN made from numbers that were not NaN."""


def site():
    """Where the user's code called into micrograd: 'file:line in function:
    source', skipping micrograd's own frames (nn, activations, losses)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return "an unknown place"
    name = frame.f_code.co_filename
    source = linecache.getline(name, frame.f_lineno).strip()
    where = f"{name}:{frame.f_lineno} in {frame.f_code.co_name}"
    return f"{where}: {source}" if source else where


def _show(values):
    return ", ".join(repr(v) for v in values)


def forward_error(op, operands, where):
    return AnomalyError(f"anomaly: {op} made nan from operands that are not nan "
                        f"({_show(operands)}), at {where}")


def finite(*values):
    return all(math.isfinite(v) for v in values)


def backward_error(op, index, gradient, operands, where):
    made = f"the {op} made at {where}" if where else f"a {op} made outside detect_anomaly"
    return AnomalyError(f"anomaly: backward through {op} made a nan gradient for its operand "
                        f"{index} from finite numbers (incoming gradient {gradient!r}, "
                        f"operands {_show(operands)}): {made}")


class Handle:
    """What register_hook returns: remove() takes the hook off again."""

    __slots__ = ("_hooks", "_fn", "_removed")

    def __init__(self, hooks, fn, removed):
        self._hooks, self._fn, self._removed = hooks, fn, removed

    def remove(self):
        """Take the hook off (a second call does nothing)."""
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)
            self._removed()
