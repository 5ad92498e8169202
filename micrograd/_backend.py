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

from . import _core_py, _pickle
from ._convert import is_number

_OFF = ("", "0", "false", "no", "off")


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
        if missing:
            return _core_py, "this is a pure-Python install: it has no compiled core"
        return _core_py, f"the compiled core did not import ({exc})"


if TYPE_CHECKING:               # type checkers see the compiled API (_core.pyi)
    from . import _core as impl
    REASON: str
else:
    impl, REASON = _pick()
_pickle.set_active(impl)

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
