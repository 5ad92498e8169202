"""The one place that decides which backend the public API uses.

The compiled core when it imports, else the pure-Python reference.
MICROGRAD_PUREPYTHON=1 forces the reference; MICROGRAD_REQUIRE_CORE=1 makes a
core that fails to import an ImportError (CI sets it).
"""
import os


def _flag(name):
    return os.environ.get(name, "") not in ("", "0")


if _flag("MICROGRAD_PUREPYTHON"):
    from . import _core_py as impl
    REASON = "MICROGRAD_PUREPYTHON is set"
else:
    try:
        from . import _core as impl
        REASON = "the compiled core imported"
    except ImportError as exc:
        if _flag("MICROGRAD_REQUIRE_CORE"):
            raise ImportError(f"MICROGRAD_REQUIRE_CORE is set but micrograd._core "
                              f"did not import: {exc}") from exc
        from . import _core_py as impl
        REASON = f"the compiled core did not import ({exc})"

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
