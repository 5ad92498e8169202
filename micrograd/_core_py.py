"""The pure-Python reference backend: the executable specification.

It has the same names as the compiled core, micrograd._core, and gives the
same bits; each part is its own module, as each compiled part is its own
.pxi file included by micrograd/_core.pyx:

=================================  ==============================  ======================
part                               reference                       compiled
=================================  ==============================  ======================
Number, graph, backward            micrograd/_number_py.py         _core_number.pxi
gradient graphs, watched sweeps    micrograd/_higher_py.py         _core_higher.pxi
forward mode                       micrograd/_forward_py.py        _core_forward.pxi
grad mode and traces               micrograd/_gradmode_py.py       _core_gradmode.pxi
Chain                              micrograd/_chain_py.py          _core_chain.pxi
the optimizers' parameters         micrograd/_params_py.py         _core_params.pxi
optimizer steps                    micrograd/_optim_py.py          csrc/mg_optim.c
tracing and the tape               micrograd/_tape_py.py           _core_tape.pxi
op formulas                        micrograd/_ops_py.py            csrc/mg_formulas.h
=================================  ==============================  ======================

What both share is written once (docs/design.md, "What is twinned, what is
shared"): micrograd/_number_methods.py, _chain_methods.py, _modes.py,
_rules.py, _steps.py, _errors.py, _ieee.py and others; micrograd/_backend.py
lists what a backend module provides (INTERFACE).
"""
from . import _higher_py, _number_py
from ._chain_py import Chain
from ._gradmode_py import (detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled,
                           no_grad, set_grad_enabled)
from ._forward_py import forward_tangents
from ._higher_py import gradient_graphs
from ._number_py import (BACKEND, Number, clamp, dot, ge, gt, le, lt, maximum, minimum, sum,
                         where)
from ._number_py import _custom  # noqa: F401 (micrograd.custom_op uses it)
from ._params_py import ParamArray as _ParamArray  # noqa: F401 (optim uses it)
from ._tape_py import Tape as _Tape, trace_begin as _trace_begin  # noqa: F401 (tape uses them)
from ._tape_py import trace_end as _trace_end, trace_input as _trace_input  # noqa: F401
from ._tape_py import tape_hooks as _tape_hooks  # noqa: F401

# The reference's one late binding, made here, where its parts are joined:
# Number.backward(create_graph=True) runs _higher_py's sweep, and _higher_py
# builds Numbers, so the two parts cannot import each other both ways.
_number_py._Kit.sweep = staticmethod(_higher_py.sweep)

__all__ = ["Number", "Chain", "sum", "dot", "where", "maximum", "minimum", "gt", "ge", "lt",
           "le", "clamp", "no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled",
           "detect_anomaly", "is_anomaly_enabled", "gradient_graphs", "forward_tangents"]
