"""Grad mode and trace state in the reference: the twin of
micrograd/_core_gradmode.pxi and of the mode and trace state of csrc/mg_graph.c.

Whether operations build the graph, and which trace (if any) tags the nodes a
thread makes: both thread-local, like torch.no_grad.  Which traces are open is
process-wide, as in C: a traced Number is refused in every thread while its
trace is open.
"""
import threading
from functools import partial

from ._errors import TRACES_FULL
from ._modes import grad_modes

__all__ = ["is_grad_enabled", "set_grad_enabled", "no_grad", "enable_grad", "detect_anomaly",
           "is_anomaly_enabled"]


class _GradMode(threading.local):
    enabled = True
    anomaly = False         # micrograd.detect_anomaly (see micrograd/_anomaly.py)
    trace = 0               # this thread's innermost open trace's id, 0 outside a trace


_mode = _GradMode()

# Process-wide, as in csrc/mg_graph.c: open[id] is 1 while the trace of that id
# is open in some thread, and ids come from one counter (wrapping at 2**16 - 1,
# skipping 0 and the open ids), so two open traces never share an id: closing
# one must not make the other's Numbers readable.  The lock does for the
# reference what the GIL does for the C.
_open = bytearray(65536)
_last = [0]                 # the last id given out
_ids = threading.Lock()


def trace_begin():
    """Open a new trace in this thread; returns the id that was current, for
    trace_end."""
    with _ids:
        trace_id = _last[0]
        for _ in range(65535):
            trace_id = trace_id % 65535 + 1
            if not _open[trace_id]:
                break
        else:
            raise RuntimeError(TRACES_FULL)       # every id is open: nothing changed
        _open[trace_id] = 1
        _last[0] = trace_id
    previous = _mode.trace
    _mode.trace = trace_id
    return previous


def trace_end(previous):
    """Close this thread's innermost trace."""
    _open[_mode.trace] = 0
    _mode.trace = previous


# The public functions and context managers over the two flags are written
# once for both backends (micrograd/_modes.py): here over this thread-local,
# in the core over its C flags.
(is_grad_enabled, set_grad_enabled, no_grad, enable_grad, is_anomaly_enabled,
 detect_anomaly) = grad_modes(__name__, partial(getattr, _mode, "enabled"),
                              partial(setattr, _mode, "enabled"),
                              partial(getattr, _mode, "anomaly"),
                              partial(setattr, _mode, "anomaly"))
