# Included by _core.pyx; the twin of micrograd/_gradmode_py.py.  The flag
# itself is a C thread-local (csrc/mg_graph.c), read by every node builder.

def is_grad_enabled():
    """Whether ops record a graph in this thread (False inside no_grad)."""
    return bool(mg_grad_enabled())


def set_grad_enabled(enabled):
    """Turn graph recording on or off for this thread."""
    mg_set_grad_enabled(1 if enabled else 0)


class no_grad:
    """Context manager: operations inside it build no graph (results are leaves)."""

    def __enter__(self):
        self._prev = mg_grad_enabled()
        mg_set_grad_enabled(0)
        return self

    def __exit__(self, *exc):
        mg_set_grad_enabled(self._prev)


class enable_grad:
    """Context manager: operations inside it build the graph, even within no_grad."""

    def __enter__(self):
        self._prev = mg_grad_enabled()
        mg_set_grad_enabled(1)
        return self

    def __exit__(self, *exc):
        mg_set_grad_enabled(self._prev)


def is_anomaly_enabled():
    """Whether detect_anomaly is on in this thread."""
    return bool(mg_anomaly_enabled())


class detect_anomaly:
    """Context manager: inside it, an op that makes NaN from operands that are
    not NaN raises AnomalyError at once, naming the op, its operands and the
    line that called it; and a backward step that makes a NaN gradient from
    finite numbers raises, naming the node and the line that made it.
    check_nan=False leaves anomaly mode off (as torch's argument)."""

    def __init__(self, check_nan=True):
        self.check_nan = bool(check_nan)

    def __enter__(self):
        self._prev = mg_anomaly_enabled()
        mg_set_anomaly(1 if self.check_nan else 0)
        return self

    def __exit__(self, *exc):
        mg_set_anomaly(self._prev)
