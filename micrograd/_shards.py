"""A tape replayed over shards of a batch on other processes or machines.

``tape(X, executor=ex)``, ``tape.backward(X, executor=ex)`` and
``tape.value_and_grad(X, executor=ex)`` come here (micrograd/tape.py).  The
executor is a ``concurrent.futures.Executor`` (threads, processes, loky) or a
``dask.distributed.Client``.

Same bits as one thread.  A replay in one process adds each chunk's sums (of
the first output, and of every parameter's gradient) into totals that start
at 0.0, in chunk order.  Floating-point addition is not associative, so a
shard cannot hand back one sum over its chunks: a shard is a run of whole
chunks (``tape.lanes`` rows each, the last one maybe shorter), its worker
replays it and returns every chunk's sums as the replay adds them
(``_Tape.run``'s chunk_outs and chunk_sums), and the caller adds them all,
shard after shard, chunk after chunk, from 0.0: the additions of
``threads=1``, on the same numbers.  Per-sample outputs and gradients do not
depend on chunks at all.

What travels.  The tape goes to a worker once: each task names it by a
token, and a worker keeps the tapes it was sent (a few, most recently used
first) in this module, one copy per thread that replays it, so that threads
never share parameter Numbers.  A task is sent with the tape the first time
a tape meets an executor; a worker that never got it (started later, or
that let it go) answers MISSING and the task goes again with the tape.
Each call then sends the parameters' values and the shard: a NumPy array's
rows, a memory-mapped file's name and offset (the worker reads its rows
itself), or a dask array's block (computed where it lives).

Failures.  Every shard's result is collected before anything is added; a
shard that raised, or whose worker died, raises ShardError naming its rows,
and no ``.gradient`` has changed.
"""
import concurrent.futures
import importlib
import math
import mmap
import numbers
import os
import sys
import threading
import uuid
import weakref
from collections import OrderedDict

import numpy as np

__all__ = ["ShardError", "run_shard", "replay"]

MISSING = "micrograd: this worker does not hold the tape"

# tapes a worker process keeps, and a thread of it builds: a few, since the
# caller never says when a tape is gone (a training loop uses one or two)
KEEP = 8


class ShardError(RuntimeError):
    """A shard of a batch failed on its worker (it raised, or the worker
    died); nothing was added to any ``.gradient``.  ``rows`` is the shard's
    (first, end) row range."""

    def __init__(self, message, shard, rows):
        super().__init__(message)
        self.shard, self.rows = shard, rows


# -- the worker's side -------------------------------------------------------------------
_STATES = OrderedDict()             # token -> (backend name, tape state, parameter count)
_STATES_LOCK = threading.Lock()
_LOCAL = threading.local()          # .tapes: token -> (backend _Tape, its parameter Numbers)
_BACKENDS = {"core": "micrograd._core", "python": "micrograd._core_py"}


def _remember(cache, key, value):
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > KEEP:
        cache.popitem(last=False)


def _worker_tape(token, sent):
    """This thread's copy of the tape `token`, built from `sent` or from the
    state this process keeps; None if it has neither."""
    tapes = getattr(_LOCAL, "tapes", None)
    if tapes is None:
        tapes = _LOCAL.tapes = OrderedDict()
    with _STATES_LOCK:
        if sent is not None:
            _remember(_STATES, token, sent)
        sent = _STATES.get(token)
    if token in tapes:
        tapes.move_to_end(token)
        return tapes[token]
    if sent is None:
        return None
    backend_name, state, npar = sent
    backend = importlib.import_module(_BACKENDS[backend_name])
    # the caller's backend, not this process's default: both give the same
    # bits, but a test on the reference must replay on the reference
    params = [backend.Number(0.0) for _ in range(npar)]
    impl = backend._Tape.from_state(state, params)
    _remember(tapes, token, (impl, params))
    return impl, params


def _rows(source):
    """The shard's rows as a C-contiguous float64 array."""
    if isinstance(source, tuple):                 # ("memmap", path, offset, dtype, shape)
        _, path, offset, dtype, shape = source
        rows = np.memmap(path, dtype=np.dtype(dtype), mode="r", offset=offset, shape=shape)
    elif isinstance(source, np.ndarray):
        rows = source
    else:                                         # a dask array's block
        rows = source.compute(scheduler="synchronous")
    # aligned too: dask hands a block over in a buffer at whatever offset
    return np.require(rows, dtype=np.float64, requirements=["C", "A"])


def nonfinite_lanes(out, pgrads, igrads):
    """The lanes (rows) where an output or a gradient is not finite."""
    bad = ~np.isfinite(out).all(axis=1)
    for grads in (pgrads, igrads):
        if grads is not None:
            bad |= ~np.isfinite(grads).all(axis=1)
    return np.flatnonzero(bad)


def run_shard(token, sent, pvals, source, want, threads):
    """Replay a shard on a worker: a dict of what `want` names (out, pgrads,
    igrads: per row; sums: each chunk's first-output and parameter sums;
    check: the rows that are not finite), or MISSING."""
    got = _worker_tape(token, sent)
    if got is None:
        return MISSING
    impl, params = got
    impl.plain = want["plain"]
    for p, v in zip(params, pvals.tolist()):      # Python floats, as the caller's hold
        p.value = v
    x = _rows(source)
    B, (nin, nout, _, L), npar = len(x), impl.shape, len(params)
    check = want["check"]           # False, or the gradients checked: "params" or "inputs"
    out = np.empty((B, nout)) if want["out"] or check else None
    pgrads = np.empty((B, npar)) if want["pgrads"] or check == "params" else None
    igrads = np.empty((B, nin)) if want["igrads"] or check else None
    backward = want["sums"] or pgrads is not None or igrads is not None
    result = {}
    if want["sums"]:
        # each chunk's sums as the replay adds them to its totals (which are
        # not used: they are this shard's alone)
        nchunks = -(-B // L)
        result["outs"], result["sums"] = np.empty(nchunks), np.empty((nchunks, npar))
        impl.run(x, out, igrads, pgrads, np.zeros(npar), True, threads,
                 result["outs"], result["sums"])
    else:
        impl.run(x, out, igrads, pgrads, None, backward, threads)
    for name, value in (("out", out), ("pgrads", pgrads), ("igrads", igrads)):
        if want[name]:
            result[name] = value
    if check:
        result["bad"] = nonfinite_lanes(out, pgrads, igrads)
    return result


# -- the caller's side -------------------------------------------------------------------
def _client_class():
    """dask.distributed's Client if distributed is imported: a Client can only
    exist if it is, and looking costs no import for those who never use it."""
    module = sys.modules.get("distributed")
    return getattr(module, "Client", None)


def _is_client(executor):
    Client = _client_class()
    return Client is not None and isinstance(executor, Client)


def _is_dask_array(X):
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(X, module.Array)


def check_executor(executor):
    if not (isinstance(executor, concurrent.futures.Executor) or _is_client(executor)):
        raise TypeError(f"tape: executor must be a concurrent.futures.Executor or a "
                        f"dask.distributed.Client, not {type(executor).__name__}")


def _workers(executor):
    """How many shards a NumPy batch is cut into by default: one per worker."""
    if _is_client(executor):
        return max(1, sum(executor.nthreads().values()))
    return max(1, getattr(executor, "_max_workers", None) or os.cpu_count() or 1)


class Plan:
    """A batch cut into shards: B rows, whether X was one row, and per shard
    (first row, end row, what the worker reads)."""

    def __init__(self, B, one, shards):
        self.B, self.one, self.shards = B, one, shards


def plan(tape, X, executor, shards):
    """Check X and cut it into shards at chunk boundaries."""
    check_executor(executor)
    if shards is not None and (isinstance(shards, bool) or not isinstance(shards, numbers.Integral)
                               or shards < 1):
        raise ValueError(f"tape: shards must be a positive int or None, not {shards!r}")
    if _is_dask_array(X):
        if shards is not None:
            raise ValueError("tape: a dask array's blocks are its shards; rechunk it "
                             "instead of passing shards")
        return _plan_dask(tape, X, executor)
    L = tape.lanes
    if _by_path(X):
        _check_columns(tape, X, X.ndim, X.shape)
        B, one = X.shape[0], False
        rowbytes = X.shape[1] * X.dtype.itemsize

        def source(a, b):
            return ("memmap", X.filename, X.offset + a * rowbytes, X.dtype.str,
                    (b - a, X.shape[1]))
    else:
        x, one = tape._batch(X)
        B = len(x)

        def source(a, b):
            return x[a:b]
    nchunks = -(-B // L)
    k = min(shards or _workers(executor), nchunks)
    cuts = [B if i == k else i * nchunks // k * L for i in range(k + 1)]
    return Plan(B, one, [(a, b, source(a, b)) for a, b in zip(cuts, cuts[1:])])


def _by_path(X):
    """Whether a worker can read X's rows from its file: a memmap made by
    np.memmap itself (a view's .offset is its parent's), C-ordered, and not
    copy-on-write (mode "c": the caller's writes are in its own memory)."""
    return (isinstance(X, np.memmap) and isinstance(X.base, mmap.mmap) and X.filename
            and X.ndim == 2 and X.flags.c_contiguous and X.mode != "c"
            and X.dtype.kind in "biuf")


def _check_columns(tape, X, ndim, shape):
    """The errors tape._batch gives, for an X that is not read here."""
    if X.dtype.kind not in "biuf":
        raise TypeError(f"tape: X must hold real numbers (floats or ints), not {X.dtype}")
    if ndim != 2 or shape[1] != tape.n_inputs:
        raise ValueError(f"tape: X must have shape (batch, {tape.n_inputs}) for this tape "
                         f"of {tape.n_inputs} inputs, not {shape}")


def _plan_dask(tape, X, executor):
    """A dask array's blocks along axis 0 as shards.  Each block but the last
    must hold whole chunks: if one does not, X is rechunked to blocks of a
    multiple of tape.lanes rows near its first block's size."""
    _check_columns(tape, X, X.ndim, X.shape)
    if math.isnan(X.shape[0]):
        raise ValueError("tape: the dask array's chunk sizes are unknown; call "
                         "X.compute_chunk_sizes() first")
    L = tape.lanes
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    if any(n % L for n in X.chunks[0][:-1]):
        X = X.rechunk({0: max(L, X.chunks[0][0] // L * L)})
    if _is_client(executor):
        blocks = X.to_delayed().ravel()
    else:
        blocks = [X.blocks[i] for i in range(len(X.chunks[0]))]
    cuts = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(int).tolist()
    return Plan(X.shape[0], False, [(a, b, block)
                                    for a, b, block in zip(cuts, cuts[1:], blocks)])


def _submit(executor, *args):
    if not _is_client(executor):
        return executor.submit(run_shard, *args)
    dask = sys.modules["dask"]      # imported: a Client exists
    source = args[3]
    if isinstance(source, np.ndarray):
        # scattered, not put in the task: a graph that big makes dask warn, and
        # hashing the rows to name them would cost a pass over them every step
        source = executor.scatter(source, hash=False)
    return executor.compute(dask.delayed(run_shard, pure=False)(*args[:3], source, *args[4:]))


def _failed(plan, i, exc, futures):
    for f in futures:
        if f is not None:
            f.cancel()
    a, b = plan.shards[i][:2]
    return ShardError(f"tape: shard {i} (rows {a} to {b} of {plan.B}) failed on its worker: "
                      f"{type(exc).__name__}: {exc}. No gradient was changed.", i, (a, b))


def _run_all(tape, plan, executor, pvals, want, threads):
    """Every shard's result, in shard order, or ShardError."""
    token, sent = _named(tape)
    first = _first_meeting(tape, executor)
    futures = [None] * len(plan.shards)
    results = [None] * len(plan.shards)
    todo = list(range(len(plan.shards)))
    for attempt in (0, 1):
        for i in todo:
            args = (token, sent if first or attempt else None, pvals, plan.shards[i][2],
                    want, threads)
            try:
                futures[i] = _submit(executor, *args)
            except Exception as exc:        # a broken pool refuses new work
                raise _failed(plan, i, exc, futures) from exc
        for i in todo:
            try:
                results[i] = futures[i].result()
            except BaseException as exc:    # Ctrl-C too: the other shards are cancelled
                error = _failed(plan, i, exc, futures)
                if not isinstance(exc, Exception):
                    raise
                raise error from exc
        todo = [i for i in todo if isinstance(results[i], str)]
        if not todo:
            return results
    raise _failed(plan, todo[0], RuntimeError("the worker lost the tape it was just sent"),
                  futures)


def _named(tape):
    """(the tape's token, what a worker builds it from), made at its first
    sharded call: its instructions never change, so they are read once."""
    if tape._token is None:
        impl = tape._impl
        # by the module that defines its class: no backend module need be imported
        backend = "core" if type(impl).__module__ == _BACKENDS["core"] else "python"
        tape._token = (uuid.uuid4().hex, (backend, impl.to_state(), len(impl.params)))
    return tape._token


def _first_meeting(tape, executor):
    """Whether this is the tape's first call on this executor (then its tasks
    carry the tape); remembered weakly, so the executor can go."""
    if tape._met is None:
        tape._met = weakref.WeakSet()
    try:
        if executor in tape._met:
            return False
        tape._met.add(executor)
    except TypeError:                   # no weak references: workers ask for the tape
        return False
    return True


def replay(tape, plan, executor, threads, out=False, pgrads=False, igrads=False,
           sums=False, check=False):
    """(out, pgrads, igrads, value, total, bad): the per-row arrays asked
    for, the first output's sum and the parameters' summed gradients (sums),
    the rows that are not finite (check), each None unless asked."""
    want = {"out": out, "pgrads": pgrads, "igrads": igrads, "sums": sums, "check": check,
            "plain": tape._impl.plain}
    pvals = np.array(tape._impl.param_values(), dtype=np.float64)
    results = _run_all(tape, plan, executor, pvals, want, threads)
    B, npar = plan.B, len(pvals)
    arrays = {}
    for name, width in (("out", tape.n_outputs), ("pgrads", npar), ("igrads", tape.n_inputs)):
        if want[name]:
            arrays[name] = np.empty((B, width))
            for (a, b, _), r in zip(plan.shards, results):
                arrays[name][a:b] = r[name]
    value = total = bad = None
    if sums:
        # the order of a one-thread replay: every chunk, in order, from 0.0;
        # as IEEE adds without warnings (inf - inf is NaN, as in the replay)
        value, total = 0.0, np.zeros(npar)
        with np.errstate(all="ignore"):
            for r in results:
                for o, s in zip(r["outs"].tolist(), r["sums"]):
                    value += o
                    total += s
    if check:
        bad = np.concatenate([r["bad"] + a for (a, _, _), r in zip(plan.shards, results)]
                             + [np.empty(0, dtype=np.intp)])
    return arrays.get("out"), arrays.get("pgrads"), arrays.get("igrads"), value, total, bad
