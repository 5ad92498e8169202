# Included by _core.pyx; the twin of micrograd/_gradmode_py.py.  The flag
# itself is a C thread-local (csrc/mg_graph.c), read by every node builder.

def is_grad_enabled():
    return bool(mg_grad_enabled())


def set_grad_enabled(enabled):
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
