"""The one place that decides which backend the public API uses.

The compiled core when it imports, else the pure-Python reference.
MICROGRAD_PUREPYTHON=1 forces the reference; MICROGRAD_REQUIRE_CORE=1 makes a
core that fails to import an ImportError (CI sets it).
"""
import importlib.util
import os
from typing import TYPE_CHECKING


def _flag(name):
    return os.environ.get(name, "") not in ("", "0")


def _pick():
    """(the backend module, why it was picked)."""
    if _flag("MICROGRAD_PUREPYTHON"):
        from . import _core_py
        return _core_py, "MICROGRAD_PUREPYTHON is set"
    try:
        from . import _core
        return _core, "the compiled core imported"
    except ImportError as exc:
        if _flag("MICROGRAD_REQUIRE_CORE"):
            raise ImportError(f"MICROGRAD_REQUIRE_CORE is set but micrograd._core "
                              f"did not import: {exc}") from exc
        from . import _core_py
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

BACKEND = impl.BACKEND


def restore(value, gradient):
    """Unpickle a Number as a leaf of the active backend."""
    n = impl.Number(value)
    n.gradient = gradient
    return n


def module_of(numbers):
    """The backend module of the first Number among numbers (else the active
    one), so helpers built on top work with Numbers of either backend."""
    for n in numbers:
        backend = getattr(type(n), "_mg_backend", None)
        if backend == "python":
            from . import _core_py
            return _core_py
        if backend == "core":
            from . import _core
            return _core
    return impl
