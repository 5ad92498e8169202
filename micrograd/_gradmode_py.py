"""Grad mode in the reference: the twin of micrograd/_core_gradmode.pxi.

Whether operations build the graph; thread-local, like torch.no_grad (the
core keeps the flag in a C thread-local, csrc/mg_graph.c).
"""
import threading

__all__ = ["is_grad_enabled", "set_grad_enabled", "no_grad", "enable_grad"]


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled():
    return _mode.enabled


def set_grad_enabled(enabled):
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
