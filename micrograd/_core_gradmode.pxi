# Included by _core.pyx; the twin of micrograd/_gradmode_py.py.  The flags
# themselves are C thread-locals (csrc/mg_graph.c), read by every node builder;
# the public functions and context managers over them are written once for both
# backends (micrograd/_modes.py), given these accessors.
from micrograd._modes import grad_modes as _grad_modes


def _grad_flag():
    return mg_grad_enabled()


def _set_grad_flag(bint enabled):
    mg_set_grad_enabled(enabled)


def _anomaly_flag():
    return mg_anomaly_enabled()


def _set_anomaly_flag(bint enabled):
    mg_set_anomaly(enabled)


(is_grad_enabled, set_grad_enabled, no_grad, enable_grad, is_anomaly_enabled,
 detect_anomaly) = _grad_modes(__name__, _grad_flag, _set_grad_flag, _anomaly_flag,
                               _set_anomaly_flag)
