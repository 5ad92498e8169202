"""The one place that decides which backend the public API uses.

The compiled core when it imports, else the pure-Python reference.
MICROGRAD_PUREPYTHON=1 forces the reference; MICROGRAD_REQUIRE_CORE=1 makes a
core that fails to import an ImportError (CI sets it).  A flag is off when
unset, empty, or one of 0, false, no, off (any case); any other value turns
it on.

The public helpers (activations, losses, transforms, optim, nn, chain) follow
one rule: they work in the backend of the Numbers they are given, and where
they are given none, in the active backend (``module_of``).
"""
import importlib.util
import os
import sys
from typing import TYPE_CHECKING

from . import _core_py
from ._convert import is_number

_OFF = ("", "0", "false", "no", "off")

# What a backend module provides: the one list.  micrograd._core and
# micrograd._core_py each have every name here (tests/test_backend.py checks
# both); the package reaches a backend only through these names.  The public
# ones are each module's __all__, which micrograd re-exports; the private ones
# are for the package's own modules.
INTERFACE = {
    "BACKEND": "the backend's name: 'core' or 'python'",
    "Number": "the scalar node (operators, methods, backward, hooks, grad_node)",
    "Chain": "a graph built step by step (micrograd.chain)",
    "sum": "one n-ary node for a + b + ..., added left to right",
    "dot": "one n-ary node for w0*x0 + w1*x1 + ...",
    "where": "a where cond > 0, else b",
    "maximum": "the larger of two, NaN if either is",
    "minimum": "the smaller of two, NaN if either is",
    "gt": "1.0 if a > b else 0.0, with no gradient (a comparison a trace records)",
    "ge": "1.0 if a >= b else 0.0, with no gradient",
    "lt": "1.0 if a < b else 0.0, with no gradient",
    "le": "1.0 if a <= b else 0.0, with no gradient",
    "clamp": "x limited to [lo, hi]",
    "no_grad": "context manager: no graph is built inside",
    "enable_grad": "context manager: the graph is built, even within no_grad",
    "is_grad_enabled": "whether ops build the graph in this thread",
    "set_grad_enabled": "turn graph building on or off in this thread",
    "detect_anomaly": "context manager: NaN from finite operands raises, with the line",
    "is_anomaly_enabled": "whether detect_anomaly is on in this thread",
    "gradient_graphs": "the gradient of every node as a differentiable Number",
    "forward_tangents": "forward mode: the outputs' tangents for columns of input tangents",
    "_ParamArray": "an optimizer group's parameters and state (micrograd.optim)",
    "_Tape": "a traced function's instructions and replay (micrograd.tape)",
    "_trace_begin": "open a trace in this thread (micrograd.tape)",
    "_trace_end": "close this thread's innermost trace",
    "_trace_input": "a traced function's input Number",
    "_tape_hooks": "the hooks that make a graph untraceable, if any",
    "_custom": "a custom op's node from its operands (micrograd.custom_op)",
}
PUBLIC = tuple(name for name in INTERFACE if not name.startswith("_") and name != "BACKEND")


def flag(name):
    """Whether the environment variable `name` is set to an 'on' value."""
    return os.environ.get(name, "").strip().lower() not in _OFF


def _pick():
    """(the backend module, why it was picked)."""
    if flag("MICROGRAD_PUREPYTHON"):
        return _core_py, "MICROGRAD_PUREPYTHON is set"
    try:
        from . import _core
        return _core, "the compiled core imported"
    except ImportError as exc:
        if flag("MICROGRAD_REQUIRE_CORE"):
            raise ImportError(f"MICROGRAD_REQUIRE_CORE is set but micrograd._core "
                              f"did not import: {exc}") from exc
        try:
            missing = importlib.util.find_spec("micrograd._core") is None
        except ImportError:
            missing = False
        if missing and in_source_tree():
            # one line, once: a checkout that was never built runs 10-100x
            # slower, and nothing else would say why
            sys.stderr.write(f"micrograd: {UNBUILT}; using the pure-Python reference "
                             f"(10-100x slower)\n")
            return _core_py, UNBUILT
        if missing:
            return _core_py, "this is a pure-Python install: it has no compiled core"
        return _core_py, f"the compiled core did not import ({exc})"


UNBUILT = ("this is a source tree whose compiled core is not built: run `make build` "
           "(or `pip install -e .`) in it")


def in_source_tree():
    """Whether micrograd is imported from a checkout (csrc/ beside the package),
    not from an install."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.exists(os.path.join(os.path.dirname(here), "csrc", "mg_ops.def"))


if TYPE_CHECKING:               # type checkers see the compiled API (_core.pyi)
    from . import _core as impl
    REASON: str
else:
    impl, REASON = _pick()

BACKEND = impl.BACKEND
# A Number of a backend exists only once that backend is imported, so the
# module of a Number is always in sys.modules.
_MODULES = {"python": "micrograd._core_py", "core": "micrograd._core"}


def module_of(values):
    """The backend module of the first Number among values, else the active one."""
    for v in values:
        if is_number(v):
            return sys.modules[_MODULES[type(v)._mg_backend]]
    return impl
