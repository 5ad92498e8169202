# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The compiled backend: a thin Cython layer over the C graph in csrc/.

One extension module, one part per included file, each mirroring a module
of the pure-Python reference (see micrograd/_core_py.py for the map):

  _core_number.pxi    Number, its graph and backward    _number_py.py
  _core_higher.pxi    gradient graphs, watched sweeps   _higher_py.py
  _core_forward.pxi   forward mode (jvp, jacfwd)        _forward_py.py
  _core_gradmode.pxi  grad mode flags                   _gradmode_py.py
  _core_chain.pxi     Chain                             _chain_py.py
  _core_params.pxi    the optimizers' parameter array   _params_py.py
  _core_tape.pxi      tracing and the tape's replay     _tape_py.py
  _core_table.pxi     op codes, derivative rules and unary methods,
                      generated from csrc/mg_ops.def by tools/regen.py

What is not C-facing is shared, not twinned: the core imports the shared
modules or installs their methods into its classes (_install; see
docs/design.md, "What is twinned, what is shared").

docs/design.md explains the design; csrc/mg_graph.h the node layout.
"""
cimport cython
from cpython.dict cimport PyDict_SetItem
from cpython.ref cimport PyObject, Py_INCREF
from libc.stdint cimport uint32_t
from libc.stdlib cimport calloc, free, malloc, realloc

from micrograd._ccore cimport *

import sys
from copy import deepcopy as _deepcopy

from micrograd import _optable
from micrograd._compat import REFUSED_CHILDREN as _REFUSED_CHILDREN, op_symbol as _op_symbol
from micrograd._errors import (TRACES_FULL as _TRACES_FULL, TraceError, op_error as _op_error,
                              traced_read as _traced_read,
                              check_chunk_arrays as _check_chunk_arrays)
from micrograd._custom import (from_state as _custom_from_state, name_of as _custom_name_of,
                               op_of as _custom_op_of, to_state as _custom_to_state)
from micrograd._convert import (checked as _py_checked, is_number as _is_number,
                                operand as _py_operand, real_by_type as _real_by_type,
                                to_float as _py_to_float)
from micrograd._pickle import (restore as _restore, restore_chain as _restore_chain,
                               restore_subclass as _restore_subclass)
from micrograd._anomaly import (Handle as _Handle, backward_error as _backward_error,
                                finite as _finite, forward_error as _forward_error,
                                site as _site)
from micrograd._signatures import (format_spec as _format_spec, no_arguments as _no_arguments,
                                   no_delete as _no_delete, read_only as _read_only)

cdef extern from "Python.h":
    ctypedef int (*visitproc)(PyObject *o, void *arg) noexcept
    ctypedef int (*traverseproc)(PyObject *o, visitproc visit, void *arg) noexcept
    ctypedef int (*inquiry)(PyObject *o) noexcept
    ctypedef struct PyTypeObject:
        const char *tp_name
        PyObject *tp_dict
        traverseproc tp_traverse
        inquiry tp_clear
    Py_ssize_t Py_REFCNT(PyObject *o)
    void Py_DECREF(PyObject *o)
    void *Py_TYPE(PyObject *o)
    void PyType_Modified(PyTypeObject *t)
    void Py_SET_TYPE(PyObject *o, PyTypeObject *t)
    int PyType_HasFeature(PyTypeObject *t, unsigned long feature)   # inline: no call
    unsigned long Py_TPFLAGS_HAVE_GC
    int PyErr_CheckSignals()     # no except clause: the error stays set for mg_backward

cdef extern from *:
    # Cython's own branch hint (its generated C defines the macro)
    bint _unlikely "unlikely"(bint condition) noexcept

cdef extern from *:
    """
    #ifndef MG_BUILD_CFLAGS
    #define MG_BUILD_CFLAGS "?"
    #endif
    #if defined(__clang__)
    #define MG_COMPILER "clang " __clang_version__
    #elif defined(__GNUC__)
    #define MG_COMPILER "gcc " __VERSION__
    #elif defined(_MSC_VER)
    #define MG_COMPILER "msvc"
    #else
    #define MG_COMPILER "unknown"
    #endif
    """
    const char *MG_BUILD_CFLAGS
    const char *MG_COMPILER
    const char *CYTHON_ABI

BUILD_INFO = {"compiler": MG_COMPILER.decode(), "cflags": MG_BUILD_CFLAGS.decode(),
              "cython": CYTHON_ABI.decode().replace("_", ".")}

__all__ = ["Number", "Chain", "sum", "dot", "where", "maximum", "minimum", "gt", "ge", "lt",
           "le", "clamp", "no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled",
           "detect_anomaly", "is_anomaly_enabled", "gradient_graphs", "forward_tangents"]

BACKEND = "core"
# the table as the C was compiled from it: (name, kind, arity) per code
OP_TABLE = tuple((mg_op_name(i).decode(), mg_op_kind(i), mg_op_arity(i))
                 for i in range(MG_NUM_OPS))
_NAMES = tuple(row[0] for row in OP_TABLE)
# Every op of this module's C comes from the table it was compiled with, and
# every method and dispatch of the Python side from the table _optable reads:
# a core built from another version of csrc/mg_ops.def would call the wrong
# formulas, so it refuses to load.
if OP_TABLE != tuple((op.name, _optable.KINDS.index(op.kind), op.arity) for op in _optable.OPS):
    raise ImportError(f"micrograd._core was built from a different op table than "
                      f"{_optable.source_path()}: rebuild it (make build)")


cdef _install(type cls, str name, object fn):
    """Add a method to a compiled class (as Cython adds its class attributes),
    unless the class defines that name itself."""
    cdef PyTypeObject *t = <PyTypeObject *>cls
    if name not in <object>t.tp_dict:
        PyDict_SetItem(<object>t.tp_dict, name, fn)
        PyType_Modified(t)


class _CompiledClass(type):
    """The metaclass of Number and Chain, so that their __module__ can be set.

    Their tp_name is bare ("Number"), as a Python class's is, so that
    Python's own messages ("unsupported operand type(s) for +: 'Number' and
    'str'") read the same on both backends.  But a compiled class's
    __module__ is read from its tp_name, which would make it "builtins", and
    pickle finds a class by __module__.  `type` answers __module__ with a
    data descriptor that reads tp_name; this subclass shadows it with a plain
    attribute, so the lookup falls through to the class's own dict, where
    _set_module writes the real module.  Nothing else about the classes
    changes (their instances, slots and speed are as before).
    """


cdef _set_module(type cls, str module):
    cdef PyTypeObject *t = <PyTypeObject *>cls
    PyDict_SetItem(<object>t.tp_dict, "__module__", module)
    Py_INCREF(_CompiledClass)
    Py_SET_TYPE(<PyObject *>cls, <PyTypeObject *>_CompiledClass)
    PyType_Modified(t)


include "_core_number.pxi"
include "_core_gradmode.pxi"
include "_core_chain.pxi"
include "_core_params.pxi"
include "_core_tape.pxi"
include "_core_higher.pxi"
include "_core_forward.pxi"
include "_core_table.pxi"        # generated by tools/regen.py from the op table
