"""Exceptions that both backends raise, defined once so they are one class."""

__all__ = ["TraceError", "traced_read", "TRACES_FULL"]

# Trace ids are 16 bits and an open trace keeps its id (csrc/mg_graph.c): the
# 65,536th trace open at once has none left.
TRACES_FULL = ("micrograd.trace: 65535 traces are open at once and every trace id is "
               "in use; close one first")


class TraceError(RuntimeError):
    """A traced value was read, or baked into a constant, while micrograd.trace
    was recording: the tape would replay that one example's decision for
    every sample."""


def traced_read(op, how):
    """The TraceError for reading `how` (value, float(), bool(), format,
    detach, a copy or a pickle) of a traced Number made by `op` ('' for an
    input)."""
    what = f"the result of {op!r}" if op else "an input of the traced function"
    return TraceError(
        f"{how} of a traced Number ({what}) while micrograd.trace records: a tape "
        f"replays the ops, not Python decisions taken on one example's values. Use "
        f"micrograd.where(cond, a, b) in place of an `if`, micrograd.maximum, minimum or "
        f"clamp in place of comparisons, and x.stop_gradient() in place of detach() or "
        f"no_grad(); read values after tracing.")
