"""Grad mode and anomaly mode, written once for both backends.

Each backend keeps the two flags where its node builders read them on every
op: the reference in a thread-local (micrograd/_gradmode_py.py), the core in
C thread-locals (csrc/mg_graph.c).  What users call to read and change them
(is_grad_enabled, no_grad, detect_anomaly, ...) is not arithmetic and touches
no node, so it is built here, once, over four accessors a backend passes in:
both backends then have the same logic, docstrings and argument errors.
"""
from ._signatures import checked_args

__all__ = ["grad_modes"]


def grad_modes(module, grad_enabled, set_grad, anomaly_enabled, set_anomaly):
    """is_grad_enabled, set_grad_enabled, no_grad, enable_grad,
    is_anomaly_enabled and detect_anomaly over one backend's flags: the
    getters return the flag (any truth value), the setters take a bool or
    what the getter returned.  module is the backend module's name, made
    their __module__, so that reprs and pickles name the module users import
    them from."""

    @checked_args
    def is_grad_enabled():
        """Whether ops record a graph in this thread (False inside no_grad)."""
        return bool(grad_enabled())

    @checked_args
    def set_grad_enabled(enabled):
        """Turn graph recording on or off for this thread."""
        set_grad(bool(enabled))

    class no_grad:
        """Context manager: operations inside it build no graph (results are leaves)."""

        def __enter__(self):
            self._prev = grad_enabled()
            set_grad(False)
            return self

        def __exit__(self, *exc):
            set_grad(self._prev)

    class enable_grad:
        """Context manager: operations inside it build the graph, even within no_grad."""

        def __enter__(self):
            self._prev = grad_enabled()
            set_grad(True)
            return self

        def __exit__(self, *exc):
            set_grad(self._prev)

    @checked_args
    def is_anomaly_enabled():
        """Whether detect_anomaly is on in this thread."""
        return bool(anomaly_enabled())

    class detect_anomaly:
        """Context manager: inside it, an op that makes NaN from operands that are
        not NaN raises AnomalyError at once, naming the op, its operands and the
        line that called it; and a backward step that makes a NaN gradient from
        finite numbers raises, naming the node and the line that made it.
        check_nan=False leaves anomaly mode off (as torch's argument)."""

        def __init__(self, check_nan=True):
            self.check_nan = bool(check_nan)

        def __enter__(self):
            self._prev = anomaly_enabled()
            set_anomaly(self.check_nan)
            return self

        def __exit__(self, *exc):
            set_anomaly(self._prev)

    made = (is_grad_enabled, set_grad_enabled, no_grad, enable_grad, is_anomaly_enabled,
            detect_anomaly)
    for obj in made:
        _place(obj, module, obj.__name__)
    return made


def _place(obj, module, qualname):
    """Name obj (and a class's methods, and what checked_args wrapped) as if
    defined at the top of module, not inside grad_modes."""
    obj.__module__, obj.__qualname__ = module, qualname
    if hasattr(obj, "__wrapped__"):
        _place(obj.__wrapped__, module, qualname)
    if isinstance(obj, type):
        for name, member in vars(obj).items():
            if callable(member):
                _place(member, module, f"{qualname}.{name}")
