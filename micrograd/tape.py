"""Trace once, replay over a NumPy batch: ``micrograd.trace`` and ``Tape``.

    >>> import micrograd as mg
    >>> w = mg.Number(0.5)
    >>> tape = mg.trace(lambda x, y: ((x * w - y) ** 2), 0.0, 0.0)
    >>> tape.params == [w]
    True
    >>> loss = tape.backward([[1.0, 2.0], [2.0, 1.0]])     # mean over the batch
    >>> loss, w.gradient
    (1.125, -1.5)

``trace(fn, *example_inputs)`` calls ``fn`` once on Numbers made from the
examples and flattens the graph it builds into a tape of instructions.  The
leaves ``fn`` reached that are not inputs are the tape's parameters
(``tape.params``): their values are read from their Numbers at every call, so
an optimizer moving them just works, and backward adds to their
``.gradient``.  The tape then replays the recorded ops over every row of a
batch, chunk by chunk, in C on the core (csrc/mg_replay.c) and in Python on the
reference, with the same bits: each lane gives exactly what building that
sample's graph op by op and calling backward gives.

Rules (docs/design.md, "The tape", has the reasons):

- While ``trace`` records, reading a traced value (``.value``, ``float()``,
  ``bool()``, formatting, ``detach()``, ``copy``, ``deepcopy``, pickling, a
  ``no_grad`` result) raises ``TraceError``, in any thread and in a trace
  opened inside ``fn``: a Python ``if`` on one example's value would be
  replayed for every sample, and so does ``<`` (or ``<=``, ``>``, ``>=``) on a
  traced Number, which gives a bool.  ``where``, ``gt``, ``ge``, ``lt``, ``le``,
  ``maximum``, ``minimum``, ``clamp`` and ``stop_gradient`` are recorded instead.
- Ops that raise on floats (``log(0)``, ``1/0``) cannot raise for one lane of
  a batch: a replay keeps the IEEE value (inf or NaN) there.
  ``check=True`` names the lanes that produced non-finite values.
- Batch reductions: each chunk of lanes sums its lanes in lane order, from
  0.0, and the chunk sums are added in chunk order, from 0.0; the chunk size
  depends on the tape alone, so results never depend on ``threads``.
  ``"mean"`` divides that sum by the batch size.
- ``executor=`` (a ``concurrent.futures`` executor or a ``dask.distributed``
  Client) replays shards of whole chunks on its workers, which return each
  chunk's sums; they are added here in chunk order from 0.0, so results never
  depend on the workers either.  X may then also be a ``np.memmap`` (workers
  read their rows from its file) or a ``dask.array`` (its blocks are the
  shards).  A failed shard raises ``ShardError`` naming its rows, before
  anything is added (micrograd/_shards.py).
"""
from __future__ import annotations

import numbers
import os
import sys
from typing import Any, Callable

import numpy as np

from . import _shards
from ._backend import module_of
from ._convert import MIXING, is_number
from ._errors import TraceError
from ._pickle import restore
from ._shards import ShardError

__all__ = ["trace", "Tape", "TraceError", "ShardError"]

_REDUCTIONS = ("none", "sum", "mean")


def trace(fn: Callable[..., Any], *example_inputs: Any) -> "Tape":
    """Record fn on example inputs (reals or Numbers) as a Tape.

    fn takes Numbers and returns a Number, a Chain, or a tuple or list of
    them; the first is what backward differentiates.
    """
    if not callable(fn):
        raise TypeError(f"trace: fn must be callable, not {type(fn).__name__}")
    backend = module_of(example_inputs)
    values = []
    for i, v in enumerate(example_inputs):
        if is_number(v):
            if module_of([v]) is not backend:       # examples of both backends
                raise TypeError(MIXING.format(backend.BACKEND, module_of([v]).BACKEND))
            v = v.value
        if not isinstance(v, numbers.Real) and getattr(v, "ndim", None) != 0:
            raise TypeError(f"trace: example input {i} must be a real or a Number, "
                            f"not {type(v).__name__}")
        values.append(v)
    previous = backend._trace_begin()
    try:
        inputs = [backend._trace_input(v) for v in values]
        result = fn(*inputs)
    finally:
        backend._trace_end(previous)
    single = not isinstance(result, (tuple, list))
    outputs = [_output(r, i, backend.BACKEND)
               for i, r in enumerate([result] if single else result)]
    if not outputs:
        raise ValueError("trace: fn returned no outputs")
    # _Tape.build refuses a parameter still traced now that this trace is
    # closed: it belongs to a trace still open (fn is traced inside another
    # trace, or in another thread, and used that trace's values), and the tape
    # would replay that example's value, as reading it would.
    impl = backend._Tape.build(outputs, inputs)
    if backend._tape_hooks(outputs, impl.params):
        raise ValueError(_HOOKS.format("trace: a Number of the traced graph"))
    return Tape(impl, single)


# A tape replays ops, not Python callbacks: a hook would be skipped silently and
# the tape's gradients would differ from backward's, so a tape refuses them.
_HOOKS = ("{} has a hook (register_hook); a tape does not run hooks, so its gradients "
          "would differ from backward's: remove it (handle.remove()) to use the tape, or "
          "call backward op by op")


def _output(result, i, backend):
    if hasattr(result, "result") and hasattr(result, "steps"):      # a Chain
        result = result.result()
    if not is_number(result):
        raise TypeError(f"trace: output {i} of fn must be a Number (or a Chain), "
                        f"not {type(result).__name__}")
    other = type(result)._mg_backend
    if other != backend:
        # The backend comes from the examples (the active one for reals or
        # none); a graph fn built from a closure's Numbers of the other
        # backend without mixing them in any op is refused here, as an op
        # mixing them would be, before the backend's tape reads its nodes.
        raise TypeError(MIXING.format(backend, other))
    return result


def _refs(params, i):
    """sys.getrefcount of params[i], always asked this one way, so that the
    count of an object only a tuple holds is the same number every time."""
    return sys.getrefcount(params[i])


_TAPE_ONLY = _refs((object(),), 0)       # held by a tuple alone


class Tape:
    """A traced function, replayed over batches (see the module docstring)."""

    def __init__(self, impl: Any, single: bool) -> None:
        self._impl = impl
        self._single = single
        self._witness = None        # see _check_owned
        self._token = None          # names the tape on workers (micrograd/_shards.py)
        self._met = None            # the executors that were sent the tape
        self.n_inputs, self.n_outputs, self.n_instructions, self.lanes = impl.shape
        self.replay = os.environ.get("MICROGRAD_REPLAY", "").strip().lower() or "fast"

    @property
    def replay(self) -> str:
        """Which replay runs this tape.

        ``"fast"``, the default, is the lowered replay, dense layers as matrix
        products; ``"plain"`` is the instruction-by-instruction interpreter
        that is its oracle (the same bits, slower).  The environment variable
        ``MICROGRAD_REPLAY`` sets a new tape's choice.  The reference backend's
        replay is the plain interpreter either way."""
        return "plain" if self._impl.plain else "fast"

    @replay.setter
    def replay(self, how: str) -> None:
        if how not in ("fast", "plain"):
            raise ValueError(f"tape: replay must be 'fast' or 'plain', not {how!r}")
        self._impl.plain = how == "plain"

    @property
    def params(self) -> list:
        """The leaves fn reached that are not inputs, in order of first use."""
        return list(self._impl.params)

    def __repr__(self) -> str:
        return (f"Tape({self.n_inputs} inputs, {self.n_outputs} output"
                f"{'s' if self.n_outputs != 1 else ''}, {self.n_instructions} instructions, "
                f"{len(self._impl.params)} params)")

    # -- a tape whose model was re-created --------------------------------------------
    def _check_owned(self):
        """Refuse to replay parameters that nothing but this tape holds any
        more, if something else held them before.

        A tape keeps the Numbers it traced.  Re-create the model (a notebook
        cell run again) and the tape would go on replaying the old weights,
        with the new model's gradients staying 0, silently (JAX avoids this by
        taking the parameters as arguments).  At its first replay the tape
        notes one parameter that something else holds (the model, an
        optimizer, a list), its witness; each replay checks that the witness
        is still held, one reference count.  A parameter made inside the
        traced function is held by the tape alone from the start, and never
        becomes a witness."""
        params = self._impl.params
        if self._witness is None:
            held = [i for i in range(len(params)) if _refs(params, i) > _TAPE_ONLY]
            self._witness = held[0] if held else -1
        elif self._witness >= 0 and _refs(params, self._witness) <= _TAPE_ONLY:
            raise RuntimeError(
                "tape: the parameters it traced are held by nothing but this tape now: the "
                "model was re-created after tracing (a notebook cell run again?), and the "
                "tape would replay the old weights. Trace the new model (micrograd.trace), "
                "or keep a reference to these parameters (tape.params)")

    # -- the batch -----------------------------------------------------------------
    def _batch(self, X):
        """(X as a C-contiguous float64 (B, n_inputs) array, whether it was one row)."""
        if (type(X) is np.ndarray and X.dtype == np.float64 and X.ndim == 2
                and X.shape[1] == self.n_inputs and X.flags.c_contiguous and X.flags.aligned):
            return X, False                     # a training loop's batch, as it is
        if is_number(X):
            raise TypeError("tape: X must be an array of reals, not a Number")
        arr = np.asarray(X)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"tape: X must hold real numbers (floats or ints), "
                            f"not {arr.dtype}")
        one = arr.ndim == 1
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != self.n_inputs:
            raise ValueError(f"tape: X must have shape (batch, {self.n_inputs}) or "
                             f"({self.n_inputs},) for this tape of {self.n_inputs} inputs, "
                             f"not {np.shape(X)}")
        return _c_doubles(arr), one

    def _threads(self, threads, batch):
        """The thread count for a batch: never more than its chunks (a thread
        has nothing to do without a whole chunk)."""
        if type(threads) is not int or threads < 1:
            if (isinstance(threads, bool) or not isinstance(threads, numbers.Integral)
                    or threads < 1):
                raise ValueError(f"tape: threads must be a positive int, not {threads!r}")
            threads = int(threads)
        return max(1, min(threads, -(-batch // self.lanes)))

    def _shape_out(self, out, one):
        if self._single:
            out = out[:, 0]
        return out[0] if one else out

    # -- replaying -------------------------------------------------------------------
    def __call__(self, X: Any, threads: int = 1, executor: Any = None,
                 shards: Any = None) -> Any:
        """Forward only: (B,) outputs for a batch (B, n_outputs) for several
        outputs), or one sample's for a row.  With an executor, its workers
        replay shards of the batch (shards=N of them for a NumPy batch;
        default one per worker)."""
        x, one, B = self._source(X, executor, shards)
        self._check_owned()
        threads = self._threads(threads, B)
        if executor is not None:
            out = _shards.replay(self, x, executor, threads, out=True)[0]
        else:
            out = np.empty((B, self.n_outputs))
            self._impl.run(x, out, None, None, None, False, threads)
        return self._shape_out(out, one)

    def value_and_grad(self, X: Any, reduction: str = "mean", wrt: str = "params",
                       threads: int = 1, check: bool = False, executor: Any = None,
                       shards: Any = None) -> tuple[Any, Any]:
        """(outputs per sample, gradients of the first output), touching no
        .gradient.  wrt="params": with reduction "none" one row per sample,
        (B, n_params); "sum" and "mean" give (n_params,).  wrt="inputs": the
        gradient of the reduced output for each sample's inputs, (B, n_inputs).
        With an executor, its workers replay shards of the batch, with the
        same bits; a failed shard raises ShardError."""
        if reduction not in _REDUCTIONS:
            raise ValueError(f"tape: reduction must be 'none', 'sum' or 'mean', "
                             f"not {reduction!r}")
        if wrt not in ("params", "inputs"):
            raise ValueError(f"tape: wrt must be 'params' or 'inputs', not {wrt!r}")
        x, one, B = self._source(X, executor, shards)
        self._check_owned()
        npar = len(self._impl.params)
        if wrt == "params":
            self._refuse_hooks()
        if reduction == "mean" and B == 0:
            raise ValueError("tape: the mean over an empty batch is undefined")
        threads = self._threads(threads, B)
        per_lane = wrt == "params" and reduction == "none"
        summed = wrt == "params" and reduction != "none"
        if executor is not None:
            out, pgrads, igrads, _, total, bad = _shards.replay(
                self, x, executor, threads, out=True, pgrads=per_lane,
                igrads=wrt == "inputs", sums=summed, check=check and wrt)
        else:
            out = np.empty((B, self.n_outputs))
            pgrads = np.empty((B, npar)) if per_lane or (check and wrt == "params") else None
            igrads = np.empty((B, self.n_inputs)) if wrt == "inputs" or check else None
            total = np.zeros(npar) if summed else None
            self._impl.run(x, out, igrads, pgrads, total, True, threads)
            bad = _shards.nonfinite_lanes(out, pgrads, igrads) if check else None
        self._check(bad, B)
        if wrt == "params":
            grads = pgrads if reduction == "none" else (total / B if reduction == "mean" else total)
            if one and reduction == "none":
                grads = grads[0]
        else:
            grads = igrads / B if reduction == "mean" else igrads
            if one:
                grads = grads[0]
        return self._shape_out(out, one), grads

    def backward(self, X: Any, reduction: str = "mean", threads: int = 1,
                 check: bool = False, executor: Any = None, shards: Any = None) -> float:
        """Forward and backward over the batch; every parameter's .gradient
        gains the gradient of the reduced first output (leaves accumulate).
        Returns the reduced first output.  With an executor, its workers
        replay shards of the batch, with the same bits; nothing is added
        until every shard has come back, and a failed shard raises
        ShardError with every .gradient as it was."""
        if reduction not in ("sum", "mean"):
            raise ValueError(f"tape: backward reduces with 'sum' or 'mean', not "
                             f"{reduction!r}; value_and_grad(X, reduction='none') gives "
                             f"per-sample gradients")
        x, _, B = self._source(X, executor, shards)
        self._check_owned()
        if reduction == "mean" and B == 0:
            raise ValueError("tape: the mean over an empty batch is undefined")
        self._refuse_hooks()
        divisor = float(B) if reduction == "mean" else 1.0
        threads = self._threads(threads, B)
        if executor is not None:
            _, _, _, value, total, bad = _shards.replay(self, x, executor, threads, sums=True,
                                                        check=check and "params")
            self._check(bad, B)
            # the one adder of the in-process replay (backward_into_params
            # ends with the same mg_tape_add_grads): the same bits
            self._impl.add_param_grads(total, divisor)
        elif check:
            npar = len(self._impl.params)
            total = np.zeros(npar)
            out, pgrads = np.empty((B, self.n_outputs)), np.empty((B, npar))
            igrads = np.empty((B, self.n_inputs))
            value = self._impl.run(x, out, igrads, pgrads, total, True, threads)
            self._check(_shards.nonfinite_lanes(out, pgrads, igrads), B)
            self._impl.add_param_grads(total, divisor)
        else:
            value = self._impl.backward_into_params(x, divisor, threads)
        return value / B if reduction == "mean" else value

    def jvp(self, X: Any, V: Any) -> tuple[Any, Any]:
        """Forward mode over the batch: (outputs, tangents), each sample's
        tangent the derivative of its outputs along its row of V (one tangent
        per input; the parameters have none), the bits micrograd.jvp gives on
        that sample.  Shapes as __call__'s: (B,) for one output, (B, n_outputs)
        for several, one sample's for a row."""
        x, one = self._batch(X)
        v = np.asarray(V)
        if is_number(V) or v.dtype.kind not in "biuf":
            raise TypeError(f"tape.jvp: V must be an array of reals, not "
                            f"{type(V).__name__ if v.dtype.kind == 'O' else v.dtype}")
        if v.shape != np.shape(X) and not (one and v.shape == (1, self.n_inputs)):
            raise ValueError(f"tape.jvp: V must have the shape of X, {np.shape(X)}, "
                             f"not {v.shape}")
        v = _c_doubles(v.reshape(x.shape))
        self._check_owned()
        out, tout = np.empty((len(x), self.n_outputs)), np.empty((len(x), self.n_outputs))
        self._impl.jvp(x, v, out, tout)
        return self._shape_out(out, one), self._shape_out(tout, one)

    def _source(self, X, executor, shards):
        """(the batch, whether it was one row, its rows): X as an array here,
        or, with an executor, a _shards.Plan of where each shard's rows are."""
        if executor is None:
            if shards is not None:
                raise ValueError("tape: shards are for an executor; pass executor= too")
            x, one = self._batch(X)
            return x, one, len(x)
        p = _shards.plan(self, X, executor, shards)
        return p, p.one, p.B

    def _refuse_hooks(self):
        """A hook registered on a parameter after tracing: refused as at trace."""
        params = self._impl.params
        if params and module_of(params)._tape_hooks((), params):
            raise ValueError(_HOOKS.format("tape: a parameter"))

    @staticmethod
    def _check(lanes, B):
        """Raise, before anything is added anywhere, if a lane is not finite
        (lanes: those that are not, or None when not checking)."""
        if lanes is not None and len(lanes):
            shown = ", ".join(str(i) for i in lanes[:10]) + (", ..." if len(lanes) > 10 else "")
            raise FloatingPointError(
                f"tape: {len(lanes)} of {B} lanes produced non-finite values "
                f"(lanes {shown}); op by op, such a sample raises or gives inf/NaN. "
                f"No gradient was changed.")

    # -- pickling ------------------------------------------------------------------
    def __reduce__(self):
        values = [(p.value, p.gradient) for p in self._impl.params]
        return _restore_tape, (self._impl.to_state(), values, self._single)


def _c_doubles(arr):
    """arr as C-contiguous float64 that is aligned: the C reads it as doubles,
    and an array unpickled or received from a buffer at an odd offset (dask
    sends shards so) is contiguous but not aligned, which
    np.ascontiguousarray would hand over as it is."""
    return np.require(arr, dtype=np.float64, requirements=["C", "A"])


def _restore_tape(state, values, single):
    """A tape from a pickle: its parameters come back as leaves of the loading
    process's backend, with the values they had."""
    params = [restore(v, g) for v, g in values]
    return Tape(module_of(params)._Tape.from_state(state, params), single)
