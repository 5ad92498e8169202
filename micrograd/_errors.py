"""Exceptions that both backends raise, defined once so they are one class."""
import errno
import os

__all__ = ["TraceError", "traced_read", "traced_comparison", "TRACES_FULL", "op_error",
           "check_chunk_arrays"]

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
        f"micrograd.where(cond, a, b) in place of an `if`, micrograd.gt, ge, lt, le "
        f"(micrograd.where(micrograd.gt(x, 0), a, b)), maximum, minimum or clamp in place "
        f"of comparisons, and x.stop_gradient() in place of detach() or "
        f"no_grad(); read values after tracing.")


def traced_comparison(op, symbol, name):
    """The TraceError for `a <symbol> b` on a traced Number made by `op`: a
    Python bool would be one example's decision; micrograd.<name> records it."""
    what = f"the result of {op!r}" if op else "an input of the traced function"
    return TraceError(
        f"`a {symbol} b` on a traced Number ({what}) while micrograd.trace records: "
        f"it gives a Python bool, one example's decision, which a tape cannot replay. "
        f"Use micrograd.{name}(a, b), a Number of 1.0 or 0.0 that the tape records "
        f"(micrograd.where(micrograd.{name}(x, 0), a, b) in place of "
        f"`a if x {symbol} 0 else b`).")


def op_error(name, status):
    """The exception the op `name` raises where its C formula reports `status`
    ("zerodiv", "domain" or "range", csrc/mg_formulas.h): the one the same
    operation on Python floats, or Python's math, raises there, in its words
    (the reference raises Python's own, and tests/test_edge_values.py checks
    the two agree).  The core builds its errors here, without the reference."""
    power = name in ("pow", "rpow")           # float ** float, not math
    if status == "zerodiv":
        return ZeroDivisionError("0.0 cannot be raised to a negative power" if power
                                 else "float division by zero")
    if status == "domain":
        return ValueError("math domain error")
    if power:                                 # float ** reports the C library's errno
        return OverflowError(errno.ERANGE, os.strerror(errno.ERANGE))
    return OverflowError("math range error")


def check_chunk_arrays(chunk_outs, chunk_sums, param_total, nchunks, npar):
    """Refuse, before any work, arrays a tape's run() cannot write each
    chunk's sums into (both backends' _Tape.run)."""
    if chunk_outs is not None and chunk_outs.shape[0] != nchunks:
        raise ValueError(f"tape: chunk_outs must hold {nchunks} values, one per chunk")
    if chunk_sums is not None and (param_total is None or chunk_sums.shape[0] != nchunks
                                   or chunk_sums.shape[1] != npar):
        raise ValueError(f"tape: chunk_sums must be ({nchunks}, {npar}), one row per "
                         f"chunk, with param_total")
