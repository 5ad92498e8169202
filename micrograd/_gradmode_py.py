"""Grad mode and trace state in the reference: the twin of
micrograd/_core_gradmode.pxi and of the thread-locals of csrc/mg_graph.c.

Whether operations build the graph, and which trace (if any) is open: both
thread-local, like torch.no_grad.
"""
import threading

from ._signatures import checked_args

__all__ = ["is_grad_enabled", "set_grad_enabled", "no_grad", "enable_grad", "detect_anomaly",
           "is_anomaly_enabled"]


class _GradMode(threading.local):
    enabled = True
    anomaly = False         # micrograd.detect_anomaly (see micrograd/_anomaly.py)
    trace = 0               # the open trace's id, 0 outside a trace
    last = 0                # the last id given out (ids wrap at 2**16 - 1)


_mode = _GradMode()


def trace_begin():
    """Open a new trace; returns the id that was current, for trace_end."""
    previous = _mode.trace
    _mode.last = _mode.last % 65535 + 1
    _mode.trace = _mode.last
    return previous


def trace_end(previous):
    _mode.trace = previous


@checked_args
def is_grad_enabled():
    """Whether ops record a graph in this thread (False inside no_grad)."""
    return _mode.enabled


@checked_args
def set_grad_enabled(enabled):
    """Turn graph recording on or off for this thread."""
    _mode.enabled = bool(enabled)


class no_grad:
    """Context manager: operations inside it build no graph (results are leaves)."""

    def __enter__(self):
        self._prev = _mode.enabled
        _mode.enabled = False
        return self

    def __exit__(self, *exc):
        _mode.enabled = self._prev


class enable_grad:
    """Context manager: operations inside it build the graph, even within no_grad."""

    def __enter__(self):
        self._prev = _mode.enabled
        _mode.enabled = True
        return self

    def __exit__(self, *exc):
        _mode.enabled = self._prev


@checked_args
def is_anomaly_enabled():
    """Whether detect_anomaly is on in this thread."""
    return _mode.anomaly


class detect_anomaly:
    """Context manager: inside it, an op that makes NaN from operands that are
    not NaN raises AnomalyError at once, naming the op, its operands and the
    line that called it; and a backward step that makes a NaN gradient from
    finite numbers raises, naming the node and the line that made it.
    check_nan=False leaves anomaly mode off (as torch's argument)."""

    def __init__(self, check_nan=True):
        self.check_nan = bool(check_nan)

    def __enter__(self):
        self._prev = _mode.anomaly
        _mode.anomaly = self.check_nan
        return self

    def __exit__(self, *exc):
        _mode.anomaly = self._prev
